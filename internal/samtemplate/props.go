package samtemplate

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Serverless resource types handled by the helpers below.
const (
	TypeFunction = "AWS::Serverless::Function"
	TypeHttpApi  = "AWS::Serverless::HttpApi"
)

// ErrNotSet is returned (wrapped) when a property is absent, so callers can
// fall back to the AWS default.
var ErrNotSet = errors.New("not set")

// ParameterDefault returns the Default of parameter name as CloudFormation
// would pass it on (numbers as text). ok is false when the parameter does not
// exist or has no Default.
func (t *Template) ParameterDefault(name string) (string, bool) {
	p, ok := t.Parameters[name]
	if !ok {
		return "", false
	}
	d, ok := p["Default"]
	if !ok {
		return "", false
	}
	if l, isList := d.([]any); isList { // CommaDelimitedList written as a list
		parts := make([]string, len(l))
		for i, x := range l {
			parts[i] = scalarString(x)
		}
		return strings.Join(parts, ","), true
	}
	return scalarString(d), true
}

// FunctionProperties returns the properties of the AWS::Serverless::Function
// logicalID with Globals.Function merged in the way SAM does: maps merge
// recursively, lists are concatenated (global first), and for anything else
// (or mismatched kinds) the function's own value wins. Intrinsics count as
// scalars. It returns nil when logicalID is not a serverless function. The
// result is a copy; changing it does not change the template.
func (t *Template) FunctionProperties(logicalID string) map[string]any {
	r, ok := t.Resources[logicalID]
	if !ok || r.Type != TypeFunction {
		return nil
	}
	local := deepCopy(r.Properties).(map[string]any)
	g, _ := t.Globals["Function"].(map[string]any)
	if g == nil {
		return local
	}
	g = deepCopy(g).(map[string]any)
	// The IgnoreGlobals attribute drops all ("*") or some Globals.
	switch ig := r.Attributes["IgnoreGlobals"].(type) {
	case string:
		if ig == "*" {
			return local
		}
	case []any:
		for _, k := range ig {
			delete(g, scalarString(k))
		}
	}
	return samMerge(g, local).(map[string]any)
}

func samMerge(global, local any) any {
	gm, gIsMap := global.(map[string]any)
	lm, lIsMap := local.(map[string]any)
	_, _, gIntr := Intrinsic(global)
	_, _, lIntr := Intrinsic(local)
	if gIsMap && lIsMap && !gIntr && !lIntr {
		out := gm
		for k, v := range lm {
			if gv, ok := out[k]; ok {
				out[k] = samMerge(gv, v)
			} else {
				out[k] = v
			}
		}
		return out
	}
	gl, gIsList := global.([]any)
	ll, lIsList := local.([]any)
	if gIsList && lIsList {
		return append(gl, ll...)
	}
	return local
}

func deepCopy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = deepCopy(e)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = deepCopy(e)
		}
		return l
	}
	return v
}

// FunctionEnv returns the environment variables of the function logicalID:
// Globals.Function.Environment.Variables overlaid with the function's own.
// Values are unresolved (e.g. {"Ref": "EventsQueue"}); see ResolveString.
// It returns an empty map for a function without variables and nil when
// logicalID is not a serverless function.
func (t *Template) FunctionEnv(logicalID string) map[string]any {
	props := t.FunctionProperties(logicalID)
	if props == nil {
		return nil
	}
	vars, _ := Lookup(props, "Environment", "Variables")
	m, _ := vars.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

// FunctionEvents returns the Properties of the function's events of type
// eventType ("SQS", "HttpApi", ...), keyed by event name. Globals never
// carry Events, so the function's own are used.
func (t *Template) FunctionEvents(logicalID, eventType string) map[string]map[string]any {
	out := map[string]map[string]any{}
	events, _ := t.Resources[logicalID].Properties["Events"].(map[string]any)
	for name, e := range events {
		em, _ := e.(map[string]any)
		if em == nil || em["Type"] != eventType {
			continue
		}
		p, _ := em["Properties"].(map[string]any)
		if p == nil {
			p = map[string]any{}
		}
		out[name] = p
	}
	return out
}

// Prop returns property key of resource logicalID; for serverless functions
// Globals are merged first. The error wraps ErrNotSet when it is absent.
func (t *Template) Prop(logicalID, key string) (any, error) {
	r, ok := t.Resources[logicalID]
	if !ok {
		return nil, fmt.Errorf("no resource %s", logicalID)
	}
	props := r.Properties
	if r.Type == TypeFunction {
		props = t.FunctionProperties(logicalID)
	}
	v, ok := props[key]
	if !ok {
		return nil, fmt.Errorf("%s.%s: %w", logicalID, key, ErrNotSet)
	}
	return v, nil
}

// IntProp returns an integer property of resource logicalID (e.g. an SQS
// queue's VisibilityTimeout, a function's Timeout with Globals applied),
// resolving a {"Ref": Parameter} to the parameter's Default. The error wraps
// ErrNotSet when the property is absent.
func (t *Template) IntProp(logicalID, key string) (int, error) {
	v, err := t.Prop(logicalID, key)
	if err != nil {
		return 0, err
	}
	n, err := t.Int(v)
	if err != nil {
		return 0, fmt.Errorf("%s.%s: %w", logicalID, key, err)
	}
	return n, nil
}

// FunctionTimeout returns the Timeout in seconds of the serverless function
// logicalID, with Globals applied and Lambda's default of 3 s when unset.
func (t *Template) FunctionTimeout(logicalID string) (int, error) {
	if t.Resources[logicalID].Type != TypeFunction {
		return 0, fmt.Errorf("%s is not a %s", logicalID, TypeFunction)
	}
	n, err := t.IntProp(logicalID, "Timeout")
	if errors.Is(err, ErrNotSet) {
		return 3, nil
	}
	return n, err
}

// Int converts a template value to an int: an int, an integral float, a
// numeric string, or a {"Ref": Parameter} whose Default is one of those.
func (t *Template) Int(v any) (int, error) {
	s, err := t.Str(v)
	if err != nil {
		return 0, err
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return int(f), nil
}

// Str converts a scalar template value to the string CloudFormation would
// pass on, resolving a {"Ref": Parameter} to the parameter's Default.
func (t *Template) Str(v any) (string, error) {
	if fn, arg, ok := Intrinsic(v); ok {
		name, _ := arg.(string)
		if fn != "Ref" || name == "" {
			return "", fmt.Errorf("cannot resolve %s statically", fn)
		}
		if _, isParam := t.Parameters[name]; !isParam {
			return "", fmt.Errorf("Ref %s is not a parameter", name)
		}
		d, ok := t.ParameterDefault(name)
		if !ok {
			return "", fmt.Errorf("parameter %s has no Default", name)
		}
		return d, nil
	}
	switch v.(type) {
	case string, int, float64, bool:
		return scalarString(v), nil
	case nil:
		return "", fmt.Errorf("value: %w", ErrNotSet)
	}
	return "", fmt.Errorf("%T is not a scalar", v)
}

// Resolver supplies values the template cannot: resources (attr is "" for a
// Ref, the attribute for Fn::GetAtt / ${X.Attr}), pseudo parameters such as
// AWS::Region, and parameters without a Default.
type Resolver func(name, attr string) (string, error)

// ResolveString evaluates v to a string: scalars, Ref, Fn::GetAtt, Fn::Sub and
// Fn::Join. Parameters resolve to their Default; everything else goes to
// resolve (which may be nil if no such reference is expected). A local stack
// uses this to compute a function's environment from the template, e.g.
//
//	url, err := t.ResolveString(t.FunctionEnv("WorkerFunction")["QUEUE_URL"], lookup)
func (t *Template) ResolveString(v any, resolve Resolver) (string, error) {
	ask := func(name, attr string) (string, error) {
		if attr == "" {
			if _, isParam := t.Parameters[name]; isParam {
				if d, ok := t.ParameterDefault(name); ok {
					return d, nil
				}
			}
		}
		if resolve == nil {
			return "", fmt.Errorf("no resolver for %s", joinAttr(name, attr))
		}
		return resolve(name, attr)
	}
	fn, arg, ok := Intrinsic(v)
	if !ok {
		return t.Str(v)
	}
	switch fn {
	case "Ref":
		name, _ := arg.(string)
		if name == "" {
			return "", errors.New("Ref without a name")
		}
		return ask(name, "")
	case "Fn::GetAtt":
		id, attr, ok := GetAttTarget(arg)
		if !ok || attr == "" {
			return "", fmt.Errorf("unsupported Fn::GetAtt %v", arg)
		}
		return ask(id, attr)
	case "Fn::Sub":
		tmpl, vars, ok := SubParts(arg)
		if !ok {
			return "", fmt.Errorf("malformed Fn::Sub %v", arg)
		}
		var firstErr error
		out := subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
			name := m[2 : len(m)-1]
			if strings.HasPrefix(name, "!") {
				return "${" + name[1:] + "}"
			}
			var s string
			var err error
			if local, isLocal := vars[name]; isLocal {
				s, err = t.ResolveString(local, resolve)
			} else if id, attr, dotted := strings.Cut(name, "."); dotted {
				s, err = ask(id, attr)
			} else {
				s, err = ask(name, "")
			}
			if err != nil && firstErr == nil {
				firstErr = err
			}
			return s
		})
		return out, firstErr
	case "Fn::Join":
		l, ok := arg.([]any)
		if !ok || len(l) != 2 {
			return "", fmt.Errorf("malformed Fn::Join %v", arg)
		}
		sep, ok := l[0].(string)
		items, isList := l[1].([]any)
		if !ok || !isList {
			return "", fmt.Errorf("unsupported Fn::Join %v", arg)
		}
		parts := make([]string, len(items))
		for i, it := range items {
			s, err := t.ResolveString(it, resolve)
			if err != nil {
				return "", err
			}
			parts[i] = s
		}
		return strings.Join(parts, sep), nil
	}
	return "", fmt.Errorf("cannot resolve %s", fn)
}

func joinAttr(name, attr string) string {
	if attr == "" {
		return name
	}
	return name + "." + attr
}

// Lookup walks nested maps by key, e.g. Lookup(props, "Environment",
// "Variables"). ok is false as soon as a key is missing or a value is not a map.
func Lookup(v any, path ...string) (any, bool) {
	for _, k := range path {
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, false
		}
		if v, isMap = m[k]; !isMap {
			return nil, false
		}
	}
	return v, true
}

// SortedKeys returns the keys of m in order, for deterministic iteration.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

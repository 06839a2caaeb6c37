package samtemplate

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// RefKind says how a reference is written.
type RefKind string

// Kinds of references reported by Refs.
const (
	KindRef       RefKind = "Ref"        // {"Ref": X}
	KindGetAtt    RefKind = "Fn::GetAtt" // {"Fn::GetAtt": [X, Attr]}
	KindSub       RefKind = "Fn::Sub"    // ${X} or ${X.Attr} inside Fn::Sub
	KindCondition RefKind = "Condition"  // Fn::If's condition, {"Condition": X}, or a Condition attribute
	KindDependsOn RefKind = "DependsOn"  // a DependsOn entry
)

// Ref is one reference to a logical ID, parameter, pseudo parameter or
// condition, with where it occurs.
type Ref struct {
	Kind   RefKind
	Target string // logical ID, parameter or pseudo parameter (AWS::Region), or condition name
	Attr   string // attribute for Fn::GetAtt and ${X.Attr}; "" otherwise
	Path   string // e.g. "Resources.ReceiverFunction.Properties.Environment.Variables.QUEUE_URL"
	From   string // logical ID of the resource holding the reference; "" outside Resources
	// Guards are the conditions under which the reference is evaluated: the
	// holding resource's or output's Condition and enclosing Fn::If branches
	// ("Name" for the true branch, "!Name" for the false one).
	Guards []string
}

// Refs lists every reference in Conditions, Globals, Resources (except
// Metadata, which CloudFormation does not evaluate), Outputs and Rules, sorted
// by Path.
func (t *Template) Refs() []Ref {
	var refs []Ref
	w := &refWalker{add: func(r Ref) { refs = append(refs, r) }}
	for name, c := range t.Conditions {
		w.walk(c, "Conditions."+name, "", nil)
	}
	for name, g := range t.Globals {
		w.walk(g, "Globals."+name, "", nil)
	}
	for name, r := range t.Rules {
		w.walk(r, "Rules."+name, "", nil)
	}
	for id, r := range t.Resources {
		var guards []string
		base := "Resources." + id
		if r.Condition != "" {
			guards = []string{r.Condition}
			w.add(Ref{Kind: KindCondition, Target: r.Condition, Path: base + ".Condition", From: id})
		}
		for i, d := range r.DependsOn {
			w.add(Ref{Kind: KindDependsOn, Target: d, Path: fmt.Sprintf("%s.DependsOn[%d]", base, i), From: id, Guards: guards})
		}
		w.walk(r.Properties, base+".Properties", id, guards)
		for k, v := range r.Attributes {
			w.walk(v, base+"."+k, id, guards)
		}
	}
	for name, o := range t.Outputs {
		var guards []string
		base := "Outputs." + name
		if m, ok := o.(map[string]any); ok {
			if c, ok := m["Condition"].(string); ok {
				guards = []string{c}
				w.add(Ref{Kind: KindCondition, Target: c, Path: base + ".Condition"})
			}
			for k, v := range m {
				if k != "Condition" {
					w.walk(v, base+"."+k, "", guards)
				}
			}
			continue
		}
		w.walk(o, base, "", nil)
	}
	sort.SliceStable(refs, func(i, j int) bool {
		if refs[i].Path != refs[j].Path {
			return refs[i].Path < refs[j].Path
		}
		return refs[i].Target < refs[j].Target
	})
	return refs
}

type refWalker struct{ add func(Ref) }

func (w *refWalker) walk(v any, path, from string, guards []string) {
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			w.walk(e, fmt.Sprintf("%s[%d]", path, i), from, guards)
		}
	case map[string]any:
		if fn, arg, ok := Intrinsic(x); ok {
			w.intrinsic(fn, arg, path+"."+fn, from, guards)
			return
		}
		for k, e := range x {
			w.walk(e, path+"."+k, from, guards)
		}
	}
}

func (w *refWalker) intrinsic(fn string, arg any, path, from string, guards []string) {
	ref := func(kind RefKind, target, attr string) {
		w.add(Ref{Kind: kind, Target: target, Attr: attr, Path: path, From: from, Guards: guards})
	}
	switch fn {
	case "Ref":
		if s, ok := arg.(string); ok {
			ref(KindRef, s, "")
			return
		}
	case "Condition":
		if s, ok := arg.(string); ok {
			ref(KindCondition, s, "")
			return
		}
	case "Fn::GetAtt":
		if id, attr, ok := GetAttTarget(arg); ok {
			ref(KindGetAtt, id, attr)
			// A computed attribute name ({"Ref": P}) may itself hold references.
			if l, isList := arg.([]any); isList && len(l) == 2 {
				if _, isStr := l[1].(string); !isStr {
					w.walk(l[1], path+"[1]", from, guards)
				}
			}
			return
		}
	case "Fn::Sub":
		tmpl, vars, ok := SubParts(arg)
		if ok {
			for _, name := range SubVariables(tmpl) {
				if _, local := vars[name]; local {
					continue
				}
				id, attr, _ := strings.Cut(name, ".")
				if attr != "" {
					ref(KindSub, id, attr)
				} else {
					ref(KindSub, name, "")
				}
			}
			for k, v := range vars {
				w.walk(v, path+"[1]."+k, from, guards)
			}
			return
		}
	case "Fn::If":
		if l, ok := arg.([]any); ok && len(l) == 3 {
			if c, ok := l[0].(string); ok {
				ref(KindCondition, c, "")
				w.walk(l[1], path+"[1]", from, append(append([]string(nil), guards...), c))
				w.walk(l[2], path+"[2]", from, append(append([]string(nil), guards...), "!"+c))
				return
			}
		}
	}
	// Anything else (or a malformed argument): look for references inside.
	w.walk(arg, path, from, guards)
}

// Intrinsic reports whether v is an intrinsic function call: a map with a
// single key that is "Ref", "Condition" or starts with "Fn::". It returns the
// function name and its argument.
func Intrinsic(v any) (fn string, arg any, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", nil, false
	}
	for k, a := range m {
		if k == "Ref" || k == "Condition" || strings.HasPrefix(k, "Fn::") {
			return k, a, true
		}
	}
	return "", nil, false
}

// GetAttTarget splits the argument of Fn::GetAtt into logical ID and
// attribute. It accepts [ID, Attr] and "ID.Attr"; attr is "" when the
// attribute is computed by another intrinsic.
func GetAttTarget(arg any) (id, attr string, ok bool) {
	switch a := arg.(type) {
	case string:
		id, attr, ok = strings.Cut(a, ".")
		return id, attr, ok && id != "" && attr != ""
	case []any:
		if len(a) != 2 {
			return "", "", false
		}
		id, ok = a[0].(string)
		if !ok || id == "" {
			return "", "", false
		}
		attr, _ = a[1].(string)
		return id, attr, true
	}
	return "", "", false
}

// SubParts splits the argument of Fn::Sub into its template string and its
// variable map (nil for the one-string form).
func SubParts(arg any) (tmpl string, vars map[string]any, ok bool) {
	switch a := arg.(type) {
	case string:
		return a, nil, true
	case []any:
		if len(a) != 2 {
			return "", nil, false
		}
		tmpl, ok = a[0].(string)
		if !ok {
			return "", nil, false
		}
		vars, ok = a[1].(map[string]any)
		return tmpl, vars, ok
	}
	return "", nil, false
}

var subVar = regexp.MustCompile(`\$\{([^}]*)\}`)

// SubVariables returns the names inside ${...} of a Fn::Sub template, in
// order, skipping the ${!Literal} escapes.
func SubVariables(tmpl string) []string {
	var names []string
	for _, m := range subVar.FindAllStringSubmatch(tmpl, -1) {
		if strings.HasPrefix(m[1], "!") {
			continue
		}
		names = append(names, m[1])
	}
	return names
}

// Package samtemplate reads the project's AWS SAM template into plain Go values,
// so tests and the local stack inspect the very file that is deployed.
//
// YAML is read with gopkg.in/yaml.v3 and every short-form intrinsic tag (!Ref,
// !GetAtt, !Sub, ...) becomes its long form ({"Ref": ...}, {"Fn::GetAtt": [...]}),
// so callers only ever see maps, slices, strings, ints, float64s, bools and nil.
// Nothing is resolved or dropped at load time (unlike goformation, which loses
// resource references and does not merge Globals); use the helpers instead.
package samtemplate

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Template is a parsed SAM/CloudFormation template. Values inside the maps are
// map[string]any, []any, string, int, float64, bool or nil.
type Template struct {
	FormatVersion string   // AWSTemplateFormatVersion
	Transform     []string // a single Transform is a one-element slice
	Description   string

	Parameters map[string]map[string]any // name → attributes (Type, Default, AllowedValues, ...)
	Conditions map[string]any
	Mappings   map[string]any
	Rules      map[string]any
	Metadata   map[string]any
	Globals    map[string]any // SAM Globals, e.g. Globals["Function"]
	Resources  map[string]Resource
	Outputs    map[string]any // name → {Value, Description, Export, Condition}
}

// Resource is one entry of the Resources section.
type Resource struct {
	Type       string
	Properties map[string]any // never nil after Load
	Metadata   map[string]any // e.g. {"BuildMethod": "makefile"}
	Condition  string         // name of the condition the resource exists under, or ""
	DependsOn  []string
	// Attributes holds the other resource attributes (DeletionPolicy, ...).
	Attributes map[string]any
}

// Pseudo parameters CloudFormation defines in every stack.
var pseudoParameters = map[string]bool{
	"AWS::AccountId":        true,
	"AWS::NotificationARNs": true,
	"AWS::NoValue":          true,
	"AWS::Partition":        true,
	"AWS::Region":           true,
	"AWS::StackId":          true,
	"AWS::StackName":        true,
	"AWS::URLSuffix":        true,
}

// IsPseudoParameter reports whether name is a CloudFormation pseudo parameter
// such as AWS::Region.
func IsPseudoParameter(name string) bool { return pseudoParameters[name] }

// shortForms maps each short-form tag to the key of its long form.
var shortForms = map[string]string{
	"!Ref":          "Ref",
	"!Condition":    "Condition",
	"!GetAtt":       "Fn::GetAtt",
	"!Sub":          "Fn::Sub",
	"!Join":         "Fn::Join",
	"!Select":       "Fn::Select",
	"!Split":        "Fn::Split",
	"!If":           "Fn::If",
	"!Equals":       "Fn::Equals",
	"!Not":          "Fn::Not",
	"!And":          "Fn::And",
	"!Or":           "Fn::Or",
	"!FindInMap":    "Fn::FindInMap",
	"!GetAZs":       "Fn::GetAZs",
	"!ImportValue":  "Fn::ImportValue",
	"!Base64":       "Fn::Base64",
	"!Cidr":         "Fn::Cidr",
	"!Transform":    "Fn::Transform",
	"!Length":       "Fn::Length",
	"!ToJsonString": "Fn::ToJsonString",
}

// Load reads and parses the template at path.
func Load(path string) (*Template, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse parses template YAML. It rejects what CloudFormation rejects at
// parse time: unknown tags, aliases, duplicate keys and unknown sections.
func Parse(data []byte) (*Template, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("yaml: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil, errors.New("template is not a single YAML document")
	}
	root, err := convert(doc.Content[0], "")
	if err != nil {
		return nil, err
	}
	top, ok := root.(map[string]any)
	if !ok {
		return nil, errors.New("template root is not a mapping")
	}
	return fromMap(top)
}

func fromMap(top map[string]any) (*Template, error) {
	t := &Template{
		Parameters: map[string]map[string]any{},
		Conditions: map[string]any{},
		Mappings:   map[string]any{},
		Rules:      map[string]any{},
		Metadata:   map[string]any{},
		Globals:    map[string]any{},
		Resources:  map[string]Resource{},
		Outputs:    map[string]any{},
	}
	section := func(name string) (map[string]any, error) {
		v, ok := top[name]
		if !ok || v == nil {
			return map[string]any{}, nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%s is not a mapping", name)
		}
		return m, nil
	}
	for key, v := range top {
		var err error
		switch key {
		case "AWSTemplateFormatVersion":
			t.FormatVersion = scalarString(v)
		case "Description":
			t.Description = scalarString(v)
		case "Transform":
			switch tv := v.(type) {
			case string:
				t.Transform = []string{tv}
			case []any:
				for _, x := range tv {
					t.Transform = append(t.Transform, scalarString(x))
				}
			default:
				err = errors.New("template: Transform is neither a string nor a list")
			}
		case "Parameters":
			var m map[string]any
			if m, err = section(key); err == nil {
				for name, p := range m {
					pm, ok := p.(map[string]any)
					if !ok {
						return nil, fmt.Errorf("template: Parameters.%s is not a mapping", name)
					}
					t.Parameters[name] = pm
				}
			}
		case "Conditions":
			t.Conditions, err = section(key)
		case "Mappings":
			t.Mappings, err = section(key)
		case "Rules":
			t.Rules, err = section(key)
		case "Metadata":
			t.Metadata, err = section(key)
		case "Globals":
			t.Globals, err = section(key)
		case "Outputs":
			t.Outputs, err = section(key)
		case "Resources":
			var m map[string]any
			if m, err = section(key); err == nil {
				for id, r := range m {
					res, rerr := resourceFromValue(id, r)
					if rerr != nil {
						return nil, rerr
					}
					t.Resources[id] = res
				}
			}
		default:
			err = fmt.Errorf("unknown top-level section %q", key)
		}
		if err != nil {
			return nil, err
		}
	}
	return t, nil
}

// resourceAttributes are the keys CloudFormation (and SAM) allow on a resource.
var resourceAttributes = map[string]bool{
	"Type": true, "Properties": true, "Metadata": true, "Condition": true, "DependsOn": true,
	"DeletionPolicy": true, "UpdateReplacePolicy": true, "UpdatePolicy": true, "CreationPolicy": true,
	"IgnoreGlobals": true, "Connectors": true,
}

func resourceFromValue(id string, v any) (Resource, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return Resource{}, fmt.Errorf("template: Resources.%s is not a mapping", id)
	}
	r := Resource{Properties: map[string]any{}, Metadata: map[string]any{}, Attributes: map[string]any{}}
	for k, val := range m {
		if !resourceAttributes[k] {
			return Resource{}, fmt.Errorf("template: Resources.%s: unknown resource attribute %q", id, k)
		}
		switch k {
		case "Type":
			s, ok := val.(string)
			if !ok || s == "" {
				return Resource{}, fmt.Errorf("Resources.%s.Type is not a string", id)
			}
			r.Type = s
		case "Properties":
			if val == nil {
				continue
			}
			p, ok := val.(map[string]any)
			if !ok {
				return Resource{}, fmt.Errorf("Resources.%s.Properties is not a mapping", id)
			}
			r.Properties = p
		case "Metadata":
			md, ok := val.(map[string]any)
			if !ok {
				return Resource{}, fmt.Errorf("Resources.%s.Metadata is not a mapping", id)
			}
			r.Metadata = md
		case "Condition":
			s, ok := val.(string)
			if !ok {
				return Resource{}, fmt.Errorf("Resources.%s.Condition is not a string", id)
			}
			r.Condition = s
		case "DependsOn":
			switch d := val.(type) {
			case string:
				r.DependsOn = []string{d}
			case []any:
				for _, x := range d {
					s, ok := x.(string)
					if !ok {
						return Resource{}, fmt.Errorf("Resources.%s.DependsOn has a non-string entry", id)
					}
					r.DependsOn = append(r.DependsOn, s)
				}
			default:
				return Resource{}, fmt.Errorf("Resources.%s.DependsOn is neither a string nor a list", id)
			}
		default:
			r.Attributes[k] = val
		}
	}
	if r.Type == "" {
		return Resource{}, fmt.Errorf("template: Resources.%s has no Type", id)
	}
	return r, nil
}

// convert turns a yaml.Node into plain values, expanding short-form tags.
func convert(n *yaml.Node, path string) (any, error) {
	where := func() string {
		if path == "" {
			return fmt.Sprintf("line %d", n.Line)
		}
		return fmt.Sprintf("%s (line %d)", path, n.Line)
	}
	if n.Kind == yaml.AliasNode {
		// CloudFormation refuses YAML aliases.
		return nil, fmt.Errorf("%s: YAML aliases are not supported by CloudFormation", where())
	}
	if strings.HasPrefix(n.Tag, "!") && !strings.HasPrefix(n.Tag, "!!") {
		fn, ok := shortForms[n.Tag]
		if !ok {
			return nil, fmt.Errorf("%s: unknown tag %s", where(), n.Tag)
		}
		var arg any
		if n.Kind == yaml.ScalarNode {
			arg = n.Value
			if fn == "Fn::GetAtt" {
				// Short form "Resource.Attribute"; the attribute may itself hold dots.
				id, attr, ok := strings.Cut(n.Value, ".")
				if !ok || id == "" || attr == "" {
					return nil, fmt.Errorf("%s: !GetAtt %q is not Resource.Attribute", where(), n.Value)
				}
				arg = []any{id, attr}
			}
		} else {
			plain := *n
			plain.Tag = ""
			var err error
			if arg, err = convert(&plain, path); err != nil {
				return nil, err
			}
		}
		return map[string]any{fn: arg}, nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			if kn.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("%s: mapping key is not a scalar", where())
			}
			if kn.ShortTag() == "!!merge" {
				return nil, fmt.Errorf("%s: YAML merge keys are not supported by CloudFormation", where())
			}
			key := kn.Value
			if _, dup := m[key]; dup {
				return nil, fmt.Errorf("%s: duplicate key %q", where(), key)
			}
			v, err := convert(vn, joinPath(path, key))
			if err != nil {
				return nil, err
			}
			m[key] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := convert(c, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	case yaml.ScalarNode:
		return scalar(n)
	}
	return nil, fmt.Errorf("%s: unexpected YAML node kind %v", where(), n.Kind)
}

func scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		return v, nil
	case "!!int":
		var v int
		if err := n.Decode(&v); err != nil {
			return nil, fmt.Errorf("line %d: %w", n.Line, err)
		}
		return v, nil
	default: // !!str, and timestamps/binary kept as their text
		return n.Value, nil
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// scalarString formats a scalar the way CloudFormation passes it on (numbers
// and booleans as text); it returns "" for maps, lists and nil.
func scalarString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// ResourcesOfType returns the logical IDs of all resources of type typ, sorted.
func (t *Template) ResourcesOfType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

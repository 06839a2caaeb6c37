package deploycheck

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hookline/hookline/internal/samtemplate"
)

// Loader is a function's settings loader: it reads every variable it uses
// through getenv and returns an error for each missing or bad one (as
// config.Env does).
type Loader func(getenv func(string) string) error

// CheckEnvironment fails t unless the environment template.yaml gives
// function id is the one load reads (see EnvProblems).
func CheckEnvironment(t *testing.T, id string, load Loader) {
	t.Helper()
	for _, p := range EnvProblems(Template(t), id, load) {
		t.Error(p)
	}
}

// EnvProblems runs load on the environment tpl gives function id, recording
// the names it reads, and reports:
//   - a variable the template sets that load never reads (a typo, or a
//     setting that does nothing);
//   - load failing on the template's values: a required variable missing or
//     blank, or a value it cannot parse;
//   - a value that cannot be resolved offline.
//
// A variable load reads that the template does not set is optional: load
// succeeded without it. Values are resolved as CloudFormation would: a
// parameter to its Default, a resource or pseudo parameter to a stand-in
// ("<EventsQueue>"), since only its presence matters here. A function that
// exists only under a Condition deploys only when it holds, so a parameter
// the condition tests whose Default is empty (the way to turn the function
// off) gets a stand-in too.
func EnvProblems(tpl *samtemplate.Template, id string, load Loader) []string {
	_, p := reads(tpl, id, load)
	return p
}

// reads runs load on the environment tpl gives function id and returns the
// names it read, with EnvProblems' problems.
func reads(tpl *samtemplate.Template, id string, load Loader) (map[string]bool, []string) {
	vars := tpl.FunctionEnv(id)
	if vars == nil {
		return nil, []string{fmt.Sprintf("%s is not a function of the template", id)}
	}
	if cond := tpl.Resources[id].Condition; cond != "" {
		tpl = withStandIns(tpl, conditionParams(tpl, tpl.Conditions[cond], map[string]bool{}))
	}
	var p []string
	env := map[string]string{}
	standIn := func(name, attr string) (string, error) {
		if attr != "" {
			name += "." + attr
		}
		return "<" + name + ">", nil
	}
	for _, name := range samtemplate.SortedKeys(vars) {
		v, err := tpl.ResolveString(vars[name], standIn)
		if err != nil {
			p = append(p, fmt.Sprintf("%s: template sets %s to %v, which does not resolve to a string: %v", id, name, vars[name], err))
			continue
		}
		env[name] = v
	}
	read := map[string]bool{}
	err := load(func(name string) string {
		read[name] = true
		return env[name]
	})
	if err != nil {
		p = append(p, fmt.Sprintf("%s: with the template's environment the function fails to start: %v", id, err))
	}
	for _, name := range samtemplate.SortedKeys(vars) {
		if !read[name] {
			p = append(p, fmt.Sprintf("%s: template sets %s, which the function never reads", id, name))
		}
	}
	slices.Sort(p)
	return read, p
}

// conditionParams lists the parameters a condition's value tests, following
// the conditions it names.
func conditionParams(tpl *samtemplate.Template, v any, seen map[string]bool) []string {
	var out []string
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			out = append(out, conditionParams(tpl, e, seen)...)
		}
	case map[string]any:
		fn, arg, ok := samtemplate.Intrinsic(x)
		name, _ := arg.(string)
		switch {
		case ok && fn == "Ref" && tpl.Parameters[name] != nil:
			out = append(out, name)
		case ok && fn == "Condition" && !seen[name]:
			seen[name] = true
			out = append(out, conditionParams(tpl, tpl.Conditions[name], seen)...)
		default:
			for _, e := range x {
				out = append(out, conditionParams(tpl, e, seen)...)
			}
		}
	}
	return out
}

// withStandIns returns a copy of tpl in which those of params whose Default
// is empty default to a stand-in ("<Name>").
func withStandIns(tpl *samtemplate.Template, params []string) *samtemplate.Template {
	c := *tpl
	c.Parameters = map[string]map[string]any{}
	for name, attrs := range tpl.Parameters {
		c.Parameters[name] = attrs
	}
	for _, name := range params {
		if d, _ := tpl.ParameterDefault(name); d != "" {
			continue
		}
		attrs := map[string]any{}
		for k, v := range tpl.Parameters[name] {
			attrs[k] = v
		}
		attrs["Default"] = "<" + name + ">"
		c.Parameters[name] = attrs
	}
	return &c
}

package samtemplate

// hookline's policy for template.yaml: the choices this project makes on top
// of what CloudFormation accepts (cfn-lint checks that, see cfnlint_test.go).
// Each concern has its own file, policy_<concern>_test.go, with one
// TestPolicy<Concern> that runs its check on the real template and on a table
// of broken copies, one per rule, so every rule is shown to be able to fail.
//
// To add a rule: write it in the check of its concern (or a new
// policy_<concern>_test.go with its own check and TestPolicy), and add a
// broken copy that only that rule rejects.

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// Logical IDs of template.yaml that the policy is about.
const (
	receiverID   = "ReceiverFunction"
	workerID     = "WorkerFunction"
	reconcilerID = "ReconcilerFunction"
	ledgerID     = "LedgerTable"
	queueID      = "EventsQueue"
	dlqID        = "EventsDLQ"
	secretID     = "HookSecret"
	apiID        = "HttpApi"
)

// problems are the human-readable findings of a check; none means pass.
type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// check is one concern's policy, run on a whole template.
type check func(t *Template) problems

// templatePath is template.yaml, seen from this package's directory (where
// go test runs its tests).
var templatePath = filepath.Join("..", "..", "template.yaml")

// breakCase is a broken copy of template.yaml: text replaced (old must occur
// once or more; the first is replaced) and/or the parsed values edited. The
// check must report a problem containing want.
type breakCase struct {
	name     string
	old, new string
	edit     func(t *Template)
	want     string
}

// testPolicy runs c on template.yaml, which must pass, and on every broken
// copy, each of which must fail with its expected problem.
func testPolicy(t *testing.T, c check, cases []breakCase) {
	t.Helper()
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	real, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	// Unless the intact template passes, no broken copy proves anything.
	for _, s := range c(real) {
		t.Errorf("template.yaml: %s", s)
	}
	if t.Failed() {
		return
	}
	for _, bc := range cases {
		t.Run(bc.name, func(t *testing.T) {
			text := string(data)
			if bc.old != "" {
				if !strings.Contains(text, bc.old) {
					t.Fatalf("template.yaml no longer contains %q; update this case", bc.old)
				}
				text = strings.Replace(text, bc.old, bc.new, 1)
			}
			broken, err := Parse([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if bc.edit != nil {
				bc.edit(broken)
			}
			got := c(broken)
			for _, s := range got {
				if strings.Contains(s, bc.want) {
					return
				}
			}
			t.Errorf("broken copy passed: want a problem containing %q, got %q", bc.want, got)
		})
	}
}

// Shorthands for editing a parsed template in break cases.

func props(t *Template, id string) map[string]any { return t.Resources[id].Properties }

func event(t *Template, fn, name string) map[string]any {
	return props(t, fn)["Events"].(map[string]any)[name].(map[string]any)["Properties"].(map[string]any)
}

// statements are the first inline policy's statements of the function's
// explicit role (Role: !GetAtt <role>.Arn).
func statements(t *Template, fn string) []any {
	_, arg, _ := Intrinsic(props(t, fn)["Role"])
	role, _, _ := GetAttTarget(arg)
	doc := props(t, role)["Policies"].([]any)[0].(map[string]any)["PolicyDocument"].(map[string]any)
	return doc["Statement"].([]any)
}

func globalsFunction(t *Template) map[string]any { return t.Globals["Function"].(map[string]any) }

// Shorthands for reading intrinsics.

func isGetAtt(v any, id, attr string) bool {
	fn, arg, ok := Intrinsic(v)
	if !ok || fn != "Fn::GetAtt" {
		return false
	}
	gid, gattr, ok := GetAttTarget(arg)
	return ok && gid == id && gattr == attr
}

func isRef(v any, id string) bool {
	fn, arg, ok := Intrinsic(v)
	return ok && fn == "Ref" && arg == id
}

// functionTimeout is a function's Timeout after the Globals merge, or
// Lambda's default of 3 s, unresolved (it may be a parameter Ref).
func functionTimeout(t *Template, id string) any {
	if v, ok := t.FunctionProperties(id)["Timeout"]; ok {
		return v
	}
	return 3
}

// intRange returns every integer v can take at deploy time: a literal is
// itself; a parameter Ref spans its AllowedValues or MinValue..MaxValue
// (an unbounded side is ±MaxInt). A parameter sets the limits, so a rule on
// a value checked this way holds for whatever the operator deploys with.
func intRange(t *Template, v any) (lo, hi int, err error) {
	fn, arg, ok := Intrinsic(v)
	if !ok {
		n, err := t.Int(v)
		return n, n, err
	}
	name, _ := arg.(string)
	param, isParam := t.Parameters[name]
	if fn != "Ref" || !isParam {
		return 0, 0, fmt.Errorf("cannot evaluate %v statically", v)
	}
	if allowed, ok := param["AllowedValues"].([]any); ok && len(allowed) > 0 {
		lo, hi = math.MaxInt, math.MinInt
		for _, a := range allowed {
			n, err := strconv.Atoi(scalarString(a))
			if err != nil {
				return 0, 0, fmt.Errorf("parameter %s: AllowedValues %v is not an integer", name, a)
			}
			lo, hi = min(lo, n), max(hi, n)
		}
		return lo, hi, nil
	}
	lo, hi = math.MinInt, math.MaxInt
	if f, ok := numberAttr(param, "MinValue"); ok {
		lo = int(math.Ceil(f))
	}
	if f, ok := numberAttr(param, "MaxValue"); ok {
		hi = int(math.Floor(f))
	}
	return lo, hi, nil
}

func numberAttr(m map[string]any, key string) (float64, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(scalarString(v), 64)
	return f, err == nil
}

// inRange reports (as a problem) unless every value v can take lies in [lo, hi].
func inRange(p *problems, t *Template, at string, v any, lo, hi int) {
	a, b, err := intRange(t, v)
	switch {
	case err != nil:
		p.addf("%s: %v", at, err)
	case a < lo || b > hi:
		p.addf("%s: allows %s, want %d..%d", at, rangeText(a, b), lo, hi)
	}
}

func rangeText(a, b int) string {
	f := func(n int) string {
		switch n {
		case math.MinInt:
			return "-inf"
		case math.MaxInt:
			return "+inf"
		}
		return strconv.Itoa(n)
	}
	if a == b {
		return f(a)
	}
	return f(a) + ".." + f(b)
}

// intIs reports unless integer property key of resource id satisfies ok.
func intIs(p *problems, t *Template, id, key string, ok func(int) bool, want string) {
	n, err := t.IntProp(id, key)
	switch {
	case err != nil:
		p.addf("Resources.%s.%s: %v; want %s", id, key, err, want)
	case !ok(n):
		p.addf("Resources.%s.%s: %d, want %s", id, key, n, want)
	}
}

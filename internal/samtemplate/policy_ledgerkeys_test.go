package samtemplate

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/ledger"
)

// Ledger keys: the ledger table holds the worker's handler records, the
// receiver's and the reconciler's delivery marks and the reconciler's
// cursor. Each role other than the worker's may use only the keys under its
// own prefixes (internal/ledger Writers), with ForAllValues:StringLike on
// dynamodb:LeadingKeys (every key of a batch must match; ForAnyValue would
// pass a batch with one good key) and Null false (ForAllValues alone holds
// for a request with no keys at all, such as a Scan). The worker's handler
// records have no prefix, so its role may use any key but those under the
// others' prefixes (ForAllValues:StringNotLike): allow statements with
// ForAllValues, as DynamoDB's guide asks of dynamodb:LeadingKeys, rather
// than a Deny.
//
// A new kind of ledger item is a prefix constant and its Writers entry in
// internal/ledger/keys.go; this test then says which statement of
// template.yaml must name it.
func TestPolicyLedgerKeys(t *testing.T) {
	// The statements and the wanted prefixes come from today's template and
	// internal/ledger Writers, so a new prefix or statement changes no case.
	base, err := Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	rec, wrk := ledgerStatement(base, reconcilerID), ledgerStatement(base, workerID)
	recAt := fmt.Sprintf("ReconcilerRole.Policies[0].Statement[%d]", rec)
	wrkAt := fmt.Sprintf("WorkerRole.Policies[0].Statement[%d]", wrk)
	recWant := quoted(prefixed(ledger.Writers["reconciler"]))
	var others []string
	for w, prefixes := range ledger.Writers {
		if w != "worker" {
			others = append(others, prefixes...)
		}
	}
	wrkWant := quoted(prefixed(others))
	recWith := func(extra ...string) []string {
		return append(prefixed(ledger.Writers["reconciler"]), extra...)
	}
	testPolicy(t, checkLedgerKeys, []breakCase{
		{name: "receiver writes any key", edit: func(t *Template) { delete(statements(t, receiverID)[3].(map[string]any), "Condition") },
			want: "ReceiverRole.Policies[0].Statement[3]: dynamodb:batchwriteitem on the ledger without ForAllValues:StringLike dynamodb:LeadingKeys"},
		{name: "receiver may write the cursor", old: `dynamodb:LeadingKeys: ["delivered#*"]`, new: `dynamodb:LeadingKeys: ["delivered#*", "cursor#*"]`,
			want: `ReceiverRole.Policies[0].Statement[3]: dynamodb:LeadingKeys ["cursor#*" "delivered#*"], want ["delivered#*"]`},
		{name: "receiver allowed keyless requests", edit: func(t *Template) {
			delete(statements(t, receiverID)[3].(map[string]any)["Condition"].(map[string]any), "Null")
		}, want: "ReceiverRole.Policies[0].Statement[3]: no Null dynamodb:LeadingKeys false"},
		{name: "receiver batch needs one good key only", old: "ForAllValues:StringLike", new: "ForAnyValue:StringLike",
			want: "ReceiverRole.Policies[0].Statement[3]: dynamodb:batchwriteitem on the ledger without ForAllValues:StringLike"},
		{name: "reconciler writes handler records", edit: func(t *Template) {
			setLeadingKeys(statements(t, reconcilerID)[rec], "ForAllValues:StringLike", recWith("*")...)
		}, want: recAt + `: dynamodb:LeadingKeys ` + quoted(recWith("*")) + `, want ` + recWant},
		{name: "reconciler's cursor prefix without its #", edit: func(t *Template) {
			setLeadingKeys(statements(t, reconcilerID)[rec], "ForAllValues:StringLike", "delivered#*", "cursor*")
		}, want: recAt + `: dynamodb:LeadingKeys ["cursor*" "delivered#*"], want ` + recWant},
		{name: "a second reconciler statement without the condition", edit: func(t *Template) {
			doc := props(t, "ReconcilerRole")["Policies"].([]any)[0].(map[string]any)["PolicyDocument"].(map[string]any)
			doc["Statement"] = append(statements(t, reconcilerID), map[string]any{"Effect": "Allow", "Action": "dynamodb:PutItem",
				"Resource": map[string]any{"Fn::GetAtt": []any{ledgerID, "Arn"}}})
		}, want: "dynamodb:putitem on the ledger without"},
		{name: "worker may overwrite the cursor", edit: func(t *Template) {
			setLeadingKeys(statements(t, workerID)[wrk], "ForAllValues:StringNotLike", "delivered#*")
		}, want: wrkAt + `: dynamodb:getitem on the ledger with ForAllValues:StringNotLike dynamodb:LeadingKeys ["delivered#*"], want ` + wrkWant},
		{name: "worker's ledger unlimited", edit: func(t *Template) { delete(statements(t, workerID)[wrk].(map[string]any), "Condition") },
			want: wrkAt + `: dynamodb:getitem on the ledger with ForAllValues:StringNotLike dynamodb:LeadingKeys [], want ` + wrkWant},
		{name: "a new function writes the ledger unlisted", edit: func(t *Template) {
			t.Resources["ExtraRole"] = t.Resources["ReceiverRole"]
			t.Resources["ExtraFunction"] = Resource{Type: "AWS::Serverless::Function", Properties: map[string]any{
				"Role": map[string]any{"Fn::GetAtt": []any{"ExtraRole", "Arn"}}}}
		}, want: `ExtraFunction: uses the ledger but internal/ledger Writers has no "extra"`},
	})
}

// ledgerStatement is the index of fn's role statement on the ledger table.
func ledgerStatement(t *Template, fn string) int {
	for i, s := range statements(t, fn) {
		m, _ := s.(map[string]any)
		if isGetAtt(m["Resource"], ledgerID, "Arn") {
			return i
		}
	}
	return -1
}

// quoted is patterns sorted and shown as %q shows a []string.
func quoted(patterns []string) string {
	return fmt.Sprintf("%q", slices.Sorted(slices.Values(patterns)))
}

func setLeadingKeys(stmt any, op string, patterns ...string) {
	var v []any
	for _, p := range patterns {
		v = append(v, p)
	}
	stmt.(map[string]any)["Condition"] = map[string]any{op: map[string]any{"dynamodb:LeadingKeys": v}}
}

// writerOf is the internal/ledger Writers name of a function's logical id:
// ReceiverFunction → receiver.
func writerOf(fn string) string { return strings.ToLower(strings.TrimSuffix(fn, "Function")) }

func checkLedgerKeys(t *Template) problems {
	var p problems
	onLedger := func(s statement) bool {
		for _, r := range s.resources {
			if isGetAtt(r, ledgerID, "Arn") || hasWildcard(r) {
				return true
			}
		}
		return false
	}
	usesDynamo := func(s statement) string {
		for _, a := range s.actions {
			if strings.HasPrefix(a, "dynamodb:") || strings.Contains(a, "*") {
				return a
			}
		}
		return ""
	}
	// The prefixes the worker must keep out of: all the others own.
	var others []string
	for w, prefixes := range ledger.Writers {
		if w != writerOf(workerID) {
			others = append(others, prefixes...)
		}
	}
	seen := map[string]bool{}
	for _, fn := range SortedKeys(t.Resources) {
		if t.Resources[fn].Type != "AWS::Serverless::Function" {
			continue
		}
		var ignore problems // functionRole's own problems are checkIAM's
		role := functionRole(t, fn, &ignore)
		if role == "" {
			continue
		}
		stmts, _ := roleStatements(t, role, &ignore)
		prefixes, listed := ledger.Writers[writerOf(fn)]
		seen[writerOf(fn)] = listed
		want := prefixed(prefixes)
		for _, s := range stmts {
			if !onLedger(s) {
				continue
			}
			a := usesDynamo(s)
			if a == "" {
				continue
			}
			if s.effect != "Allow" {
				continue
			}
			if null := leadingKeys(s, "Null"); len(null) != 1 || null[0] != "false" {
				p.addf("%s: no Null dynamodb:LeadingKeys false: ForAllValues holds for a request without keys (a Scan, any table-wide action)", s.at)
			}
			switch {
			case fn == workerID:
				// Handler records have no prefix: any key but the others'.
				if got := leadingKeys(s, "ForAllValues:StringNotLike"); !sameSet(got, others) {
					p.addf("%s: %s on the ledger with ForAllValues:StringNotLike dynamodb:LeadingKeys %q, want %q (internal/ledger Writers but the worker): it could overwrite the others' items", s.at, a, got, prefixed(others))
				}
			case !listed:
				p.addf("Resources.%s: uses the ledger but internal/ledger Writers has no %q: add its key prefixes there", fn, writerOf(fn))
			case leadingKeys(s, "ForAllValues:StringLike") == nil:
				p.addf("%s: %s on the ledger without ForAllValues:StringLike dynamodb:LeadingKeys %q (internal/ledger Writers[%q]): it could overwrite any item", s.at, a, want, writerOf(fn))
			default:
				got := slices.Sorted(slices.Values(leadingKeys(s, "ForAllValues:StringLike")))
				if !slices.Equal(got, want) {
					p.addf("%s: dynamodb:LeadingKeys %q, want %q (internal/ledger Writers[%q])", s.at, got, want, writerOf(fn))
				}
			}
		}
	}
	for _, w := range SortedKeys(ledger.Writers) {
		if _, ok := seen[w]; !ok {
			p.addf("internal/ledger Writers[%q]: no function %s in the template", w, strings.ToUpper(w[:1])+w[1:]+"Function")
		}
	}
	return p
}

// leadingKeys returns the statement's dynamodb:LeadingKeys patterns under
// the condition operator op, or nil.
func leadingKeys(s statement, op string) []string {
	c, _ := s.condition[op].(map[string]any)
	var out []string
	for _, v := range asList(c["dynamodb:LeadingKeys"]) {
		out = append(out, fmt.Sprint(v))
	}
	return out
}

// sameSet: the patterns are exactly the prefixes, each followed by *.
func sameSet(patterns, prefixes []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(patterns)), prefixed(prefixes))
}

// prefixed: each prefix followed by *, sorted, each once.
func prefixed(prefixes []string) []string {
	out := make([]string, len(prefixes))
	for i, p := range prefixes {
		out[i] = p + "*"
	}
	slices.Sort(out)
	return slices.Compact(out)
}

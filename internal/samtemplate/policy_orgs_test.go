package samtemplate

import (
	"fmt"
	"testing"

	"github.com/hookline/hookline/internal/orgs"
)

// orgSecretTemplate is the ARN of one org's secret of a kind (internal/orgs
// SecretName), by its name: the -?????? stands for the 6 characters Secrets
// Manager appends to every secret's ARN, so it matches that one name only.
func orgSecretTemplate(kind string) string {
	return "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:hookline/${AWS::StackName}/${Org}/" + kind + "-??????"
}

// isOrgSecret accepts the grant of the secret of kind of the org in one of
// OktaOrgs' slots after the default org, optionally under a condition:
// !If [OrgN, !Sub [orgSecretTemplate(kind), {Org: !Select [N, !Split [",",
// !Sub "${OktaOrgs},,,,,,,,,"]]}], !Ref AWS::NoValue].
func isOrgSecret(kind string) func(any) bool {
	return func(r any) bool {
		if fn, arg, ok := Intrinsic(r); ok && fn == "Fn::If" {
			branches := asList(arg)
			if len(branches) != 3 || !isRef(branches[2], "AWS::NoValue") {
				return false
			}
			r = branches[1]
		}
		fn, arg, ok := Intrinsic(r)
		parts := asList(arg)
		if !ok || fn != "Fn::Sub" || len(parts) != 2 || parts[0] != orgSecretTemplate(kind) {
			return false
		}
		vars, _ := parts[1].(map[string]any)
		if len(vars) != 1 {
			return false
		}
		fn, arg, ok = Intrinsic(vars["Org"])
		sel := asList(arg)
		if !ok || fn != "Fn::Select" || len(sel) != 2 {
			return false
		}
		var slot int
		switch n := sel[0].(type) {
		case int:
			slot = n
		case float64: // from JSON (SAM's output)
			slot = int(n)
		case string:
			fmt.Sscan(n, &slot)
		}
		if slot < 1 || slot >= orgs.MaxOrgs {
			return false
		}
		fn, arg, ok = Intrinsic(sel[1])
		split := asList(arg)
		if !ok || fn != "Fn::Split" || len(split) != 2 || split[0] != "," {
			return false
		}
		fn, arg, ok = Intrinsic(split[1])
		padding := ""
		for range orgs.MaxOrgs - 1 {
			padding += ","
		}
		return ok && fn == "Fn::Sub" && arg == "${OktaOrgs}"+padding
	}
}

// TestOrgSecretsAreGrantedByName: each function reads the other orgs'
// secrets of its kind only, each by its exact name, never by a wildcard or a
// prefix, and never another kind's (the receiver never the Okta credentials
// of an org, the reconciler never a hook secret).
func TestOrgSecretsAreGrantedByName(t *testing.T) {
	lastStatement := func(tp *Template, fn string) map[string]any {
		st := statements(tp, fn)
		branches := asList(st[len(st)-1].(map[string]any)["Fn::If"])
		return branches[1].(map[string]any)
	}
	setFirst := func(fn string, v any) func(*Template) {
		return func(tp *Template) { lastStatement(tp, fn)["Resource"].([]any)[0] = v }
	}
	testPolicy(t, checkIAM, []breakCase{
		{name: "receiver reads every secret of the stack",
			edit: setFirst(receiverID, map[string]any{"Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:hookline/${AWS::StackName}/*"}),
			want: "secretsmanager:getsecretvalue on map[Fn::Sub:"},
		{name: "receiver reads an org's Okta credentials",
			old: "/${Org}/hook-??????\", {Org: !Select [1,", new: "/${Org}/okta-??????\", {Org: !Select [1,",
			want: "secretsmanager:getsecretvalue on"},
		{name: "reconciler reads an org's hook secret",
			edit: func(tp *Template) {
				r := lastStatement(tp, reconcilerID)["Resource"].([]any)
				r[0].(map[string]any)["Fn::Sub"].([]any)[0] = orgSecretTemplate(orgs.KindHook)
			},
			want: "secretsmanager:getsecretvalue on"},
		{name: "worker reads any name after the org",
			edit: func(tp *Template) {
				r := lastStatement(tp, workerID)["Resource"].([]any)
				r[0].(map[string]any)["Fn::Sub"].([]any)[0] = fmt.Sprint(orgSecretTemplate(orgs.KindOkta), "x")
			},
			want: "secretsmanager:getsecretvalue on"},
		{name: "receiver's slot past the last org",
			edit: func(tp *Template) {
				r := lastStatement(tp, receiverID)["Resource"].([]any)
				sub := r[0].(map[string]any)["Fn::Sub"].([]any)
				sub[1].(map[string]any)["Org"].(map[string]any)["Fn::Select"].([]any)[0] = orgs.MaxOrgs
			},
			want: "secretsmanager:getsecretvalue on"},
	})
}

package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// translateScript runs SAM's own translator (aws-sam-translator, the library
// `sam deploy` and cfn-lint use) on each template named in argv, offline,
// and prints {path: translated Resources}. A local CodeUri is replaced by an
// S3 one, as `sam package` does and cfn-lint does before translating.
const translateScript = `
import json, sys
from samtranslator.yaml_helper import yaml_parse
from samtranslator.translator.transform import transform

class NoManagedPolicies:
    def load(self):
        return {}

out = {}
for path in sys.argv[1:]:
    with open(path) as f:
        tpl = yaml_parse(f.read())
    for r in tpl.get("Resources", {}).values():
        if r.get("Type") == "AWS::Serverless::Function":
            r["Properties"]["CodeUri"] = "s3://bucket/key"
    out[path] = transform(tpl, {"AWS::Region": "us-east-1"}, NoManagedPolicies())["Resources"]
json.dump(out, sys.stdout)
`

// translate returns the CloudFormation resources SAM makes of each template.
// Without python3 and samtranslator the test is skipped loudly, except on CI
// (CI set), which has them.
func translate(t *testing.T, paths ...string) map[string]map[string]Resource {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the SAM translator (python); skipped with -short")
	}
	missing := func(what string, err error) {
		msg := fmt.Sprintf("*** %s: the SAM-translated roles are NOT checked (pip install aws-sam-translator) ***: %v", what, err)
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	py, err := exec.LookPath("python3")
	if err != nil {
		missing("python3 is not installed", err)
	}
	if out, err := exec.Command(py, "-c", "import samtranslator").CombinedOutput(); err != nil {
		missing("samtranslator is not installed", fmt.Errorf("%v: %s", err, out))
	}
	cmd := exec.Command(py, append([]string{"-c", translateScript}, paths...)...)
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	cmd.Stderr = new(strings.Builder)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("SAM translator: %v\n%s", err, cmd.Stderr)
	}
	var res map[string]map[string]Resource
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	return res
}

// scopedServices are the services whose actions must name their resources.
var scopedServices = []string{"sqs:", "dynamodb:", "secretsmanager:"}

// checkTranslatedRoles reads SAM's output: no role has a managed policy (AWS's
// execution-role policies grant logs or SQS actions on "*"), no statement
// grants an SQS, DynamoDB or Secrets Manager action (or a wildcard action) on
// a wildcard resource, and logs actions are only on the log group of the
// function that uses the role.
func checkTranslatedRoles(res map[string]Resource) problems {
	var p problems
	logGroupOf := map[string]string{} // role id → its function's log group id
	for id, r := range res {
		if r.Type != "AWS::Lambda::Function" {
			continue
		}
		_, arg, _ := Intrinsic(r.Properties["Role"])
		role, _, _ := GetAttTarget(arg)
		group, _ := Lookup(r.Properties, "LoggingConfig", "LogGroup")
		_, g, _ := Intrinsic(group)
		gs, _ := g.(string)
		if role == "" || gs == "" {
			p.addf("%s: role %q, log group %q: cannot tie its logs permissions to its log group", id, role, gs)
		}
		logGroupOf[role] = gs
	}
	for _, id := range SortedKeys(res) {
		r := res[id]
		if r.Type != "AWS::IAM::Role" {
			continue
		}
		for _, m := range asList(r.Properties["ManagedPolicyArns"]) {
			p.addf("%s: managed policy %v (AWS's execution-role policies grant logs or SQS actions on *)", id, m)
		}
		for i, pol := range asList(r.Properties["Policies"]) {
			doc, _ := pol.(map[string]any)["PolicyDocument"].(map[string]any)
			for j, s := range asList(doc["Statement"]) {
				sm, _ := s.(map[string]any)
				at := fmt.Sprintf("%s.Policies[%d].Statement[%d]", id, i, j)
				if sm["Effect"] != "Allow" {
					continue
				}
				if _, ok := sm["NotResource"]; ok {
					p.addf("%s: NotResource grants every other resource", at)
				}
				if _, ok := sm["NotAction"]; ok {
					p.addf("%s: NotAction grants every other action", at)
				}
				for _, a := range asList(sm["Action"]) {
					action := strings.ToLower(fmt.Sprint(a))
					scoped := strings.Contains(action, "*")
					for _, svc := range scopedServices {
						scoped = scoped || strings.HasPrefix(action, svc)
					}
					for _, res := range asList(sm["Resource"]) {
						raw, _ := json.Marshal(res)
						if scoped && strings.Contains(string(raw), "*") {
							p.addf("%s: %s on wildcard resource %s", at, action, raw)
						}
						if strings.HasPrefix(action, "logs:") && !isGetAtt(res, logGroupOf[id], "Arn") {
							p.addf("%s: %s on %s, not on its function's log group %q", at, action, raw, logGroupOf[id])
						}
					}
				}
			}
		}
	}
	return p
}

// TestTranslatedRolesLeastPrivilege runs SAM's translator on template.yaml
// and checks the roles it really deploys. Broken copies, translated in the
// same run, show the check fails: the worker without its explicit role (SAM
// then attaches AWSLambdaSQSQueueExecutionRole and
// AWSLambdaBasicExecutionRole), and a role granting sqs:ReceiveMessage on *.
func TestTranslatedRolesLeastPrivilege(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	real := write("template.yaml", string(data))
	replace := func(s, old, new string) string {
		if !strings.Contains(s, old) {
			t.Fatalf("break case: %q not in template.yaml", old)
		}
		return strings.Replace(s, old, new, 1)
	}
	samRole := write("sam-role.yaml", replace(string(data), "      Role: !GetAtt WorkerRole.Arn\n",
		"      Policies:\n        - Version: \"2012-10-17\"\n          Statement:\n            - Effect: Allow\n              Action: sqs:ChangeMessageVisibility\n              Resource: !GetAtt EventsQueue.Arn\n"))
	wildcard := write("wildcard.yaml", replace(string(data), "                Action: sqs:SendMessage\n                Resource: !GetAtt EventsDLQ.Arn",
		"                Action: sqs:SendMessage\n                Resource: \"*\""))
	logsAnywhere := write("logs.yaml", replace(string(data), "Resource: !GetAtt ReceiverLogGroup.Arn", "Resource: !GetAtt WorkerLogGroup.Arn"))

	out := translate(t, real, samRole, wildcard, logsAnywhere)
	if p := checkTranslatedRoles(out[real]); len(p) > 0 {
		t.Fatalf("template.yaml as SAM translates it:\n%s", strings.Join(p, "\n"))
	}
	for path, want := range map[string]string{
		samRole:      "service-role/AWSLambdaSQSQueueExecutionRole",
		wildcard:     "sqs:sendmessage on wildcard resource",
		logsAnywhere: `not on its function's log group "ReceiverLogGroup"`,
	} {
		p := checkTranslatedRoles(out[path])
		if !strings.Contains(strings.Join(p, "\n"), want) {
			t.Errorf("%s: want a problem containing %q, got:\n%s", filepath.Base(path), want, strings.Join(p, "\n"))
		}
	}
}

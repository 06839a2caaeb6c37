package samtemplate

import (
	"encoding/json"
	"fmt"
	"github.com/hookline/hookline/internal/orgs"
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

// anyResourceActions are the actions a role may be granted on a wildcard
// resource, each with the reason it cannot name one; every other action of
// every role must name its resources. None is needed today: metrics are
// embedded metric format log lines (no cloudwatch:PutMetricData), there is
// no X-Ray tracing (xray:PutTraceSegments) and no VPC
// (ec2:CreateNetworkInterface), the actions that would need "*". Add one here
// only with its reason.
var anyResourceActions = map[string]string{}

// checkTranslatedRoles reads SAM's output: no role has a managed policy (AWS's
// execution-role policies grant logs or SQS actions on "*"), no statement
// allows a wildcard action, or any action but anyResourceActions on a
// resource with a wildcard, and logs actions are only on the log group of the
// function that uses the role. Statements under !If are checked in each
// branch.
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
			for j, s := range conditionalStatements(asList(doc["Statement"])) {
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
					if strings.ContainsAny(action, "*?") {
						p.addf("%s: wildcard action %s", at, action)
					}
					if len(asList(sm["Resource"])) == 0 {
						p.addf("%s: %s without a Resource", at, action)
					}
					for _, res := range asList(sm["Resource"]) {
						raw, _ := json.Marshal(res)
						// An org's secret by its name: its "-??????" is the
						// suffix Secrets Manager appends, nothing more.
						byName := isOrgSecret(orgs.KindHook)(res) || isOrgSecret(orgs.KindOkta)(res)
						if _, exempt := anyResourceActions[action]; !exempt && !byName && strings.ContainsAny(string(raw), "*?") {
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
// AWSLambdaBasicExecutionRole), a role granting sqs:SendMessage on *, logs
// on another function's group, and actions of services the check used to
// let through on a wildcard: events:PutEvents on * (under !If),
// ssm:GetParameter on a ?-pattern, cloudwatch:PutMetricData on *.
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
	// The fan-out statement sits under !If EventBusEnabled.
	anyBus := write("any-bus.yaml", replace(string(data), `Resource: !Sub "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"`,
		`Resource: "*"`))
	anyParameter := write("any-parameter.yaml", replace(string(data), "              # Also authorizes SendMessageBatch.\n",
		"              - Effect: Allow\n                Action: ssm:GetParameter\n                Resource: !Sub arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter/hookline-?\n              # Also authorizes SendMessageBatch.\n"))
	metricsAnywhere := write("metrics.yaml", replace(string(data), "              # Also authorizes SendMessageBatch.\n",
		"              - Effect: Allow\n                Action: cloudwatch:PutMetricData\n                Resource: \"*\"\n              # Also authorizes SendMessageBatch.\n"))

	out := translate(t, real, samRole, wildcard, logsAnywhere, anyBus, anyParameter, metricsAnywhere)
	if p := checkTranslatedRoles(out[real]); len(p) > 0 {
		t.Fatalf("template.yaml as SAM translates it:\n%s", strings.Join(p, "\n"))
	}
	for path, want := range map[string]string{
		samRole:         "service-role/AWSLambdaSQSQueueExecutionRole",
		wildcard:        "sqs:sendmessage on wildcard resource",
		logsAnywhere:    `not on its function's log group "ReceiverLogGroup"`,
		anyBus:          `WorkerRole.Policies[0].Statement[4]: events:putevents on wildcard resource "*"`,
		anyParameter:    "ssm:getparameter on wildcard resource",
		metricsAnywhere: `cloudwatch:putmetricdata on wildcard resource "*"`,
	} {
		p := checkTranslatedRoles(out[path])
		if !strings.Contains(strings.Join(p, "\n"), want) {
			t.Errorf("%s: want a problem containing %q, got:\n%s", filepath.Base(path), want, strings.Join(p, "\n"))
		}
	}
}

package samtemplate

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCfnLint: what CloudFormation and the SAM transform accept is cfn-lint's
// to check (make lint and make test run it on template.yaml). It runs the SAM
// translator offline and checks the result against the resource schemas:
// references, GetAtt attributes, conditions, circular dependencies, parameter
// defaults, property names and values, Globals, reserved variables. This test
// lints template.yaml together with broken copies of it, in one run, and
// expects each break reported by the rule named, so a cfn-lint that stopped
// checking one of these would be noticed. The breaks the SAM transform itself
// refuses (E0001), and the missing transform (E3038), each get their own
// copy, as they stop or change the lint of their file; the others share one
// copy, each reported on its own.
//
// cfn-lint is a Python tool (pip install cfn-lint aws-sam-translator). Where
// it is missing this test skips, except on CI (CI=true), which must have it.
func TestCfnLint(t *testing.T) {
	bin, err := exec.LookPath("cfn-lint")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("cfn-lint is not installed, and CI must lint the template: pip install cfn-lint aws-sam-translator")
		}
		t.Skip("cfn-lint is not installed (pip install cfn-lint aws-sam-translator): template.yaml NOT linted")
	}
	if testing.Short() {
		t.Skip("cfn-lint takes seconds; skipped with -short")
	}
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		old, new string
		rule     string // the cfn-lint rule that must fire
		message  string // and part of its message
	}{
		{"ref-missing-resource", "QUEUE_URL: !Ref EventsQueue # for", "QUEUE_URL: !Ref EventQueue # for", "E1020", "'EventQueue'"},
		{"getatt-missing-attribute", "deadLetterTargetArn: !GetAtt EventsDLQ.Arn", "deadLetterTargetArn: !GetAtt EventsDLQ.Url", "E1010", "Url"},
		{"sub-misspelt-pseudo-parameter", "${AWS::StackName}-worker", "${AWS::Stackname}-worker", "E1019", "AWS::Stackname"},
		{"if-unknown-condition", "AccessLogSettings: !If\n        - AccessLogsEnabled", "AccessLogSettings: !If\n        - AccessLogEnabled", "E1028", "AccessLogEnabled"},
		{"conditional-resource-unguarded", "  LedgerTableName:\n", "  AccessLogArn:\n    Value: !GetAtt ApiAccessLogGroup.Arn\n  LedgerTableName:\n", "W1001", "ApiAccessLogGroup"},
		{"dependson-missing", "  WorkerFunction:\n    Type: AWS::Serverless::Function\n", "  WorkerFunction:\n    Type: AWS::Serverless::Function\n    DependsOn: Nope\n", "E3005", "'Nope'"},
		{"queues-naming-each-other", "redrivePermission: allowAll", "redrivePermission: byQueue\n        sourceQueueArns: [!GetAtt EventsQueue.Arn]", "E3004", "Circular"},
		{"default-not-allowed", "    Default: \"false\"\n    AllowedValues: [\"true\", \"false\"]", "    Default: \"no\"\n    AllowedValues: [\"true\", \"false\"]", "E2015", "AllowedValues"},
		{"parameter-type", "  LogLevel:\n    Type: String", "  LogLevel:\n    Type: Str", "E2002", "Str"},
		{"misspelt-queue-property", "VisibilityTimeout: 180", "VisibilityTimeOut: 180", "E3002", "VisibilityTimeOut"},
		{"misspelt-sqs-event-property", "FunctionResponseTypes: [ReportBatchItemFailures]", "FunctionResponseType: [ReportBatchItemFailures]", "E0001", "FunctionResponseType"},
		{"policies-in-globals", "    MemorySize: 256\n", "    MemorySize: 256\n    Policies: [AWSLambdaExecute]\n", "E0001", "'Policies' is not a supported property"},
		{"arm64-twice", "      Timeout: 30\n", "      Timeout: 30\n      Architectures: [arm64]\n", "E3037", "non-unique"},
		{"reserved-env-var", "          LEDGER_TABLE: !Ref LedgerTable", "          LEDGER_TABLE: !Ref LedgerTable\n          AWS_REGION: eu-west-1", "E3663", "AWS_REGION"},
		{"payload-version-number", "            Method: GET\n            Path: /okta/events\n            PayloadFormatVersion: \"2.0\"", "            Method: GET\n            Path: /okta/events\n            PayloadFormatVersion: 2.0", "E0001", "PayloadFormatVersion"},
		{"duplicate-route", "            Method: GET\n", "            Method: POST\n", "E0001", "defined multiple times"},
		{"timeout-over-900", "Timeout: 30\n", "Timeout: 3000\n", "E3034", "3000"},
		{"no-sam-transform", "Transform: AWS::Serverless-2016-10-31", "Transform: []", "E3038", "without the serverless transform"},
		{"retention-cloudwatch-refuses", "AllowedValues: [1, 3, 5, 7, 14, 30,", "AllowedValues: [1, 3, 5, 7, 14, 30, 31,", "W1030", "31"},
	}
	dir := t.TempDir()
	files := []string{templatePath}
	shared := filepath.Join(dir, "shared.yaml")
	sharedText := string(data)
	fileOf := map[string]string{} // case → the copy it is in
	for _, c := range cases {
		if !strings.Contains(string(data), c.old) {
			t.Fatalf("%s: template.yaml no longer contains %q; update this case", c.name, c.old)
		}
		if c.rule != "E0001" && c.rule != "E3038" {
			if !strings.Contains(sharedText, c.old) {
				t.Fatalf("%s: an earlier case changed %q; pick other text", c.name, c.old)
			}
			sharedText = strings.Replace(sharedText, c.old, c.new, 1)
			fileOf[c.name] = shared
			continue
		}
		f := filepath.Join(dir, c.name+".yaml")
		if err := os.WriteFile(f, []byte(strings.Replace(string(data), c.old, c.new, 1)), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
		fileOf[c.name] = f
	}
	if err := os.WriteFile(shared, []byte(sharedText), 0o644); err != nil {
		t.Fatal(err)
	}
	files = append(files, shared)
	// -f parseable: file:line:col:endline:endcol:rule:message, one a line.
	out, _ := exec.Command(bin, append([]string{"-f", "parseable", "--"}, files...)...).CombinedOutput()
	found := map[string][]string{} // file → "rule:message"
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, ":", 7)
		if len(parts) != 7 {
			if line != "" {
				t.Errorf("cfn-lint: %s", line)
			}
			continue
		}
		found[parts[0]] = append(found[parts[0]], parts[5]+":"+parts[6])
	}
	for _, f := range found[templatePath] {
		t.Errorf("cfn-lint template.yaml: %s", f)
	}
	for _, c := range cases {
		f := fileOf[c.name]
		hit := false
		for _, s := range found[f] {
			hit = hit || (strings.HasPrefix(s, c.rule+":") && strings.Contains(s, c.message))
		}
		if !hit {
			t.Errorf("%s: want %s mentioning %q, cfn-lint said %s", c.name, c.rule, c.message, fmt.Sprint(found[f]))
		}
	}
}

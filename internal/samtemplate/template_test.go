package samtemplate

// TestTemplateDeployable checks the real template.yaml (with the Makefile and
// the functions' Go code) for what would break `sam build` / `sam deploy`.
// The other tests feed broken copies to each check to prove it can fail.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot walks up from the package directory to the directory with go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

func realTemplatePath(t *testing.T) string { return filepath.Join(repoRoot(t), "template.yaml") }

func report(t *testing.T, p problems) {
	t.Helper()
	for _, s := range p {
		t.Error(s)
	}
}

func TestTemplateDeployable(t *testing.T) {
	root := repoRoot(t)
	tpl, err := Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range templateChecks {
		t.Run(c.name, func(t *testing.T) { report(t, c.fn(tpl)) })
	}
	t.Run("Makefile", func(t *testing.T) {
		// SAM looks for the Makefile in each function's CodeUri (".").
		text, err := os.ReadFile(filepath.Join(root, "Makefile"))
		if err != nil {
			t.Fatalf("sam build needs a Makefile next to template.yaml: %v", err)
		}
		report(t, checkMakefile(tpl, string(text), functionDirs))
	})
	t.Run("Env", func(t *testing.T) {
		for _, id := range tpl.ResourcesOfType(TypeFunction) {
			dir, ok := functionDirs[id]
			if !ok {
				t.Errorf("%s: no code directory known; add it to functionDirs", id)
				continue
			}
			t.Run(id, func(t *testing.T) {
				env, err := scanCodeEnv(root, dir)
				if err != nil {
					t.Fatalf("reading the code of %s: %v", id, err)
				}
				report(t, checkEnv(tpl, id, env))
			})
		}
	})
}

// breakCase breaks the real template, by replacing text (old must occur) or
// editing the parsed values, and expects check to report want.
type breakCase struct {
	name     string
	old, new string
	edit     func(t *Template)
	check    check
	want     string
}

func runBreakCases(t *testing.T, cases []breakCase) {
	t.Helper()
	data, err := os.ReadFile(realTemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base, err := Parse(data)
			if err != nil {
				t.Fatal(err)
			}
			// Unless the intact template passes, the case proves nothing.
			if p := c.check(base); len(p) > 0 {
				t.Fatalf("the intact template already fails this check: %q", p)
			}
			text := string(data)
			if c.old != "" {
				if !strings.Contains(text, c.old) {
					t.Fatalf("template.yaml no longer contains %q; update this case", c.old)
				}
				text = strings.Replace(text, c.old, c.new, 1)
			}
			broken, err := Parse([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if c.edit != nil {
				c.edit(broken)
			}
			p := c.check(broken)
			for _, s := range p {
				if strings.Contains(s, c.want) {
					return
				}
			}
			t.Errorf("broken template not rejected: want a problem containing %q, got %q", c.want, p)
		})
	}
}

// Shorthands for edits of the parsed template.
func props(t *Template, id string) map[string]any { return t.Resources[id].Properties }

func event(t *Template, fn, name string) map[string]any {
	return props(t, fn)["Events"].(map[string]any)[name].(map[string]any)["Properties"].(map[string]any)
}

func statements(t *Template, fn string) []any {
	return props(t, fn)["Policies"].([]any)[0].(map[string]any)["Statement"].([]any)
}

func globalsFunction(t *Template) map[string]any { return t.Globals["Function"].(map[string]any) }

func TestChecksCatchBreaks(t *testing.T) {
	runBreakCases(t, []breakCase{
		// References.
		{name: "Ref to a missing resource", old: "QUEUE_URL: !Ref EventsQueue # for", new: "QUEUE_URL: !Ref EventQueue # for",
			check: checkRefs, want: `"EventQueue" is not a parameter, resource or pseudo parameter`},
		{name: "GetAtt attribute the type lacks", old: "deadLetterTargetArn: !GetAtt EventsDLQ.Arn", new: "deadLetterTargetArn: !GetAtt EventsDLQ.Url",
			check: checkRefs, want: `has no attribute "Url"`},
		{name: "GetAtt on a parameter", old: "Resource: !Ref HookSecret", new: "Resource: !GetAtt LogLevel.Arn",
			check: checkRefs, want: `"LogLevel" is not a resource`},
		{name: "Sub with a misspelt pseudo parameter", old: "${AWS::StackName}-worker", new: "${AWS::Stackname}-worker",
			check: checkRefs, want: `"AWS::Stackname"`},
		{name: "Sub with a missing resource", old: "https://${HttpApi}.execute-api", new: "https://${Api}.execute-api",
			check: checkRefs, want: `"Api" is not a parameter`},
		{name: "unknown condition in Fn::If", old: "AccessLogSettings: !If\n        - AccessLogsEnabled", new: "AccessLogSettings: !If\n        - AccessLogEnabled",
			check: checkRefs, want: `condition "AccessLogEnabled" is not defined`},
		{name: "conditional resource referenced unconditionally",
			edit: func(t *Template) {
				props(t, "HttpApi")["AccessLogSettings"] = map[string]any{
					"DestinationArn": map[string]any{"Fn::GetAtt": []any{"ApiAccessLogGroup", "Arn"}},
					"Format":         "$context.requestId",
				}
			},
			check: checkRefs, want: "ApiAccessLogGroup exists only when AccessLogsEnabled"},
		{name: "DependsOn a missing resource", edit: func(t *Template) {
			r := t.Resources[workerID]
			r.DependsOn = []string{"Nope"}
			t.Resources[workerID] = r
		}, check: checkRefs, want: `DependsOn "Nope"`},

		// Cycles.
		{name: "queues naming each other", old: "redrivePermission: allowAll",
			new:   "redrivePermission: byQueue\n        sourceQueueArns: [!GetAtt EventsQueue.Arn]",
			check: checkCycles, want: "circular dependency: EventsDLQ -> EventsQueue -> EventsDLQ"},

		// Parameters.
		{name: "Default outside AllowedValues", old: "    Type: Number\n    Default: 30\n", new: "    Type: Number\n    Default: 31\n",
			check: checkParameters, want: `LogRetentionDays: Default "31" is not in AllowedValues`},
		{name: "Default above MaxValue", edit: func(t *Template) { t.Parameters["WorkerBatchSize"]["Default"] = 20000 },
			check: checkParameters, want: "Default 20000 > MaxValue 10000"},
		{name: "unused parameter", edit: func(t *Template) {
			t.Parameters["UnusedKnob"] = map[string]any{"Type": "Number", "Default": 30}
		}, check: checkParameters, want: "UnusedKnob: never referenced"},
		{name: "invalid parameter type", edit: func(t *Template) { t.Parameters["LogLevel"]["Type"] = "Str" },
			check: checkParameters, want: `invalid Type "Str"`},

		// Property names.
		{name: "misspelt SQS event property", old: "FunctionResponseTypes: [ReportBatchItemFailures]", new: "FunctionResponseType: [ReportBatchItemFailures]",
			check: checkProperties, want: "Events.Queue.Properties.FunctionResponseType: not a property of a SQS event"},
		{name: "misspelt queue property", old: "VisibilityTimeout: 180", new: "VisibilityTimeOut: 180",
			check: checkProperties, want: "EventsQueue.Properties.VisibilityTimeOut: not a property"},
		{name: "misspelt function property", old: "Timeout: 30\n", new: "TimeOut: 30\n",
			check: checkProperties, want: "WorkerFunction.Properties.TimeOut"},

		// Sections and Globals.
		{name: "Policies in Globals", edit: func(t *Template) { globalsFunction(t)["Policies"] = []any{"AWSLambdaExecute"} },
			check: checkSections, want: "Globals.Function.Policies: SAM does not accept"},
		{name: "no SAM transform", old: "Transform: AWS::Serverless-2016-10-31", new: "Transform: []",
			check: checkSections, want: "Transform must include"},

		// Functions.
		{name: "arm64 in Globals and function", edit: func(t *Template) { props(t, workerID)["Architectures"] = []any{"arm64"} },
			check: checkFunctions, want: "WorkerFunction: Architectures [arm64 arm64]"},
		{name: "x86_64", edit: func(t *Template) { globalsFunction(t)["Architectures"] = []any{"x86_64"} },
			check: checkFunctions, want: "want exactly [arm64]"},
		{name: "receiver timeout at Okta's limit", old: "Timeout: 2", new: "Timeout: 3",
			check: checkFunctions, want: "ReceiverFunction.Timeout (must stay under Okta's 3 s): allows 3"},
		{name: "old runtime", old: "Runtime: provided.al2023", new: "Runtime: provided.al2",
			check: checkFunctions, want: "Runtime provided.al2,"},
		{name: "handler renamed", old: "Handler: bootstrap", new: "Handler: main",
			check: checkFunctions, want: "Handler main"},
		{name: "no build method", edit: func(t *Template) { delete(t.Resources[receiverID].Metadata, "BuildMethod") },
			check: checkFunctions, want: "ReceiverFunction: Metadata.BuildMethod"},
		{name: "worker logs to an unmanaged group", edit: func(t *Template) { delete(props(t, workerID), "LoggingConfig") },
			check: checkFunctions, want: "WorkerFunction.LoggingConfig.LogGroup"},
		{name: "reserved env var", edit: func(t *Template) {
			vars := props(t, workerID)["Environment"].(map[string]any)["Variables"].(map[string]any)
			vars["AWS_REGION"] = "eu-west-1"
		}, check: checkFunctions, want: "env AWS_REGION is reserved"},

		// HTTP API.
		{name: "payload version as a number", edit: func(t *Template) { event(t, receiverID, "Deliver")["PayloadFormatVersion"] = 2.0 },
			check: checkHttpApi, want: `PayloadFormatVersion 2, want the string "2.0"`},
		{name: "no GET route", edit: func(t *Template) {
			delete(props(t, receiverID)["Events"].(map[string]any), "Verify")
		}, check: checkHttpApi, want: "no HttpApi event routes GET /okta/events"},
		{name: "route on the implicit API", edit: func(t *Template) { delete(event(t, receiverID, "Verify"), "ApiId") },
			check: checkHttpApi, want: "Events.Verify: ApiId <nil>, want !Ref HttpApi"},
		{name: "duplicate route", edit: func(t *Template) { event(t, receiverID, "Verify")["Method"] = "POST" },
			check: checkHttpApi, want: "route POST /okta/events already defined"},
		{name: "no stage throttling", edit: func(t *Template) { delete(props(t, "HttpApi"), "DefaultRouteSettings") },
			check: checkHttpApi, want: "ThrottlingBurstLimit: missing"},
		{name: "access log format without request id", old: `"requestId":"$context.requestId",`, new: "",
			check: checkHttpApi, want: "Format must contain $context.requestId"},

		// Queues.
		{name: "no redrive policy", edit: func(t *Template) { delete(props(t, queueID), "RedrivePolicy") },
			check: checkQueues, want: "RedrivePolicy: missing"},
		{name: "redrive to itself", old: "deadLetterTargetArn: !GetAtt EventsDLQ.Arn", new: "deadLetterTargetArn: !GetAtt EventsQueue.Arn",
			check: checkQueues, want: "deadLetterTargetArn"},
		{name: "maxReceiveCount changed", old: "maxReceiveCount: 5", new: "maxReceiveCount: 3",
			check: checkQueues, want: "maxReceiveCount: 3, want 5"},
		{name: "short DLQ retention", old: "MessageRetentionPeriod: 1209600", new: "MessageRetentionPeriod: 345600",
			check: checkQueues, want: "EventsDLQ.MessageRetentionPeriod: 345600"},
		{name: "short queue retention", old: "MessageRetentionPeriod: 345600 # 4 days", new: "MessageRetentionPeriod: 86400",
			check: checkQueues, want: "EventsQueue.MessageRetentionPeriod: 86400"},
		{name: "visibility under 6x worker timeout", old: "VisibilityTimeout: 180", new: "VisibilityTimeout: 60",
			check: checkQueues, want: "VisibilityTimeout: 60 < 6 x WorkerFunction Timeout (30)"},
		{name: "worker timeout from Globals", edit: func(t *Template) {
			delete(props(t, workerID), "Timeout")
			globalsFunction(t)["Timeout"] = 60
		}, check: checkQueues, want: "VisibilityTimeout: 180 < 6 x WorkerFunction Timeout (60)"},
		{name: "DLQ without SSE", edit: func(t *Template) { delete(props(t, dlqID), "SqsManagedSseEnabled") },
			check: checkQueues, want: "EventsDLQ.SqsManagedSseEnabled"},
		{name: "queue message size 256 KiB", edit: func(t *Template) { props(t, queueID)["MaximumMessageSize"] = 262144 },
			check: checkQueues, want: "EventsQueue.MaximumMessageSize: 262144"},
		{name: "DLQ refuses redrive", old: "redrivePermission: allowAll", new: "redrivePermission: denyAll",
			check: checkQueues, want: "redrivePermission: denyAll"},

		// Worker event source.
		{name: "no partial batch failures", old: "FunctionResponseTypes: [ReportBatchItemFailures]", new: "FunctionResponseTypes: []",
			check: checkWorkerEvent, want: "FunctionResponseTypes: want [ReportBatchItemFailures]"},
		{name: "no scaling config", edit: func(t *Template) { delete(event(t, workerID, "Queue"), "ScalingConfig") },
			check: checkWorkerEvent, want: "ScalingConfig.MaximumConcurrency: missing"},
		{name: "concurrency parameter allows 1", edit: func(t *Template) { t.Parameters["WorkerMaxConcurrency"]["MinValue"] = 1 },
			check: checkWorkerEvent, want: "MaximumConcurrency: allows 1..1000, AWS accepts 2..1000"},
		{name: "batch window may be 0 with big batches", edit: func(t *Template) { t.Parameters["WorkerBatchingWindowSeconds"]["MinValue"] = 0 },
			check: checkWorkerEvent, want: "BatchSize may exceed 10"},
		{name: "no batch size", edit: func(t *Template) { delete(event(t, workerID, "Queue"), "BatchSize") },
			check: checkWorkerEvent, want: "BatchSize: missing"},
		{name: "worker reads the DLQ", old: "Queue: !GetAtt EventsQueue.Arn", new: "Queue: !GetAtt EventsDLQ.Arn",
			check: checkWorkerEvent, want: "want exactly one SQS event"},

		// IAM.
		{name: "receiver sqs:*", old: "Action: sqs:SendMessage", new: "Action: sqs:*",
			check: checkReceiverPolicies, want: `action "sqs:*" is not needed`},
		{name: "receiver reads any secret", edit: func(t *Template) { statements(t, receiverID)[0].(map[string]any)["Resource"] = "*" },
			check: checkReceiverPolicies, want: "secretsmanager:getsecretvalue on *"},
		{name: "receiver sends to the DLQ", edit: func(t *Template) {
			statements(t, receiverID)[1].(map[string]any)["Resource"] = map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}}
		}, check: checkReceiverPolicies, want: "sqs:sendmessage on"},
		{name: "receiver with a managed policy", edit: func(t *Template) {
			props(t, receiverID)["Policies"] = append(props(t, receiverID)["Policies"].([]any), "AmazonSQSFullAccess")
		}, check: checkReceiverPolicies, want: `managed policy "AmazonSQSFullAccess"`},
		{name: "receiver with a policy template", edit: func(t *Template) {
			props(t, receiverID)["Policies"] = append(props(t, receiverID)["Policies"].([]any),
				map[string]any{"SQSSendMessagePolicy": map[string]any{"QueueName": "x"}})
		}, check: checkReceiverPolicies, want: "policy template SQSSendMessagePolicy"},
		{name: "receiver cannot send", edit: func(t *Template) {
			p := props(t, receiverID)["Policies"].([]any)[0].(map[string]any)
			p["Statement"] = statements(t, receiverID)[:1]
		}, check: checkReceiverPolicies, want: "no statement allows sqs:sendmessage"},
		{name: "worker cannot back off", old: "Action: sqs:ChangeMessageVisibility", new: "Action: sqs:GetQueueAttributes",
			check: checkWorkerPolicies, want: "no statement allows sqs:ChangeMessageVisibility"},
		{name: "worker wildcard", edit: func(t *Template) { statements(t, workerID)[0].(map[string]any)["Resource"] = "arn:aws:sqs:*" },
			check: checkWorkerPolicies, want: "wildcard resource"},

		// Secret.
		{name: "short secret", old: "PasswordLength: 48", new: "PasswordLength: 16",
			check: checkSecret, want: "PasswordLength: allows 16"},
		{name: "JSON secret", edit: func(t *Template) {
			g := props(t, secretID)["GenerateSecretString"].(map[string]any)
			g["SecretStringTemplate"] = `{"user":"okta"}`
			g["GenerateStringKey"] = "password"
		}, check: checkSecret, want: "SecretStringTemplate: the secret must be the bare header value"},
		{name: "literal secret", edit: func(t *Template) { props(t, secretID)["SecretString"] = "hunter2" },
			check: checkSecret, want: "SecretString: a secret in the template"},

		// Logs.
		{name: "log group kept forever", edit: func(t *Template) { delete(props(t, "WorkerLogGroup"), "RetentionInDays") },
			check: checkLogGroups, want: "WorkerLogGroup.RetentionInDays: missing"},
		{name: "invalid retention allowed", edit: func(t *Template) {
			t.Parameters["LogRetentionDays"]["AllowedValues"] = append(t.Parameters["LogRetentionDays"]["AllowedValues"].([]any), 31)
		}, check: checkLogGroups, want: "31 is not a CloudWatch Logs retention value"},
		{name: "retention without AllowedValues", edit: func(t *Template) { delete(t.Parameters["LogRetentionDays"], "AllowedValues") },
			check: checkLogGroups, want: "must be a literal or a parameter with AllowedValues"},

		// Alarms.
		{name: "no DLQ alarm", edit: func(t *Template) { delete(t.Resources, "ParkedEventsAlarm") },
			check: checkAlarms, want: "no alarm on EventsDLQ"},
		{name: "DLQ alarm on the wrong queue", old: "Value: !GetAtt EventsDLQ.QueueName", new: "Value: !GetAtt EventsQueue.QueueName",
			check: checkAlarms, want: "no alarm on EventsDLQ"},
		{name: "alarm on a metric no filter emits", old: "      MetricName: Receiver5xx\n      Statistic: Sum", new: "      MetricName: Receiver5XX\n      Statistic: Sum",
			check: checkAlarms, want: "which no metric filter emits"},
		{name: "alarm without threshold", edit: func(t *Template) { delete(props(t, "StuckQueueAlarm"), "Threshold") },
			check: checkAlarms, want: "StuckQueueAlarm.Threshold: missing"},

		// Outputs.
		{name: "no endpoint output", edit: func(t *Template) { delete(t.Outputs, "EndpointUrl") },
			check: checkOutputs, want: "Outputs.EndpointUrl: missing"},
		{name: "endpoint with the wrong path", old: "${AWS::URLSuffix}/okta/events", new: "${AWS::URLSuffix}/okta/event",
			check: checkOutputs, want: "Outputs.EndpointUrl: Value"},
		{name: "DLQ URL output points at the queue", edit: func(t *Template) {
			t.Outputs["EventsDLQUrl"].(map[string]any)["Value"] = map[string]any{"Ref": queueID}
		}, check: checkOutputs, want: "Outputs.EventsDLQUrl"},
	})
}

func TestLoadRejectsWhatCloudFormationRejects(t *testing.T) {
	data, err := os.ReadFile(realTemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"unknown tag", "!Ref HookSecret # the", "!Reff HookSecret # the", "unknown tag !Reff"},
		{"duplicate key", "      Timeout: 30\n", "      Timeout: 30\n      Timeout: 31\n", `duplicate key "Timeout"`},
		{"alias", "    MemorySize: 256", "    MemorySize: &mem 256\n    Description: *mem", "aliases"},
		{"GetAtt without attribute", "!GetAtt EventsDLQ.Arn", "!GetAtt EventsDLQ", "is not Resource.Attribute"},
		{"unknown section", "Outputs:", "Output:", `unknown top-level section "Output"`},
		{"unknown resource attribute", "    Condition: AccessLogsEnabled\n", "    Conditon: AccessLogsEnabled\n", `unknown resource attribute "Conditon"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(data), c.old) {
				t.Fatalf("template.yaml no longer contains %q", c.old)
			}
			_, err := Parse([]byte(strings.Replace(string(data), c.old, c.new, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

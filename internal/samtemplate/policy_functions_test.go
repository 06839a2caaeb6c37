package samtemplate

import (
	"fmt"
	"slices"
	"testing"
)

// Functions: both run the same kind of binary (provided.al2023, arm64,
// bootstrap, built by the Makefile at the repo root), log JSON to a group
// whose retention the stack owns, and the receiver answers within Okta's 3 s.
// The worker's SQS event reports partial batch failures and deploys with every
// value its parameters allow.
func TestPolicyFunctions(t *testing.T) {
	testPolicy(t, checkFunctions, []breakCase{
		{name: "x86_64", edit: func(t *Template) { globalsFunction(t)["Architectures"] = []any{"x86_64"} },
			want: "want exactly [arm64]"},
		{name: "receiver timeout at Okta's limit", old: "Timeout: 2", new: "Timeout: 3",
			want: "ReceiverFunction.Timeout (must stay under Okta's 3 s): allows 3"},
		{name: "receiver timeout from Globals", edit: func(t *Template) {
			delete(props(t, receiverID), "Timeout")
			globalsFunction(t)["Timeout"] = 10
		}, want: "ReceiverFunction.Timeout (must stay under Okta's 3 s): allows 10"},
		{name: "old runtime", old: "Runtime: provided.al2023", new: "Runtime: provided.al2",
			want: "Runtime provided.al2,"},
		{name: "handler renamed", old: "Handler: bootstrap", new: "Handler: main",
			want: "Handler main"},
		{name: "code elsewhere", edit: func(t *Template) { props(t, workerID)["CodeUri"] = "functions/worker" },
			want: "WorkerFunction: CodeUri functions/worker"},
		{name: "no build method", edit: func(t *Template) { delete(t.Resources[receiverID].Metadata, "BuildMethod") },
			want: "ReceiverFunction: Metadata.BuildMethod"},
		{name: "fixed function name", edit: func(t *Template) { props(t, workerID)["FunctionName"] = "hookline-worker" },
			want: "WorkerFunction: FunctionName is set"},
		{name: "worker logs to an unmanaged group", edit: func(t *Template) { delete(props(t, workerID), "LoggingConfig") },
			want: "WorkerFunction.LoggingConfig.LogGroup"},
		{name: "text logs", edit: func(t *Template) {
			props(t, receiverID)["LoggingConfig"].(map[string]any)["LogFormat"] = "Text"
		}, want: "ReceiverFunction.LoggingConfig.LogFormat: Text"},

		{name: "no partial batch failures", old: "FunctionResponseTypes: [ReportBatchItemFailures]", new: "FunctionResponseTypes: []",
			want: "FunctionResponseTypes: want [ReportBatchItemFailures]"},
		{name: "no scaling config", edit: func(t *Template) { delete(event(t, workerID, "Queue"), "ScalingConfig") },
			want: "ScalingConfig.MaximumConcurrency: missing"},
		{name: "concurrency parameter allows 1", edit: func(t *Template) { t.Parameters["WorkerMaxConcurrency"]["MinValue"] = 1 },
			want: "MaximumConcurrency: allows 1..1000, want 2..1000"},
		{name: "batch window may be 0 with big batches", edit: func(t *Template) { t.Parameters["WorkerBatchingWindowSeconds"]["MinValue"] = 0 },
			want: "BatchSize may exceed 10"},
		{name: "no batch size", edit: func(t *Template) { delete(event(t, workerID, "Queue"), "BatchSize") },
			want: "BatchSize: missing"},
		{name: "worker disabled", edit: func(t *Template) { event(t, workerID, "Queue")["Enabled"] = false },
			want: "Enabled: false"},
		{name: "worker reads the DLQ", old: "Queue: !GetAtt EventsQueue.Arn", new: "Queue: !GetAtt EventsDLQ.Arn",
			want: "want exactly one SQS event"},
	})
}

func checkFunctions(t *Template) problems {
	var p problems
	for _, id := range []string{receiverID, workerID} {
		if t.Resources[id].Type != TypeFunction {
			p.addf("Resources.%s: missing, or not an %s", id, TypeFunction)
		}
	}
	for _, id := range t.ResourcesOfType(TypeFunction) {
		props := t.FunctionProperties(id)
		at := "Resources." + id
		if v := props["Runtime"]; v != "provided.al2023" {
			p.addf("%s: Runtime %v, want provided.al2023", at, v)
		}
		if v := props["Handler"]; v != "bootstrap" {
			p.addf("%s: Handler %v, want bootstrap", at, v)
		}
		// The Makefile's build-<Id> targets build for arm64; SAM concatenates
		// lists, so arm64 in Globals and in a function would be [arm64 arm64].
		if archs, _ := props["Architectures"].([]any); len(archs) != 1 || archs[0] != "arm64" {
			p.addf("%s: Architectures %v (after Globals merge), want exactly [arm64]", at, props["Architectures"])
		}
		if v := props["CodeUri"]; v != "." {
			p.addf("%s: CodeUri %v, want . (the Makefile lives at the repo root)", at, v)
		}
		if v := t.Resources[id].Metadata["BuildMethod"]; v != "makefile" {
			p.addf("%s: Metadata.BuildMethod %v, want makefile (target build-%s)", at, v, id)
		}
		if _, ok := props["FunctionName"]; ok {
			p.addf("%s: FunctionName is set; let CloudFormation name the function, so a second stack can deploy", at)
		}
		// Logs must go to a group the stack owns, so RetentionInDays applies,
		// as JSON, so Logs Insights sees the fields of each line.
		lc, _ := props["LoggingConfig"].(map[string]any)
		if fn, arg, ok := Intrinsic(lc["LogGroup"]); !ok || fn != "Ref" || t.Resources[fmt.Sprint(arg)].Type != "AWS::Logs::LogGroup" {
			p.addf("%s.LoggingConfig.LogGroup: %v, want !Ref of an AWS::Logs::LogGroup", at, lc["LogGroup"])
		}
		if lc["LogFormat"] != "JSON" {
			p.addf("%s.LoggingConfig.LogFormat: %v, want JSON", at, lc["LogFormat"])
		}
	}
	// Okta waits 3 s for an answer; a receiver allowed to run longer would
	// turn slow deliveries into Okta-side failures and retries.
	if t.Resources[receiverID].Type == TypeFunction {
		inRange(&p, t, "Resources.ReceiverFunction.Timeout (must stay under Okta's 3 s)", functionTimeout(t, receiverID), 1, 2)
	}
	p = append(p, checkWorkerEvent(t)...)
	return p
}

// checkWorkerEvent: the worker's one SQS event source, on EventsQueue.
func checkWorkerEvent(t *Template) problems {
	var p problems
	events := t.FunctionEvents(workerID, "SQS")
	var onQueue []string
	for _, name := range SortedKeys(events) {
		if isGetAtt(events[name]["Queue"], queueID, "Arn") {
			onQueue = append(onQueue, name)
		}
	}
	if len(onQueue) != 1 || len(events) != 1 {
		p.addf("Resources.WorkerFunction: want exactly one SQS event, with Queue !GetAtt EventsQueue.Arn; found %d on it of %d", len(onQueue), len(events))
		return p
	}
	e := events[onQueue[0]]
	at := "Resources.WorkerFunction.Events." + onQueue[0]
	types, _ := e["FunctionResponseTypes"].([]any)
	if !slices.Contains(types, any("ReportBatchItemFailures")) {
		p.addf("%s.FunctionResponseTypes: want [ReportBatchItemFailures]; without it one failure retries the whole batch", at)
	}
	batch, ok := e["BatchSize"]
	if !ok {
		p.addf("%s.BatchSize: missing", at)
	}
	window, ok := e["MaximumBatchingWindowInSeconds"]
	if !ok {
		p.addf("%s.MaximumBatchingWindowInSeconds: missing", at)
	}
	// Lambda refuses BatchSize > 10 unless the batching window is >= 1 s,
	// whatever the parameters are set to at deploy time.
	if _, bHi, err := intRange(t, batch); err == nil && bHi > 10 {
		if wLo, _, err := intRange(t, window); err == nil && wLo < 1 {
			p.addf("%s: BatchSize may exceed 10 while MaximumBatchingWindowInSeconds may be 0; Lambda rejects that", at)
		}
	}
	sc, _ := e["ScalingConfig"].(map[string]any)
	if mc, ok := sc["MaximumConcurrency"]; !ok {
		p.addf("%s.ScalingConfig.MaximumConcurrency: missing; the worker could take every concurrent execution", at)
	} else {
		inRange(&p, t, at+".ScalingConfig.MaximumConcurrency", mc, 2, 1000)
	}
	if enabled, ok := e["Enabled"]; ok && enabled != true {
		p.addf("%s.Enabled: %v; the worker would never run", at, enabled)
	}
	return p
}

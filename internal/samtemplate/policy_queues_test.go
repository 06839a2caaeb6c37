package samtemplate

import (
	"slices"
	"testing"
)

// Queues: the events queue and its dead-letter queue take any event the
// receiver accepts (1 MiB), are encrypted without KMS grants, redrive to the
// DLQ after 5 receives, keep a message in the DLQ longer than in the queue,
// allow redriving back, and hide a received message for at least 6 times the
// worker's timeout.
func TestPolicyQueues(t *testing.T) {
	testPolicy(t, checkQueues, []breakCase{
		{name: "no redrive policy", edit: func(t *Template) { delete(props(t, queueID), "RedrivePolicy") },
			want: "RedrivePolicy: missing"},
		{name: "redrive to itself", old: "deadLetterTargetArn: !GetAtt EventsDLQ.Arn", new: "deadLetterTargetArn: !GetAtt EventsQueue.Arn",
			want: "deadLetterTargetArn"},
		{name: "maxReceiveCount changed", old: "maxReceiveCount: 5", new: "maxReceiveCount: 3",
			want: "maxReceiveCount: 3, want 5"},
		{name: "worker's MAX_RECEIVE_COUNT not the queue's", edit: func(t *Template) {
			props(t, queueID)["RedrivePolicy"].(map[string]any)["maxReceiveCount"] = 6
		}, want: "WorkerFunction MAX_RECEIVE_COUNT is 5, EventsQueue's maxReceiveCount 6"},
		{name: "worker without MAX_RECEIVE_COUNT", edit: func(t *Template) {
			delete(props(t, workerID)["Environment"].(map[string]any)["Variables"].(map[string]any), "MAX_RECEIVE_COUNT")
		}, want: "WorkerFunction MAX_RECEIVE_COUNT:"},
		{name: "short DLQ retention", old: "MessageRetentionPeriod: 1209600", new: "MessageRetentionPeriod: 345600",
			want: "EventsDLQ.MessageRetentionPeriod: 345600"},
		{name: "DLQ retention not longer than the queue's", edit: func(t *Template) { props(t, queueID)["MessageRetentionPeriod"] = 1209600 },
			want: "EventsQueue.MessageRetentionPeriod: 1209600"},
		{name: "short queue retention", old: "MessageRetentionPeriod: 345600 # 4 days", new: "MessageRetentionPeriod: 86400",
			want: "EventsQueue.MessageRetentionPeriod: 86400"},
		{name: "visibility under 6x worker timeout", old: "VisibilityTimeout: 180", new: "VisibilityTimeout: 60",
			want: "VisibilityTimeout: 60 < 6 x WorkerFunction Timeout (30)"},
		{name: "worker timeout from Globals", edit: func(t *Template) {
			delete(props(t, workerID), "Timeout")
			globalsFunction(t)["Timeout"] = 60
		}, want: "VisibilityTimeout: 180 < 6 x WorkerFunction Timeout (60)"},
		{name: "DLQ without SSE", edit: func(t *Template) { delete(props(t, dlqID), "SqsManagedSseEnabled") },
			want: "EventsDLQ.SqsManagedSseEnabled"},
		{name: "KMS key the functions cannot use", edit: func(t *Template) { props(t, queueID)["KmsMasterKeyId"] = "alias/aws/sqs" },
			want: "EventsQueue.KmsMasterKeyId: set"},
		{name: "fixed queue name", edit: func(t *Template) { props(t, dlqID)["QueueName"] = "hookline-dlq" },
			want: "EventsDLQ.QueueName: fixed names"},
		{name: "queue message size 256 KiB", edit: func(t *Template) { props(t, queueID)["MaximumMessageSize"] = 262144 },
			want: "EventsQueue.MaximumMessageSize: 262144"},
		{name: "DLQ refuses redrive", old: "redrivePermission: allowAll", new: "redrivePermission: denyAll",
			want: "redrivePermission: denyAll"},
		{name: "DLQ redrives from another queue only", old: "redrivePermission: allowAll",
			new:  "redrivePermission: byQueue\n        sourceQueueArns: [arn:aws:sqs:us-east-1:123456789012:other]",
			want: "byQueue does not list EventsQueue"},
	})
}

func checkQueues(t *Template) problems {
	var p problems
	for _, id := range []string{queueID, dlqID} {
		r, ok := t.Resources[id]
		if !ok || r.Type != "AWS::SQS::Queue" {
			p.addf("Resources.%s: missing, or not an AWS::SQS::Queue", id)
			return p
		}
		at := "Resources." + id
		// SQS-managed SSE needs no kms:* grants; a KMS key would need them on
		// both functions.
		if r.Properties["SqsManagedSseEnabled"] != true {
			p.addf("%s.SqsManagedSseEnabled: want true", at)
		}
		if _, ok := r.Properties["KmsMasterKeyId"]; ok {
			p.addf("%s.KmsMasterKeyId: set, but the functions have no KMS permissions; use SqsManagedSseEnabled", at)
		}
		if _, ok := r.Properties["QueueName"]; ok {
			p.addf("%s.QueueName: fixed names block replacement and a second stack; let CloudFormation name it", at)
		}
		// The receiver accepts bodies up to MAX_BODY_BYTES = 1 MiB, and an
		// event can be that large.
		intIs(&p, t, id, "MaximumMessageSize", func(n int) bool { return n == 1048576 }, "1048576 (1 MiB)")
	}

	rp, ok := t.Resources[queueID].Properties["RedrivePolicy"].(map[string]any)
	if !ok {
		p.addf("Resources.EventsQueue.RedrivePolicy: missing; failed messages would retry until they expire")
	} else {
		if !isGetAtt(rp["deadLetterTargetArn"], dlqID, "Arn") {
			p.addf("Resources.EventsQueue.RedrivePolicy.deadLetterTargetArn: %v, want !GetAtt EventsDLQ.Arn", rp["deadLetterTargetArn"])
		}
		// The README promises 5 receives before a message is parked.
		queueMax, err := t.Int(rp["maxReceiveCount"])
		if err != nil || queueMax != 5 {
			p.addf("Resources.EventsQueue.RedrivePolicy.maxReceiveCount: %v, want 5", rp["maxReceiveCount"])
		}
		// The worker parks a record failing on its last receive itself, so
		// that its DLQ copy keeps the reason; it can only do so on the
		// receive the redrive policy would act on.
		if workerMax, err := t.Int(t.FunctionEnv(workerID)["MAX_RECEIVE_COUNT"]); err != nil {
			p.addf("Resources.WorkerFunction MAX_RECEIVE_COUNT: %v", err)
		} else if workerMax != queueMax {
			p.addf("Resources.WorkerFunction MAX_RECEIVE_COUNT is %d, EventsQueue's maxReceiveCount %d", workerMax, queueMax)
		}
	}
	// A message moved to the DLQ keeps its first enqueue time, so the DLQ
	// must keep messages longer than EventsQueue or they vanish on arrival.
	intIs(&p, t, queueID, "MessageRetentionPeriod", func(n int) bool { return n >= 345600 && n < 1209600 },
		"345600..1209599 (at least 4 days, less than the DLQ's 14)")
	intIs(&p, t, dlqID, "MessageRetentionPeriod", func(n int) bool { return n == 1209600 }, "1209600 (14 days)")

	// make redrive moves parked events back to EventsQueue.
	rap, ok := t.Resources[dlqID].Properties["RedriveAllowPolicy"].(map[string]any)
	switch {
	case !ok:
		p.addf("Resources.EventsDLQ.RedriveAllowPolicy: missing")
	case rap["redrivePermission"] == "allowAll":
	case rap["redrivePermission"] == "byQueue":
		arns, _ := rap["sourceQueueArns"].([]any)
		if !slices.ContainsFunc(arns, func(v any) bool { return isGetAtt(v, queueID, "Arn") }) {
			p.addf("Resources.EventsDLQ.RedriveAllowPolicy: byQueue does not list EventsQueue")
		}
	default:
		p.addf("Resources.EventsDLQ.RedriveAllowPolicy.redrivePermission: %v, want allowAll or byQueue", rap["redrivePermission"])
	}

	// AWS advises a visibility timeout of at least 6x the function timeout so
	// retries of a batch do not race its redelivery.
	vis, err := t.IntProp(queueID, "VisibilityTimeout")
	if err != nil {
		vis = 30 // SQS default
	}
	if _, hi, err := intRange(t, functionTimeout(t, workerID)); err != nil {
		p.addf("Resources.WorkerFunction.Timeout: %v", err)
	} else if vis < 6*hi {
		p.addf("Resources.EventsQueue.VisibilityTimeout: %d < 6 x WorkerFunction Timeout (%d)", vis, hi)
	}
	return p
}

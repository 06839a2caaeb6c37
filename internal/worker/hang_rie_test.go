package worker_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

// TestHungHandlerUnderRIE runs a worker bootstrap (testdata/hangworker: the
// real worker wiring plus a handler that hangs ignoring its context) under
// aws-lambda-rie with a 3 s function timeout, on a batch received from kumo.
// The invocation answers before rie's timeout, names only the hung record
// as failed, its batch-mates are deleted as Lambda's event source would,
// and the hung record alone stays in the queue for a retry.
func TestHungHandlerUnderRIE(t *testing.T) {
	s := newStack(t, 30)
	const timeoutSec = 3
	// The worker's environment from the template, with a short timeout.
	rie := devstacktest.StartRIE(t, s.k, "worker", devstacktest.Build(t, "./internal/worker/testdata/hangworker"),
		"LOG_LEVEL=info", "AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(timeoutSec))

	s.send(t, "d1", "u-ok-1", "user.lifecycle.create")
	s.send(t, "d1", "u-hang", "test.hang")
	s.send(t, "d1", "u-ok-2", "user.lifecycle.deactivate")
	var batch events.SQSEvent
	var msgs []types.Message
	for deadline := time.Now().Add(10 * time.Second); len(msgs) < 3 && time.Now().Before(deadline); {
		ev, got := s.receive(t, 10)
		batch.Records = append(batch.Records, ev.Records...)
		msgs = append(msgs, got...)
	}
	if len(msgs) != 3 {
		t.Fatalf("received %d of 3 messages", len(msgs))
	}
	hangID := ""
	for _, r := range batch.Records {
		if strings.Contains(r.Body, "u-hang") {
			hangID = r.MessageId
		}
	}
	payload, _ := json.Marshal(batch)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	out, err := rie.Invoke(ctx, payload)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("invoke: %v\n%s", err, rie.Logs())
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(out, &resp); err != nil || strings.Contains(string(out), "Task timed out") {
		t.Fatalf("after %v the invocation answered %s (%v), want a batch response before the %d s timeout\n%s", took, out, err, timeoutSec, rie.Logs())
	}
	if len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != hangID {
		t.Fatalf("batch item failures %+v, want only the hung record %s", resp.BatchItemFailures, hangID)
	}
	deleteSucceeded(t, s.sqs, s.queueURL, msgs, resp)

	attrs, err := s.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &s.queueURL,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	left := 0
	for _, v := range attrs.Attributes {
		n, _ := strconv.Atoi(v)
		left += n
	}
	if left != 1 {
		t.Fatalf("%d messages left in the queue, want the hung one only", left)
	}
	logs := rie.Logs()
	for _, want := range []string{`"eventUuid":"u-ok-1"`, `"eventUuid":"u-ok-2"`, "abandoned"} {
		if !strings.Contains(logs, want) {
			t.Errorf("worker logs lack %s", want)
		}
	}
	if t.Failed() {
		t.Log(logs)
	}
}

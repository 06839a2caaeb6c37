package queue_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/worker"
)

func body(uuid, typ string) string {
	raw := json.RawMessage(`{"uuid":"` + uuid + `","eventType":"` + typ + `","published":"2024-01-01T00:00:00Z"}`)
	return string(envelope.Encode("d-"+uuid, "src", time.Now(), raw))
}

func attrs(uuid, typ string, extra ...string) map[string]types.MessageAttributeValue {
	a := map[string]types.MessageAttributeValue{
		envelope.AttrEventUUID: {DataType: aws.String("String"), StringValue: aws.String(uuid)},
		envelope.AttrEventType: {DataType: aws.String("String"), StringValue: aws.String(typ)},
	}
	for i := 0; i+1 < len(extra); i += 2 {
		a[extra[i]] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(extra[i+1])}
	}
	return a
}

// park puts events straight on the DLQ, as the worker would.
func park(t *testing.T, c *sqs.Client, dlqURL string, events [][2]string) {
	t.Helper()
	for _, ev := range events {
		_, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{
			QueueUrl: &dlqURL, MessageBody: aws.String(body(ev[0], ev[1])),
			MessageAttributes: attrs(ev[0], ev[1], "firstFailureAt", "2024-05-01T10:00:00Z", "failureReason", "permanent: bad", "receiveCount", "3"),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// drainUUIDs receives everything visible in a queue (deleting it) and
// returns the event uuids, sorted.
func drainUUIDs(t *testing.T, c *sqs.Client, url string) []string {
	t.Helper()
	var uuids []string
	for {
		out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: &url, MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			sort.Strings(uuids)
			return uuids
		}
		for _, m := range out.Messages {
			uuids = append(uuids, aws.ToString(m.MessageAttributes[envelope.AttrEventUUID].StringValue))
			if _, err := c.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// drainAtLeast drains url until it has seen n messages or 10 s have passed,
// for messages that are still invisible for a while.
func drainAtLeast(t *testing.T, c *sqs.Client, url string, n int) []string {
	t.Helper()
	var uuids []string
	for deadline := time.Now().Add(10 * time.Second); len(uuids) < n && time.Now().Before(deadline); {
		got := drainUUIDs(t, c, url)
		uuids = append(uuids, got...)
		if len(got) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	sort.Strings(uuids)
	return uuids
}

func TestDryRunTypeFilterAndFallback(t *testing.T) {
	k := devstacktest.Start(t, devstacktest.Options{Overrides: devstack.Overrides{MaxReceiveCount: 3, VisibilityTimeout: 30}})
	c := k.Clients.SQS
	queueURL, dlqURL := k.QueueURL("EventsQueue"), k.QueueURL("EventsDLQ")
	park(t, c, dlqURL, [][2]string{{"u1", "user.a"}, {"u2", "user.b"}, {"u3", "user.a"}, {"u4", "user.c"}})
	o := queue.RedriveOptions{QueueURL: queueURL, DLQURL: dlqURL}

	list, err := queue.ListParked(t.Context(), c, o)
	if err != nil || len(list) != 4 {
		t.Fatalf("list %+v %v", list, err)
	}
	for _, e := range list {
		if e.UUID == "" || !strings.HasPrefix(e.Type, "user.") || e.Tries != 3 || e.Reason != "permanent: bad" ||
			!e.FirstFailure.Equal(time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)) {
			t.Errorf("entry %+v", e)
		}
	}
	o.Type = "user.a"
	list, err = queue.ListParked(t.Context(), c, o)
	if err != nil || len(list) != 2 {
		t.Fatalf("filtered list %+v %v", list, err)
	}

	// Only user.a moves; the others are visible in the DLQ right after.
	var out bytes.Buffer
	o.Out = &out
	res, err := queue.Redrive(t.Context(), c, o)
	if err != nil || res.Method != "copy" || res.Moved != 2 || res.Skipped != 2 || res.Total != 4 {
		t.Fatalf("move %+v %v", res, err)
	}
	if !strings.Contains(out.String(), "moved 2/4") {
		t.Errorf("progress: %s", out.String())
	}
	if got := drainUUIDs(t, c, queueURL); fmt.Sprint(got) != "[u1 u3]" {
		t.Fatalf("queue holds %v", got)
	}
	// Put them back and move everything: StartMessageMoveTask is refused
	// by kumo, so this is the fallback.
	o.Type, out = "", bytes.Buffer{}
	res, err = queue.Redrive(t.Context(), c, o)
	if err != nil || res.Method != "copy" || res.Moved != 2 {
		t.Fatalf("move all %+v %v", res, err)
	}
	// The fallback is said as information: no operation error, status
	// code or "not available" that reads as a failure.
	if !strings.Contains(out.String(), "copying the messages instead") {
		t.Errorf("no fallback notice: %s", out.String())
	}
	for _, alarming := range []string{"operation error", "StatusCode", "InvalidAction", "not available", "error", "fail"} {
		if strings.Contains(strings.ToLower(out.String()), strings.ToLower(alarming)) {
			t.Errorf("the fallback notice reads as a failure (%q): %s", alarming, out.String())
		}
	}
	if got := drainUUIDs(t, c, queueURL); fmt.Sprint(got) != "[u2 u4]" {
		t.Fatalf("queue holds %v", got)
	}
	if got := drainUUIDs(t, c, dlqURL); len(got) != 0 {
		t.Fatalf("DLQ still holds %v", got)
	}
}

// cancelAfterSends is the real kumo client, with the run's context
// cancelled right after a given number of successful sends: the next
// delete then fails, as if the operator pressed ^C between the two.
type cancelAfterSends struct {
	*sqs.Client
	cancel context.CancelFunc
	mu     sync.Mutex
	left   int
}

func (c *cancelAfterSends) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out, err := c.Client.SendMessageBatch(ctx, in, opts...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left--; c.left == 0 {
		c.cancel()
	}
	return out, err
}

func TestInterruptedRedriveLosesNothing(t *testing.T) {
	k := devstacktest.Start(t, devstacktest.Options{Overrides: devstack.Overrides{MaxReceiveCount: 3, VisibilityTimeout: 30}})
	c := k.Clients.SQS
	queueURL, dlqURL := k.QueueURL("EventsQueue"), k.QueueURL("EventsDLQ")
	var evs [][2]string
	var want []string
	for i := range 35 {
		u := fmt.Sprintf("u%02d", i)
		evs = append(evs, [2]string{u, "user.a"})
		want = append(want, u)
	}
	park(t, c, dlqURL, evs)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	api := &cancelAfterSends{Client: c, cancel: cancel, left: 2}
	res, err := queue.Redrive(ctx, api, queue.RedriveOptions{QueueURL: queueURL, DLQURL: dlqURL, ForceCopy: true, Hold: time.Second})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("move: %+v %v, want cancelled", res, err)
	}
	if res.Moved != 10 {
		t.Errorf("moved %d before the interruption, want 10 (the second batch was sent, not deleted)", res.Moved)
	}
	// The messages the interrupted run held come back after Hold.
	inQueue, inDLQ := drainAtLeast(t, c, queueURL, 20), drainAtLeast(t, c, dlqURL, 25)
	seen := map[string]int{}
	for _, u := range append(inQueue, inDLQ...) {
		seen[u]++
	}
	for _, u := range want {
		if seen[u] == 0 {
			t.Errorf("%s is in neither queue", u)
		}
	}
	if len(inQueue) != 20 || len(inDLQ) != 25 {
		t.Errorf("queue %d, DLQ %d: want 20 sent and 25 left (10 duplicates)", len(inQueue), len(inDLQ))
	}
}

// TestPoisonParkRedriveHandledOnce is the whole loop on kumo: a handler
// fails permanently, the worker parks the event in the DLQ, the handler is
// "fixed", the operator redrives, and the event is handled exactly once,
// while the handler that had already succeeded is not run again.
func TestPoisonParkRedriveHandledOnce(t *testing.T) {
	k := devstacktest.Start(t, devstacktest.Options{Overrides: devstack.Overrides{MaxReceiveCount: 5, VisibilityTimeout: 2}})
	c := k.Clients.SQS
	ctx := t.Context()
	queueURL, dlqURL := k.QueueURL("EventsQueue"), k.QueueURL("EventsDLQ")
	for _, ev := range [][2]string{{"u-ok", "user.ok"}, {"u-poison", "user.poison"}} {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: aws.String(body(ev[0], ev[1])), MessageAttributes: attrs(ev[0], ev[1])}); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	fixed := false
	runs := map[string]int{} // handler/uuid → successful runs
	attempts := 0
	reg := &handlers.Registry{}
	reg.On("*", func(_ context.Context, ev handlers.Event) error {
		mu.Lock()
		defer mu.Unlock()
		runs["audit/"+ev.UUID]++
		return nil
	}, handlers.Name("audit"))
	reg.On("user.poison", func(context.Context, handlers.Event) error {
		mu.Lock()
		defer mu.Unlock()
		attempts++
		if !fixed {
			return handlers.Permanent(errors.New("schema mismatch"))
		}
		runs["provision/u-poison"]++
		return nil
	}, handlers.Name("provision"))
	q := queue.Consumer{Client: c, QueueURL: queueURL, DLQURL: dlqURL}
	w := &worker.Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Delayer: q, Parker: q,
		Ledger: &ledger.DynamoDB{Client: k.Clients.DynamoDB, Table: k.Resources.Tables["LedgerTable"]}, Backoff: worker.Backoff{Base: time.Second, Max: time.Second}}

	drain(t, c, queueURL, w)
	mu.Lock()
	if attempts != 1 || runs["audit/u-ok"] != 1 || runs["audit/u-poison"] != 1 {
		t.Fatalf("first pass: provision attempts %d, runs %v", attempts, runs)
	}
	mu.Unlock()
	list, err := queue.ListParked(ctx, c, queue.RedriveOptions{DLQURL: dlqURL})
	if err != nil || len(list) != 1 || list[0].UUID != "u-poison" || !strings.Contains(list[0].Reason, "schema mismatch") {
		t.Fatalf("DLQ: %+v %v", list, err)
	}

	mu.Lock()
	fixed = true
	mu.Unlock()
	res, err := queue.Redrive(ctx, c, queue.RedriveOptions{QueueURL: queueURL, DLQURL: dlqURL})
	if err != nil || res.Moved != 1 {
		t.Fatalf("redrive %+v %v", res, err)
	}
	drain(t, c, queueURL, w)
	// And a late duplicate of the event changes nothing.
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: aws.String(body("u-poison", "user.poison"))}); err != nil {
		t.Fatal(err)
	}
	drain(t, c, queueURL, w)

	mu.Lock()
	defer mu.Unlock()
	if runs["provision/u-poison"] != 1 || runs["audit/u-poison"] != 1 || runs["audit/u-ok"] != 1 || attempts != 2 {
		t.Fatalf("after redrive: provision attempts %d, runs %v", attempts, runs)
	}
	if left := drainUUIDs(t, c, dlqURL); len(left) != 0 {
		t.Fatalf("DLQ still holds %v", left)
	}
}

// drain runs the worker on the queue as Lambda's event source would, until
// a receive comes back empty.
func drain(t *testing.T, c *sqs.Client, url string, w *worker.Worker) {
	t.Helper()
	arn := queue.ARN(url, devstack.Region)
	for range 50 {
		out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: queue.ReceiveAttributes,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			return
		}
		resp, err := w.Handle(t.Context(), queue.LambdaEvent(arn, devstack.Region, out.Messages))
		if err != nil {
			t.Fatal(err)
		}
		deleteSucceeded(t, c, url, out.Messages, resp)
	}
	t.Fatal("queue never drained")
}

func deleteSucceeded(t *testing.T, c *sqs.Client, url string, msgs []types.Message, resp events.SQSEventResponse) {
	t.Helper()
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for _, m := range msgs {
		if !failed[aws.ToString(m.MessageId)] {
			if _, err := c.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

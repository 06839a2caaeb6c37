package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
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

// stack is a kumo queue pair and ledger table.
type stack struct {
	k                *devstack.Stack
	sqs              *sqs.Client
	queueURL, dlqURL string
	ledger           *ledger.DynamoDB
	wait             int32 // long-poll seconds of receive
}

func newStack(t testing.TB, visibility int) *stack {
	t.Helper()
	return newStackWith(t, visibility, 0)
}

// newStackWith also overrides the queue's maxReceiveCount (0: the template's).
func newStackWith(t testing.TB, visibility, maxReceiveCount int) *stack {
	t.Helper()
	k := devstacktest.Start(t, devstacktest.Options{Overrides: devstack.Overrides{VisibilityTimeout: visibility, MaxReceiveCount: maxReceiveCount}})
	s := &stack{k: k, sqs: k.Clients.SQS, wait: 2, queueURL: k.QueueURL("EventsQueue"), dlqURL: k.QueueURL("EventsDLQ")}
	s.ledger = &ledger.DynamoDB{Client: k.Clients.DynamoDB, Table: k.Resources.Tables["LedgerTable"]}
	return s
}

// send enqueues one envelope per (deliveryId, uuid), as the receiver would.
func (s *stack) send(t testing.TB, deliveryID, uuid, typ string) {
	t.Helper()
	raw := json.RawMessage(`{"uuid":"` + uuid + `","eventType":"` + typ + `","published":"2024-01-01T00:00:00Z"}`)
	_, err := s.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl:    &s.queueURL,
		MessageBody: aws.String(string(envelope.Encode(deliveryID, "src", time.Now(), raw))),
		MessageAttributes: map[string]types.MessageAttributeValue{
			envelope.AttrEventUUID: {DataType: aws.String("String"), StringValue: aws.String(uuid)},
			envelope.AttrEventType: {DataType: aws.String("String"), StringValue: aws.String(typ)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// receive returns up to max messages as a Lambda SQS event.
func (s *stack) receive(t testing.TB, max int32) (events.SQSEvent, []types.Message) {
	t.Helper()
	out, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: &s.queueURL, MaxNumberOfMessages: max, WaitTimeSeconds: s.wait,
		MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: queue.ReceiveAttributes,
	})
	if err != nil {
		t.Fatal(err)
	}
	return queue.LambdaEvent(queue.ARN(s.queueURL, devstack.Region), devstack.Region, out.Messages), out.Messages
}

func (s *stack) worker(reg *handlers.Registry, log *bytes.Buffer) *worker.Worker {
	q := queue.Consumer{Client: s.sqs, QueueURL: s.queueURL, DLQURL: s.dlqURL}
	h := slog.Handler(slog.DiscardHandler)
	if log != nil {
		h = slog.NewJSONHandler(log, nil)
	}
	return &worker.Worker{Registry: reg, Log: slog.New(h), Ledger: s.ledger, Delayer: q, Parker: q,
		Backoff: worker.Backoff{Base: time.Second, Max: time.Second}}
}

// TestSameEventTwiceRunsOnce: two deliveries of one event (Okta's retry:
// two envelopes, one uuid) and an SQS redelivery (the batch ran but its
// messages were never deleted) run the handler once.
func TestSameEventTwiceRunsOnce(t *testing.T) {
	s := newStack(t, 1)
	var runs atomic.Int32
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.create", func(context.Context, handlers.Event) error { runs.Add(1); return nil }, handlers.Name("provision"))
	var logs bytes.Buffer
	w := s.worker(reg, &logs)

	s.send(t, "delivery-1", "u-dup", "user.lifecycle.create")
	s.send(t, "delivery-2", "u-dup", "user.lifecycle.create")
	handledMsgs := 0
	redelivered := false
	for deadline := time.Now().Add(20 * time.Second); handledMsgs < 3 && time.Now().Before(deadline); {
		// One at a time: two copies in one batch would race each other,
		// which TestRacingWorkers covers.
		ev, msgs := s.receive(t, 1)
		if len(msgs) == 0 {
			continue
		}
		resp, err := w.Handle(context.Background(), ev)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%+v %v", resp, err)
		}
		handledMsgs++
		if !redelivered {
			redelivered = true // "lose" the delete: SQS redelivers after 1 s
			continue
		}
		if _, err := s.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &s.queueURL, ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	if handledMsgs != 3 {
		t.Fatalf("handled %d messages, want 3 (2 deliveries + 1 redelivery)", handledMsgs)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	if n := strings.Count(logs.String(), `"msg":"duplicate skipped"`); n != 2 {
		t.Fatalf("%d duplicates logged, want 2\n%s", n, logs.String())
	}
}

// TestRacingWorkers: two workers get the same event at once. One runs it;
// the other's record fails (and is delayed by the backoff) without running
// it; its retry is then skipped as a duplicate.
func TestRacingWorkers(t *testing.T) {
	s := newStack(t, 30)
	var runs atomic.Int32
	started, release := make(chan struct{}), make(chan struct{})
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.create", func(context.Context, handlers.Event) error {
		if runs.Add(1) == 1 {
			close(started)
		}
		<-release
		return nil
	}, handlers.Name("provision"))
	a, b := s.worker(reg, nil), s.worker(reg, nil)

	s.send(t, "delivery-1", "u-race", "user.lifecycle.create")
	s.send(t, "delivery-2", "u-race", "user.lifecycle.create")
	ev1, _ := s.receive(t, 1)
	ev2, _ := s.receive(t, 1)
	if len(ev1.Records) != 1 || len(ev2.Records) != 1 {
		t.Fatalf("received %d and %d", len(ev1.Records), len(ev2.Records))
	}
	var wg sync.WaitGroup
	var respA events.SQSEventResponse
	wg.Go(func() { respA, _ = a.Handle(context.Background(), ev1) })
	<-started
	respB, err := b.Handle(context.Background(), ev2)
	if err != nil || len(respB.BatchItemFailures) != 1 {
		t.Fatalf("the second worker: %+v %v, want its record failed", respB, err)
	}
	close(release)
	wg.Wait()
	if len(respA.BatchItemFailures) != 0 {
		t.Fatalf("the first worker failed: %+v", respA)
	}
	if _, err := s.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &s.queueURL, ReceiptHandle: &ev1.Records[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}

	// The backoff (1 s) brings the failed record back well before the
	// queue's 30 s visibility timeout; its retry is a duplicate.
	start := time.Now()
	var retry events.SQSEvent
	for len(retry.Records) == 0 && time.Since(start) < 5*time.Second {
		retry, _ = s.receive(t, 1)
	}
	if len(retry.Records) != 1 {
		t.Fatalf("retry not back after the backoff: %d records after %v", len(retry.Records), time.Since(start))
	}
	if resp, err := b.Handle(context.Background(), retry); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %+v %v", resp, err)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

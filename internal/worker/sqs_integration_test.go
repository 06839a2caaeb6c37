package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
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
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/worker"
)

// TestWorkerOnKumoQueue runs the worker on messages received from a real
// (kumo) queue, deletes what succeeded as Lambda's event source would, and
// checks that the failing message ends in the DLQ after maxReceiveCount
// while the others of its batch are handled once.
func TestWorkerOnKumoQueue(t *testing.T) {
	const maxReceives = 2
	k := devstacktest.Start(t, devstacktest.Options{Overrides: devstack.Overrides{MaxReceiveCount: maxReceives, VisibilityTimeout: 1}})
	queueURL, dlqURL := k.QueueURL("EventsQueue"), k.QueueURL("EventsDLQ")
	client := k.Clients.SQS
	ctx := context.Background()

	var msgs []queue.Message
	for _, ev := range []struct{ uuid, typ string }{
		{"u-create", "user.lifecycle.create"},
		{"u-poison", "app.always.fails"},
		{"u-deactivate", "user.lifecycle.deactivate"},
	} {
		raw := json.RawMessage(`{"uuid":"` + ev.uuid + `","eventType":"` + ev.typ + `","published":"2024-01-01T00:00:00Z"}`)
		msgs = append(msgs, queue.Message{
			Body:       envelope.Encode("d1", "src", time.Now(), raw),
			Attributes: map[string]string{envelope.AttrEventUUID: ev.uuid, envelope.AttrEventType: ev.typ},
		})
	}
	pub := &queue.Publisher{Sender: queue.SQSSender{Client: client, QueueURL: queueURL}}
	if res := pub.Publish(ctx, msgs); res.Sent != 3 {
		t.Fatalf("publish: %+v", res)
	}

	var mu sync.Mutex
	handled := map[string]int{}
	failures := 0
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.*", func(_ context.Context, ev handlers.Event) error {
		mu.Lock()
		defer mu.Unlock()
		handled[ev.UUID]++
		return nil
	})
	reg.On("app.always.fails", func(context.Context, handlers.Event) error {
		mu.Lock()
		defer mu.Unlock()
		failures++
		return errors.New("downstream unavailable")
	})
	w := &worker.Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	arn := queue.ARN(queueURL, devstack.Region)

	deadline := time.Now().Add(30 * time.Second)
	dlqBodies := []string{}
	for time.Now().Before(deadline) && len(dlqBodies) == 0 {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: queue.ReceiveAttributes,
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) > 0 {
			resp, err := w.Handle(ctx, queue.LambdaEvent(arn, devstack.Region, out.Messages))
			if err != nil {
				t.Fatal(err)
			}
			deleteSucceeded(t, client, queueURL, out.Messages, resp)
		}
		dlq, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &dlqURL, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range dlq.Messages {
			dlqBodies = append(dlqBodies, aws.ToString(m.Body))
		}
	}
	if len(dlqBodies) != 1 {
		t.Fatalf("DLQ holds %d messages, want the poison one", len(dlqBodies))
	}
	env, err := envelope.Decode([]byte(dlqBodies[0]))
	if err != nil || !json.Valid(env.Event) || string(env.Event) != `{"uuid":"u-poison","eventType":"app.always.fails","published":"2024-01-01T00:00:00Z"}` {
		t.Fatalf("DLQ message is not the poison event intact: %s (%v)", dlqBodies[0], err)
	}
	mu.Lock()
	defer mu.Unlock()
	if handled["u-create"] != 1 || handled["u-deactivate"] != 1 {
		t.Fatalf("good events handled %v, want once each", handled)
	}
	if failures != maxReceives {
		t.Fatalf("poison handler ran %d times, want maxReceiveCount=%d", failures, maxReceives)
	}
}

// deleteSucceeded does what Lambda's SQS event source does after a batch.
func deleteSucceeded(t *testing.T, c *sqs.Client, url string, msgs []types.Message, resp events.SQSEventResponse) {
	t.Helper()
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	for _, m := range msgs {
		if failed[aws.ToString(m.MessageId)] {
			continue
		}
		if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
}

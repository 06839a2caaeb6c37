package reconcile_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/reconcile"
	"github.com/hookline/hookline/internal/worker"
)

// TestAForcedReplayRunsOnlyTheNewHandler is the README's promise about
// backfilling: a forced replay queues events already handled; the worker's
// ledger lets a handler added since run on them while the handler that
// already handled them skips them.
func TestAForcedReplayRunsOnlyTheNewHandler(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.events("bf", 4, 2*time.Hour)
	var mu sync.Mutex
	runs := map[string]int{}
	handler := func(name string) handlers.Handler {
		return func(_ context.Context, ev handlers.Event) error {
			mu.Lock()
			runs[name+"/"+ev.UUID]++
			mu.Unlock()
			return nil
		}
	}
	l := &ledger.DynamoDB{Client: f.ddb, Table: f.table}
	// work handles what is on the queue with the registered handlers.
	work := func(reg *handlers.Registry) {
		w := &worker.Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), Ledger: l}
		for {
			out, err := f.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &f.queueURL, MaxNumberOfMessages: 10,
				WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: queue.ReceiveAttributes})
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Messages) == 0 {
				return
			}
			resp, err := w.Handle(t.Context(), queue.LambdaEvent(queue.ARN(f.queueURL, devstack.Region), devstack.Region, out.Messages))
			if err != nil || len(resp.BatchItemFailures) > 0 {
				t.Fatalf("%+v %v", resp, err)
			}
			for _, m := range out.Messages {
				if _, err := f.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &f.queueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	r := f.reconciler(10)
	since, until := f.now.Add(-3*time.Hour), f.now

	// The events were handled once by "audit" (here: queued by a replay).
	if st, err := r.Replay(t.Context(), reconcile.ReplayOptions{Since: since, Until: until}); err != nil || st.Queued != 4 {
		t.Fatalf("replay: %+v %v", st, err)
	}
	old := &handlers.Registry{}
	old.On("user.lifecycle.create", handler("audit"), handlers.Name("audit"))
	work(old)

	// A new handler, "provision", is added; a forced replay backfills it.
	if st, err := r.Replay(t.Context(), reconcile.ReplayOptions{Since: since, Until: until, Force: true}); err != nil || st.Queued != 4 {
		t.Fatalf("forced replay: %+v %v", st, err)
	}
	both := &handlers.Registry{}
	both.On("user.lifecycle.create", handler("audit"), handlers.Name("audit"))
	both.On("user.lifecycle.create", handler("provision"), handlers.Name("provision"))
	work(both)

	for _, u := range []string{"bf-000", "bf-001", "bf-002", "bf-003"} {
		if runs["audit/"+u] != 1 || runs["provision/"+u] != 1 {
			t.Errorf("%s: audit ran %d times, provision %d; want once each", u, runs["audit/"+u], runs["provision/"+u])
		}
	}
}

package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/reconcile"
	"github.com/hookline/hookline/internal/standin"
)

// userDoc is a System Log event of user's lifecycle, as Okta writes it.
func userDoc(uuid, eventType, user string, published time.Time) []byte {
	raw, _ := json.Marshal(map[string]any{"uuid": uuid, "eventType": eventType, "version": "0", "severity": "INFO",
		"published": published.UTC().Format("2006-01-02T15:04:05.000Z"),
		"actor":     map[string]any{"id": "00uadmin", "type": "User", "alternateId": "admin@example.com"},
		"outcome":   map[string]any{"result": "SUCCESS"},
		"target":    []any{map[string]any{"id": user, "type": "User", "alternateId": user + "@example.com"}}})
	return raw
}

// sendDoc enqueues an event as the receiver does, from delivery deliveryID.
func (s *stack) sendDoc(t testing.TB, deliveryID string, doc []byte) {
	t.Helper()
	var f struct{ UUID, EventType string }
	_ = json.Unmarshal(doc, &f)
	_, err := s.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl:    &s.queueURL,
		MessageBody: aws.String(string(envelope.Encode(deliveryID, "https://example.okta.com/api/v1/eventHooks/who1", time.Now(), doc))),
		MessageAttributes: map[string]types.MessageAttributeValue{
			envelope.AttrEventUUID: {DataType: aws.String("String"), StringValue: aws.String(f.UUID)},
			envelope.AttrEventType: {DataType: aws.String("String"), StringValue: aws.String(f.EventType)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// drain runs the worker on what the queue holds, one message at a time (in
// the order it arrives), deleting what succeeded, until the queue is empty.
// With loseDelete the first message handled is not deleted: SQS delivers it
// again after the visibility timeout, as when an invocation dies after its
// handlers ran.
func (s *stack) drain(t *testing.T, h func(context.Context, events.SQSEvent) []string, loseDelete bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		ev, msgs := s.receive(t, 1)
		if len(msgs) == 0 {
			if s.depth(t) == 0 {
				return
			}
			continue
		}
		failed := h(context.Background(), ev)
		if len(failed) > 0 {
			continue // comes back after its backoff
		}
		if loseDelete {
			loseDelete = false
			continue
		}
		if _, err := s.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &s.queueURL, ReceiptHandle: msgs[0].ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("the queue did not drain in 20 s")
}

// depth is the messages on the queue, visible or in flight.
func (s *stack) depth(t *testing.T) int {
	t.Helper()
	out, err := s.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &s.queueURL,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		x, _ := strconv.Atoi(v)
		n += x
	}
	return n
}

// directory is the system a sync handler keeps in step with Okta: each
// user's status, the last run winning, as a SaaS app's API would.
type directory struct {
	mu     sync.Mutex
	status map[string]string
}

func (d *directory) sync(_ context.Context, ev handlers.Event) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.status == nil {
		d.status = map[string]string{}
	}
	d.status[handlers.TargetUser(ev.LogEvent())] = strings.TrimPrefix(ev.Type, "user.lifecycle.")
	return nil
}

func (d *directory) of(user string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.status[user]
}

// step is one arrival: the hook's delivery of an event (again, for Okta's
// retry), or the reconciler bringing the events the hook never did.
type step struct {
	by    string // "hook", "reconciler"
	event string // "deactivate", "activate"
}

// scenario is an order of arrivals of a user's deactivate (older) and
// activate (newer, 1 s later): the user ends active.
type scenario struct {
	name       string
	steps      []step
	loseDelete bool // the first message handled comes back from SQS
	// wrongWithout: without handlers.Latest the user would end deactivated.
	wrongWithout bool
}

var orders = []scenario{
	{name: "in order", steps: []step{{"hook", "deactivate"}, {"hook", "activate"}}},
	{name: "reversed", steps: []step{{"hook", "activate"}, {"hook", "deactivate"}}, wrongWithout: true},
	{name: "reversed, Okta retries both", steps: []step{{"hook", "activate"}, {"hook", "deactivate"}, {"hook", "activate"}, {"hook", "deactivate"}}, wrongWithout: true},
	{name: "in order, deactivate retried last", steps: []step{{"hook", "deactivate"}, {"hook", "activate"}, {"hook", "deactivate"}}},
	{name: "in order, SQS redelivers the deactivate", steps: []step{{"hook", "deactivate"}, {"hook", "activate"}}, loseDelete: true},
	{name: "reversed, SQS redelivers the activate", steps: []step{{"hook", "activate"}, {"hook", "deactivate"}}, loseDelete: true, wrongWithout: true},
	{name: "reconciler brings the deactivate late", steps: []step{{"hook", "activate"}, {"reconciler", "deactivate"}}, wrongWithout: true},
	{name: "reconciler brings the activate late", steps: []step{{"hook", "deactivate"}, {"reconciler", "activate"}}},
}

// play runs one scenario on its own kumo, with a real reconciler reading a
// stand-in Okta org that holds both events, and returns the user's final
// status in the directory.
func play(t *testing.T, sc scenario, latest bool) (string, *bytes.Buffer) {
	s := newStack(t, 1)
	dir := &directory{}
	reg := &handlers.Registry{}
	opts := []handlers.Option{handlers.Name("sync-user")}
	if latest {
		opts = append(opts, handlers.Latest(nil))
	}
	reg.On("user.lifecycle.*", dir.sync, opts...)
	var logs bytes.Buffer
	w := s.worker(reg, &logs)
	handle := func(ctx context.Context, ev events.SQSEvent) []string {
		resp, err := w.Handle(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		var failed []string
		for _, f := range resp.BatchItemFailures {
			failed = append(failed, f.ItemIdentifier)
		}
		return failed
	}

	const user = "00u1lifecycle"
	// Both happened 30 min ago, the activate 1 s after the deactivate.
	at := time.Now().Add(-30 * time.Minute)
	docs := map[string][]byte{
		"deactivate": userDoc("evt-deactivate-"+sc.name, "user.lifecycle.deactivate", user, at),
		"activate":   userDoc("evt-activate-"+sc.name, "user.lifecycle.activate", user, at.Add(time.Second)),
	}
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("tok")
	org.Add(docs["deactivate"], docs["activate"])
	client, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "tok"}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	marks := &ledger.Marks{Client: s.k.Clients.DynamoDB, Table: s.ledger.Table}
	rec := &reconcile.Reconciler{SystemLog: client, Marks: marks, Cursors: &ledger.Cursors{Client: s.k.Clients.DynamoDB, Table: s.ledger.Table},
		Publisher: &queue.Publisher{Sender: queue.SQSSender{Client: s.sqs, QueueURL: s.queueURL}, Budget: 5 * time.Second},
		Log:       slog.New(slog.DiscardHandler), Types: []string{"user.lifecycle.deactivate", "user.lifecycle.activate"},
		Grace: 10 * time.Minute, Lookback: time.Hour}

	for i, st := range sc.steps {
		switch st.by {
		case "hook":
			// The receiver marks what the hook queued, so the reconciler
			// queues only the rest.
			var f struct{ UUID string }
			_ = json.Unmarshal(docs[st.event], &f)
			if err := marks.Mark(t.Context(), envelope.OriginHook, []string{f.UUID}); err != nil {
				t.Fatal(err)
			}
			s.sendDoc(t, fmt.Sprintf("delivery-%d", i), docs[st.event])
		case "reconciler":
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			stats, err := rec.Run(ctx)
			cancel()
			if err != nil || stats.Queued != 1 {
				t.Fatalf("reconciler: %+v %v, want the %s queued", stats, err, st.event)
			}
		}
		s.drain(t, handle, sc.loseDelete && i == 0)
	}
	return dir.of(user), &logs
}

// TestLatestWinsInEveryDeliveryOrderOnKumo: a user's deactivate and later
// activate, delivered in every order, with Okta's retries, SQS
// redeliveries and the reconciler bringing one late: with handlers.Latest
// the user always ends in the newest event's state (active), and each older
// arrival after the newer one is logged as stale skipped.
func TestLatestWinsInEveryDeliveryOrderOnKumo(t *testing.T) {
	for _, sc := range orders {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			got, logs := play(t, sc, true)
			if got != "activate" {
				t.Fatalf("user ends %q, want activate (the newest event)\n%s", got, logs)
			}
			if sc.wrongWithout && !strings.Contains(logs.String(), `"msg":"stale skipped"`) {
				t.Errorf("the late deactivate was not logged as stale skipped\n%s", logs)
			}
		})
	}
}

// TestWithoutLatestTheLateEventWinsOnKumo proves the problem exists: the
// same handler without handlers.Latest (once per event, by the idempotency
// ledger) leaves the user deactivated whenever the older deactivate arrives
// last.
func TestWithoutLatestTheLateEventWinsOnKumo(t *testing.T) {
	for _, sc := range orders {
		if !sc.wrongWithout {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			if got, logs := play(t, sc, false); got != "deactivate" {
				t.Fatalf("user ends %q; without Latest the late deactivate should have won\n%s", got, logs)
			}
		})
	}
}

// TestTwoWorkersNeverRunOneSubjectAtOnceOnKumo: two workers drain the same
// queue at once, holding events of one user; the handler (slow, so runs
// would overlap) never runs two of them at the same time, every event is
// either run or skipped as stale, and the user ends in the newest event's
// state.
func TestTwoWorkersNeverRunOneSubjectAtOnceOnKumo(t *testing.T) {
	s := newStack(t, 30)
	const user = "00u1race"
	var running, maxRunning atomic.Int32
	var mu sync.Mutex
	var last string
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.*", func(ctx context.Context, ev handlers.Event) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := maxRunning.Load(); n > m && !maxRunning.CompareAndSwap(m, n); m = maxRunning.Load() {
		}
		time.Sleep(200 * time.Millisecond)
		mu.Lock()
		last = ev.Type
		mu.Unlock()
		return nil
	}, handlers.Name("sync-user"), handlers.Latest(nil))
	var logsA, logsB bytes.Buffer
	workers := []*bytes.Buffer{&logsA, &logsB}

	at := time.Now().Add(-time.Hour)
	kinds := []string{"user.lifecycle.deactivate", "user.lifecycle.activate", "user.lifecycle.suspend", "user.lifecycle.unsuspend"}
	const n = 12
	// Sent oldest first: each worker's batches hold newer events than the
	// other's last run, so both run, and meet on the subject.
	for i := range n {
		s.sendDoc(t, "d", userDoc(fmt.Sprintf("race-%02d", i), kinds[i%len(kinds)], user, at.Add(time.Duration(i)*time.Second)))
	}
	busy := &busyCounting{DynamoDB: s.ledger}
	var deleted atomic.Int32
	var wg sync.WaitGroup
	for _, logs := range workers {
		w := s.worker(reg, logs)
		w.Ledger = busy
		wg.Go(func() {
			for deadline := time.Now().Add(30 * time.Second); deleted.Load() < n && time.Now().Before(deadline); {
				ev, msgs := s.receive(t, 3)
				if len(msgs) == 0 {
					continue
				}
				resp, err := w.Handle(context.Background(), ev)
				if err != nil {
					t.Error(err)
					return
				}
				failed := map[string]bool{}
				for _, f := range resp.BatchItemFailures {
					failed[f.ItemIdentifier] = true
				}
				for _, m := range msgs {
					if failed[aws.ToString(m.MessageId)] {
						continue
					}
					if _, err := s.sqs.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &s.queueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
						t.Error(err)
						return
					}
					deleted.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if deleted.Load() != n {
		t.Fatalf("%d of %d events done\n%s\n%s", deleted.Load(), n, logsA.String(), logsB.String())
	}
	if m := maxRunning.Load(); m != 1 {
		t.Fatalf("%d runs of one subject at the same time", m)
	}
	all := logsA.String() + logsB.String()
	ran, stale := strings.Count(all, `"msg":"handler ran"`), strings.Count(all, `"msg":"stale skipped"`)
	if ran+stale != n || last != kinds[(n-1)%len(kinds)] {
		t.Fatalf("ran %d + stale %d, want %d; last run %s, want the newest (%s)\n%s", ran, stale, n, last, kinds[(n-1)%len(kinds)], all)
	}
	if busy.n.Load() == 0 {
		t.Fatal("the two workers never met on the subject: the test proves nothing")
	}
	t.Logf("ran %d, stale skipped %d; the lease was found held %d times, records failed for it %d times",
		ran, stale, busy.n.Load(), strings.Count(all, "subject in progress elsewhere"))
}

// busyCounting counts the acquires that found the subject held.
type busyCounting struct {
	*ledger.DynamoDB
	n atomic.Int32
}

func (b *busyCounting) AcquireSubject(ctx context.Context, k ledger.SubjectKey, owner string, lease time.Duration) (ledger.Lease, error) {
	l, err := b.DynamoDB.AcquireSubject(ctx, k, owner, lease)
	if l.Status == ledger.InProgress {
		b.n.Add(1)
	}
	return l, err
}

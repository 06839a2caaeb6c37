package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/metrics/emftest"
	"github.com/hookline/hookline/internal/okta"
)

// userEvent is a user lifecycle event of user 00u1 published at sec seconds
// past 10:00.
func userEvent(uuid, eventType string, sec int) string {
	published := time.Date(2026, 1, 1, 10, 0, sec, 0, time.UTC).Format(time.RFC3339Nano)
	raw, _ := json.Marshal(map[string]any{"uuid": uuid, "eventType": eventType, "published": published,
		"actor":  map[string]any{"id": "00uadmin", "type": "User"},
		"target": []any{map[string]any{"id": "00u1", "type": "User", "alternateId": "pat@example.com"}}})
	return string(envelope.Encode("d-"+uuid, "src", time.Unix(0, 0), raw))
}

// userState is a handler that keeps the user's status, as a sync to another
// system would: the last run wins.
type userState struct {
	mu     sync.Mutex
	status map[string]string
	runs   []string
}

func (u *userState) handle(_ context.Context, ev handlers.Event) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.status == nil {
		u.status = map[string]string{}
	}
	u.status[handlers.TargetUser(ev.LogEvent())] = strings.TrimPrefix(ev.Type, "user.lifecycle.")
	u.runs = append(u.runs, ev.UUID)
	return nil
}

func logLines(t *testing.T, b *bytes.Buffer, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// An older event arriving after a newer one of the same user is not run: the
// user ends in the newer event's state, and the skip is logged with both
// uuids and counted.
func TestLatestSkipsAnEventOlderThanTheNewestRun(t *testing.T) {
	state := &userState{}
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.*", state.handle, handlers.Name("sync-user"), handlers.Latest(nil))
	var logs, emf bytes.Buffer
	w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Ledger: &ledgertest.Memory{},
		Metrics: metrics.New("Hookline", "test", &emf)}
	for _, rec := range []events.SQSMessage{
		record("m-act", userEvent("e-activate", "user.lifecycle.activate", 2)),
		record("m-deact", userEvent("e-deactivate", "user.lifecycle.deactivate", 1)), // older, arrives late
	} {
		if resp, _ := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}}); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("failed %+v", resp)
		}
	}
	if state.status["00u1"] != "activate" || len(state.runs) != 1 {
		t.Fatalf("status %v after runs %v, want activate after e-activate alone", state.status, state.runs)
	}
	lines := logLines(t, &logs, "stale skipped")
	if len(lines) != 1 || lines[0]["eventUuid"] != "e-deactivate" || lines[0]["newerEventUuid"] != "e-activate" || lines[0]["handler"] != "sync-user" {
		t.Fatalf("stale skipped lines %v\n%s", lines, logs.String())
	}
	if b := logLines(t, &logs, "batch handled"); b[1]["staleSkipped"] != float64(1) {
		t.Errorf("batch line %v", b[1])
	}
	sums, err := emftest.Sums(emf.Bytes())
	if err != nil || sums["StaleSkipped"] != 1 || sums["EventsHandled"] != 2 {
		t.Errorf("metrics %v %v", sums, err)
	}
}

// Published ties are broken by uuid; the same event again is a duplicate,
// not stale; another user's events are independent.
func TestLatestOrdersByPublishedThenUUID(t *testing.T) {
	state := &userState{}
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.*", state.handle, handlers.Name("sync-user"), handlers.Latest(handlers.TargetUser))
	var logs bytes.Buffer
	w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Ledger: &ledgertest.Memory{}}
	handle := func(id, body string) {
		t.Helper()
		if resp, _ := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record(id, body)}}); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s failed %+v", id, resp)
		}
	}
	handle("1", userEvent("b-suspend", "user.lifecycle.suspend", 5))
	handle("2", userEvent("a-activate", "user.lifecycle.activate", 5)) // same second, smaller uuid: older
	handle("3", userEvent("b-suspend", "user.lifecycle.suspend", 5))   // redelivery
	handle("4", userEvent("c-activate", "user.lifecycle.activate", 5)) // same second, larger uuid: newer
	if got := strings.Join(state.runs, ","); got != "b-suspend,c-activate" {
		t.Fatalf("runs %s, want b-suspend,c-activate", got)
	}
	if n := len(logLines(t, &logs, "duplicate skipped")); n != 1 {
		t.Errorf("%d duplicate lines, want 1", n)
	}
	if n := len(logLines(t, &logs, "stale skipped")); n != 1 {
		t.Errorf("%d stale lines, want 1", n)
	}
}

// Two events of one subject in one batch never run at the same time: they
// take turns in the container instead of failing each other (each failure
// would be a receive counted against maxReceiveCount).
func TestLatestEventsOfOneSubjectInABatchTakeTurns(t *testing.T) {
	var running, overlap atomic.Int32
	state := &userState{}
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.*", func(ctx context.Context, ev handlers.Event) error {
		if running.Add(1) > 1 {
			overlap.Add(1)
		}
		defer running.Add(-1)
		time.Sleep(50 * time.Millisecond)
		return state.handle(ctx, ev)
	}, handlers.Name("sync-user"), handlers.Latest(nil))
	w := &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: &ledgertest.Memory{}}
	var recs []events.SQSMessage
	for i, typ := range []string{"activate", "deactivate", "suspend", "unsuspend", "activate"} {
		recs = append(recs, record("m"+string(rune('0'+i)), userEvent("e"+string(rune('0'+i)), "user.lifecycle."+typ, i)))
	}
	resp, _ := w.Handle(context.Background(), events.SQSEvent{Records: recs})
	if overlap.Load() != 0 || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("overlapping runs %d, failures %+v", overlap.Load(), resp.BatchItemFailures)
	}
	if state.status["00u1"] != "activate" || state.runs[len(state.runs)-1] != "e4" {
		t.Fatalf("status %v after runs %v, want e4 (activate) last", state.status, state.runs)
	}
}

// A subject held by another container (a run on a shared ledger) is waited
// for briefly; still held, the record is failed and retried with backoff,
// never skipped, and its retry runs once the holder is done.
func TestLatestSubjectHeldElsewhereIsRetriedNotSkipped(t *testing.T) {
	led := &ledgertest.Memory{}
	state := &userState{}
	started, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.*", func(ctx context.Context, ev handlers.Event) error {
		if ev.UUID == "e1" {
			once.Do(func() { close(started) })
			<-release
		}
		return state.handle(ctx, ev)
	}, handlers.Name("sync-user"), handlers.Latest(nil))
	q := &fakeQueue{}
	var logs bytes.Buffer
	a := &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: led}
	b := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Ledger: led, Delayer: q,
		Backoff: Backoff{Base: time.Second, Max: time.Second}, SafetyMargin: 700 * time.Millisecond}
	var wg sync.WaitGroup
	wg.Go(func() {
		a.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record("m1", userEvent("e1", "user.lifecycle.activate", 1))}})
	})
	<-started
	// B's invocation has 1 s left: it waits what its safety margin leaves.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	resp, _ := b.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{record("m2", userEvent("e2", "user.lifecycle.deactivate", 2))}})
	cancel()
	if len(resp.BatchItemFailures) != 1 || len(q.delays) != 1 || len(state.runs) != 0 {
		t.Fatalf("failures %+v delays %v runs %v, want e2 retried with backoff, not run", resp.BatchItemFailures, q.delays, state.runs)
	}
	if n := len(logLines(t, &logs, "subject in progress elsewhere; will retry")); n != 1 || strings.Contains(logs.String(), "stale skipped") {
		t.Errorf("%d in-progress lines\n%s", n, logs.String())
	}
	close(release)
	wg.Wait()
	resp, _ = b.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record("m2", userEvent("e2", "user.lifecycle.deactivate", 2))}})
	if len(resp.BatchItemFailures) != 0 || strings.Join(state.runs, ",") != "e1,e2" {
		t.Fatalf("retry: failures %+v runs %v", resp.BatchItemFailures, state.runs)
	}
}

// An event with no subject, or a worker with no ledger, cannot be ordered:
// the record is parked with the reason instead of running unordered.
func TestLatestEventThatCannotBeOrderedIsParked(t *testing.T) {
	ran := 0
	reg := &handlers.Registry{}
	reg.On("group.*", func(context.Context, handlers.Event) error { ran++; return nil }, handlers.Name("sync"), handlers.Latest(nil))
	reg.On("user.*", func(context.Context, handlers.Event) error { ran++; return nil }, handlers.Name("sync-user"), handlers.Latest(nil))
	q := &fakeQueue{}
	w := &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: &ledgertest.Memory{}, Parker: q}
	w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record("g", eventBody("g1", "group.user_membership.add"))}})
	noLedger := &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Parker: q}
	noLedger.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{record("u", userEvent("u1", "user.lifecycle.activate", 1))}})
	if ran != 0 || len(q.parked) != 2 || !strings.Contains(q.parked[0].Reason, ErrNoSubject.Error()) || !strings.Contains(q.parked[1].Reason, ErrNoSubjects.Error()) {
		t.Fatalf("ran %d, parked %+v", ran, q.parked)
	}
}

// subjectCountingLedger counts every ledger call.
type subjectCountingLedger struct {
	ledgertest.Memory
	calls atomic.Int32
}

func (c *subjectCountingLedger) Claim(ctx context.Context, k ledger.Key, o string, l time.Duration) (ledger.Claim, error) {
	c.calls.Add(1)
	return c.Memory.Claim(ctx, k, o, l)
}

func (c *subjectCountingLedger) AcquireSubject(ctx context.Context, k ledger.SubjectKey, o string, l time.Duration) (ledger.Lease, error) {
	c.calls.Add(1)
	return c.Memory.AcquireSubject(ctx, k, o, l)
}

// An event that does not match a handler's Where does not run it, costs no
// ledger write, and is counted as filtered.
func TestWhereFilteredEventRunsNothingAndCostsNoLedgerWrite(t *testing.T) {
	var ran []string
	reg := &handlers.Registry{}
	onlyAdmins := handlers.Where(func(e okta.LogEvent) bool { return e.Actor.ID == "00uadmin" })
	reg.On("user.*", func(_ context.Context, ev handlers.Event) error { ran = append(ran, ev.UUID); return nil }, handlers.Name("plain"), onlyAdmins)
	reg.On("user.*", func(_ context.Context, ev handlers.Event) error { ran = append(ran, ev.UUID); return nil },
		handlers.Name("latest"), handlers.Latest(nil), onlyAdmins, handlers.Where(func(e okta.LogEvent) bool { return e.EventType != "user.lifecycle.suspend" }))
	led := &subjectCountingLedger{}
	var logs, emf bytes.Buffer
	w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Ledger: led,
		Metrics: metrics.New("Hookline", "test", &emf)}
	// eventBody's events have no actor: neither handler matches.
	resp, _ := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		record("m1", eventBody("no-actor", "user.lifecycle.activate")),
		record("m2", userEvent("suspend", "user.lifecycle.suspend", 1)),
	}})
	if len(resp.BatchItemFailures) != 0 || strings.Join(ran, ",") != "suspend" {
		t.Fatalf("failures %+v, ran %v, want only plain on suspend", resp.BatchItemFailures, ran)
	}
	if led.calls.Load() != 1 {
		t.Errorf("%d ledger calls, want 1 (plain's claim on suspend)", led.calls.Load())
	}
	if n := len(logLines(t, &logs, "filtered")); n != 3 {
		t.Errorf("%d filtered lines, want 3\n%s", n, logs.String())
	}
	if b := logLines(t, &logs, "batch handled"); b[0]["filtered"] != float64(3) {
		t.Errorf("batch line %v", b[0])
	}
	if sums, err := emftest.Sums(emf.Bytes()); err != nil || sums["FilteredSkipped"] != 3 {
		t.Errorf("metrics %v %v", sums, err)
	}
}

// A handler's own lines, through handlers.Logger(ctx), carry the fields the
// "event by uuid" query and the log-field table rely on.
func TestHandlerLoggerCarriesEventUUIDTypeHandlerAndRequestID(t *testing.T) {
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.*", func(ctx context.Context, ev handlers.Event) error {
		handlers.Logger(ctx).InfoContext(ctx, "provisioned in the HR system", "employeeId", "E42")
		return errors.New("just to see it retried")
	}, handlers.Name("provision"))
	var logs bytes.Buffer
	w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Ledger: &ledgertest.Memory{}}
	ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
	w.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{record("m1", userEvent("e-1", "user.lifecycle.create", 1))}})
	lines := logLines(t, &logs, "provisioned in the HR system")
	if len(lines) != 1 {
		t.Fatalf("lines %v\n%s", lines, logs.String())
	}
	want := map[string]any{"eventUuid": "e-1", "eventType": "user.lifecycle.create", "handler": "provision",
		"awsRequestId": "req-1", "messageId": "m1", "employeeId": "E42"}
	for k, v := range want {
		if lines[0][k] != v {
			t.Errorf("%s = %v, want %v (line %v)", k, lines[0][k], v, lines[0])
		}
	}
	// Outside a run it is the default logger, never nil.
	if handlers.Logger(context.Background()) == nil {
		t.Error("nil logger outside a run")
	}
}

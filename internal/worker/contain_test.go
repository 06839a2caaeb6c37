package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
	"github.com/hookline/hookline/internal/queue"
)

// TestHangingHandlerFailsOnlyItsRecord: a handler that ignores its context
// is abandoned at its timeout; its batch-mates complete, the answer comes
// before the invocation's deadline, and only the hung record is failed. Its
// ledger claim is kept (it may still be running), so a retry inside the
// lease does not run it a second time alongside.
func TestHangingHandlerFailsOnlyItsRecord(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	ok := &counter{}
	reg := &handlers.Registry{}
	reg.On("app.*", ok.handle, handlers.Name("ok"))
	reg.On("app.hang", func(context.Context, handlers.Event) error {
		<-release // ignores ctx
		return nil
	}, handlers.Name("hang"))
	led := &ledgertest.Memory{}
	q := &fakeQueue{}
	var logs bytes.Buffer
	w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Ledger: led, Delayer: q, Parker: q}

	const invocation = 2 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), invocation)
	defer cancel()
	start := time.Now()
	resp, err := w.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{
		recordN("m-1", eventBody("u-1", "app.one"), 1),
		recordN("m-hang", eventBody("u-hang", "app.hang"), 1),
		recordN("m-2", eventBody("u-2", "app.two"), 1),
	}})
	took := time.Since(start)
	if err != nil || ctx.Err() != nil {
		t.Fatalf("Handle returned %v after %v (invocation deadline %v): %v", err, took, invocation, ctx.Err())
	}
	if got := failedIDs(resp); got != "m-hang" {
		t.Fatalf("failed %q, want only m-hang", got)
	}
	if ok.count("u-1") != 1 || ok.count("u-2") != 1 || ok.count("u-hang") != 1 {
		t.Fatalf("batch-mates ran %d,%d; the hung record's other handler %d; want 1 each", ok.count("u-1"), ok.count("u-2"), ok.count("u-hang"))
	}
	if _, delayed := q.delays["m-hang"]; !delayed || len(q.delays) != 1 {
		t.Fatalf("backoff applied to %v, want m-hang only", q.delays)
	}
	if !strings.Contains(logs.String(), ErrAbandoned.Error()) {
		t.Fatalf("no log line names the abandoned handler:\n%s", logs.String())
	}

	// A retry while the abandoned run still holds its lease does not start
	// the hung handler again.
	claim, err := led.Claim(context.Background(), ledger.Key{EventUUID: "u-hang", Handler: "hang"}, "retry", time.Minute)
	if err != nil || claim.Status != ledger.InProgress {
		t.Fatalf("the abandoned run's claim: %+v %v, want still in progress", claim, err)
	}
}

// TestHandlerReturningAfterTimeoutIsNotAbandoned: a handler that honours its
// context returns its own error, not ErrAbandoned, and its claim is released.
func TestHandlerReturningAfterTimeoutIsNotAbandoned(t *testing.T) {
	err := run(context.Background(), handlers.Route{Name: "h", Handler: func(ctx context.Context, _ handlers.Event) error {
		<-ctx.Done()
		return ctx.Err()
	}}, handlers.Event{}, 10*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrAbandoned) {
		t.Fatalf("got %v, want the handler's own deadline error", err)
	}
	err = run(context.Background(), handlers.Route{Name: "h", Handler: func(context.Context, handlers.Event) error {
		panic("boom")
	}}, handlers.Event{}, time.Second)
	if !errors.Is(err, ErrPanic) {
		t.Fatalf("got %v, want ErrPanic", err)
	}
}

// TestLastReceiveIsParkedWithItsReason: a transient failure on the receive
// the redrive policy would act on is parked by the worker with its reason,
// rather than moved by the policy without one; earlier receives are retried.
func TestLastReceiveIsParkedWithItsReason(t *testing.T) {
	fails := &counter{err: func(string) error { return errors.New("downstream 503\x00") }}
	reg := &handlers.Registry{}
	reg.On("app.flaky", fails.handle, handlers.Name("flaky"))

	for _, tc := range []struct {
		name     string
		receives int
		parker   bool
		failed   string
		parked   int
	}{
		{"before the last receive: retried", 2, true, "m", 0},
		{"last receive: parked with its reason", 3, true, "", 1},
		{"past it (approximate counts): parked", 4, true, "", 1},
		{"last receive, no DLQ: left to the redrive policy", 3, false, "m", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := &fakeQueue{}
			var logs bytes.Buffer
			w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Delayer: q, MaxReceiveCount: 3,
				Backoff: Backoff{Rand: func(n int64) int64 { return 0 }}}
			if tc.parker {
				w.Parker = q
			}
			resp, _ := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{recordN("m", eventBody("u", "app.flaky"), tc.receives)}})
			if got := failedIDs(resp); got != tc.failed || len(q.parked) != tc.parked {
				t.Fatalf("failed %q parked %d, want %q and %d", got, len(q.parked), tc.failed, tc.parked)
			}
			if tc.parked == 1 {
				if r := q.parked[0].Reason; !strings.HasPrefix(r, "gave up after ") || !strings.Contains(r, "downstream 503") {
					t.Fatalf("reason %q", r)
				}
			}
			if tc.failed != "" && q.delays["m"] != 10*time.Second {
				t.Fatalf("delay %v, want the ordinary backoff", q.delays["m"])
			}
			giveUp := strings.Contains(logs.String(), `"msg":"giving up: last receive failed"`)
			if giveUp != (tc.receives >= 3) || (giveUp && !strings.Contains(logs.String(), `"eventUuid":"u"`)) {
				t.Fatalf("give-up line logged=%v for receive %d:\n%s", giveUp, tc.receives, logs.String())
			}
		})
	}
}

// TestTooLargeParkLogsTheReason: when the failure attributes cannot go with
// the message, the worker's "parked in the DLQ" line says so and carries the
// reason and uuid, the only place left for them.
func TestTooLargeParkLogsTheReason(t *testing.T) {
	reg := &handlers.Registry{}
	reg.On("app.bad", func(context.Context, handlers.Event) error { return handlers.Permanent(errors.New("schema mismatch")) }, handlers.Name("bad"))
	q := &fakeQueue{}
	var logs bytes.Buffer
	w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Delayer: q, Parker: q}
	big := eventBody("u-big", "app.bad")
	big = big[:len(big)-2] + `,"pad":"` + strings.Repeat("x", queue.MaxMessageBytes-len(big)-20) + `"}}`
	uuid := "u-big"
	rec := recordN("m-big", big, 1)
	rec.MessageAttributes = map[string]events.SQSMessageAttribute{"eventUuid": {DataType: "String", StringValue: &uuid}}
	if resp, _ := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}}); len(resp.BatchItemFailures) != 0 || len(q.parked) != 1 {
		t.Fatalf("failures %v, parked %d: want the message parked", resp.BatchItemFailures, len(q.parked))
	}
	var line map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `"msg":"parked in the DLQ"`) {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line["withoutFailureAttributes"] != true || !strings.Contains(fmt.Sprint(line["reason"]), "schema mismatch") || line["eventUuid"] != "u-big" {
		t.Fatalf("parked line %v, want withoutFailureAttributes with the reason and uuid", line)
	}
}

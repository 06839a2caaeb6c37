package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
	"github.com/hookline/hookline/internal/queue"
)

// fakeQueue records what the worker asks of SQS.
type fakeQueue struct {
	mu       sync.Mutex
	delays   map[string]time.Duration
	parked   []queue.Parked
	parkErr  error
	delayErr error
	// shortAnswer makes Park answer for fewer records than it was given.
	shortAnswer bool
}

func (f *fakeQueue) Delay(_ context.Context, ds []queue.Delay) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.delays == nil {
		f.delays = map[string]time.Duration{}
	}
	for _, d := range ds {
		f.delays[d.MessageID] = d.Delay
	}
	return f.delayErr
}

func (f *fakeQueue) Park(_ context.Context, ps []queue.Parked) []error {
	f.mu.Lock()
	defer f.mu.Unlock()
	errs := make([]error, len(ps))
	for i, p := range ps {
		if f.parkErr != nil {
			errs[i] = f.parkErr
			continue
		}
		f.parked = append(f.parked, p)
	}
	if f.shortAnswer {
		return errs[:len(errs)-1]
	}
	return errs
}

func recordN(id, body string, receives int) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: body,
		Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives)}}
}

func failedIDs(resp events.SQSEventResponse) string {
	var ids []string
	for _, f := range resp.BatchItemFailures {
		ids = append(ids, f.ItemIdentifier)
	}
	return strings.Join(ids, ",")
}

// counter is a handler that counts its runs per uuid and returns err().
type counter struct {
	mu   sync.Mutex
	runs map[string]int
	err  func(uuid string) error
}

func (c *counter) handle(_ context.Context, ev handlers.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.runs == nil {
		c.runs = map[string]int{}
	}
	c.runs[ev.UUID]++
	if c.err != nil {
		return c.err(ev.UUID)
	}
	return nil
}

func (c *counter) count(uuid string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[uuid]
}

func TestLedgerSkipsDuplicates(t *testing.T) {
	h := &counter{}
	reg := &handlers.Registry{}
	reg.On("user.*", h.handle, handlers.Name("h"))
	var logs bytes.Buffer
	q := &fakeQueue{}
	w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Ledger: &ledgertest.Memory{}, Delayer: q, Parker: q}
	ctx := context.Background()

	// Two envelopes of one event (Okta's retry), in successive batches, then
	// an SQS redelivery of the first.
	for i, rec := range []events.SQSMessage{
		recordN("m1", eventBody("u1", "user.x"), 1),
		recordN("m2", eventBody("u1", "user.x"), 1),
		recordN("m1", eventBody("u1", "user.x"), 2),
	} {
		resp, err := w.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{rec}})
		if err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("batch %d: %+v %v", i, resp, err)
		}
	}
	if n := h.count("u1"); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
	if got := strings.Count(logs.String(), `"msg":"duplicate skipped"`); got != 2 {
		t.Errorf("%d duplicate lines, want 2:\n%s", got, logs.String())
	}
	if !strings.Contains(logs.String(), `"duplicatesSkipped":1`) || !strings.Contains(logs.String(), `"eventUuid":"u1","eventType":"user.x","handler":"h"`) {
		t.Errorf("logs lack the counter or the fields:\n%s", logs.String())
	}
}

func TestInProgressFailsAndCrashedClaimIsRetaken(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		led := &ledgertest.Memory{}
		// A crashed attempt: claimed with a 30 s lease, never completed.
		if c, err := led.Claim(context.Background(), ledger.Key{EventUUID: "u1", Handler: "h"}, "crashed", 30*time.Second); err != nil || c.Status != ledger.Acquired {
			t.Fatal(c, err)
		}
		h := &counter{}
		reg := &handlers.Registry{}
		reg.On("user.x", h.handle, handlers.Name("h"))
		q := &fakeQueue{}
		w := &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: led, Delayer: q, Parker: q,
			Backoff: Backoff{Rand: func(n int64) int64 { return n - 1 }}}

		resp, _ := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{recordN("m1", eventBody("u1", "user.x"), 1)}})
		if failedIDs(resp) != "m1" || h.count("u1") != 0 {
			t.Fatalf("within the lease: failed %q, runs %d", failedIDs(resp), h.count("u1"))
		}
		if q.delays["m1"] != 10*time.Second {
			t.Errorf("delay %v, want 10s", q.delays["m1"])
		}
		time.Sleep(31 * time.Second)
		resp, _ = w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{recordN("m1", eventBody("u1", "user.x"), 2)}})
		if failedIDs(resp) != "" || h.count("u1") != 1 {
			t.Fatalf("after the lease: failed %q, runs %d", failedIDs(resp), h.count("u1"))
		}
	})
}

func TestFailuresReleaseBackOffAndPark(t *testing.T) {
	flaky := &counter{err: func(uuid string) error {
		if uuid == "u-perm" {
			return handlers.Permanent(errors.New("bad data"))
		}
		return errors.New("downstream 503")
	}}
	ok := &counter{}
	reg := &handlers.Registry{}
	reg.On("app.*", ok.handle, handlers.Name("ok"))
	reg.On("app.flaky", flaky.handle, handlers.Name("flaky"))

	cases := []struct {
		name      string
		parker    bool
		parkErr   error
		short     bool
		failed    string
		parked    int
		permDelay time.Duration
	}{
		{name: "parked in the DLQ", parker: true, failed: "m-transient", parked: 2},
		{name: "DLQ send fails: retried with backoff", parker: true, parkErr: errors.New("throttled"), failed: "m-transient,m-perm,m-bad", permDelay: 160 * time.Second},
		{name: "parker answers short: nothing deleted on its word", parker: true, short: true, failed: "m-transient,m-perm,m-bad", parked: 2, permDelay: 160 * time.Second},
		{name: "no DLQ: failed with the maximum delay", failed: "m-transient,m-perm,m-bad", permDelay: 15 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			q := &fakeQueue{parkErr: tc.parkErr, shortAnswer: tc.short}
			led := &ledgertest.Memory{}
			w := &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: led, Delayer: q,
				Backoff: Backoff{Rand: func(n int64) int64 { return n - 1 }}}
			if tc.parker {
				w.Parker = q
			}
			resp, err := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
				recordN("m-transient", eventBody("u-t", "app.flaky"), 3),
				recordN("m-perm", eventBody("u-perm", "app.flaky"), 5),
				recordN("m-bad", "not json", 5),
			}})
			if err != nil {
				t.Fatal(err)
			}
			if got := failedIDs(resp); got != tc.failed {
				t.Fatalf("failed %q, want %q", got, tc.failed)
			}
			if len(q.parked) != tc.parked {
				t.Fatalf("parked %d, want %d", len(q.parked), tc.parked)
			}
			if q.delays["m-transient"] != 40*time.Second {
				t.Errorf("transient delay %v, want 40s (3rd receive)", q.delays["m-transient"])
			}
			if q.delays["m-perm"] != tc.permDelay {
				t.Errorf("permanent delay %v, want %v", q.delays["m-perm"], tc.permDelay)
			}
			if tc.parked > 0 {
				p := q.parked[0]
				if p.Record.MessageId == "m-bad" {
					p = q.parked[1]
				}
				if p.Handler != "flaky" || !strings.Contains(p.Reason, "bad data") {
					t.Errorf("parked %+v", p)
				}
			}
			// Failed runs released their claims: a retry runs them at once,
			// while the handler that succeeded is skipped.
			okRuns := ok.count("u-t")
			flakyRuns := flaky.count("u-t")
			w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{recordN("m-transient", eventBody("u-t", "app.flaky"), 4)}})
			if ok.count("u-t") != okRuns || flaky.count("u-t") != flakyRuns+1 {
				t.Errorf("retry: ok ran %d→%d, flaky %d→%d", okRuns, ok.count("u-t"), flakyRuns, flaky.count("u-t"))
			}
		})
	}
}

func TestHandlerTimeoutFromDeadline(t *testing.T) {
	var gotDeadline atomic.Int64
	reg := &handlers.Registry{}
	reg.On("a", func(ctx context.Context, _ handlers.Event) error {
		d, _ := ctx.Deadline()
		gotDeadline.Store(int64(time.Until(d)))
		return nil
	}, handlers.Name("a"))
	reg.On("b", func(context.Context, handlers.Event) error { return nil }, handlers.Name("b"), handlers.Timeout(time.Second))

	cases := []struct {
		name     string
		deadline time.Duration // 0: none
		route    handlers.Route
		want     time.Duration
		ok       bool
	}{
		{"no deadline, no timeout", 0, reg.Match("a")[0], 0, true},
		{"no deadline, route timeout", 0, reg.Match("b")[0], time.Second, true},
		{"deadline minus margin", 20 * time.Second, reg.Match("a")[0], 17 * time.Second, true},
		{"shorter deadline, quarter margin", 10 * time.Second, reg.Match("a")[0], 7500 * time.Millisecond, true},
		{"route timeout is shorter", 10 * time.Second, reg.Match("b")[0], time.Second, true},
		{"short invocation: a quarter kept", 2 * time.Second, reg.Match("a")[0], 1500 * time.Millisecond, true},
		{"no time left", 0, reg.Match("a")[0], 0, false},
	}
	w := &Worker{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// In a bubble the clock stands still: the deadline is exact.
			synctest.Test(t, func(t *testing.T) {
				ctx := context.Background()
				if tc.deadline > 0 || !tc.ok {
					var cancel context.CancelFunc
					ctx, cancel = context.WithDeadline(ctx, time.Now().Add(tc.deadline))
					defer cancel()
				}
				got, ok := w.handlerTimeout(ctx, tc.route)
				if got != tc.want || ok != tc.ok {
					t.Fatalf("got %v %v, want %v %v", got, ok, tc.want, tc.ok)
				}
			})
		})
	}

	// Through Handle: the handler's deadline is the invocation's minus the margin.
	w = &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), SafetyMargin: 2 * time.Second}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{recordN("m", eventBody("u", "a"), 1)}})
	// Only the upper bound is exact; how much of the rest is left depends on load.
	if d := time.Duration(gotDeadline.Load()); d > 3*time.Second || d <= 0 {
		t.Fatalf("handler had %v left, want about 3s", d)
	}
}

func TestBackoff(t *testing.T) {
	lowest := func(int64) int64 { return 0 }
	highest := func(n int64) int64 { return n - 1 }
	cases := []struct {
		b        Backoff
		receives int
		min, max time.Duration
	}{
		{Backoff{}, 0, 10 * time.Second, 10 * time.Second},
		{Backoff{}, 1, 10 * time.Second, 10 * time.Second},
		{Backoff{}, 2, 10 * time.Second, 20 * time.Second},
		{Backoff{}, 3, 10 * time.Second, 40 * time.Second},
		{Backoff{}, 5, 10 * time.Second, 160 * time.Second},
		{Backoff{}, 7, 10 * time.Second, 640 * time.Second},
		{Backoff{}, 8, 10 * time.Second, 15 * time.Minute},
		{Backoff{}, 1000, 10 * time.Second, 15 * time.Minute},
		{Backoff{Base: time.Minute, Max: 48 * time.Hour}, 64, time.Minute, queue.MaxVisibility},
		{Backoff{Base: time.Hour, Max: time.Minute}, 1, time.Minute, time.Minute},
	}
	for _, tc := range cases {
		name := tc.b.Base.String() + "/" + tc.b.Max.String() + "/" + strconv.Itoa(tc.receives)
		t.Run(name, func(t *testing.T) {
			if c := tc.b.Ceiling(tc.receives); c != tc.max {
				t.Errorf("ceiling %v, want %v", c, tc.max)
			}
			lo, hi := tc.b, tc.b
			lo.Rand, hi.Rand = lowest, highest
			if d := lo.Delay(tc.receives); d != tc.min {
				t.Errorf("lowest delay %v, want %v", d, tc.min)
			}
			if d := hi.Delay(tc.receives); d != tc.max {
				t.Errorf("highest delay %v, want %v", d, tc.max)
			}
			for range 100 {
				if d := tc.b.Delay(tc.receives); d < tc.min || d > tc.max || d%time.Second != 0 || d > queue.MaxVisibility {
					t.Fatalf("delay %v outside [%v, %v] or not whole seconds", d, tc.min, tc.max)
				}
			}
		})
	}
	// Ceilings never shrink as receives grow.
	var prev time.Duration
	for n := 1; n < 100; n++ {
		c := Backoff{}.Ceiling(n)
		if c < prev {
			t.Fatalf("ceiling shrank at %d: %v < %v", n, c, prev)
		}
		prev = c
	}
}

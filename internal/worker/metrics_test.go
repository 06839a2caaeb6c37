package worker

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/metrics/emftest"
)

// A batch's outcomes reach CloudWatch as EMF lines: handled, retried,
// parked, duplicates, handler errors by handler, durations and the lag.
func TestBatchOutcomesAreCountedInCloudWatchMetrics(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		reg := &handlers.Registry{}
		reg.On("*", func(context.Context, handlers.Event) error { return nil }, handlers.Name("log"))
		reg.On("app.fail", func(context.Context, handlers.Event) error { return errors.New("503") }, handlers.Name("flaky"))
		reg.On("app.bad", func(context.Context, handlers.Event) error { return handlers.Permanent(errors.New("bad")) }, handlers.Name("strict"))
		var out bytes.Buffer
		published := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC) // eventBody's published time
		led := &ledgertest.Memory{}
		q := &fakeQueue{}
		w := &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: led, Delayer: q, Parker: q,
			Metrics: metrics.New("Hookline", "test", &out)}
		// The bubble's clock stands at 1.5 s after the events' published time,
		// and does not move while the handlers run.
		time.Sleep(time.Until(published.Add(1500 * time.Millisecond)))
		batch := func(recs ...events.SQSMessage) {
			t.Helper()
			if _, err := w.Handle(context.Background(), events.SQSEvent{Records: recs}); err != nil {
				t.Fatal(err)
			}
		}
		batch(record("m1", eventBody("u1", "user.lifecycle.create")), record("m2", eventBody("u2", "app.fail")),
			record("m3", eventBody("u3", "app.bad")))
		batch(record("m1-again", eventBody("u1", "user.lifecycle.create")))

		got, err := emftest.Sums(out.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		// HandlerDuration sums are 0: the fixed clock does not move.
		want := map[string]float64{
			"EventsHandled": 2, "EventsRetried": 1, "EventsParked": 1, "DuplicatesSkipped": 1,
			"HandlerErrors Handler=flaky": 1, "HandlerErrors Handler=strict": 1,
			"HandlerDuration Handler=log": 0, "HandlerDuration Handler=flaky": 0, "HandlerDuration Handler=strict": 0,
			"EndToEndLag": 1500, // u1 only: the duplicate ran no handler, the others failed
		}
		if !maps.Equal(got, want) {
			t.Errorf("metrics %v\nwant    %v\n%s", got, want, out.String())
		}
	})
}

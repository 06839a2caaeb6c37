package eventbus_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/eventbus"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/worker"
)

// recorder is a logic fake of PutEvents: it keeps each request's entries
// and fails the entries whose Detail contains failMarker.
type recorder struct {
	mu         sync.Mutex
	requests   [][]types.PutEventsRequestEntry
	failMarker string
}

func (r *recorder) PutEvents(_ context.Context, in *eventbridge.PutEventsInput, _ ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, in.Entries)
	out := &eventbridge.PutEventsOutput{}
	for i, e := range in.Entries {
		if r.failMarker != "" && strings.Contains(aws.ToString(e.Detail), r.failMarker) {
			out.FailedEntryCount++
			out.Entries = append(out.Entries, types.PutEventsResultEntry{ErrorCode: aws.String("InternalFailure"), ErrorMessage: aws.String("try again")})
			continue
		}
		out.Entries = append(out.Entries, types.PutEventsResultEntry{EventId: aws.String(fmt.Sprint(i))})
	}
	return out, nil
}

func event(uuid, typ string, pad int) handlers.Event {
	raw := `{"uuid":"` + uuid + `","eventType":"` + typ + `","published":"2024-05-01T10:00:00.123Z","pad":"` + strings.Repeat("x", pad) + `"}`
	return handlers.Event{UUID: uuid, Type: typ, Raw: json.RawMessage(raw), Published: time.Date(2024, 5, 1, 10, 0, 0, 123e6, time.UTC)}
}

// handleAll runs the publisher's handler on each event at once, as the
// worker does for the records of a batch, and returns each error.
func handleAll(p *eventbus.Publisher, evs []handlers.Event) []error {
	errs := make([]error, len(evs))
	var wg sync.WaitGroup
	for i, ev := range evs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = p.Handle(context.Background(), ev) }()
	}
	wg.Wait()
	return errs
}

// TestConcurrentEventsShareRequestsWithinLimits: events handled at the
// same time go out together, at most 10 entries and 256 KiB a request.
func TestConcurrentEventsShareRequestsWithinLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		n, pad    int
		wantReqs  int
		wantLarge bool
	}{
		{"10 small events: one request", 10, 100, 1, false},
		{"25 small events: 10+10+5", 25, 100, 3, false},
		{"4 events of 100 KB: two a request", 4, 100_000, 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &recorder{}
			p := &eventbus.Publisher{Client: r, Bus: "okta", Linger: 500 * time.Millisecond}
			var evs []handlers.Event
			for i := range tc.n {
				evs = append(evs, event(fmt.Sprintf("u%d", i), "user.session.start", tc.pad))
			}
			for i, err := range handleAll(p, evs) {
				if err != nil {
					t.Fatalf("event %d: %v", i, err)
				}
			}
			if len(r.requests) != tc.wantReqs || p.Requests() != int64(tc.wantReqs) {
				t.Fatalf("%d requests (counted %d), want %d", len(r.requests), p.Requests(), tc.wantReqs)
			}
			total := 0
			for _, req := range r.requests {
				size := 0
				for _, e := range req {
					size += eventbus.EntrySize(e)
				}
				if len(req) > eventbus.MaxEntries || size > eventbus.MaxRequestBytes {
					t.Errorf("a request of %d entries, %d bytes", len(req), size)
				}
				total += len(req)
			}
			if total != tc.n {
				t.Fatalf("%d entries sent, want %d", total, tc.n)
			}
		})
	}
}

// TestEntryFieldsAreTheOktaEvent: Source, DetailType, Time and Detail as
// the README promises, Detail byte for byte.
func TestEntryFieldsAreTheOktaEvent(t *testing.T) {
	ev := event("u1", "user.lifecycle.deactivate", 3)
	e := (&eventbus.Publisher{Bus: "okta"}).Entry(ev)
	if aws.ToString(e.Source) != "hookline.okta" || aws.ToString(e.DetailType) != "user.lifecycle.deactivate" ||
		aws.ToString(e.Detail) != string(ev.Raw) || !e.Time.Equal(ev.Published) || aws.ToString(e.EventBusName) != "okta" {
		t.Fatalf("entry %+v", e)
	}
	if e := (&eventbus.Publisher{Bus: "okta", Source: "acme.idp"}).Entry(ev); aws.ToString(e.Source) != "acme.idp" {
		t.Fatalf("source %q", aws.ToString(e.Source))
	}
}

// TestFailedEntryFailsOnlyItsEvent: one refused entry fails its own
// handler call with ErrEntryFailed (a retry), the others succeed.
func TestFailedEntryFailsOnlyItsEvent(t *testing.T) {
	r := &recorder{failMarker: `"uuid":"u3"`}
	p := &eventbus.Publisher{Client: r, Bus: "okta", Linger: 500 * time.Millisecond}
	var evs []handlers.Event
	for i := range 5 {
		evs = append(evs, event(fmt.Sprintf("u%d", i), "user.session.start", 10))
	}
	for i, err := range handleAll(p, evs) {
		switch {
		case i == 3 && (!errors.Is(err, eventbus.ErrEntryFailed) || handlers.IsPermanent(err) || !strings.Contains(err.Error(), "InternalFailure")):
			t.Errorf("u3: %v, want a retryable ErrEntryFailed", err)
		case i != 3 && err != nil:
			t.Errorf("u%d: %v", i, err)
		}
	}
}

// TestTooLargeEventIsParkedWithItsReason: an event over what a PutEvents
// request may carry is a permanent failure naming its size, and is never
// sent.
func TestTooLargeEventIsParkedWithItsReason(t *testing.T) {
	r := &recorder{}
	p := &eventbus.Publisher{Client: r, Bus: "okta"}
	err := p.Handle(context.Background(), event("big", "user.session.start", eventbus.MaxRequestBytes))
	if !handlers.IsPermanent(err) || !errors.Is(err, eventbus.ErrTooLarge) || !strings.Contains(err.Error(), "at most 262144") {
		t.Fatalf("%v", err)
	}
	if len(r.requests) != 0 {
		t.Fatal("a too large event was sent")
	}
}

// parker keeps what the worker parks.
type parker struct{ parked []queue.Parked }

func (p *parker) Park(_ context.Context, ps []queue.Parked) []error {
	p.parked = append(p.parked, ps...)
	return make([]error, len(ps))
}

// TestTooLargeEventParkedWithTheREADMEsReason: through the worker, an
// event too large for EventBridge is parked at once with the failureReason
// the README shows, and its batch-mate is put.
func TestTooLargeEventParkedWithTheREADMEsReason(t *testing.T) {
	r := &recorder{}
	pub := &eventbus.Publisher{Client: r, Bus: "okta"}
	reg := &handlers.Registry{}
	reg.On("*", pub.Handle, handlers.Name("event-bus"))
	pk := &parker{}
	w := &worker.Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Parker: pk}
	rec := func(id string, ev handlers.Event) events.SQSMessage {
		return events.SQSMessage{MessageId: id, Body: string(envelope.Encode("d", "src", time.Now(), ev.Raw)), Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
	}
	resp, err := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		rec("big", event("u-big", "user.session.start", eventbus.MaxRequestBytes)),
		rec("small", event("u-small", "user.session.start", 10)),
	}})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%+v %v", resp, err)
	}
	if len(pk.parked) != 1 || pk.parked[0].Record.MessageId != "big" || pk.parked[0].Handler != "event-bus" ||
		!strings.HasPrefix(pk.parked[0].Reason, "event-bus: permanent: event too large for EventBridge: its entry is ") {
		t.Fatalf("parked %+v", pk.parked)
	}
	if len(r.requests) != 1 || len(r.requests[0]) != 1 || !strings.Contains(aws.ToString(r.requests[0][0].Detail), "u-small") {
		t.Fatalf("put %v", r.requests)
	}
}

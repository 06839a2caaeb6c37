package worker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/worker"
)

type recordingObserver struct {
	mu   sync.Mutex
	seen []string
}

func (r *recordingObserver) Observe(_ context.Context, eventType string, raw json.RawMessage) {
	var ev struct{ UUID string }
	_ = json.Unmarshal(raw, &ev)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, eventType+"/"+ev.UUID)
}

// The Observer sees every decoded event once, on its first receive, with or
// without a handler for its type; not a redelivery, not a malformed message.
func TestObserverSeesEachEventOnItsFirstReceive(t *testing.T) {
	reg := &handlers.Registry{}
	reg.On("user.session.start", func(context.Context, handlers.Event) error { return nil }, handlers.Name("h"), handlers.Idempotent())
	obs := &recordingObserver{}
	w := &worker.Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Observer: obs}
	rec := func(id, typ, uuid, receives string) events.SQSMessage {
		raw := json.RawMessage(`{"uuid":"` + uuid + `","eventType":"` + typ + `"}`)
		return events.SQSMessage{MessageId: id, ReceiptHandle: "rh", Body: string(envelope.Encode("d", "s", time.Now(), raw)),
			Attributes: map[string]string{"ApproximateReceiveCount": receives}}
	}
	batch := events.SQSEvent{Records: []events.SQSMessage{
		rec("1", "user.session.start", "u1", "1"),
		rec("2", "group.user_membership.add", "u2", "1"), // no handler
		rec("3", "user.session.start", "u3", "2"),        // a redelivery
		{MessageId: "4", Body: "not json", Attributes: map[string]string{"ApproximateReceiveCount": "1"}},
	}}
	if _, err := w.Handle(context.Background(), batch); err != nil {
		t.Fatal(err)
	}
	slices.Sort(obs.seen)
	if want := []string{"group.user_membership.add/u2", "user.session.start/u1"}; !slices.Equal(obs.seen, want) {
		t.Fatalf("observed %v, want %v", obs.seen, want)
	}
}

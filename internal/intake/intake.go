// Package intake is the one way events from any channel become events queue
// messages and delivery marks: the envelope (internal/envelope), its message
// attributes, the org, and the marks (ledger.Marks), whatever brought the
// events — the event hook (receiver), the System Log (reconciler), a replay,
// or Okta Log Streaming (Stream).
//
// The callers keep their own policies (the receiver's deadline and mark
// budgets, the reconciler's parking of unkeyable events); what a message and
// a mark look like is written here only.
package intake

import (
	"context"
	"encoding/json"
	"time"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/queue"
)

// Publisher queues messages (queue.Publisher).
type Publisher interface {
	Publish(ctx context.Context, msgs []queue.Message) queue.Result
}

// Marker writes delivery marks (ledger.Marks).
type Marker interface {
	Mark(ctx context.Context, origin string, uuids []string) error
}

// Marks reads and writes delivery marks (ledger.Marks).
type Marks interface {
	Marker
	Marked(ctx context.Context, uuids []string) (map[string]bool, error)
}

// Batch is events one channel brought at once.
type Batch struct {
	// Origin is the channel: envelope.OriginHook, OriginSystemLog,
	// OriginReplay or OriginLogStream. It is the origin of the marks.
	Origin string
	// HookURL is the hook URL of a delivery (Origin hook only): the
	// envelope's origin of a hook event, as every message so far has it.
	HookURL string
	// DeliveryID is Okta's eventId of a delivery, or the read that found
	// the events ("reconcile/<time>", "replay/<time>", the stream's
	// EventBridge event id).
	DeliveryID string
	// Org is the Okta org that sent the events; "" is the stack's one org.
	Org string
	// ReceivedAt is when the channel took the events.
	ReceivedAt time.Time
	Events     []okta.Event
}

// EnvelopeOrigin is what the envelope (and handlers.Event.Origin) says
// about where an event came from: the hook URL for the hook, "systemlog" for
// the reconciler and a replay (as every message so far), "logstream" for the
// stream.
func (b Batch) EnvelopeOrigin() string {
	switch b.Origin {
	case envelope.OriginHook:
		return b.HookURL
	case envelope.OriginReplay, envelope.OriginSystemLog:
		return envelope.OriginSystemLog
	}
	return b.Origin
}

// Body is the envelope of one of the batch's events.
func (b Batch) Body(raw json.RawMessage) []byte {
	return envelope.EncodeOrg(b.Org, b.DeliveryID, b.EnvelopeOrigin(), b.ReceivedAt, raw)
}

// Attributes are the message attributes of one of the batch's events: its
// uuid, type and published time, and the org when there is one.
func (b Batch) Attributes(ev okta.Event) map[string]string {
	attrs := map[string]string{
		envelope.AttrEventUUID: ev.UUID,
		envelope.AttrEventType: ev.EventType,
		envelope.AttrPublished: ev.Published,
	}
	if b.Org != "" {
		attrs[envelope.AttrOrg] = b.Org
	}
	return attrs
}

// Messages are the batch's events queue messages, one per event, in order.
func (b Batch) Messages() []queue.Message {
	msgs := make([]queue.Message, len(b.Events))
	for i, ev := range b.Events {
		msgs[i] = queue.Message{Body: b.Body(ev.Raw), Attributes: b.Attributes(ev)}
	}
	return msgs
}

// Queue publishes the batch's messages. The result's indexes are the
// batch's events.
func Queue(ctx context.Context, p Publisher, b Batch) queue.Result {
	return p.Publish(ctx, b.Messages())
}

// Queued are the uuids of the batch's events that res says are on the
// queue. An event without a uuid is queued but never marked: it has no key.
func Queued(b Batch, res queue.Result) []string {
	uuids := make([]string, 0, res.Sent)
	for i, ev := range b.Events {
		if _, failed := res.Failed[i]; !failed && ev.UUID != "" {
			uuids = append(uuids, ev.UUID)
		}
	}
	return uuids
}

// Mark writes the delivery marks of the batch's events that res says are
// on the queue, with the batch's origin, and returns how many. A mark is
// written only after its event is queued: a mark without its event would
// hide a loss, an event without its mark costs at most a duplicate, which
// the worker's ledger absorbs.
func Mark(ctx context.Context, m Marker, b Batch, res queue.Result) (int, error) {
	uuids := Queued(b, res)
	if len(uuids) == 0 {
		return 0, nil
	}
	if err := m.Mark(ctx, b.Origin, uuids); err != nil {
		return 0, err
	}
	return len(uuids), nil
}

// Unmarked splits the batch's events into those without a delivery mark
// (kept in the returned batch, in order, each uuid once) and the number
// skipped because they are marked or repeat an earlier event of the batch.
// An event without a uuid cannot be looked up and is kept.
func Unmarked(ctx context.Context, m Marks, b Batch) (Batch, int, error) {
	ids := make([]string, 0, len(b.Events))
	for _, ev := range b.Events {
		if ev.UUID != "" {
			ids = append(ids, ev.UUID)
		}
	}
	var marked map[string]bool
	if len(ids) > 0 {
		var err error
		if marked, err = m.Marked(ctx, ids); err != nil {
			return Batch{}, 0, err
		}
	}
	out := b
	out.Events = nil
	seen := map[string]bool{}
	skipped := 0
	for _, ev := range b.Events {
		if ev.UUID != "" && (marked[ev.UUID] || seen[ev.UUID]) {
			skipped++
			continue
		}
		seen[ev.UUID] = true
		out.Events = append(out.Events, ev)
	}
	return out, skipped, nil
}

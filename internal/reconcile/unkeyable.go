package reconcile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/intake"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/queue"
)

// MaxUUIDBytes bounds an event uuid hookline keys on (Okta's are 36
// characters): the ledger and the delivery marks build DynamoDB keys of it.
const MaxUUIDBytes = 256

// UnkeyableReason prefixes the failureReason of an event the reconciler
// parks because it cannot be keyed.
const UnkeyableReason = "unkeyable System Log event: "

// Unkeyable says why a System Log event cannot be keyed, or "" when it
// can. Delivery marks, the worker's ledger and its routing all key an event
// on its uuid, read by okta.ParseEvent: exactly "uuid", once, a string. An
// event without a usable one cannot be deduplicated or handled, so it is
// parked in the DLQ with this reason instead of being queued, or dropped.
func Unkeyable(ev okta.Event) string {
	raw := bytes.TrimLeft(ev.Raw, " \t\r\n")
	switch {
	case len(raw) == 0 || raw[0] != '{':
		return "not a JSON object"
	case ev.UUID == "":
		return `no "uuid" string (missing, not a string, given twice, or spelled in another case)`
	case len(ev.UUID) > MaxUUIDBytes:
		return fmt.Sprintf("uuid longer than %d bytes", MaxUUIDBytes)
	case !keyText(ev.UUID):
		return "uuid with characters a key cannot hold (control characters, U+FFFD or invalid UTF-8)"
	}
	return ""
}

// keyText reports whether s is text a key can hold and an SQS attribute
// carries: valid UTF-8 with no control characters, no U+FFFD (what an
// invalid surrogate becomes, so two different uuids could read the same)
// and no noncharacters SQS refuses.
func keyText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError || r == 0xfffe || r == 0xffff {
			return false
		}
	}
	return true
}

type unkeyable struct {
	ev     okta.Event
	reason string
	mark   string
}

// unkeyableMark is the delivery mark of an unkeyable event: its content's
// hash, which no Okta uuid looks like.
func unkeyableMark(raw []byte) string {
	h := sha256.Sum256(raw)
	return "unkeyable:sha256:" + hex.EncodeToString(h[:])
}

// park sends the unkeyable events to the DLQ, with the reason in
// failureReason as the worker's parked messages have it, and marks them.
func (r *Reconciler) park(ctx context.Context, evs []unkeyable, origin, deliveryID string, st *Stats) error {
	if len(evs) == 0 {
		return nil
	}
	if r.DLQ == nil {
		return fmt.Errorf("reconcile: %d System Log events cannot be keyed (%s) and no DLQ is set to park them: the cursor stays before them",
			len(evs), evs[0].reason)
	}
	now := r.now()
	batch := intake.Batch{Origin: origin, DeliveryID: deliveryID, Org: r.Org, ReceivedAt: now}
	msgs := make([]queue.Message, len(evs))
	for i, u := range evs {
		attrs := map[string]string{
			envelope.AttrFailureReason:  UnkeyableReason + u.reason,
			envelope.AttrFirstFailureAt: now.UTC().Format(time.RFC3339),
			envelope.AttrReceiveCount:   "0", // never handed to the worker
		}
		// What Okta sent, where SQS can carry it.
		for name, v := range map[string]string{envelope.AttrEventType: u.ev.EventType, envelope.AttrPublished: u.ev.Published} {
			if v != "" && len(v) <= MaxUUIDBytes && keyText(v) {
				attrs[name] = v
			}
		}
		if r.Org != "" {
			attrs[envelope.AttrOrg] = r.Org
		}
		msgs[i] = queue.Message{Body: batch.Body(u.ev.Raw), Attributes: attrs}
	}
	res := r.DLQ.Publish(ctx, msgs)
	var marks []string
	for i, u := range evs {
		if err, failed := res.Failed[i]; failed {
			r.log().ErrorContext(ctx, "unkeyable event not parked", "reason", u.reason, "eventType", u.ev.EventType, "published", u.ev.Published,
				"error", err.Error())
			continue
		}
		marks = append(marks, u.mark)
		r.log().WarnContext(ctx, "unkeyable event parked in the DLQ", "reason", u.reason, "eventType", u.ev.EventType,
			"published", u.ev.Published, "bytes", len(u.ev.Raw), "source", origin)
	}
	st.Parked += len(marks)
	st.Failed += len(res.Failed)
	if err := r.Marks.Mark(ctx, origin, marks); err != nil {
		// Unmarked, a later read of the page parks them again.
		r.log().WarnContext(ctx, "parked events not marked", "events", len(marks), "error", err.Error())
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("reconcile: %d of %d unkeyable events not parked in the DLQ", len(res.Failed), len(evs))
	}
	return nil
}

package receiver

import (
	"context"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/okta"
)

// TestEventsWithoutAUsableUUIDAreNeverMerged: events whose uuids differ
// only in what a decoder loses (escapes of lone surrogates, which encoding/json
// turns into U+FFFD), or whose uuid key is ambiguous ({"uuid":"A","UUID":"B"},
// "A" to an exact reader, "B" to one that folds case) are each queued on
// their own, without a uuid attribute, for the worker to park; none is
// deduplicated into another, and none gets a delivery mark (which would
// hide another event with the uuid "\ufffd" from the reconciler). A uuid
// with a control character, which SQS refuses as an attribute, is queued
// the same way instead of failing the delivery.
func TestEventsWithoutAUsableUUIDAreNeverMerged(t *testing.T) {
	ev := func(members string) string {
		return `{` + members + `,"eventType":"user.lifecycle.create","published":"2024-01-01T00:00:00Z"}`
	}
	for name, tc := range map[string]struct {
		events    []string
		keyed     []string // the uuid attributes of the queued events, "" for none
		unkeyable string   // a reason the worker will park with, in Unkeyable
	}{
		"lone surrogates": {
			events: []string{ev(`"uuid":"\ud800"`), ev(`"uuid":"\ud801"`), ev(`"uuid":"\udc00x"`)},
			keyed:  []string{"", "", ""}, unkeyable: "lone surrogate"},
		"a lone surrogate and the character it decodes to": {
			events: []string{ev(`"uuid":"a\ud800"`), ev(`"uuid":"a\ufffd"`)},
			keyed:  []string{"", "a\ufffd"}, unkeyable: "lone surrogate"},
		"a uuid key in another case": {
			events: []string{ev(`"uuid":"A","UUID":"B"`), ev(`"uuid":"A"`)},
			keyed:  []string{"", "A"}, unkeyable: `keys "uuid" and "UUID" differ only in case`},
		"a control character": {
			events: []string{ev(`"uuid":"a\u0001"`), ev(`"uuid":"a\u0002"`)},
			keyed:  []string{"", ""}, unkeyable: "has the character U+000"},
	} {
		t.Run(name, func(t *testing.T) {
			rec := &recorder{}
			f := newFixture(Config{Marks: rec})
			body := `{"eventType":"com.okta.event_hook","eventId":"d","data":{"events":[` + strings.Join(tc.events, ",") + `]}}`
			resp, _ := f.h.Handle(context.Background(), request("POST", authed(nil), body))
			sent := f.mem.Sent()
			if resp.StatusCode != 200 || len(sent) != len(tc.events) {
				t.Fatalf("status %d, %d queued, want 200 and %d (none merged)", resp.StatusCode, len(sent), len(tc.events))
			}
			// Queued in any order; each event once, as sent.
			attrOf := map[string]string{}
			for _, m := range sent {
				msg, err := envelope.Decode(m.Body)
				if err != nil {
					t.Fatal(err)
				}
				if _, twice := attrOf[string(msg.Event)]; twice {
					t.Fatalf("queued twice: %s", msg.Event)
				}
				attrOf[string(msg.Event)] = m.Attributes[envelope.AttrEventUUID]
				if u := m.Attributes[envelope.AttrEventUUID]; u == "" && !strings.Contains(okta.ParseEvent(msg.Event).Unkeyable, tc.unkeyable) {
					t.Fatalf("%s: Unkeyable %q, want it to say %q", msg.Event, okta.ParseEvent(msg.Event).Unkeyable, tc.unkeyable)
				}
			}
			for i, raw := range tc.events {
				if got, ok := attrOf[raw]; !ok || got != tc.keyed[i] {
					t.Fatalf("event %s: queued %v with uuid attribute %q, want %q", raw, ok, got, tc.keyed[i])
				}
			}
			var marked []string
			for _, k := range tc.keyed {
				if k != "" {
					marked = append(marked, k)
				}
			}
			if strings.Join(rec.uuids, "|") != strings.Join(marked, "|") {
				t.Fatalf("marked %q, want %q", rec.uuids, marked)
			}
		})
	}
}

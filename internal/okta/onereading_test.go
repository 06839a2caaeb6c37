package okta_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/okta"
)

// TestLogEventReadsTheEventAsRoutingDoes: LogEvent (what handlers read)
// sees the uuid, eventType and published that routing, deduplication and
// the ledger see (okta.ParseEvent): exact keys, no case folding, and no
// field where the event is ambiguous. The other fields are read by exact
// key too: "Actor" is not actor, and a key twice leaves its field zero.
func TestLogEventReadsTheEventAsRoutingDoes(t *testing.T) {
	tests := []struct {
		name, raw          string
		uuid, typ, publish string
		check              func(okta.LogEvent) bool
	}{
		{name: "plain", raw: `{"uuid":"u1","eventType":"t","published":"2024-01-01T00:00:00Z","actor":{"id":"00u1"}}`,
			uuid: "u1", typ: "t", publish: "2024-01-01T00:00:00Z", check: func(e okta.LogEvent) bool { return e.Actor.ID == "00u1" }},
		{name: "uuid and UUID", raw: `{"uuid":"A","UUID":"B","eventType":"t"}`},
		{name: "UUID alone", raw: `{"UUID":"B","eventType":"t"}`},
		{name: "eventType and EventType", raw: `{"uuid":"A","eventType":"t","EventType":"u"}`},
		{name: "published twice", raw: `{"uuid":"A","published":"2024-01-01T00:00:00Z","published":"2030-01-01T00:00:00Z"}`},
		{name: "escaped key is the same key", raw: `{"uuid":"A","u\u0075id":"B"}`},
		{name: "lone surrogate uuid", raw: `{"uuid":"\ud800","eventType":"t"}`, typ: "t"},
		{name: "surrogate pair is fine", raw: `{"uuid":"\ud83d\ude00","eventType":"t"}`, uuid: "\U0001F600", typ: "t"},
		{name: "lone surrogate type", raw: `{"uuid":"A","eventType":"t\udfff"}`, uuid: "A"},
		{name: "numeric uuid", raw: `{"uuid":7,"eventType":"t"}`, typ: "t"},
		{name: "Actor is not actor", raw: `{"uuid":"A","Actor":{"id":"00u2"}}`, uuid: "A",
			check: func(e okta.LogEvent) bool { return e.Actor.IsZero() }},
		{name: "actor.ID is not actor.id", raw: `{"uuid":"A","actor":{"id":"00u1","ID":"00u2"}}`, uuid: "A",
			check: func(e okta.LogEvent) bool { return e.Actor.ID == "00u1" }},
		{name: "actor.id twice", raw: `{"uuid":"A","actor":{"id":"00u1","id":"00u2","type":"User"}}`, uuid: "A",
			check: func(e okta.LogEvent) bool { return e.Actor.ID == "" && e.Actor.Type == "User" }},
		{name: "target ids in a list", raw: `{"uuid":"A","target":[{"id":"t1","ID":"x"},{"Id":"y","id":"t2"}]}`, uuid: "A",
			check: func(e okta.LogEvent) bool {
				return len(e.Target) == 2 && e.Target[0].ID == "t1" && e.Target[1].ID == "t2"
			}},
		{name: "debugData keeps every key", raw: `{"uuid":"A","debugContext":{"debugData":{"requestId":"r","RequestId":"R"}}}`, uuid: "A",
			check: func(e okta.LogEvent) bool {
				return e.DebugContext.String("requestId") == "r" && e.DebugContext.String("RequestId") == "R"
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			le, err := okta.ParseLogEvent(json.RawMessage(tt.raw))
			if err != nil {
				t.Fatal(err)
			}
			ev := okta.ParseEvent(json.RawMessage(tt.raw))
			if le.UUID != ev.UUID || le.EventType != ev.EventType || le.Published != ev.Published {
				t.Fatalf("LogEvent reads %q %q %q, routing reads %q %q %q", le.UUID, le.EventType, le.Published, ev.UUID, ev.EventType, ev.Published)
			}
			if ev.UUID != tt.uuid || ev.EventType != tt.typ || ev.Published != tt.publish {
				t.Fatalf("read %q %q %q, want %q %q %q", ev.UUID, ev.EventType, ev.Published, tt.uuid, tt.typ, tt.publish)
			}
			if (ev.UUID == "") != (ev.Unkeyable != "") {
				t.Fatalf("uuid %q with Unkeyable %q", ev.UUID, ev.Unkeyable)
			}
			if tt.check != nil && !tt.check(le) {
				t.Fatalf("fields %+v", le)
			}
			if string(le.Raw) != tt.raw {
				t.Fatal("Raw is not the event as sent")
			}
		})
	}
}

// TestUnkeyableEventsSayWhy: every way an event can lack a usable uuid is
// named in Unkeyable (the reason it is parked with), and is never the
// reading of a well-formed uuid.
func TestUnkeyableEventsSayWhy(t *testing.T) {
	for raw, want := range map[string]string{
		`{"eventType":"t"}`:       "uuid missing",
		`{"uuid":null}`:           "uuid not a string",
		`{"uuid":42}`:             "uuid not a string",
		`{"uuid":""}`:             "uuid empty",
		`{"uuid":"\ud801"}`:       "uuid has an escaped lone surrogate",
		`{"uuid":"\udc00\ud800"}`: "uuid has an escaped lone surrogate",
		`{"uuid":"\ud800\u0041"}`: "uuid has an escaped lone surrogate",
		"{\"uuid\":\"a\xff\"}":    "uuid not valid UTF-8", // the System Log path: no body-wide UTF-8 check
		`{"uuid":"a\nb"}`:         "uuid has the character U+000A",
		`{"uuid":"a\uffff"}`:      "uuid has the character U+FFFF",
		`{"uuid":"` + strings.Repeat("x", okta.MaxUUIDBytes+1) + `"}`: "uuid longer than 1024 bytes",
		`{"uuid":"a","uuid":"a"}`:                                     `ambiguous: key "uuid" appears twice`,
		`{"uuid":"a","Uuid":"a"}`:                                     `ambiguous: keys "uuid" and "Uuid" differ only in case`,
		`["uuid","a"]`:                                                "not a JSON object",
		`null`:                                                        "not a JSON object",
		`{"uuid":`:                                                    "not valid JSON",
	} {
		ev := okta.ParseEvent(json.RawMessage(raw))
		if ev.UUID != "" || !strings.HasPrefix(ev.Unkeyable, want) {
			t.Errorf("%.60s: uuid %q, Unkeyable %q, want %q", raw, ev.UUID, ev.Unkeyable, want)
		}
	}
	for _, ok := range []string{`{"uuid":"a\\ud800"}`, `{"uuid":"a\ufffd"}`, `{"uuid":"` + strings.Repeat("x", okta.MaxUUIDBytes) + `"}`, `{"uuid":"tab\\t"}`} {
		if ev := okta.ParseEvent(json.RawMessage(ok)); ev.UUID == "" || ev.Unkeyable != "" {
			t.Errorf("%.60s: uuid %q, Unkeyable %q, want it keyed", ok, ev.UUID, ev.Unkeyable)
		}
	}
}

// FuzzLogEventAgreesWithParseEvent: whatever the bytes, LogEvent and the
// routing reading never disagree on the routing fields, and a uuid is
// either read (with no reason) or left empty with one.
func FuzzLogEventAgreesWithParseEvent(f *testing.F) {
	for _, s := range []string{`{"uuid":"A","UUID":"B"}`, `{"uuid":"\ud800"}`, `{"uuid":"a","eventType":"t","published":"p"}`,
		`{"Uuid":"x","actor":{"id":"1","ID":"2"}}`, `{"uuid":"\ud83d\ude00"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev := okta.ParseEvent(raw)
		if (ev.UUID == "") != (ev.Unkeyable != "") {
			t.Fatalf("uuid %q with Unkeyable %q", ev.UUID, ev.Unkeyable)
		}
		le, err := okta.ParseLogEvent(raw)
		if err != nil {
			return
		}
		if le.UUID != ev.UUID || le.EventType != ev.EventType || le.Published != ev.Published {
			t.Fatalf("%s: LogEvent reads %q %q %q, routing reads %q %q %q", raw, le.UUID, le.EventType, le.Published, ev.UUID, ev.EventType, ev.Published)
		}
	})
}

// BenchmarkParseLogEvent: the cost of reading one typed event with exact
// keys (go test -run XXX -bench ParseLogEvent ./internal/okta/).
func BenchmarkParseLogEvent(b *testing.B) {
	raw := []byte(`{"uuid":"0b8d6d9e-1c4f-11ef-9a3b-5f0c2b9e8a11","published":"2024-01-01T00:00:00.000Z","eventType":"user.lifecycle.create",` +
		`"displayMessage":"Create Okta user","severity":"INFO","actor":{"id":"00u1","type":"User","alternateId":"a@example.com"},` +
		`"client":{"ipAddress":"198.51.100.1","geographicalContext":{"city":"Lyon"}},"outcome":{"result":"SUCCESS"},` +
		`"target":[{"id":"00u2","type":"User"}],"debugContext":{"debugData":{"requestId":"r"}}}`)
	for b.Loop() {
		if _, err := okta.ParseLogEvent(raw); err != nil {
			b.Fatal(err)
		}
	}
}

package handlers

import (
	"encoding/json"
	"testing"

	"github.com/hookline/hookline/internal/okta"
)

// TestLogEventSeesTheUUIDTheWorkerKeyedBy: what a handler reads with
// ev.LogEvent() is the event the worker routed and claimed in the ledger
// (okta.ParseEvent): {"uuid":"A","UUID":"B"} is not "B" to one and "A" to
// the other, and an escaped lone surrogate is not read as U+FFFD.
func TestLogEventSeesTheUUIDTheWorkerKeyedBy(t *testing.T) {
	for _, raw := range []string{`{"uuid":"A","UUID":"B","eventType":"t"}`, `{"UUID":"B","eventType":"t"}`,
		`{"uuid":"A","eventType":"t","eventtype":"u"}`, `{"uuid":"\ud800","eventType":"t"}`, `{"uuid":"A","eventType":"t"}`} {
		fields := okta.ParseEvent(json.RawMessage(raw))
		ev := Event{UUID: fields.UUID, Type: fields.EventType, Raw: json.RawMessage(raw)}
		if le := ev.LogEvent(); le.UUID != ev.UUID || le.EventType != ev.Type {
			t.Errorf("%s: the worker keys and routes by %q %q, LogEvent says %q %q", raw, ev.UUID, ev.Type, le.UUID, le.EventType)
		}
	}
}

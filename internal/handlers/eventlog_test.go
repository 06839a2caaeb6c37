package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"
)

// eventLogKeys runs the event log handler with fields on one event and
// returns the keys of the line it writes (without time, level and msg).
func eventLogKeys(t *testing.T, fields EventLogFields) []string {
	t.Helper()
	var buf bytes.Buffer
	h := EventLogWith(slog.New(slog.NewJSONHandler(&buf, nil)), fields)
	raw := json.RawMessage(`{"uuid":"u1","eventType":"user.session.start","published":"2024-01-01T00:00:00Z","displayMessage":"User login","actor":{"alternateId":"ann@example.com"},"outcome":{"result":"SUCCESS"}}`)
	if err := h(context.Background(), Event{UUID: "u1", Type: "user.session.start", Raw: raw, DeliveryID: "d1"}); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("%v: %s", err, buf.String())
	}
	var keys []string
	for k := range line {
		if k != "time" && k != "level" && k != "msg" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

// TestEventLogFields: by default the event log line has the fields it always
// had; EVENT_LOG_FIELDS (parsed here) can drop the personal ones.
func TestEventLogFields(t *testing.T) {
	for _, tc := range []struct{ setting, want string }{
		{"", "actor,deliveryId,displayMessage,eventType,eventUuid,outcome,published"},
		{"all", "actor,deliveryId,displayMessage,eventType,eventUuid,outcome,published"},
		{"none", "deliveryId,eventType,eventUuid"},
		{"published,outcome", "deliveryId,eventType,eventUuid,outcome,published"},
		{" Actor , displayMessage", "actor,deliveryId,displayMessage,eventType,eventUuid"},
	} {
		f, err := ParseEventLogFields(tc.setting)
		if err != nil {
			t.Fatalf("%q: %v", tc.setting, err)
		}
		if got := strings.Join(eventLogKeys(t, f), ","); got != tc.want {
			t.Errorf("EVENT_LOG_FIELDS=%q writes %s, want %s", tc.setting, got, tc.want)
		}
	}
	if got := strings.Join(eventLogKeys(t, AllEventLogFields), ","); got != strings.Join(eventLogKeys(t, mustParse(t, "all")), ",") {
		t.Errorf("EventLog and the default differ")
	}
	for _, bad := range []string{"email", "actor,,outcome", "all,actor"} {
		if _, err := ParseEventLogFields(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func mustParse(t *testing.T, s string) EventLogFields {
	f, err := ParseEventLogFields(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

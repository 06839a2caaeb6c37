package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"

	"github.com/hookline/hookline/internal/okta"
)

func TestMatch(t *testing.T) {
	var r Registry
	noop := func(context.Context, Event) error { return nil }
	r.On("user.lifecycle.create", noop)
	r.On("user.lifecycle.*", noop)
	r.On("*", noop)
	r.On("user.lifecycle.create", noop)
	tests := []struct {
		eventType string
		want      []string
	}{
		{"user.lifecycle.create", []string{"user.lifecycle.create", "user.lifecycle.*", "*", "user.lifecycle.create#2"}},
		{"user.lifecycle.deactivate", []string{"user.lifecycle.*", "*"}},
		{"user.lifecycle", []string{"*"}},
		{"user.lifecyclex.create", []string{"*"}},
		{"", []string{"*"}},
	}
	for _, tt := range tests {
		var got []string
		for _, route := range r.Match(tt.eventType) {
			got = append(got, route.Name)
		}
		if len(got) != len(tt.want) {
			t.Fatalf("%q matched %v, want %v", tt.eventType, got, tt.want)
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Fatalf("%q matched %v, want %v", tt.eventType, got, tt.want)
			}
		}
	}
}

func TestOnRejectsBadRegistrations(t *testing.T) {
	noop := func(context.Context, Event) error { return nil }
	tests := map[string]func(r *Registry){
		"empty pattern":   func(r *Registry) { r.On("", noop) },
		"inner wildcard":  func(r *Registry) { r.On("user.*.create", noop) },
		"bare suffix":     func(r *Registry) { r.On("user*", noop) },
		"empty segment":   func(r *Registry) { r.On("user..create", noop) },
		"nil handler":     func(r *Registry) { r.On("x", nil) },
		"duplicate names": func(r *Registry) { r.On("x", noop, Name("n")); r.On("y", noop, Name("n")) },
	}
	for name, register := range tests {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("expected a panic")
				}
			}()
			register(&Registry{})
		})
	}
}

func TestPermanent(t *testing.T) {
	base := errors.New("bad data")
	err := Permanent(base)
	if !IsPermanent(err) || !errors.Is(err, base) || IsPermanent(base) || Permanent(nil) != nil {
		t.Fatal("Permanent does not wrap as documented")
	}
}

func TestEventLog(t *testing.T) {
	var buf bytes.Buffer
	h := EventLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	ev := Event{UUID: "u1", Type: "user.lifecycle.create", DeliveryID: "d1", Raw: json.RawMessage(`{"uuid":"u1","published":"2024-01-01T00:00:00Z","displayMessage":"Create Okta user","actor":{"alternateId":"admin@example.com"},"outcome":{"result":"SUCCESS"}}`)}
	if err := h(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"msg": "okta event", "eventUuid": "u1", "eventType": "user.lifecycle.create", "published": "2024-01-01T00:00:00Z", "actor": "admin@example.com", "outcome": "SUCCESS", "displayMessage": "Create Okta user"}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("%s = %v, want %q", k, line[k], v)
		}
	}
}

// TestLogEventIsLenientAndKeepsRaw: a handler reading the typed fields of
// an event with an odd field gets the rest, and Raw as sent.
func TestLogEventIsLenientAndKeepsRaw(t *testing.T) {
	raw := json.RawMessage(`{"uuid":"u1","eventType":"user.lifecycle.deactivate","actor":{"id":7},"target":[{"id":"00u2","type":"User"}],"outcome":{"result":"Success"}}`)
	ev := Event{UUID: "u1", Raw: raw}
	le := ev.LogEvent()
	if le.UUID != "u1" || len(le.TargetsOfType(okta.TypeUser)) != 1 || !le.Outcome.Result.Is(okta.ResultSuccess) || le.Actor.ID != "" || !bytes.Equal(le.Raw, raw) || !bytes.Equal(ev.Raw, raw) {
		t.Fatalf("%+v", le)
	}
}

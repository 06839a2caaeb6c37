package okta

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

const sampleDelivery = `{
  "eventType": "com.okta.event_hook",
  "eventTypeVersion": "1.0",
  "cloudEventsVersion": "0.1",
  "source": "https://example.okta.com/api/v1/eventHooks/whoql0HfiLGPWc8Jx0g3",
  "eventId": "b5a188b9-5ece-4636-b041-482ffda96311",
  "eventTime": "2019-03-27T16:59:53.032Z",
  "contentType": "application/json",
  "data": {"events": [
    {"uuid": "b", "published": "2019-03-27T16:59:53.032Z", "eventType": "user.lifecycle.deactivate", "displayMessage": "Deactivate <Okta> user & more"},
    {"uuid": "a",   "published": "2019-03-27T16:59:52.000Z", "eventType": "user.lifecycle.create"}
  ]}
}`

func TestParseDelivery(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		wantErr    error
		wantEvents int
	}{
		{name: "okta sample", body: sampleDelivery, wantEvents: 2},
		{name: "empty events", body: `{"eventType":"com.okta.event_hook","data":{"events":[]}}`, wantEvents: 0},
		{name: "unknown fields kept lenient", body: `{"eventType":"com.okta.event_hook","eventId":42,"extra":{"x":1},"data":{"events":[{"uuid":1}],"more":true}}`, wantEvents: 1},
		{name: "event not an object still counted", body: `{"eventType":"com.okta.event_hook","data":{"events":["junk",{"uuid":"u"}]}}`, wantEvents: 2},
		{name: "malformed json", body: `{"eventType":`, wantErr: ErrMalformed},
		{name: "not utf8", body: "{\"eventType\":\"com.okta.event_hook\",\"x\":\"\xff\"}", wantErr: ErrMalformed},
		{name: "empty body", body: ``, wantErr: ErrMalformed},
		{name: "json array", body: `[]`, wantErr: ErrNotEventHook},
		{name: "json string", body: `"hello"`, wantErr: ErrNotEventHook},
		{name: "wrong eventType", body: `{"eventType":"com.example","data":{"events":[]}}`, wantErr: ErrNotEventHook},
		{name: "missing eventType", body: `{"data":{"events":[]}}`, wantErr: ErrNotEventHook},
		{name: "missing data", body: `{"eventType":"com.okta.event_hook"}`, wantErr: ErrNotEventHook},
		{name: "data not object", body: `{"eventType":"com.okta.event_hook","data":[]}`, wantErr: ErrNotEventHook},
		{name: "events null", body: `{"eventType":"com.okta.event_hook","data":{"events":null}}`, wantErr: ErrNotEventHook},
		{name: "events object", body: `{"eventType":"com.okta.event_hook","data":{"events":{}}}`, wantErr: ErrNotEventHook},
		{name: "trailing garbage", body: `{"eventType":"com.okta.event_hook","data":{"events":[]}} x`, wantErr: ErrMalformed},
		// Keys are matched exactly: encoding/json alone would read these.
		{name: "DATA is not data", body: `{"eventType":"com.okta.event_hook","DATA":{"events":[]}}`, wantErr: ErrNotEventHook},
		{name: "EVENTS is not events", body: `{"eventType":"com.okta.event_hook","data":{"EVENTS":[]}}`, wantErr: ErrNotEventHook},
		{name: "EventType is not eventType", body: `{"EventType":"com.okta.event_hook","data":{"events":[]}}`, wantErr: ErrNotEventHook},
		// A repeated key could mean two deliveries to two readers.
		{name: "data twice", body: `{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"a"}]},"data":{"events":[]}}`, wantErr: ErrAmbiguous},
		{name: "events twice", body: `{"eventType":"com.okta.event_hook","data":{"events":[],"events":[{"uuid":"a"}]}}`, wantErr: ErrAmbiguous},
		{name: "eventType twice", body: `{"eventType":"x","eventType":"com.okta.event_hook","data":{"events":[]}}`, wantErr: ErrAmbiguous},
		{name: "both id spellings", body: `{"eventType":"com.okta.event_hook","eventId":"a","eventID":"b","data":{"events":[]}}`, wantErr: ErrAmbiguous},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := ParseDelivery([]byte(tt.body))
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if len(d.Events) != tt.wantEvents {
				t.Fatalf("events = %d, want %d", len(d.Events), tt.wantEvents)
			}
		})
	}
}

func TestParseDeliveryKeepsRawEvent(t *testing.T) {
	d, err := ParseDelivery([]byte(sampleDelivery))
	if err != nil {
		t.Fatal(err)
	}
	if d.EventID != "b5a188b9-5ece-4636-b041-482ffda96311" || d.HookURL == "" || d.EventTypeVersion != "1.0" {
		t.Errorf("envelope fields not read: %+v", d)
	}
	want := `{"uuid": "b", "published": "2019-03-27T16:59:53.032Z", "eventType": "user.lifecycle.deactivate", "displayMessage": "Deactivate <Okta> user & more"}`
	if string(d.Events[0].Raw) != want {
		t.Errorf("raw event changed:\n got %s\nwant %s", d.Events[0].Raw, want)
	}
	if got := d.Events[1]; got.UUID != "a" || got.EventType != "user.lifecycle.create" || got.Published != "2019-03-27T16:59:52.000Z" {
		t.Errorf("fields = %+v", got)
	}
}

// Some of Okta's documentation spells the delivery id eventID.
func TestParseDeliveryReadsEitherIDSpelling(t *testing.T) {
	for _, key := range []string{"eventId", "eventID"} {
		d, err := ParseDelivery([]byte(`{"eventType":"com.okta.event_hook","` + key + `":"d-1","data":{"events":[]}}`))
		if err != nil || d.EventID != "d-1" {
			t.Fatalf("%s: %+v, %v", key, d, err)
		}
	}
}

// An event's routing fields are read by exact key; an event with one of
// them twice keeps empty fields (the worker parks it), and the rest of the
// delivery is unaffected.
func TestParseEventExactKeys(t *testing.T) {
	tests := []struct {
		raw  string
		want Event
	}{
		{`{"uuid":"u","eventType":"t","published":"p"}`, Event{UUID: "u", EventType: "t", Published: "p"}},
		{`{"UUID":"u","EventType":"t","Published":"p"}`, Event{}},
		{`{"uuid":"u","uuid":"v","eventType":"t"}`, Event{}},
		{`{"uuid":"u","eventType":"t","eventType":"t"}`, Event{}},
		{`{"uuid":"u","other":1,"other":2}`, Event{UUID: "u"}},
		{`["uuid","u"]`, Event{}},
	}
	for _, tt := range tests {
		got := ParseEvent(json.RawMessage(tt.raw))
		if got.UUID != tt.want.UUID || got.EventType != tt.want.EventType || got.Published != tt.want.Published || string(got.Raw) != tt.raw {
			t.Errorf("ParseEvent(%s) = %+v, want %+v", tt.raw, got, tt.want)
		}
	}
}

func TestDedupeAndSort(t *testing.T) {
	events := []Event{
		{UUID: "c", Published: "2024-01-01T00:00:03Z"},
		{UUID: "a", Published: "2024-01-01T00:00:01.5Z"},
		{UUID: "c", Published: "2024-01-01T00:00:03Z"},
		{UUID: "", Published: "not a time"},
		{UUID: "", Published: ""},
		{UUID: "b", Published: "2024-01-01T00:00:02Z"},
	}
	unique, dropped := Dedupe(events)
	if dropped != 1 || len(unique) != 5 {
		t.Fatalf("dropped %d, kept %d", dropped, len(unique))
	}
	SortByPublished(unique)
	var order []string
	for _, ev := range unique {
		order = append(order, ev.UUID+"|"+ev.Published)
	}
	want := []string{"a|2024-01-01T00:00:01.5Z", "b|2024-01-01T00:00:02Z", "c|2024-01-01T00:00:03Z", "|not a time", "|"}
	for i := range want {
		if order[i] != want[i] {
			t.Fatalf("order = %q, want %q", order, want)
		}
	}
}

func FuzzParseDelivery(f *testing.F) {
	f.Add([]byte(sampleDelivery))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[]}}`))
	f.Add([]byte(`{"eventType":"com.okta.event_hook","data":{"events":[1,"x",null,{"uuid":"u"}]}}`))
	f.Add([]byte(`[]`))
	// The sample deliveries shipped for sam local invoke are seeds too.
	if files, _ := filepath.Glob("../../events/*.json"); len(files) > 0 {
		for _, file := range files {
			if b, err := os.ReadFile(file); err == nil {
				var req struct {
					Body string `json:"body"`
				}
				if json.Unmarshal(b, &req) == nil && req.Body != "" {
					f.Add([]byte(req.Body))
				}
			}
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := ParseDelivery(body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrNotEventHook) && !errors.Is(err, ErrAmbiguous) {
				t.Fatalf("unclassified error: %v", err)
			}
			return
		}
		if d.EventType != EventHookType {
			t.Fatalf("accepted eventType %q", d.EventType)
		}
		for _, ev := range d.Events {
			if !json.Valid(ev.Raw) {
				t.Fatalf("raw event is not valid JSON: %q", ev.Raw)
			}
		}
		// The events are the ones encoding/json finds, byte for byte.
		var top, data map[string]json.RawMessage
		var ref []json.RawMessage
		if json.Unmarshal(body, &top) != nil || json.Unmarshal(top["data"], &data) != nil || json.Unmarshal(data["events"], &ref) != nil {
			t.Fatalf("accepted a delivery encoding/json cannot read: %s", body)
		}
		if len(ref) != len(d.Events) {
			t.Fatalf("%d events, encoding/json finds %d", len(d.Events), len(ref))
		}
		for i := range ref {
			if !bytes.Equal(ref[i], d.Events[i].Raw) {
				t.Fatalf("event %d = %s, encoding/json finds %s", i, d.Events[i].Raw, ref[i])
			}
		}
	})
}

// Package okta parses Okta event hook deliveries.
//
// Parsing is lenient: only what hookline needs is checked, and each event's
// raw JSON is kept byte for byte so handlers see exactly what Okta sent.
package okta

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// EventHookType is the eventType of every event hook delivery.
const EventHookType = "com.okta.event_hook"

var (
	// ErrMalformed means the body is not valid JSON (or not UTF-8).
	ErrMalformed = errors.New("body is not valid JSON")
	// ErrNotEventHook means the JSON is not an Okta event hook delivery.
	ErrNotEventHook = errors.New("body is not an Okta event hook delivery")
)

// Delivery is one POST from Okta.
type Delivery struct {
	EventType          string  `json:"eventType"`
	EventTypeVersion   string  `json:"eventTypeVersion"`
	CloudEventsVersion string  `json:"cloudEventsVersion"`
	Source             string  `json:"source"`
	EventID            string  `json:"eventId"`
	EventTime          string  `json:"eventTime"`
	ContentType        string  `json:"contentType"`
	Events             []Event `json:"-"`
}

// Event is one System Log LogEvent of a delivery.
type Event struct {
	UUID      string
	EventType string
	Published string
	// Raw is the event exactly as it appeared in the delivery.
	Raw json.RawMessage
}

// wire is the delivery as decoded; a separate type keeps Delivery's fields
// plain strings even when Okta sends a field we do not expect as a string.
type wire struct {
	EventType          json.RawMessage `json:"eventType"`
	EventTypeVersion   json.RawMessage `json:"eventTypeVersion"`
	CloudEventsVersion json.RawMessage `json:"cloudEventsVersion"`
	Source             json.RawMessage `json:"source"`
	EventID            json.RawMessage `json:"eventId"`
	EventTime          json.RawMessage `json:"eventTime"`
	ContentType        json.RawMessage `json:"contentType"`
	Data               *struct {
		Events *[]Event `json:"events"`
	} `json:"data"`
}

// UnmarshalJSON keeps the event's raw bytes and reads its routing fields, so
// a delivery is decoded in one pass over the body.
func (e *Event) UnmarshalJSON(raw []byte) error {
	*e = ParseEvent(append(json.RawMessage(nil), raw...))
	return nil
}

// ParseDelivery decodes a delivery body. The error wraps ErrMalformed or
// ErrNotEventHook, so a caller can map it to a status code.
func ParseDelivery(body []byte) (*Delivery, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrMalformed)
	}
	var w wire
	if err := json.Unmarshal(body, &w); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			switch typeErr.Field {
			case "":
				return nil, fmt.Errorf("%w: the body must be a JSON object", ErrNotEventHook)
			case "data.events":
				return nil, fmt.Errorf("%w: data.events must be an array", ErrNotEventHook)
			}
			return nil, fmt.Errorf("%w: %s must be an object", ErrNotEventHook, typeErr.Field)
		}
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	d := &Delivery{
		EventType:          stringOf(w.EventType),
		EventTypeVersion:   stringOf(w.EventTypeVersion),
		CloudEventsVersion: stringOf(w.CloudEventsVersion),
		Source:             stringOf(w.Source),
		EventID:            stringOf(w.EventID),
		EventTime:          stringOf(w.EventTime),
		ContentType:        stringOf(w.ContentType),
	}
	if d.EventType != EventHookType {
		return nil, fmt.Errorf("%w: eventType must be %q", ErrNotEventHook, EventHookType)
	}
	if w.Data == nil || w.Data.Events == nil {
		return nil, fmt.Errorf("%w: data.events must be an array", ErrNotEventHook)
	}
	d.Events = *w.Data.Events
	return d, nil
}

// eventFields are the LogEvent fields hookline routes and dedupes on.
type eventFields struct {
	UUID      json.RawMessage `json:"uuid"`
	EventType json.RawMessage `json:"eventType"`
	Published json.RawMessage `json:"published"`
}

// ParseEvent reads the routing fields of one LogEvent. An event that is not an
// object, or whose fields are not strings, keeps empty fields instead of
// failing: it is still enqueued, and the worker parks it in the DLQ.
func ParseEvent(raw json.RawMessage) Event {
	ev := Event{Raw: raw}
	var f eventFields
	if json.Unmarshal(raw, &f) == nil {
		ev.UUID = stringOf(f.UUID)
		ev.EventType = stringOf(f.EventType)
		ev.Published = stringOf(f.Published)
	}
	return ev
}

func stringOf(raw json.RawMessage) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return s
}

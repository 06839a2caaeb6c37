// Package okta is Okta's side of hookline: event hook deliveries, parsed
// here, and the System Log events they carry (LogEvent).
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
	// ErrAmbiguous means a key hookline reads appears twice, so two readers
	// could see two different deliveries.
	ErrAmbiguous = errors.New("body is ambiguous")
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

// UnmarshalJSON keeps the event's raw bytes and reads its routing fields.
func (e *Event) UnmarshalJSON(raw []byte) error {
	*e = ParseEvent(append(json.RawMessage(nil), raw...))
	return nil
}

// ParseDelivery decodes a delivery body. The error wraps ErrMalformed,
// ErrNotEventHook or ErrAmbiguous, so a caller can map it to a status code.
//
// Keys are matched exactly, as Okta sends them: encoding/json's
// case-insensitive matching would read "DATA" as "data". The delivery id is
// read from "eventId", or from "eventID", which some of Okta's documentation
// shows. A key hookline reads that appears twice (or both spellings of the
// id) is refused, since JSON readers disagree on which copy counts.
func ParseDelivery(body []byte) (*Delivery, error) {
	if !utf8.Valid(body) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrMalformed)
	}
	if !json.Valid(body) {
		return nil, ErrMalformed
	}
	top, err := members(body, nil)
	if err != nil {
		if errors.Is(err, errNotObject) {
			return nil, fmt.Errorf("%w: the body must be a JSON object", ErrNotEventHook)
		}
		return nil, err
	}
	id, idOK := top["eventId"]
	if alt, ok := top["eventID"]; ok {
		if idOK {
			return nil, fmt.Errorf("%w: both eventId and eventID are present", ErrAmbiguous)
		}
		id = alt
	}
	d := &Delivery{
		EventType:          stringOf(top["eventType"]),
		EventTypeVersion:   stringOf(top["eventTypeVersion"]),
		CloudEventsVersion: stringOf(top["cloudEventsVersion"]),
		Source:             stringOf(top["source"]),
		EventID:            stringOf(id),
		EventTime:          stringOf(top["eventTime"]),
		ContentType:        stringOf(top["contentType"]),
	}
	if d.EventType != EventHookType {
		return nil, fmt.Errorf("%w: eventType must be %q", ErrNotEventHook, EventHookType)
	}
	data, ok := top["data"]
	if !ok {
		return nil, fmt.Errorf("%w: data.events must be an array", ErrNotEventHook)
	}
	inner, err := members(data, nil)
	if err != nil {
		if errors.Is(err, errNotObject) {
			return nil, fmt.Errorf("%w: data must be an object", ErrNotEventHook)
		}
		return nil, fmt.Errorf("%w in data", err)
	}
	raw := inner["events"]
	if len(raw) == 0 || raw[0] != '[' {
		return nil, fmt.Errorf("%w: data.events must be an array", ErrNotEventHook)
	}
	eachElement(raw, func(ev []byte) {
		d.Events = append(d.Events, parseEvent(ev))
	})
	if d.Events == nil {
		d.Events = []Event{}
	}
	return d, nil
}

// eventKeys are the LogEvent fields hookline routes and dedupes on.
var eventKeys = map[string]bool{"uuid": true, "eventType": true, "published": true}

// ParseEvent reads the routing fields of one LogEvent, matching keys
// exactly. An event that is not an object, whose fields are not strings, or
// that has one of them twice, keeps empty fields instead of failing: it is
// still enqueued, and the worker parks it in the DLQ.
func ParseEvent(raw json.RawMessage) Event {
	if !json.Valid(raw) {
		return Event{Raw: raw}
	}
	return parseEvent(raw)
}

// parseEvent is ParseEvent for raw known to be valid JSON.
func parseEvent(raw json.RawMessage) Event {
	ev := Event{Raw: raw}
	f, err := members(raw, eventKeys)
	if err != nil {
		return ev
	}
	ev.UUID = stringOf(f["uuid"])
	ev.EventType = stringOf(f["eventType"])
	ev.Published = stringOf(f["published"])
	return ev
}

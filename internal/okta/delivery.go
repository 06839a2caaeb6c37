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
	"strconv"
	"strings"
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
	HookURL            string  `json:"source"` // the event hook's URL
	EventID            string  `json:"eventId"`
	EventTime          string  `json:"eventTime"`
	ContentType        string  `json:"contentType"`
	Events             []Event `json:"-"`
}

// Event is one System Log LogEvent of a delivery, or of a System Log page:
// its routing fields, as ParseEvent reads them.
type Event struct {
	UUID      string
	EventType string
	Published string
	// Raw is the event exactly as it appeared in the delivery.
	Raw json.RawMessage
	// Unkeyable says why UUID is empty ("" when it is set): the event has
	// no uuid hookline can key it by (see ParseEvent). Such an event is
	// never merged with another: it is queued on its own and parked.
	Unkeyable string
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
		HookURL:            stringOf(top["source"]),
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
var eventKeys = [...]string{"uuid", "eventType", "published"}

// ParseEvent reads the routing fields of one LogEvent: it is the one reading
// of an event's uuid, eventType and published in hookline (the receiver, the
// reconciler, the worker, redrive and LogEvent all use it), so that no two
// parts of hookline can see two different events in the same bytes.
//
// Keys are matched exactly. A routing field is read only when it is a JSON
// string that decodes to exactly what was sent (no escape of a lone UTF-16
// surrogate, which decoders turn into U+FFFD, so that "\ud800" and "\ud801"
// would be one uuid; valid UTF-8), with no control character nor a
// character SQS refuses (U+FFFE, U+FFFF); otherwise it is empty. A uuid must
// also be non-empty and at most MaxUUIDBytes.
//
// An event that is not an object, or that has a routing key twice or a key
// that differs from one only in case ({"uuid":"A","UUID":"B"}: readers that
// fold case would see B), keeps all three fields empty: which copy counts
// cannot be told. An event without a usable uuid is not refused: Unkeyable
// says why, the receiver queues it on its own (never deduplicated), and the
// worker parks it in the DLQ.
func ParseEvent(raw json.RawMessage) Event {
	if !json.Valid(raw) {
		return Event{Raw: raw, Unkeyable: "not valid JSON"}
	}
	return parseEvent(raw)
}

// MaxUUIDBytes bounds an event uuid: the ledger's keys ("delivered#<uuid>",
// "<uuid>#<handler>") must fit DynamoDB's 2,048-byte partition key.
const MaxUUIDBytes = 1024

// parseEvent is ParseEvent for raw known to be valid JSON.
func parseEvent(raw json.RawMessage) Event {
	ev := Event{Raw: raw}
	var f [len(eventKeys)][]byte
	err := eachMember(raw, func(key string, val []byte) error {
		for i, k := range eventKeys {
			switch {
			case key == k && f[i] != nil:
				return fmt.Errorf("key %q appears twice", k)
			case key == k:
				f[i] = val
			case strings.EqualFold(key, k):
				return fmt.Errorf("keys %q and %q differ only in case", k, key)
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, errNotObject):
		ev.Unkeyable = "not a JSON object"
		return ev
	case err != nil:
		ev.Unkeyable = "ambiguous: " + err.Error()
		return ev
	}
	var why string
	ev.UUID, why = routingString(f[0])
	ev.EventType, _ = routingString(f[1])
	ev.Published, _ = routingString(f[2])
	switch {
	case why != "":
		ev.Unkeyable = "uuid " + why
	case len(ev.UUID) > MaxUUIDBytes:
		ev.UUID, ev.Unkeyable = "", fmt.Sprintf("uuid longer than %d bytes", MaxUUIDBytes)
	}
	return ev
}

// routingString reads a routing field's raw JSON value, or says why it
// cannot: missing, not a string, empty, or not a well-formed string.
func routingString(raw []byte) (string, string) {
	switch {
	case raw == nil:
		return "", "missing"
	case raw[0] != '"':
		return "", "not a string"
	case !utf8.Valid(raw):
		return "", "not valid UTF-8"
	case loneSurrogate(raw):
		return "", "has an escaped lone surrogate (\\ud800-\\udfff), which no reader keeps as sent"
	}
	s := stringOf(raw)
	if s == "" {
		return "", "empty"
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffe || r == 0xffff {
			return "", fmt.Sprintf("has the character %U", r)
		}
	}
	return s, ""
}

// loneSurrogate reports whether the JSON string raw holds a \u escape of a
// UTF-16 surrogate that is not a high one followed by a low one.
func loneSurrogate(raw []byte) bool {
	hex4 := func(i int) (rune, bool) { // the 4 hex digits after raw[i:i+2] == `\u`
		if i+6 > len(raw) || raw[i] != '\\' || raw[i+1] != 'u' {
			return 0, false
		}
		n, err := strconv.ParseUint(string(raw[i+2:i+6]), 16, 32)
		return rune(n), err == nil
	}
	for i := 1; i < len(raw)-1; i++ {
		if raw[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		if !ok {
			i++ // a two-character escape: skip its second byte
			continue
		}
		switch {
		case r >= 0xd800 && r < 0xdc00:
			low, ok := hex4(i + 6)
			if !ok || low < 0xdc00 || low >= 0xe000 {
				return true
			}
			i += 11
		case r >= 0xdc00 && r < 0xe000:
			return true
		default:
			i += 5
		}
	}
	return false
}

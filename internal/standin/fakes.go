package standin

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The fake Okta events and deliveries of hookline: `hookline send`, `make
// dev`, the stand-in org and the tests make theirs here.

// DevHookURL is the hook URL (a delivery's "source") of the deliveries
// `hookline send` and the tests make: an event hook of the stand-in's
// made-up org.
const DevHookURL = "https://dev-00000000.okta.com/api/v1/eventHooks/hookline-dev"

// Delivery builds an Okta event hook delivery of events (raw LogEvents) from
// the hook at hookURL, with a fresh eventId, as Okta sends it.
func Delivery(hookURL string, events ...json.RawMessage) []byte {
	if events == nil {
		events = []json.RawMessage{}
	}
	d := map[string]any{
		"eventType":          "com.okta.event_hook",
		"eventTypeVersion":   "1.0",
		"cloudEventsVersion": "0.1",
		"source":             hookURL,
		"eventId":            NewUUID(),
		"eventTime":          time.Now().UTC().Format(time.RFC3339Nano),
		"contentType":        "application/json",
		"data":               map[string]any{"events": events},
	}
	b, _ := json.Marshal(d) // plain maps always marshal
	return b
}

// Event returns a LogEvent document as Okta writes it, with the fields
// hookline reads and a few it keeps untouched.
func Event(uuid, eventType string, published time.Time) []byte {
	return []byte(`{"actor":{"id":"00u1","type":"User","alternateId":"admin@example.com","displayName":"Admin"},` +
		`"client":{"ipAddress":"198.51.100.7"},"displayMessage":"Test <event> & more","eventType":"` + eventType +
		`","outcome":{"result":"SUCCESS"},"published":"` + published.UTC().Format("2006-01-02T15:04:05.000Z") +
		`","severity":"INFO","uuid":"` + uuid + `","version":"0","target":[{"id":"00u2","type":"User"}]}`)
}

// NewEvent generates an Okta System Log event of eventType with a fresh uuid,
// published now. Event makes one with a given uuid and time.
func NewEvent(eventType string) (uuid string, raw json.RawMessage) {
	uuid = NewUUID()
	ev := map[string]any{
		"uuid":           uuid,
		"published":      time.Now().UTC().Format(time.RFC3339Nano),
		"eventType":      eventType,
		"version":        "0",
		"severity":       "INFO",
		"displayMessage": "hookline send: " + eventType,
		"actor":          map[string]any{"id": "00u1hooklinedev", "type": "User", "alternateId": "dev@example.com", "displayName": "Dev User"},
		"outcome":        map[string]any{"result": "SUCCESS"},
		"target":         []any{map[string]any{"id": "00u2hooklinedev", "type": "User", "alternateId": "target@example.com", "displayName": "Target User"}},
		"client":         map[string]any{"ipAddress": "198.51.100.23", "userAgent": map[string]any{"rawUserAgent": "hookline-send"}},
		"transaction":    map[string]any{"id": NewUUID(), "type": "WEB"},
	}
	b, _ := json.Marshal(ev)
	return uuid, b
}

// ErrNotDelivery marks a file that holds no delivery.
var ErrNotDelivery = errors.New("not an Okta event hook delivery")

// DeliveryFromFile reads a delivery body from a file holding either an API
// Gateway (payload 2.0) POST event, whose body is taken (base64-decoded if
// need be), or a raw Okta delivery. Anything else (a verification GET, the
// worker's SQS event) is an error wrapping ErrNotDelivery that says what the
// file is instead.
func DeliveryFromFile(data []byte) ([]byte, error) {
	var probe struct {
		Version         string  `json:"version"`
		RouteKey        string  `json:"routeKey"`
		Body            *string `json:"body"`
		IsBase64Encoded bool    `json:"isBase64Encoded"`
		EventType       string  `json:"eventType"`
		Records         []any   `json:"Records"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotDelivery, err)
	}
	switch {
	case probe.EventType != "":
		return data, nil
	case probe.RouteKey != "" || probe.Version != "":
		if probe.Body == nil || !strings.HasPrefix(probe.RouteKey, "POST") {
			return nil, fmt.Errorf("%w: an API Gateway %q event without a body", ErrNotDelivery, probe.RouteKey)
		}
		if probe.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*probe.Body)
			if err != nil {
				return nil, fmt.Errorf("%w: body is not base64: %v", ErrNotDelivery, err)
			}
			return b, nil
		}
		return []byte(*probe.Body), nil
	case probe.Records != nil:
		return nil, fmt.Errorf("%w: an SQS event (the worker's input)", ErrNotDelivery)
	}
	return nil, fmt.Errorf("%w: neither an API Gateway event nor an Okta delivery", ErrNotDelivery)
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

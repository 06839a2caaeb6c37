// Package envelope is the SQS message format between the receiver and the
// worker: a small versioned wrapper around one Okta LogEvent, kept raw.
package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Version is the envelope version this build writes and reads.
const Version = 1

// Message attribute names. The receiver sets the event's on every message;
// the worker adds the parked ones to a message it sends to the DLQ, and
// redrive reads them back.
const (
	AttrEventUUID = "eventUuid"
	AttrEventType = "eventType"
	AttrPublished = "published"

	AttrFailureReason  = "failureReason"
	AttrFailedHandler  = "failedHandler"
	AttrFirstFailureAt = "firstFailureAt" // RFC 3339
	// AttrReceiveCount is how many times the events queue had delivered the
	// message when it was parked: the worker's tries. The DLQ's own
	// ApproximateReceiveCount counts receives from the DLQ instead.
	AttrReceiveCount = "receiveCount"
)

// ErrInvalid means a message body is not an envelope this worker can read.
var ErrInvalid = errors.New("invalid envelope")

// Message is one event as it travels through SQS.
type Message struct {
	V          int             `json:"v"`
	DeliveryID string          `json:"deliveryId"`
	Source     string          `json:"source,omitempty"`
	ReceivedAt time.Time       `json:"receivedAt"`
	Event      json.RawMessage `json:"event"`
}

// Encode writes the envelope. The event is appended byte for byte:
// json.Marshal would compact it and escape <, > and &, and handlers are
// promised the raw JSON Okta sent.
func Encode(deliveryID, source string, receivedAt time.Time, event json.RawMessage) []byte {
	var b bytes.Buffer
	b.Grow(len(event) + len(deliveryID) + len(source) + 96)
	b.WriteString(`{"v":`)
	b.WriteString(strconv.Itoa(Version))
	b.WriteString(`,"deliveryId":`)
	writeString(&b, deliveryID)
	if source != "" {
		b.WriteString(`,"source":`)
		writeString(&b, source)
	}
	b.WriteString(`,"receivedAt":"`)
	b.WriteString(receivedAt.UTC().Format(time.RFC3339Nano))
	b.WriteString(`","event":`)
	b.Write(event)
	b.WriteByte('}')
	return b.Bytes()
}

func writeString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always marshals
	b.Write(enc)
}

// Decode reads an envelope and checks what the worker relies on.
func Decode(body []byte) (Message, error) {
	var m Message
	if err := json.Unmarshal(body, &m); err != nil {
		return Message{}, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if m.V != Version {
		return Message{}, fmt.Errorf("%w: version %d, this worker reads version %d", ErrInvalid, m.V, Version)
	}
	ev := bytes.TrimLeft(m.Event, " \t\r\n")
	if len(ev) == 0 || ev[0] != '{' {
		return Message{}, fmt.Errorf("%w: event is not a JSON object", ErrInvalid)
	}
	return m, nil
}

// Package envelope is the SQS message format between the receiver (or the
// reconciler, or a replay) and the worker: a small versioned wrapper around
// one Okta LogEvent, kept raw.
//
// It is also where hookline's vocabulary is written down, since every
// function shares this message. One word per concept:
//
//   - delivery: one POST from Okta's event hook, carrying events
//     (okta.Delivery); its delivery id is Okta's eventId.
//   - hook URL: the URL of the event hook that sent a delivery (Okta's
//     "source" field, okta.Delivery.HookURL).
//   - origin: where an event came from. In the envelope (Message.Origin,
//     handlers.Event.Origin) it is the hook URL of a delivery, or
//     OriginSystemLog for an event read from the System Log. In a delivery
//     mark it is OriginHook, OriginSystemLog, OriginReplay or
//     OriginLogStream (which an envelope from the stream carries too).
//   - org: the Okta org that sent an event (Message.Org,
//     handlers.Event.Org); "" is the stack's one org.
//   - intake: the one way events become queue messages and delivery marks
//     (package intake), whichever channel brought them.
//   - delivery mark (mark): the ledger item that says an event reached the
//     events queue (ledger.Marks), so the reconciler and a replay skip it.
//     An event with a mark is "marked"; a mark is never called a record.
//   - handler record: the ledger item of one handler's run on one event
//     (ledger.Ledger: claimed, completed).
//   - record: inside the worker, one message of an SQS batch as Lambda
//     hands it (events.SQSMessage), Lambda's own word.
//   - events queue, DLQ; park: send to the DLQ; redrive: move from the DLQ
//     back to the events queue.
//   - recover: the reconciler queues an unmarked event it read from the
//     System Log; replay: hookline replay does the same for a chosen window.
//   - cursor: where a System Log read stopped (ledger.Cursors).
//   - stand-in org: the stand-in Okta org of make dev and the tests
//     (internal/standin), the only maker of fake Okta events and deliveries.
//
// "Source" keeps only AWS's and networking's own senses: an EventBridge
// entry's Source, Lambda's SQS event source, a request's source IP and the
// source CIDRs. Stored and logged names stay as they were (the envelope's
// JSON key "source", the mark's attribute "source"), so older messages and
// marks read the same.
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

// Origins of an event: how it reached the events queue. A delivery mark
// carries one; an envelope carries OriginSystemLog, or the hook URL of the
// delivery for an event from the hook.
const (
	OriginHook      = "hook"      // the receiver queued it from an Okta event hook call
	OriginSystemLog = "systemlog" // the reconciler recovered it from the System Log
	OriginReplay    = "replay"    // hookline replay queued it
	// OriginLogStream: the stream intake queued it from Okta Log Streaming
	// (an EventBridge partner event source). The envelope carries it too.
	OriginLogStream = "logstream"
)

// Message attribute names. The receiver sets the event's on every message;
// the worker adds the parked ones to a message it sends to the DLQ, and
// redrive reads them back.
const (
	AttrEventUUID = "eventUuid"
	AttrEventType = "eventType"
	AttrPublished = "published"
	// AttrOrg is the org that sent the event, set only when the message has
	// one (Message.Org): a single-org stack's messages carry no org.
	AttrOrg = "org"

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
	V          int    `json:"v"`
	DeliveryID string `json:"deliveryId"`
	// Origin is the hook URL of the delivery, or OriginSystemLog. The JSON
	// key is "source", as in every message written so far.
	Origin string `json:"source,omitempty"`
	// Org is the Okta org that sent the event; "" is the stack's one org
	// (and every message written before orgs existed).
	Org        string          `json:"org,omitempty"`
	ReceivedAt time.Time       `json:"receivedAt"`
	Event      json.RawMessage `json:"event"`
}

// Encode writes the envelope. The event is appended byte for byte:
// json.Marshal would compact it and escape <, > and &, and handlers are
// promised the raw JSON Okta sent.
func Encode(deliveryID, origin string, receivedAt time.Time, event json.RawMessage) []byte {
	return EncodeOrg("", deliveryID, origin, receivedAt, event)
}

// EncodeOrg is Encode with the org that sent the event. An empty org is
// left out, so a single-org stack writes the bytes Encode always wrote.
func EncodeOrg(org, deliveryID, origin string, receivedAt time.Time, event json.RawMessage) []byte {
	var b bytes.Buffer
	b.Grow(len(event) + len(deliveryID) + len(origin) + len(org) + 104)
	b.WriteString(`{"v":`)
	b.WriteString(strconv.Itoa(Version))
	b.WriteString(`,"deliveryId":`)
	writeString(&b, deliveryID)
	if origin != "" {
		b.WriteString(`,"source":`)
		writeString(&b, origin)
	}
	if org != "" {
		b.WriteString(`,"org":`)
		writeString(&b, org)
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

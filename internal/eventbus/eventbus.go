// Package eventbus is the built-in handler that puts every Okta event on an
// EventBridge bus, for consumers that write no Go: rules on the bus match
// the Okta event type (detail-type) and send the event to any target.
//
// Each event becomes one PutEvents entry: Source (default DefaultSource),
// DetailType = the Okta eventType, Time = published, Detail = the event's
// raw JSON as Okta sent it. Entries of the records a worker handles at once
// are sent together, at most MaxEntries and MaxRequestBytes a request. A
// failed entry fails only its own record (retried with the worker's
// backoff); an event larger than EventBridge accepts is refused with a
// permanent error, so the worker parks it with that reason.
package eventbus

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"github.com/hookline/hookline/internal/handlers"
)

// EventBridge's limits on one PutEvents request.
const (
	MaxEntries      = 10
	MaxRequestBytes = 256 * 1024
	// timeBytes is what a Time counts for in an entry's size.
	timeBytes = 14
)

// DefaultSource is the Source of the entries unless set.
const DefaultSource = "hookline.okta"

// DefaultLinger is how long the first entry of a request waits for others
// before the request is sent with what it has.
const DefaultLinger = 10 * time.Millisecond

// ErrTooLarge means an event's entry is larger than a PutEvents request may
// be; retrying cannot help.
var ErrTooLarge = errors.New("event too large for EventBridge")

// ErrEntryFailed wraps an entry EventBridge did not accept.
var ErrEntryFailed = errors.New("EventBridge refused the entry")

// API is the EventBridge call the publisher makes.
type API interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// Publisher puts events on one bus. Use Handler as a handlers.Handler.
type Publisher struct {
	Client API
	// Bus is the event bus name or ARN.
	Bus string
	// Source is the entries' Source; empty means DefaultSource.
	Source string
	// Linger is how long a request waits to fill; zero means DefaultLinger.
	Linger time.Duration

	requests atomic.Int64

	mu      sync.Mutex
	pending []*entry
	bytes   int
	timer   *time.Timer
}

// entry is one event waiting for its request.
type entry struct {
	in       types.PutEventsRequestEntry
	size     int
	deadline time.Time // the handler's; zero: none
	done     chan error
}

// Requests is the number of PutEvents requests sent so far.
func (p *Publisher) Requests() int64 { return p.requests.Load() }

// EntrySize is an entry's size as EventBridge counts it against
// MaxRequestBytes: 14 bytes for a Time, plus the UTF-8 bytes of Source,
// DetailType and Detail.
func EntrySize(e types.PutEventsRequestEntry) int {
	n := len(aws.ToString(e.Source)) + len(aws.ToString(e.DetailType)) + len(aws.ToString(e.Detail))
	if e.Time != nil {
		n += timeBytes
	}
	return n
}

// Entry is the PutEvents entry for an event.
func (p *Publisher) Entry(ev handlers.Event) types.PutEventsRequestEntry {
	source := p.Source
	if source == "" {
		source = DefaultSource
	}
	e := types.PutEventsRequestEntry{
		EventBusName: aws.String(p.Bus),
		Source:       aws.String(source),
		DetailType:   aws.String(ev.Type),
		Detail:       aws.String(string(ev.Raw)),
	}
	if !ev.Published.IsZero() {
		e.Time = aws.Time(ev.Published)
	}
	return e
}

// Handle puts one event on the bus, in a request shared with the events
// being handled at the same time, and returns when that request answered.
func (p *Publisher) Handle(ctx context.Context, ev handlers.Event) error {
	in := p.Entry(ev)
	size := EntrySize(in)
	switch {
	case size > MaxRequestBytes:
		return handlers.Permanent(fmt.Errorf("%w: its entry is %d bytes (Source, DetailType, Detail and Time), EventBridge takes at most %d a request", ErrTooLarge, size, MaxRequestBytes))
	case !utf8.Valid(ev.Raw) || len(ev.Raw) == 0 || ev.Raw[0] != '{':
		return handlers.Permanent(errors.New("event is not a JSON object: EventBridge needs one as Detail"))
	}
	e := &entry{in: in, size: size, done: make(chan error, 1)}
	e.deadline, _ = ctx.Deadline()
	p.add(e)
	select {
	case err := <-e.done:
		return err
	case <-ctx.Done():
		// The request may still land: the retry puts it again, and
		// consumers dedupe on detail.uuid.
		return ctx.Err()
	}
}

// add queues e, sending the pending request first if e would not fit in
// it, and sending at once when the request is full.
func (p *Publisher) add(e *entry) {
	p.mu.Lock()
	var send [][]*entry
	if len(p.pending) > 0 && p.bytes+e.size > MaxRequestBytes {
		send = append(send, p.takeLocked())
	}
	p.pending = append(p.pending, e)
	p.bytes += e.size
	switch {
	case len(p.pending) >= MaxEntries:
		send = append(send, p.takeLocked())
	case len(p.pending) == 1:
		linger := p.Linger
		if linger <= 0 {
			linger = DefaultLinger
		}
		p.timer = time.AfterFunc(linger, p.flush)
	}
	p.mu.Unlock()
	for _, batch := range send {
		go p.put(batch)
	}
}

// flush sends what is pending when the linger ran out.
func (p *Publisher) flush() {
	p.mu.Lock()
	batch := p.takeLocked()
	p.mu.Unlock()
	if len(batch) > 0 {
		p.put(batch)
	}
}

func (p *Publisher) takeLocked() []*entry {
	batch := p.pending
	p.pending, p.bytes = nil, 0
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	return batch
}

// put sends one request and answers each entry's handler: an error for
// the whole call fails them all, a failed entry only its own.
func (p *Publisher) put(batch []*entry) {
	ctx := context.Background()
	var earliest time.Time
	for _, e := range batch {
		if !e.deadline.IsZero() && (earliest.IsZero() || e.deadline.Before(earliest)) {
			earliest = e.deadline
		}
	}
	if !earliest.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, earliest)
		defer cancel()
	}
	in := &eventbridge.PutEventsInput{Entries: make([]types.PutEventsRequestEntry, len(batch))}
	for i, e := range batch {
		in.Entries[i] = e.in
	}
	p.requests.Add(1)
	out, err := p.Client.PutEvents(ctx, in)
	if err == nil && len(out.Entries) != len(batch) {
		err = fmt.Errorf("eventbridge: PutEvents answered for %d of %d entries", len(out.Entries), len(batch))
	}
	for i, e := range batch {
		switch {
		case err != nil:
			e.done <- fmt.Errorf("eventbridge: PutEvents to %s: %w", p.Bus, err)
		case aws.ToString(out.Entries[i].ErrorCode) != "":
			r := out.Entries[i]
			e.done <- fmt.Errorf("%w: %s: %s", ErrEntryFailed, aws.ToString(r.ErrorCode), aws.ToString(r.ErrorMessage))
		default:
			e.done <- nil
		}
	}
}

package intake

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/okta"
)

// Okta Log Streaming to Amazon EventBridge: the partner event source is
// aws.partner/okta.com/<org-subdomain>/<name>, and each EventBridge event
// carries one System Log LogEvent in detail, with this detail-type.
const (
	StreamSourcePrefix = "aws.partner/okta.com/"
	StreamDetailType   = "SystemLog"
)

// ErrNotOktaStream means an EventBridge event is not one of Okta's Log
// Streaming: another source, another detail-type, or no LogEvent. Sending it
// again cannot help, so it is logged and dropped, never retried.
var ErrNotOktaStream = errors.New("not an Okta Log Streaming event")

// StreamOrg is the org of a partner event source name: its org subdomain
// ("acme" of aws.partner/okta.com/acme/hookline), or ErrNotOktaStream.
func StreamOrg(source string) (string, error) {
	rest, ok := strings.CutPrefix(source, StreamSourcePrefix)
	org, name, _ := strings.Cut(rest, "/")
	if !ok || org == "" || name == "" {
		return "", fmt.Errorf("%w: source %q is not %s<org>/<name>", ErrNotOktaStream, source, StreamSourcePrefix)
	}
	return org, nil
}

// Stream takes the events Okta Log Streaming puts on the partner event bus
// into the events queue, with origin logstream and the org of the source
// name. The stream sends every event type; only the subscribed ones are
// queued. Marks are read first: an event the hook, the reconciler or an
// earlier stream event already queued is not queued again, and what the
// stream queues is marked, so the reconciler treats it as delivered.
type Stream struct {
	Publisher Publisher
	Marks     Marks
	// Types are the subscribed event types (OKTA_EVENT_TYPES): the rule
	// filters on them too, this keeps a wider rule from queueing others.
	Types []string
	Log   *slog.Logger
	// Metrics, when set, gets EventsStreamed (1 or 0) after each event.
	Metrics metrics.Sink
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// StreamResult is what Handle did with one EventBridge event.
type StreamResult struct {
	Org     string
	UUID    string
	Skipped string // why it was not queued: "unsubscribed", "marked"; "" when queued
	Queued  bool
	Marked  bool
}

// Handle takes one EventBridge event (EventBridge invokes a Lambda target
// with one event). It returns an error only when the event may not be on
// the queue, so that Lambda's asynchronous retries run it again (marks
// make a retry of a queued event a no-op). An event that is not Okta's is
// logged and dropped with a nil error: retrying it cannot help.
func (s *Stream) Handle(ctx context.Context, ev events.EventBridgeEvent) error {
	res, err := s.Take(ctx, ev)
	if s.Metrics != nil {
		n := 0.0
		if res.Queued {
			n = 1
		}
		s.Metrics.Add(metrics.EventsStreamed, n)
		if ferr := s.Metrics.Flush(ctx); ferr != nil {
			s.log().WarnContext(ctx, "metrics not written", "error", ferr.Error())
		}
	}
	switch {
	case errors.Is(err, ErrNotOktaStream):
		s.log().ErrorContext(ctx, "stream event dropped", "id", ev.ID, "source", ev.Source, "detailType", ev.DetailType, "error", err.Error())
		return nil
	case err != nil:
		// Lambda's asynchronous retries run it again; past those, the
		// reconciler recovers it from the System Log.
		s.log().ErrorContext(ctx, "stream event not queued", "eventUuid", res.UUID, "org", res.Org, "id", ev.ID, "error", err.Error())
	}
	return err
}

// Take queues one stream event through the intake, and says what it did.
func (s *Stream) Take(ctx context.Context, ev events.EventBridgeEvent) (StreamResult, error) {
	var res StreamResult
	org, err := StreamOrg(ev.Source)
	if err != nil {
		return res, err
	}
	res.Org = org
	if ev.DetailType != StreamDetailType {
		return res, fmt.Errorf("%w: detail-type %q", ErrNotOktaStream, ev.DetailType)
	}
	e := okta.ParseEvent(ev.Detail)
	raw := strings.TrimLeft(string(e.Raw), " \t\r\n")
	if raw == "" || raw[0] != '{' {
		return res, fmt.Errorf("%w: detail is not a LogEvent object", ErrNotOktaStream)
	}
	res.UUID = e.UUID
	log := s.log().With("eventUuid", e.UUID, "eventType", e.EventType, "org", org, "id", ev.ID)
	if !s.subscribed(e.EventType) {
		res.Skipped = "unsubscribed"
		log.DebugContext(ctx, "stream event not subscribed")
		return res, nil
	}
	b := Batch{Origin: envelope.OriginLogStream, DeliveryID: ev.ID, Org: org, ReceivedAt: s.now(), Events: []okta.Event{e}}
	b, marked, err := Unmarked(ctx, s.Marks, b)
	if err != nil {
		return res, fmt.Errorf("intake: stream event %s: marks unread, not queued: %w", e.UUID, err)
	}
	if marked > 0 {
		res.Skipped = "marked"
		log.InfoContext(ctx, "stream event already queued", "marked", true)
		return res, nil
	}
	qres := Queue(ctx, s.Publisher, b)
	if qerr, failed := qres.Failed[0]; failed {
		return res, fmt.Errorf("intake: stream event %s not queued: %w", e.UUID, qerr)
	}
	res.Queued = true
	n, err := Mark(ctx, s.Marks, b, qres)
	if err != nil {
		// It is on the queue; unmarked, the reconciler may queue it again,
		// and the worker's ledger absorbs that.
		log.WarnContext(ctx, "stream event not marked; the reconciler may queue it again (the ledger absorbs it)", "error", err.Error())
	}
	res.Marked = n > 0
	log.InfoContext(ctx, "stream event queued", "marked", res.Marked, "published", e.Published)
	return res, nil
}

func (s *Stream) subscribed(t string) bool {
	for _, want := range s.Types {
		if t == want {
			return true
		}
	}
	return false
}

func (s *Stream) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Stream) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Package worker runs the registered handlers on the events SQS delivers,
// and reports the records that failed so only those are retried.
//
// Delivery guarantees, when configured:
//   - Ledger: each handler runs at most once per event uuid (duplicates are
//     skipped and counted); a run already in progress elsewhere fails the
//     record so it is retried later instead of running in parallel.
//   - Delayer: a failed record is hidden for a jittered exponential backoff
//     (ChangeMessageVisibility) instead of the queue's fixed timeout.
//   - Parker: a permanent failure (handlers.Permanent, or a malformed
//     message) is sent to the dead-letter queue at once and reported as
//     handled, so it burns no retries. Send comes before the delete: if the
//     send fails, the record is failed and retried with backoff instead.
//     With MaxReceiveCount, a record failing on its last receive is parked
//     the same way, so the DLQ copy says why it failed (the queue's redrive
//     policy would move it without a word).
//
// A handler that ignores its context cannot take its batch down: when its
// timeout passes it is abandoned (its goroutine keeps running in the
// background), its record alone is failed, and the batch answer is returned
// before the invocation's deadline.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/orgs"
	"github.com/hookline/hookline/internal/queue"
)

// Defaults of the Worker's tuning fields.
const (
	DefaultSafetyMargin = 3 * time.Second
	DefaultLeaseMargin  = 10 * time.Second
	// DefaultLease is the lease of a handler with no deadline at all: the
	// longest a Lambda invocation can run.
	DefaultLease = 15 * time.Minute
)

// Worker handles SQS batches.
type Worker struct {
	Registry *handlers.Registry
	Log      *slog.Logger
	// Concurrency is how many records run at once; default 10.
	Concurrency int

	// Ledger makes handlers run once per event; nil turns that off.
	Ledger ledger.Ledger
	// Delayer applies Backoff to failed records; nil leaves them to the
	// queue's visibility timeout.
	Delayer Delayer
	Backoff Backoff
	// Parker sends permanent failures to the DLQ. With nil they are failed
	// with the maximum delay, and the queue's redrive policy moves them
	// after maxReceiveCount receives.
	Parker Parker
	// Metrics receives each batch's figures (a *metrics.Recorder does); nil
	// records none.
	Metrics metrics.Sink
	// MaxReceiveCount is the events queue's redrive policy maxReceiveCount.
	// A record that fails on that receive is parked (with its reason)
	// instead of being left to the policy; zero turns that off.
	MaxReceiveCount int
	// OwnActors are Okta actor ids and OAuth client ids whose events no
	// handler runs on (the loop guard for every handler; a handler adds its
	// own with handlers.SkipActors). Each skip is logged as "skipped: own
	// actor" and counted in the batch line.
	OwnActors []string
	// Orgs are the stack's orgs (OKTA_ORGS), for handlers.Orgs: an event
	// without an org is the default org's, and on a stack of one org every
	// event is (a streamed event carries its source's subdomain).
	Orgs orgs.List

	// SafetyMargin is kept from the invocation deadline for the ledger and
	// queue calls after a handler; default DefaultSafetyMargin, or a quarter
	// of the time left when that is less.
	SafetyMargin time.Duration
	// LeaseMargin is added to a handler's timeout to make its ledger lease;
	// default DefaultLeaseMargin.
	LeaseMargin time.Duration

	subjects subjectLocks // handlers.Latest subjects running in this container
	// Observer sees each event on its first receive; nil: none.
	Observer Observer
}

// ErrPanic wraps a recovered handler panic.
var ErrPanic = errors.New("handler panicked")

// ErrAbandoned means a handler did not return by its timeout (it ignored
// its context) and was left running so the rest of the batch could finish.
var ErrAbandoned = errors.New("handler did not return by its timeout and was abandoned")

// abandonGrace is how long a handler past its timeout gets to return on its
// own before it is abandoned. It comes out of the safety margin.
const abandonGrace = 100 * time.Millisecond

// errNoTime means the invocation's deadline left no time to run a handler.
var errNoTime = errors.New("not enough time left in the invocation")

// errInProgress means another attempt holds the event's claim.
var errInProgress = errors.New("handler already running elsewhere for this event")

// Delayer sets the visibility of failed messages (queue.Consumer does).
type Delayer interface {
	Delay(ctx context.Context, delays []queue.Delay) error
}

// Parker puts messages on the dead-letter queue (queue.Consumer does).
// errs[i] is nil when parked[i] was sent.
type Parker interface {
	Park(ctx context.Context, parked []queue.Parked) (errs []error)
}

// verdict is what becomes of a record.
type verdict int

const (
	done  verdict = iota // delete it
	retry                // report it failed, with backoff
	park                 // send it to the DLQ, then delete it
)

// outcome is one record's result.
type outcome struct {
	verdict    verdict
	reason     string    // why it is retried or parked
	handler    string    // the handler that failed permanently
	ran        int       // handlers run
	duplicates int       // handlers skipped as already completed
	inProgress int       // handlers skipped as running elsewhere
	ownActor   int       // handlers skipped: the event is their own actor's
	stale      int       // handlers.Latest runs skipped: a newer event of the subject ran
	filtered   int       // handlers skipped: the event did not match their handlers.Where
	maxDelay   bool      // a permanent failure with nowhere to park it
	published  time.Time // Okta's published time, for the end-to-end lag
	org        string    // a configured org, or orgs.Unknown: the Org dimension
	// lastReceive: a transient failure on the last receive, parked so its
	// reason is kept; with nowhere to park it is left to the redrive policy.
	lastReceive bool
}

// Handle is the Lambda handler. It never returns an error for a record's
// failure, only lists it in BatchItemFailures.
func (w *Worker) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	start := time.Now()
	outcomes := make([]outcome, len(batch.Records))
	limit := w.Concurrency
	if limit <= 0 {
		limit = 10
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range batch.Records {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			outcomes[i] = w.handleRecord(ctx, batch.Records[i])
		}(i)
	}
	wg.Wait()

	parked := w.park(ctx, batch.Records, outcomes)

	// An empty list, not null: clearer in logs and rie output; Lambda takes both.
	resp := events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{}}
	var delays []queue.Delay
	var ran, duplicates, inProgress, ownActor, stale, filtered int
	for i, o := range outcomes {
		ran += o.ran
		duplicates += o.duplicates
		inProgress += o.inProgress
		ownActor += o.ownActor
		stale += o.stale
		filtered += o.filtered
		if o.verdict != retry {
			continue
		}
		rec := batch.Records[i]
		resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
		d := w.Backoff.Delay(queue.ReceiveCount(rec))
		if o.maxDelay {
			d = w.Backoff.MaxDelay()
		}
		delays = append(delays, queue.Delay{MessageID: rec.MessageId, ReceiptHandle: rec.ReceiptHandle, Delay: d})
	}
	if w.Delayer != nil && len(delays) > 0 {
		// Logged only: the failure is still reported, and the queue's own
		// visibility timeout applies instead.
		if err := w.Delayer.Delay(ctx, delays); err != nil {
			w.Log.ErrorContext(ctx, "backoff not applied", "error", err.Error(), "records", len(delays), requestID(ctx))
		}
	}
	w.Log.InfoContext(ctx, "batch handled", "records", len(batch.Records), "failed", len(resp.BatchItemFailures),
		"parked", parked, "handlersRun", ran, "duplicatesSkipped", duplicates, "inProgressElsewhere", inProgress, "ownActorSkipped", ownActor,
		"staleSkipped", stale, "filtered", filtered, "durationMs", time.Since(start).Milliseconds(), requestID(ctx))
	w.record(ctx, outcomes, parked, len(resp.BatchItemFailures), duplicates, stale, filtered)
	return resp, nil
}

// record writes the batch's metrics. The lag is measured for events a
// handler ran on now: a duplicate's would measure the redelivery, not the
// pipeline.
func (w *Worker) record(ctx context.Context, outcomes []outcome, parked, failed, duplicates, stale, filtered int) {
	if w.Metrics == nil {
		return
	}
	handled := len(outcomes) - parked - failed
	now := time.Now()
	for _, o := range outcomes {
		// An idempotent handler runs on a duplicate too: a record on which
		// the ledger skipped a handler is a redelivery either way.
		if o.verdict == done && o.reason == "" && o.ran > 0 && o.duplicates == 0 && !o.published.IsZero() {
			w.Metrics.Add(metrics.EndToEndLag, float64(max(0, now.Sub(o.published).Milliseconds())))
		}
	}
	if w.Orgs.Len() > 1 {
		// A single-org stack pays for no per-org metric.
		byOrg := map[string]int{}
		for _, o := range outcomes {
			if o.verdict == done && o.org != "" {
				byOrg[o.org]++
			}
		}
		for org, n := range byOrg {
			w.Metrics.Add(metrics.OrgEventsHandled, float64(n), metrics.Dim{Name: metrics.DimOrg, Value: org})
		}
	}
	for name, n := range map[string]int{metrics.EventsHandled: handled, metrics.EventsRetried: failed,
		metrics.EventsParked: parked, metrics.DuplicatesSkipped: duplicates,
		metrics.StaleSkipped: stale, metrics.FilteredSkipped: filtered} {
		if n > 0 {
			w.Metrics.Add(name, float64(n))
		}
	}
	if err := w.Metrics.Flush(ctx); err != nil {
		w.Log.WarnContext(ctx, "metrics not written", "error", err.Error(), requestID(ctx))
	}
}

// park sends the records to park to the DLQ and turns those that could not
// be sent into retries. It returns how many were parked.
func (w *Worker) park(ctx context.Context, recs []events.SQSMessage, outcomes []outcome) int {
	var idx []int
	var batch []queue.Parked
	for i, o := range outcomes {
		if o.verdict == park {
			idx = append(idx, i)
			batch = append(batch, queue.Parked{Record: recs[i], Reason: o.reason, Handler: o.handler, At: time.Now()})
		}
	}
	if len(batch) == 0 {
		return 0
	}
	if w.Parker == nil {
		for _, i := range idx {
			outcomes[i].verdict, outcomes[i].maxDelay = retry, !outcomes[i].lastReceive
		}
		return 0
	}
	errs := w.Parker.Park(ctx, batch)
	if len(errs) != len(batch) {
		// A record is deleted only on a clear "parked"; an answer that does
		// not cover the batch proves nothing, so all of it is retried.
		w.Log.ErrorContext(ctx, "parker answered for the wrong number of records; retrying them", "parked", len(batch), "answers", len(errs), requestID(ctx))
		for _, i := range idx {
			outcomes[i].verdict = retry
		}
		return 0
	}
	n := 0
	for j, err := range errs {
		i := idx[j]
		log := w.Log.With("messageId", recs[i].MessageId, "eventUuid", eventUUID(recs[i]), requestID(ctx))
		if err != nil {
			log.ErrorContext(ctx, "parking in the DLQ failed; will retry", "error", err.Error())
			outcomes[i].verdict = retry
			continue
		}
		// Too large for its failure attributes, the DLQ copy has none:
		// this line is then the only record of why it was parked.
		log.WarnContext(ctx, "parked in the DLQ", "reason", batch[j].Reason, "handler", batch[j].Handler,
			"receiveCount", queue.ReceiveCount(recs[i]), "withoutFailureAttributes", !queue.AttributesFit(batch[j]))
		outcomes[i].verdict = done
		n++
	}
	return n
}

// handleRecord runs every matching handler on one record.
func (w *Worker) handleRecord(ctx context.Context, rec events.SQSMessage) outcome {
	start := time.Now()
	log := w.Log.With("messageId", rec.MessageId, requestID(ctx))
	ev, err := decode(rec)
	if err != nil {
		log.ErrorContext(ctx, "malformed message", "eventUuid", eventUUID(rec), "error", err.Error(), "receiveCount", rec.Attributes["ApproximateReceiveCount"])
		return outcome{verdict: park, reason: "malformed message: " + err.Error()}
	}
	log = log.With("eventUuid", ev.UUID, "eventType", ev.Type)
	if ev.Org != "" {
		log = log.With("org", ev.Org)
	}
	org := ev.Org
	if org == "" || w.Orgs.Len() == 1 {
		org = w.Orgs.Default()
	}
	if w.Observer != nil && ev.ReceiveCount == 1 {
		w.Observer.Observe(ctx, ev.Type, ev.Raw)
	}
	routes := w.Registry.Match(ev.Type)
	if len(routes) == 0 {
		log.InfoContext(ctx, "no handler for event type")
		return outcome{}
	}
	o := outcome{published: ev.Published, org: org}
	if !w.Orgs.Has(org) {
		o.org = orgs.Unknown // never a raw value from a message as a dimension
	}
	var transient, permanent []error
	var who *who // read once, only when a guard is set
	// The typed event, read once and only for a filter or a subject.
	logEvent := sync.OnceValue(ev.LogEvent)
	for _, route := range routes {
		hlog := log.With("handler", route.Name)
		if who == nil && (len(w.OwnActors) > 0 || len(route.SkipActors) > 0) {
			who = actorOf(ev.Raw)
		}
		if id, own := w.ownActor(route, who); own {
			hlog.InfoContext(ctx, "skipped: own actor", "actorOrClientId", id)
			o.ownActor++
			continue
		}
		if !route.ForOrg(org) || len(route.Where) > 0 && !route.Matches(logEvent()) {
			// Debug only: a filter exists to make most events cheap.
			hlog.DebugContext(ctx, "filtered")
			o.filtered++
			continue
		}
		var err error
		if route.Latest != nil {
			err = w.runLatest(ctx, hlog, route, ev, logEvent(), &o)
		} else {
			err = w.runOnce(ctx, hlog, route, ev, &o)
		}
		switch {
		case err == nil:
		case handlers.IsPermanent(err):
			if o.handler == "" {
				o.handler = route.Name
			}
			permanent = append(permanent, fmt.Errorf("%s: %w", route.Name, err))
		default:
			transient = append(transient, fmt.Errorf("%s: %w", route.Name, err))
		}
	}
	// One permanent failure parks the whole message: an operator has to act
	// anyway, and after a redrive the ledger skips the handlers that
	// succeeded.
	switch {
	case len(permanent) > 0:
		o.verdict, o.reason = park, errors.Join(permanent...).Error()
	case len(transient) > 0:
		o.verdict, o.reason = retry, errors.Join(transient...).Error()
		if w.MaxReceiveCount > 0 && ev.ReceiveCount >= w.MaxReceiveCount {
			// The last receive the redrive policy allows: say why, once,
			// with the uuid, and park it with its reason when a DLQ is set.
			log.ErrorContext(ctx, "giving up: last receive failed", "receiveCount", ev.ReceiveCount,
				"maxReceiveCount", w.MaxReceiveCount, "reason", o.reason)
			o.verdict, o.reason = park, fmt.Sprintf("gave up after %d receives: %s", ev.ReceiveCount, o.reason)
			o.lastReceive = true
		}
	}
	log.DebugContext(ctx, "record handled", "handlers", len(routes), "ran", o.ran, "duplicatesSkipped", o.duplicates,
		"failed", len(permanent)+len(transient), "durationMs", time.Since(start).Milliseconds())
	return o
}

// runOnce claims the handler's run in the ledger, runs it, and records the
// result. A nil error means the handler succeeded now or before.
func (w *Worker) runOnce(ctx context.Context, log *slog.Logger, route handlers.Route, ev handlers.Event, o *outcome) error {
	timeout, ok := w.handlerTimeout(ctx, route)
	if !ok {
		log.WarnContext(ctx, "handler not started", "error", errNoTime.Error())
		return errNoTime
	}
	key := ledger.Key{EventUUID: ev.UUID, Handler: route.Name}
	owner := ev.MessageID + "/" + strconv.FormatUint(rand.Uint64(), 36)
	useLedger := w.Ledger != nil && !route.Idempotent
	if useLedger {
		lease := DefaultLease
		if timeout > 0 {
			lease = timeout + w.leaseMargin()
		}
		claim, err := w.Ledger.Claim(ctx, key, owner, lease)
		if err != nil {
			log.ErrorContext(ctx, "ledger claim failed", "error", err.Error())
			return err
		}
		switch claim.Status {
		case ledger.AlreadyCompleted:
			log.InfoContext(ctx, "duplicate skipped", "receiveCount", ev.ReceiveCount)
			o.duplicates++
			return nil
		case ledger.InProgress:
			log.WarnContext(ctx, "handler in progress elsewhere; will retry", "leaseUntil", claim.LeaseUntil)
			o.inProgress++
			return errInProgress
		}
		log = log.With("attempt", claim.Attempts)
	}

	err := w.invoke(ctx, log, route, ev, timeout, o)
	if !useLedger {
		return err
	}
	// The handler's own timeout may have expired; the ledger still gets
	// the invocation's remaining time.
	if errors.Is(err, ErrAbandoned) {
		// It may still be running: keep its claim, so a retry does not run
		// beside it until the lease (its timeout + LeaseMargin) runs out.
		return err
	}
	if err != nil {
		if rerr := w.Ledger.Release(ctx, key, owner); rerr != nil {
			log.WarnContext(ctx, "ledger release failed; the claim runs out with its lease", "error", rerr.Error())
		}
		return err
	}
	if cerr := w.Ledger.Complete(ctx, key, owner); cerr != nil {
		// The handler did succeed: failing the record would run it again
		// for sure. Unrecorded, it runs again only if a duplicate comes
		// after the lease.
		log.ErrorContext(ctx, "ledger complete failed", "error", cerr.Error(), "claimLost", errors.Is(cerr, ledger.ErrNotOwner))
	}
	return nil
}

// invoke runs the handler once, with log in its context (handlers.Logger),
// and logs and counts the run.
func (w *Worker) invoke(ctx context.Context, log *slog.Logger, route handlers.Route, ev handlers.Event, timeout time.Duration, o *outcome) error {
	o.ran++
	began := time.Now()
	err := run(handlers.WithLogger(ctx, log), route, ev, timeout)
	ms := float64(time.Since(began).Microseconds()) / 1000
	// One line per run: the "slowest handlers" saved query reads it.
	log.InfoContext(ctx, "handler ran", "durationMs", ms, "result", runResult(err))
	if w.Metrics != nil {
		handler := metrics.Dim{Name: metrics.DimHandler, Value: route.Name}
		w.Metrics.Add(metrics.HandlerDuration, ms, handler)
		if err != nil {
			w.Metrics.Add(metrics.HandlerErrors, 1, handler)
		}
	}
	if err != nil {
		log.ErrorContext(ctx, "handler failed", "error", err.Error(),
			"permanent", handlers.IsPermanent(err), "receiveCount", ev.ReceiveCount)
	}
	return err
}

// runResult is the result field of a "handler ran" line.
func runResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case handlers.IsPermanent(err):
		return "permanent error"
	default:
		return "error"
	}
}

// handlerTimeout is the route's timeout, shortened so the handler ends a
// safety margin before the invocation does. Zero means no limit; ok is false
// when no time is left.
func (w *Worker) handlerTimeout(ctx context.Context, route handlers.Route) (d time.Duration, ok bool) {
	d = route.Timeout
	if deadline, has := ctx.Deadline(); has {
		remaining := time.Until(deadline)
		margin := w.SafetyMargin
		if margin <= 0 {
			// A quarter of a short invocation, so a 2 s one still runs.
			margin = min(DefaultSafetyMargin, remaining/4)
		}
		left := remaining - margin
		if left <= 0 {
			return 0, false
		}
		if d <= 0 || left < d {
			d = left
		}
	}
	return d, true
}

func (w *Worker) leaseMargin() time.Duration {
	if w.LeaseMargin > 0 {
		return w.LeaseMargin
	}
	return DefaultLeaseMargin
}

// run calls one handler, turning a panic into an error. The handler runs on
// its own goroutine: if it has not returned abandonGrace after its timeout,
// run returns ErrAbandoned and leaves it running, so one handler that ignores
// its context costs its own record, not the batch.
func run(ctx context.Context, route handlers.Route, ev handlers.Event, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	done := make(chan error, 1) // buffered: an abandoned handler never blocks on it
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("%w: %v\n%s", ErrPanic, p, debug.Stack())
			}
		}()
		done <- route.Handler(ctx, ev)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	grace := time.NewTimer(abandonGrace)
	defer grace.Stop()
	select {
	case err := <-done:
		return err
	case <-grace.C:
		return fmt.Errorf("%w (timeout %v)", ErrAbandoned, timeout)
	}
}

// decode turns an SQS record into a handler Event.
func decode(rec events.SQSMessage) (handlers.Event, error) {
	msg, err := envelope.Decode([]byte(rec.Body))
	if err != nil {
		return handlers.Event{}, err
	}
	fields := okta.ParseEvent(msg.Event)
	ev := handlers.Event{
		UUID:       fields.UUID,
		Type:       fields.EventType,
		Raw:        msg.Event,
		DeliveryID: msg.DeliveryID,
		Origin:     msg.Origin,
		Org:        msg.Org,
		ReceivedAt: msg.ReceivedAt,
		MessageID:  rec.MessageId,
	}
	if ev.UUID == "" {
		return handlers.Event{}, fmt.Errorf("%w: event has no uuid", envelope.ErrInvalid)
	}
	if t, err := time.Parse(time.RFC3339Nano, fields.Published); err == nil {
		ev.Published = t
	}
	ev.ReceiveCount = queue.ReceiveCount(rec)
	return ev, nil
}

// eventUUID is the uuid attribute the receiver set, for logging a record
// that may not decode.
func eventUUID(rec events.SQSMessage) string {
	if a, ok := rec.MessageAttributes[envelope.AttrEventUUID]; ok && a.StringValue != nil {
		return *a.StringValue
	}
	return ""
}

func requestID(ctx context.Context) slog.Attr {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return slog.String("awsRequestId", lc.AwsRequestID)
	}
	return slog.Attr{}
}

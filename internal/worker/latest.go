package worker

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/clock"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/okta"
)

// Why a handlers.Latest handler was not run.
var (
	// ErrSubjectBusy means another event of the same subject is running
	// under a live lease: the record is retried later, with backoff.
	ErrSubjectBusy = errors.New("another event of this subject is running; will retry")
	// ErrNoSubject means the handler's Subject found no key in the event.
	ErrNoSubject = errors.New("handlers.Latest: the event has no subject")
	// ErrNoPublished means the event has no published time to order it by.
	ErrNoPublished = errors.New("handlers.Latest: the event has no published time")
	// ErrNoSubjects means the worker has no ledger that keeps subjects
	// (ledger.Subjects): LEDGER_TABLE is not set.
	ErrNoSubjects = errors.New("handlers.Latest needs the ledger (LEDGER_TABLE)")
)

// runLatest runs a handlers.Latest handler under its subject's lease, only
// if the event is newer than the subject's watermark, and then advances the
// watermark. Without the idempotency claim: the watermark also says whether
// this very event already ran. Two writes per event that runs: the acquire
// and the advance (or release).
func (w *Worker) runLatest(ctx context.Context, log *slog.Logger, route handlers.Route, ev handlers.Event, le okta.LogEvent, o *outcome) error {
	subjects, ok := w.Ledger.(ledger.Subjects)
	subject := route.Latest(le)
	var err error
	switch {
	case !ok:
		err = ErrNoSubjects
	case subject == "":
		err = ErrNoSubject
	case ev.Published.IsZero():
		err = ErrNoPublished
	}
	if err != nil {
		// Retrying brings the same answer: park it with the reason.
		log.ErrorContext(ctx, "handler not started", "error", err.Error())
		return handlers.Permanent(err)
	}
	timeout, ok := w.handlerTimeout(ctx, route)
	if !ok {
		log.WarnContext(ctx, "handler not started", "error", errNoTime.Error())
		return errNoTime
	}
	lease := DefaultLease
	if timeout > 0 {
		lease = timeout + w.leaseMargin()
	}
	key := ledger.SubjectKey{Handler: route.Name, Subject: subject}
	owner := ev.MessageID + "/" + strconv.FormatUint(rand.Uint64(), 36)
	// Events of one subject in this container (one batch) take turns here
	// rather than fail each other in the ledger: each failed record comes
	// back as a receive, and the queue's maxReceiveCount would send a
	// subject's burst of events to the DLQ.
	unlock, err := w.subjects.lock(ctx, key.ID())
	if err != nil {
		log.WarnContext(ctx, "handler not started", "error", err.Error())
		return err
	}
	defer unlock()
	held, err := w.acquireSubject(ctx, subjects, key, owner, lease)
	if err != nil {
		log.ErrorContext(ctx, "ledger claim failed", "error", err.Error())
		return err
	}
	if held.Status == ledger.InProgress {
		// Not skipped: the running event may be older than this one.
		log.WarnContext(ctx, "subject in progress elsewhere; will retry", "leaseUntil", held.LeaseUntil)
		o.inProgress++
		return ErrSubjectBusy
	}
	pos := ledger.NewPosition(ev.Published, ev.UUID)
	if c := pos.Compare(held.Watermark); c <= 0 {
		if c == 0 {
			log.InfoContext(ctx, "duplicate skipped", "receiveCount", ev.ReceiveCount)
			o.duplicates++
		} else {
			log.InfoContext(ctx, "stale skipped", "newerEventUuid", held.Watermark.UUID,
				"newerPublished", held.Watermark.Published.Format(time.RFC3339Nano), "published", ev.Published.Format(time.RFC3339Nano))
			o.stale++
		}
		w.releaseSubject(ctx, log, subjects, key, owner)
		return nil
	}

	err = w.invoke(ctx, log, route, ev, timeout, o)
	switch {
	case errors.Is(err, ErrAbandoned):
		// It may still be running: keep the lease until it runs out.
		return err
	case err != nil:
		w.releaseSubject(ctx, log, subjects, key, owner)
		return err
	}
	if aerr := subjects.AdvanceSubject(ctx, key, owner, pos); aerr != nil {
		// The handler did succeed: failing the record would run it again
		// for sure. Unrecorded, an older event could still run after it
		// until a newer one advances the watermark.
		log.ErrorContext(ctx, "ledger complete failed", "error", aerr.Error(), "claimLost", errors.Is(aerr, ledger.ErrNotOwner))
	}
	return nil
}

// SubjectWait is how long an event waits for its subject's lease, held by
// another container, before its record is failed and retried with backoff:
// most runs are short, and a retry is a receive.
const SubjectWait = 2 * time.Second

// acquireSubject takes the subject's lease, polling while another container
// holds it, for up to SubjectWait (less when the invocation has less left).
func (w *Worker) acquireSubject(ctx context.Context, subjects ledger.Subjects, key ledger.SubjectKey, owner string, lease time.Duration) (ledger.Lease, error) {
	until := time.Now().Add(SubjectWait)
	if d, ok := ctx.Deadline(); ok && d.Add(-w.safetyMargin(d)).Before(until) {
		until = d.Add(-w.safetyMargin(d))
	}
	step := 50 * time.Millisecond
	for {
		held, err := subjects.AcquireSubject(ctx, key, owner, lease)
		if err != nil || held.Status != ledger.InProgress || time.Now().Add(step).After(until) {
			return held, err
		}
		if clock.Sleep(ctx, step+rand.N(step)) != nil {
			return held, nil
		}
		step = min(2*step, 400*time.Millisecond)
	}
}

func (w *Worker) safetyMargin(deadline time.Time) time.Duration {
	if w.SafetyMargin > 0 {
		return w.SafetyMargin
	}
	return min(DefaultSafetyMargin, time.Until(deadline)/4)
}

// subjectLocks are per-subject turns within one container.
type subjectLocks struct {
	mu    sync.Mutex
	turns map[string]chan struct{}
	users map[string]int
}

// lock waits for the subject's turn (or ctx) and returns its release.
func (l *subjectLocks) lock(ctx context.Context, id string) (func(), error) {
	l.mu.Lock()
	if l.turns == nil {
		l.turns, l.users = map[string]chan struct{}{}, map[string]int{}
	}
	turn, ok := l.turns[id]
	if !ok {
		turn = make(chan struct{}, 1)
		l.turns[id] = turn
	}
	l.users[id]++
	l.mu.Unlock()
	done := func() {
		l.mu.Lock()
		if l.users[id]--; l.users[id] == 0 {
			delete(l.turns, id)
			delete(l.users, id)
		}
		l.mu.Unlock()
	}
	select {
	case turn <- struct{}{}:
		return func() { <-turn; done() }, nil
	case <-ctx.Done():
		done()
		return nil, ctx.Err()
	}
}

func (w *Worker) releaseSubject(ctx context.Context, log *slog.Logger, subjects ledger.Subjects, key ledger.SubjectKey, owner string) {
	if err := subjects.ReleaseSubject(ctx, key, owner); err != nil {
		log.WarnContext(ctx, "ledger release failed; the lease runs out by itself", "error", err.Error())
	}
}

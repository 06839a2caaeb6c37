package handlers

import (
	"context"
	"log/slog"
	"strings"

	"github.com/hookline/hookline/internal/okta"
)

// Subject picks the key of the thing an event is about, such as a user id,
// for a handlers.Latest handler. "" means the event has no subject.
type Subject func(okta.LogEvent) string

// TargetUser is the default Subject: the id of the event's first target of
// type User (okta.TypeUser), or, for a user.* event with no such target, its
// actor's id when the actor is a User (user.session.start names the user as
// the actor).
func TargetUser(e okta.LogEvent) string {
	if users := e.TargetsOfType(okta.TypeUser); len(users) > 0 {
		return users[0].ID
	}
	if strings.HasPrefix(e.EventType, "user.") && strings.EqualFold(e.Actor.Type, okta.TypeUser) {
		return e.Actor.ID
	}
	return ""
}

// Latest declares that the handler keeps a subject's state (a user's, by
// default TargetUser; by picks another key), so only the newest event of a
// subject counts. Okta delivers out of order, SQS redelivers and the
// reconciler brings missed events late; for such a handler the worker
// guarantees, through the ledger table:
//
//   - events of one subject never run at the same time: a run holds the
//     subject's lease, and an event that finds it held by a live run is
//     retried later (with backoff), not skipped;
//   - an event older than the newest one already run for its subject (by
//     published, then uuid to break ties) is not run: it is logged as
//     "stale skipped" with both uuids and counted (StaleSkipped).
//
// A crashed run's lease is taken over once it runs out, as for the
// idempotency records. The newest event run is the subject's watermark, so
// such a handler needs no idempotency record: an event run again is either
// the watermark itself (a duplicate) or older. An event with no subject (by
// returns "") or no published time cannot be ordered and is parked as a
// permanent failure; the worker needs its ledger (LEDGER_TABLE).
func Latest(by Subject) Option {
	if by == nil {
		by = TargetUser
	}
	return func(r *Route) { r.Latest = by }
}

// Where runs the handler only on events for which match returns true. An
// event that does not match costs the handler no ledger write and is
// counted as filtered (FilteredSkipped). Several Where options must all
// match. match sees the event read leniently (Event.LogEvent).
func Where(match func(okta.LogEvent) bool) Option {
	return func(r *Route) {
		if match == nil {
			return
		}
		r.Where = append(r.Where, match)
	}
}

// Matches reports whether e passes every Where of the route.
func (r Route) Matches(e okta.LogEvent) bool {
	for _, match := range r.Where {
		if !match(e) {
			return false
		}
	}
	return true
}

type loggerKey struct{}

// WithLogger returns ctx carrying log, the logger Logger returns. The worker
// calls it before each run.
func WithLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// Logger is the logger for a handler's own lines: in the worker, its JSON
// logger with eventUuid, eventType, handler, messageId and awsRequestId
// already set, so the "event by uuid" saved query finds the lines. Outside a
// run (no logger in ctx) it is slog.Default().
func Logger(ctx context.Context) *slog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	return slog.Default()
}

// Package reconcile brings to the events queue the Okta events that the
// event hook did not: it reads the System Log and queues, with their raw
// JSON and origin "systemlog", the subscribed events that have no delivery
// mark in the ledger (see ledger.Marks). The receiver marks what the
// hook queued; reconcile marks what it recovers. So an event the hook
// queued is never queued again, whether it was handled, still waits in the
// queue or is parked in the DLQ, and an event is recovered at most once
// (a crash between queueing and marking can queue it twice; the worker's
// ledger then runs each handler once).
//
// Run is the scheduled reconciler: a polling read (sortOrder=ASCENDING, no
// until) that resumes at the cursor saved in the ledger table and leaves
// events younger than a grace period to the hook. Replay is the on-demand,
// bounded read behind `hookline replay`.
package reconcile

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/intake"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/oktaapi"
)

// CursorName names the reconciler's cursor in the ledger table: the
// default org's (the one org of a stack before orgs, so its progress
// carries over).
const CursorName = "reconciler"

// OrgCursorName names the cursor of an org other than the default one:
// "reconciler#<org>", key "cursor#reconciler#<org>" (ledger.PrefixCursor).
func OrgCursorName(org string) string { return CursorName + "#" + org }

// Defaults of a Reconciler.
const (
	DefaultGrace    = 10 * time.Minute
	DefaultLookback = 24 * time.Hour
	DefaultReserve  = 10 * time.Second
)

// SystemLog reads Okta's System Log (oktaapi.Client).
type SystemLog interface {
	LogsURL(q oktaapi.LogsQuery) string
	Logs(ctx context.Context, pageURL string) (oktaapi.Page, error)
	// CheckPageURL refuses a page URL that is not the org's System Log.
	CheckPageURL(pageURL string) error
}

// ErrRepeatedPage means Okta's next link led back to a page the same read
// already had: a cursor that does not advance, which would be followed
// forever. The read stops; nothing past that page is skipped.
var ErrRepeatedPage = errors.New("okta returned the same page again")

// Marks are the delivery marks (ledger.Marks).
type Marks interface {
	Marked(ctx context.Context, uuids []string) (map[string]bool, error)
	Mark(ctx context.Context, origin string, uuids []string) error
}

// Cursors keep the reconciler's place between runs (ledger.Cursors).
type Cursors interface {
	Load(ctx context.Context, name string) (ledger.Cursor, error)
	Save(ctx context.Context, name string, c ledger.Cursor) error
}

// Publisher queues events (queue.Publisher).
type Publisher = intake.Publisher

// Reconciler finds and queues the events the hook did not bring.
type Reconciler struct {
	SystemLog SystemLog
	Marks     Marks
	Cursors   Cursors
	Publisher Publisher
	// DLQ parks the events that cannot be keyed (see Unkeyable): the
	// events queue's dead-letter queue, as the worker parks a malformed
	// message. Without it such an event ends the read with an error, before
	// the cursor moves past it.
	DLQ Publisher
	Log *slog.Logger
	// Types are the subscribed event types (OKTA_EVENT_TYPES).
	Types []string
	// Grace is the hook's head start: younger events are left for the next
	// run. Default DefaultGrace.
	Grace time.Duration
	// Lookback is how far back the first run starts. Default DefaultLookback.
	Lookback time.Duration
	// Reserve is kept from the invocation's deadline to save the cursor and
	// log; no page is started inside it. Default DefaultReserve.
	Reserve time.Duration
	// Limit is the page size; zero means oktaapi.DefaultLimit.
	Limit int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Metrics, when set, gets EventsRecovered and EventsUnkeyable after
	// each run (also 0, so the alarms see data).
	Metrics metrics.Sink
	// Cursor names the cursor in the ledger; "" means CursorName.
	Cursor string
	// Org is the Okta org whose System Log this reads, stamped on every
	// event it queues; "" is the stack's one org.
	Org string
	// Watch, when set, looks at Okta's side of the hook during each run
	// (hookhealth.Watch): not during a replay.
	Watch Watch
}

// Stats are what a run or a replay did.
type Stats struct {
	Pages  int
	Seen   int // events read
	Marked int // skipped: marked already, by the hook, an earlier recovery or a replay
	Queued int // recovered, or enqueued by a replay
	Parked int // could not be keyed: parked in the DLQ with the reason
	Failed int // not queued this time; read again next time
	// OldestQueued is the earliest published of the queued events.
	OldestQueued string
	// Stopped says why the read ended: caught-up, grace, deadline,
	// rate-limited, done or error.
	Stopped string
	// Reached is, in a replay, the published time of the last event read:
	// a bounded read goes in published order, so a replay that stopped
	// can go on from there.
	Reached string
}

// Stop reasons.
const (
	StopCaughtUp    = "caught-up"    // an empty page: nothing newer yet
	StopGrace       = "grace"        // reached events younger than the grace period
	StopDeadline    = "deadline"     // the invocation's time is nearly up
	StopRateLimited = "rate-limited" // Okta's rate limit resets after the deadline
	StopDone        = "done"         // a bounded read reached its end
	StopError       = "error"
)

// ParseTypes reads a comma-separated list of event types, such as
// OKTA_EVENT_TYPES or the OktaEventTypes parameter.
func ParseTypes(list string) []string {
	var out []string
	for _, p := range strings.Split(list, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (r *Reconciler) cursorName() string {
	if r.Cursor == "" {
		return CursorName
	}
	return r.Cursor
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reconciler) log() *slog.Logger {
	if r.Log != nil {
		return r.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Run is one scheduled reconciliation. It reads from the saved cursor (or
// Lookback ago on the first run, or when the event types changed), queues
// every subscribed event older than Grace that has no delivery mark, saves
// the cursor after each page, and stops before ctx's deadline. It logs one
// "reconcile run" summary line. A rate limit or the deadline ends the run
// without error: the next run resumes at the cursor.
func (r *Reconciler) Run(ctx context.Context) (Stats, error) {
	start := r.now()
	r.watchBegin(ctx)
	st, err := r.run(ctx)
	if err != nil {
		st.Stopped = StopError
	}
	attrs := []any{"pages", st.Pages, "seen", st.Seen, "alreadyDelivered", st.Marked, "recovered", st.Queued,
		"parked", st.Parked, "notQueued", st.Failed, "oldestRecoveredPublished", st.OldestQueued, "stopped", st.Stopped,
		"durationMs", r.now().Sub(start).Milliseconds()}
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
		attrs = append(attrs, "error", err.Error())
	} else if st.Queued > 0 || st.Parked > 0 {
		// Recovered events mean the hook is losing deliveries; parked ones
		// need an operator.
		level = slog.LevelWarn
	}
	r.log().Log(ctx, level, "reconcile run", attrs...)
	r.watchEnd(ctx)
	if r.Metrics != nil {
		r.Metrics.Add(metrics.EventsRecovered, float64(st.Queued))
		r.Metrics.Add(metrics.EventsUnkeyable, float64(st.Parked))
		if ferr := r.Metrics.Flush(ctx); ferr != nil {
			r.log().WarnContext(ctx, "metrics not written", "error", ferr.Error())
		}
	}
	return st, err
}

func (r *Reconciler) run(ctx context.Context) (Stats, error) {
	var st Stats
	filter := oktaapi.TypeFilter(r.Types)
	if filter == "" {
		return st, errors.New("reconcile: no event types to reconcile")
	}
	filter = oktaapi.TypeFilter(r.readTypes())
	pageURL, fromCursor, err := r.startURL(ctx, filter)
	if err != nil {
		return st, err
	}
	grace := r.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	deliveryID := "reconcile/" + r.now().UTC().Format(time.RFC3339)
	saved := "" // what the cursor says
	if fromCursor {
		saved = pageURL
	}
	seen := pages{}
	for {
		if r.outOfTime(ctx) {
			st.Stopped = StopDeadline
			return st, nil
		}
		page, err := r.read(ctx, pageURL)
		// A reset too far ahead is a fault, not a wait: it ends the run
		// with an error, logged at ERROR; the next run resumes at the cursor.
		if errors.Is(err, oktaapi.ErrRateLimited) && !errors.Is(err, oktaapi.ErrImplausibleReset) {
			r.log().WarnContext(ctx, "okta rate limit: the next run resumes at the cursor", "error", err.Error())
			st.Stopped = StopRateLimited
			return st, nil
		}
		if err != nil {
			return st, err
		}
		st.Pages++
		seen.add(pageURL)
		r.noteSmaller(ctx, page)
		if len(page.Events) == 0 {
			st.Stopped = StopCaughtUp
			return st, nil
		}
		page.Events = r.watchPage(ctx, page) // what is not to be queued is taken out
		cutoff := r.now().Add(-grace)
		ready := page.Events
		for i, ev := range page.Events {
			if t, err := time.Parse(time.RFC3339Nano, ev.Published); err == nil && t.After(cutoff) {
				ready = page.Events[:i]
				break
			}
		}
		if err := r.queue(ctx, ready, envelope.OriginSystemLog, deliveryID, false, false, &st); err != nil {
			// The cursor stays before this page: the next run reads it again.
			return st, err
		}
		next := page.Next
		if len(ready) < len(page.Events) || next == "" {
			// Read this page again next run: its young events are left to
			// the hook for now. What was queued from it is marked.
			next = page.URL
		} else if err := r.follow(next, st.Pages, seen); err != nil {
			// The next link is never saved: the cursor keeps this page,
			// read and queued, so the next run starts here and no event
			// after it is skipped (a run that lost its cursor would start
			// again at the lookback, and leave a gap before it).
			if page.URL != saved {
				if serr := r.Cursors.Save(ctx, r.cursorName(), ledger.Cursor{Next: page.URL, Filter: filter, UpdatedAt: r.now()}); serr != nil {
					return st, errors.Join(err, serr)
				}
			}
			return st, err
		}
		if next != saved {
			if err := r.Cursors.Save(ctx, r.cursorName(), ledger.Cursor{Next: next, Filter: filter, UpdatedAt: r.now()}); err != nil {
				return st, err
			}
			saved = next
		}
		if next == page.URL {
			st.Stopped = StopGrace
			return st, nil
		}
		pageURL = next
	}
}

// follow checks Okta's next link of the n-th page before it is saved or
// requested: it must be the org's System Log, and a page this read has not
// had yet.
func (r *Reconciler) follow(next string, n int, seen pages) error {
	if err := r.SystemLog.CheckPageURL(next); err != nil {
		return fmt.Errorf("reconcile: page %d's next link was refused, the read stops there: %w", n, err)
	}
	if seen.has(next) {
		return fmt.Errorf("reconcile: %w: page %d's next link leads back to a page this read already had, so it would never end; it stops there", ErrRepeatedPage, n)
	}
	return nil
}

// noteSmaller logs a page read in smaller pieces (see oktaapi.Client.Logs).
func (r *Reconciler) noteSmaller(ctx context.Context, page oktaapi.Page) {
	if page.Limit > 0 {
		r.log().WarnContext(ctx, "system log page over the size bound: read with a smaller limit", "limit", page.Limit,
			"maxPageMiB", oktaapi.MaxPageBytes>>20)
	}
}

// pages are the pages one read has had, by the query that selects them
// (since, until, filter, after), whatever the order of its parameters or
// the page size.
type pages map[string]bool

func pageKey(pageURL string) string {
	u, err := url.Parse(pageURL)
	if err != nil {
		return pageURL
	}
	q := u.Query()
	q.Del("limit")
	return strings.ToLower(u.Host) + u.EscapedPath() + "?" + q.Encode()
}

func (p pages) add(pageURL string)      { p[pageKey(pageURL)] = true }
func (p pages) has(pageURL string) bool { return p[pageKey(pageURL)] }

// firstURL is the first page of a run without a cursor: Lookback ago.
func (r *Reconciler) firstURL() string {
	lookback := r.Lookback
	if lookback <= 0 {
		lookback = DefaultLookback
	}
	return r.SystemLog.LogsURL(oktaapi.LogsQuery{Since: r.now().Add(-lookback), Types: r.readTypes(), Limit: r.Limit})
}

// startURL is where a run starts, and whether that is the saved cursor.
func (r *Reconciler) startURL(ctx context.Context, filter string) (string, bool, error) {
	first := r.firstURL()
	org, _, _ := strings.Cut(first, "/api/v1/logs")
	cur, err := r.Cursors.Load(ctx, r.cursorName())
	switch {
	case err == nil && cur.Filter == filter && r.SystemLog.CheckPageURL(cur.Next) == nil:
		return cur.Next, true, nil
	case err == nil && cur.Filter != filter:
		r.log().WarnContext(ctx, "subscribed event types changed: reading again from the lookback", "was", cur.Filter, "now", filter)
	case err == nil:
		// A cursor of another org (orgUrl changed) would send the
		// credentials elsewhere; the client refuses it, so start anew.
		r.log().WarnContext(ctx, "the cursor is not for this org: reading again from the lookback", "org", org)
	case !errors.Is(err, ledger.ErrNoCursor):
		return "", false, err
	}
	return first, false, nil
}

// read reads a page, waiting out a rate limit only until the reserve: the
// page still has to be queued and the cursor saved.
func (r *Reconciler) read(ctx context.Context, pageURL string) (oktaapi.Page, error) {
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline.Add(-r.reserve()))
		defer cancel()
	}
	return r.SystemLog.Logs(ctx, pageURL)
}

func (r *Reconciler) reserve() time.Duration {
	if r.Reserve > 0 {
		return r.Reserve
	}
	return DefaultReserve
}

func (r *Reconciler) outOfTime(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	if !ok {
		return ctx.Err() != nil
	}
	return time.Until(deadline) < r.reserve() // the deadline is on the real clock
}

// queue queues the events that have no delivery mark (all of them with
// force), marks what was queued, parks what cannot be keyed, and counts.
// dryRun only counts. An error means some events are neither queued nor
// parked.
func (r *Reconciler) queue(ctx context.Context, evs []okta.Event, origin, deliveryID string, force, dryRun bool, st *Stats) error {
	st.Seen += len(evs)
	if len(evs) == 0 {
		return nil
	}
	var keyed []okta.Event
	var unkeyed []unkeyable
	ids := make([]string, 0, len(evs)) // the delivery marks to read
	for _, ev := range evs {
		if reason := Unkeyable(ev); reason != "" {
			// Its mark is its content's: parked once, however often the page
			// is read again (and also by a forced replay).
			u := unkeyable{ev: ev, reason: reason, mark: unkeyableMark(ev.Raw)}
			unkeyed = append(unkeyed, u)
			ids = append(ids, u.mark)
			continue
		}
		keyed = append(keyed, ev)
		if !force {
			ids = append(ids, ev.UUID)
		}
	}
	var delivered map[string]bool
	if len(ids) > 0 {
		var err error
		if delivered, err = r.Marks.Marked(ctx, ids); err != nil {
			return err
		}
	}
	var missing []okta.Event
	inPage := map[string]bool{}
	for _, ev := range keyed {
		switch {
		case (!force && delivered[ev.UUID]) || inPage[ev.UUID]:
			st.Marked++
		default:
			inPage[ev.UUID] = true
			missing = append(missing, ev)
		}
	}
	var toPark []unkeyable
	for _, u := range unkeyed {
		if delivered[u.mark] || inPage[u.mark] {
			st.Marked++
			continue
		}
		inPage[u.mark] = true
		toPark = append(toPark, u)
	}
	if dryRun {
		st.Queued += len(missing)
		st.Parked += len(toPark)
		oldest(st, missing)
		return nil
	}
	qerr := r.publish(ctx, missing, origin, deliveryID, st)
	perr := r.park(ctx, toPark, origin, deliveryID, st)
	return errors.Join(qerr, perr)
}

// publish queues the events and marks what was queued.
func (r *Reconciler) publish(ctx context.Context, missing []okta.Event, origin, deliveryID string, st *Stats) error {
	if len(missing) == 0 {
		return nil
	}
	batch := intake.Batch{Origin: origin, DeliveryID: deliveryID, Org: r.Org, ReceivedAt: r.now(), Events: missing}
	res := intake.Queue(ctx, r.Publisher, batch)
	var queued []okta.Event
	for i, ev := range missing {
		if err, failed := res.Failed[i]; failed {
			r.log().ErrorContext(ctx, "event not queued", "eventUuid", ev.UUID, "eventType", ev.EventType, "published", ev.Published, "error", err.Error())
			continue
		}
		queued = append(queued, ev)
		r.log().InfoContext(ctx, "event recovered", append([]any{"eventUuid", ev.UUID, "eventType", ev.EventType, "published", ev.Published, "source", origin},
			r.recoveredAttrs(ev, origin)...)...)
	}
	st.Queued += len(queued)
	st.Failed += len(res.Failed)
	oldest(st, queued)
	if _, err := intake.Mark(ctx, r.Marks, batch, res); err != nil {
		// They are on the queue; unmarked, a later read may queue them
		// again, and the worker's ledger absorbs that.
		r.log().WarnContext(ctx, "recovered events not marked", "events", len(queued), "error", err.Error())
	}
	if len(res.Failed) > 0 {
		return fmt.Errorf("reconcile: %d of %d events not queued", len(res.Failed), len(missing))
	}
	return nil
}

func oldest(st *Stats, evs []okta.Event) {
	for _, ev := range evs {
		if ev.Published == "" {
			continue
		}
		if st.OldestQueued == "" || earlier(ev.Published, st.OldestQueued) {
			st.OldestQueued = ev.Published
		}
	}
}

func earlier(a, b string) bool {
	ta, errA := time.Parse(time.RFC3339Nano, a)
	tb, errB := time.Parse(time.RFC3339Nano, b)
	if errA != nil || errB != nil {
		return a < b
	}
	return ta.Before(tb)
}

// ReplayOptions select a bounded replay.
type ReplayOptions struct {
	Since, Until time.Time
	// Types overrides the Reconciler's Types when set.
	Types []string
	// Force queues events that were already marked or handled too: for a
	// new handler, which runs on them while the others skip them by the
	// ledger.
	Force bool
	// DryRun counts only.
	DryRun bool
	// Progress is called after each page.
	Progress func(Stats)
}

// Replay reads the System Log between Since and Until (a bounded read) and
// queues the events that have no delivery mark, or all of them with Force,
// marking them as replayed.
func (r *Reconciler) Replay(ctx context.Context, o ReplayOptions) (Stats, error) {
	var st Stats
	types := o.Types
	if len(types) == 0 {
		types = r.Types
	}
	if o.Until.IsZero() {
		o.Until = r.now()
	}
	if !o.Since.Before(o.Until) {
		return st, fmt.Errorf("reconcile: replay needs since (%s) before until (%s)", o.Since.Format(time.RFC3339), o.Until.Format(time.RFC3339))
	}
	deliveryID := "replay/" + r.now().UTC().Format(time.RFC3339)
	pageURL := r.SystemLog.LogsURL(oktaapi.LogsQuery{Since: o.Since, Until: o.Until, Types: types, Limit: r.Limit})
	seen := pages{}
	for pageURL != "" {
		page, err := r.SystemLog.Logs(ctx, pageURL)
		if err != nil {
			st.Stopped = StopError
			// Running the same replay again is safe: what was queued is
			// marked and skipped (with Force, the ledger absorbs it).
			return st, err
		}
		st.Pages++
		seen.add(pageURL)
		r.noteSmaller(ctx, page)
		if err := r.queue(ctx, page.Events, envelope.OriginReplay, deliveryID, o.Force, o.DryRun, &st); err != nil {
			st.Stopped = StopError
			return st, err
		}
		for _, ev := range page.Events {
			if ev.Published != "" {
				st.Reached = ev.Published
			}
		}
		if o.Progress != nil {
			o.Progress(st)
		}
		if len(page.Events) == 0 || page.Next == "" {
			break
		}
		if err := r.follow(page.Next, st.Pages, seen); err != nil {
			st.Stopped = StopError
			return st, err
		}
		pageURL = page.Next
	}
	st.Stopped = StopDone
	return st, nil
}

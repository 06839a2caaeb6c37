package hookhealth

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/oktaapi"
)

// Okta's cap on event hooks: events per org in 24 hours, and the count at
// which Okta writes a System Log warning.
const (
	DailyCap     = 400_000
	DailyWarning = 280_000
)

// StateName names the Watch's ledger.OktaSide.
const StateName = "reconciler"

// OrgStateName names the ledger.OktaSide of an org other than the default
// one: StateName#<org>.
func OrgStateName(org string) string { return StateName + "#" + org }

func (w *Watch) stateName() string {
	if w.State == "" {
		return StateName
	}
	return w.State
}

// Defaults of a Watch.
const (
	DefaultHookTimeout = 10 * time.Second
	// keep bounds what is remembered of delivery failures, for the log
	// lines of the events recovered later.
	keepFailures = 2000
	keepUnnamed  = 200
	keepFor      = 48 * time.Hour
	// nearby is how long after an event's publication a failure that names
	// no events is taken as possibly its delivery's.
	nearby = 15 * time.Minute
)

// Hooks reads event hooks (oktaapi.Client).
type Hooks interface {
	ReadEventHooks(ctx context.Context) ([]oktaapi.EventHook, error)
	ReadEventHook(ctx context.Context, id string) (oktaapi.EventHook, error)
}

// Headroom reports the run's lowest rate-limit share left (oktaapi.Client).
type Headroom interface {
	TakeHeadroom() (share float64, ok bool)
}

// Store keeps the Watch's state between runs (ledger.OktaSideStore).
type Store interface {
	Load(ctx context.Context, name string) (ledger.OktaSide, error)
	Save(ctx context.Context, name string, s ledger.OktaSide) error
}

// Watch looks at Okta's side of the hook during each reconciler run: it
// implements reconcile.Watch. Begin loads what it keeps and checks the
// hook (one Okta request: the hook by id once it is known, else the list);
// Page takes the event_hook.delivery events out of each System Log page and
// counts the subscribed events; End writes the metrics, one "okta side" log
// line and the state (one DynamoDB write).
//
// Nothing it does stops a run: a hook it may not read (no
// okta.eventHooks.read), a failed read or a state it cannot load is
// logged, and recovery goes on.
type Watch struct {
	Want  Want
	Store Store
	// State names its ledger.OktaSide; "" means StateName. Each org of a
	// stack has its own (OrgStateName).
	State string
	Log   *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// HookTimeout bounds the hook read; zero means DefaultHookTimeout.
	HookTimeout time.Duration

	// One run's state, from Begin to End.
	state    ledger.OktaSide
	stateOK  bool   // loaded (or new): End may save it
	loaded   string // the state as loaded, to save only a change
	src      any
	report   *Report
	readErr  error
	failures int
	others   int // failures of other hooks
	counted  int
}

func (w *Watch) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

func (w *Watch) log() *slog.Logger {
	if w.Log != nil {
		return w.Log
	}
	return slog.New(slog.DiscardHandler)
}

// ExtraTypes is what the run reads besides the subscribed types: Okta's
// delivery failures, in the same filtered read (an "or" clause), so they
// cost no request of their own.
func (w *Watch) ExtraTypes() []string { return []string{DeliveryEventType} }

// Begin starts a run reading through src (an oktaapi.Client: Hooks and
// Headroom).
func (w *Watch) Begin(ctx context.Context, src any) {
	w.src, w.report, w.readErr, w.failures, w.others, w.counted = src, nil, nil, 0, 0, 0
	st, err := w.Store.Load(ctx, w.stateName())
	switch {
	case err == nil:
		w.state, w.stateOK = st, true
	case errors.Is(err, ledger.ErrNoOktaSide):
		w.state, w.stateOK = ledger.OktaSide{}, true
	default:
		// Saving over what could not be read would lose the daily count.
		w.state, w.stateOK = ledger.OktaSide{}, false
		w.log().WarnContext(ctx, "okta side state not read: the daily count is not kept this run", "error", err.Error())
	}
	filter := oktaapi.TypeFilter(w.Want.Types)
	if w.state.Filter != filter {
		// Other event types: the count starts again, as the read does.
		w.state.Filter, w.state.Hours, w.state.Seen = filter, nil, nil
	}
	w.loaded = snapshot(w.state)
	w.check(ctx)
}

// snapshot is the state without its save time, to tell a change.
func snapshot(s ledger.OktaSide) string {
	s.UpdatedAt = time.Time{}
	b, _ := json.Marshal(s)
	return string(b)
}

// check reads the hook: by id once known, else the list. One request.
func (w *Watch) check(ctx context.Context) {
	hooks, ok := w.src.(Hooks)
	if !ok {
		return
	}
	if w.Want.Name == "" && w.Want.URI == "" {
		// Nothing says which hook is the stack's: no verdict, no alarm.
		w.readErr = errors.New("neither ENDPOINT_URL nor OKTA_HOOK_NAME is set: the hook is not checked")
		return
	}
	timeout := w.HookTimeout
	if timeout <= 0 {
		timeout = DefaultHookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if id := w.state.HookID; id != "" {
		h, err := hooks.ReadEventHook(ctx, id)
		switch {
		case errors.Is(err, oktaapi.ErrNotFound):
			// Deleted, perhaps registered anew: look for it by the list
			// next run rather than spend a second request now.
			w.state.HookID = ""
			w.readErr = errors.New("event hook " + id + " no longer exists: looking for the stack's hook again next run")
			return
		case err != nil:
			w.readErr = err
			return
		}
		if w.Want.Name != "" && h.Name != w.Want.Name && h.ID != w.Want.Name {
			// Renamed: find the named one next run.
			w.state.HookID = ""
		}
		r := Evaluate(&h, w.Want)
		w.report = &r
		return
	}
	list, err := hooks.ReadEventHooks(ctx)
	if err != nil {
		w.readErr = err
		return
	}
	h := Find(list, w.Want)
	if h != nil {
		w.state.HookID = h.ID
	}
	r := Evaluate(h, w.Want)
	w.report = &r
}

// Page takes a System Log page the run read and returns the events to
// queue: all but the delivery failures, which are logged and counted. The
// subscribed events are counted toward the daily cap. Events of the last
// page read before (read again: its young events were left to the hook) are
// not counted or reported again.
func (w *Watch) Page(ctx context.Context, p oktaapi.Page) []okta.Event {
	seen := make(map[string]bool, len(w.state.Seen))
	for _, u := range w.state.Seen {
		seen[u] = true
	}
	keep := make([]okta.Event, 0, len(p.Events))
	now := make([]string, 0, len(p.Events))
	for _, ev := range p.Events {
		again := ev.UUID != "" && seen[ev.UUID]
		if ev.UUID != "" {
			now = append(now, ev.UUID)
		}
		if ev.EventType == DeliveryEventType {
			if !again {
				w.delivery(ctx, ev)
			}
			continue
		}
		if !again {
			w.count(ev)
		}
		keep = append(keep, ev)
	}
	w.state.Seen = now
	return keep
}

func (w *Watch) count(ev okta.Event) {
	t, err := time.Parse(time.RFC3339Nano, ev.Published)
	if err != nil {
		t = w.now()
	}
	if w.state.Hours == nil {
		w.state.Hours = map[int64]int64{}
	}
	w.state.Hours[t.Truncate(time.Hour).Unix()]++
	w.counted++
}

func (w *Watch) delivery(ctx context.Context, ev okta.Event) {
	d := ParseDeliveryFailure(ev)
	hookID := w.state.HookID
	if hookID != "" && !d.For(hookID, w.Want.URI) {
		w.others++
		w.log().DebugContext(ctx, "okta delivery failure of another hook", "failureUuid", d.UUID, "hookIds", d.HookIDs)
		return
	}
	w.failures++
	attrs := []any{"failureUuid", d.UUID, "published", d.Published, "hookIds", d.HookIDs, "result", d.Result,
		"reason", d.Why(), "eventUuids", d.Events, "debugData", d.Debug}
	if hookID == "" {
		attrs = append(attrs, "note", "the stack's hook is not known (okta.eventHooks.read?): counted as this hook's")
	}
	w.log().WarnContext(ctx, "okta delivery failed", attrs...)
	at, err := time.Parse(time.RFC3339Nano, d.Published)
	if err != nil {
		at = w.now()
	}
	note := ledger.DeliveryNote{At: at, Reason: d.Why()}
	if len(d.Events) == 0 {
		w.state.Unnamed = append(w.state.Unnamed, note)
		return
	}
	if w.state.Failures == nil {
		w.state.Failures = map[string]ledger.DeliveryNote{}
	}
	for _, u := range d.Events {
		w.state.Failures[u] = note
	}
}

// Recovered returns log attributes saying whether Okta reported the
// delivery of a recovered event failing, and why: a failure naming it, or
// one naming no events within 15 minutes after it was published.
func (w *Watch) Recovered(ev okta.Event) []any {
	if n, ok := w.state.Failures[ev.UUID]; ok {
		return []any{"oktaReportedFailure", true, "oktaFailureReason", n.Reason, "oktaFailureAt", n.At.UTC().Format(time.RFC3339)}
	}
	if pub, err := time.Parse(time.RFC3339Nano, ev.Published); err == nil {
		for i := len(w.state.Unnamed) - 1; i >= 0; i-- {
			n := w.state.Unnamed[i]
			if !n.At.Before(pub) && n.At.Sub(pub) <= nearby {
				return []any{"oktaReportedFailure", true, "oktaFailureReason", n.Reason + " (Okta named no events; a failure of this hook " +
					n.At.Sub(pub).Round(time.Second).String() + " after this event)", "oktaFailureAt", n.At.UTC().Format(time.RFC3339)}
			}
		}
	}
	return []any{"oktaReportedFailure", false, "oktaFailureReason", "none reported by Okta"}
}

// Daily is the number of subscribed events published in the 24 hours
// before now that the runs counted.
func (w *Watch) Daily() int64 { return DailyCount(w.state, w.now()) }

// DailyCount is the number of subscribed events s counted as published in
// the 24 hours before now: whole hours, so 24 to 25 hours, never less.
func DailyCount(s ledger.OktaSide, now time.Time) int64 {
	from := now.Add(-24 * time.Hour).Truncate(time.Hour).Unix()
	var n int64
	for h, c := range s.Hours {
		if h >= from {
			n += c
		}
	}
	return n
}

// End writes the run's metrics and "okta side" log line, and saves the
// state.
func (w *Watch) End(ctx context.Context, m metrics.Adder) {
	now := w.now()
	w.prune(now)
	daily := w.Daily()
	attrs := []any{"hookId", w.state.HookID, "deliveryFailures", w.failures, "otherHooksFailures", w.others,
		"counted", w.counted, "dailyEvents", daily, "dailyCap", DailyCap}
	level := slog.LevelInfo
	if w.report != nil {
		if w.report.Hook != nil {
			attrs = append(attrs, "hookName", w.report.Hook.Name, "status", w.report.Hook.Status, "verification", w.report.Hook.VerificationStatus)
		}
		var problems, fixes []string
		for _, f := range w.report.Failed() {
			problems = append(problems, f.Check+": "+f.Problem)
			fixes = append(fixes, f.Fix)
		}
		attrs = append(attrs, "healthy", w.report.Healthy(), "failedChecks", w.report.FailedChecks())
		if len(problems) > 0 {
			level = slog.LevelWarn
			attrs = append(attrs, "problems", strings.Join(problems, "; "), "fix", strings.Join(unique(fixes), "; "))
		}
	} else if w.readErr != nil {
		level = slog.LevelWarn
		attrs = append(attrs, "healthy", nil, "healthError", w.readErr.Error(), "fix", readFix(w.readErr))
	}
	if w.failures > 0 || daily >= DailyWarning {
		level = slog.LevelWarn
	}
	share, haveShare := 0.0, false
	if hr, ok := w.src.(Headroom); ok {
		share, haveShare = hr.TakeHeadroom()
	}
	if haveShare {
		attrs = append(attrs, "rateLimitHeadroomPct", round1(share*100))
	}
	if m != nil {
		if w.report != nil {
			for _, f := range w.report.Findings {
				v := 0.0
				if !f.OK {
					v = 1
				}
				m.Add(metrics.OktaHookUnhealthy, v, metrics.Dim{Name: metrics.DimCheck, Value: f.Check})
			}
		}
		m.Add(metrics.OktaDeliveryFailures, float64(w.failures))
		if w.stateOK {
			m.Add(metrics.OktaDailyEvents, float64(daily))
		}
		if haveShare {
			m.Add(metrics.OktaRateLimitHeadroom, round1(share*100))
		}
	}
	w.log().Log(ctx, level, "okta side", attrs...)
	if !w.stateOK || snapshot(w.state) == w.loaded {
		return // nothing new: no write
	}
	w.state.UpdatedAt = now
	if err := w.Store.Save(ctx, w.stateName(), w.state); err != nil {
		w.log().WarnContext(ctx, "okta side state not saved: this run's counts are lost", "error", err.Error())
	}
}

// readFix says what to do about a hook that could not be read.
func readFix(err error) string {
	switch {
	case errors.Is(err, oktaapi.ErrForbidden):
		return "grant scope " + oktaapi.EventHooksReadScope + " to the service app and add it to the credentials secret's scopes " +
			"(\"scopes\": \"okta.logs.read " + oktaapi.EventHooksReadScope + "\"), or give the API token's admin a role that may view event hooks; recovery goes on without it"
	case errors.Is(err, oktaapi.ErrUnauthorized):
		return "check the Okta credentials secret"
	case errors.Is(err, oktaapi.ErrRateLimited):
		return "none: Okta's rate limit; the next run reads it"
	}
	return "the next run tries again"
}

// prune forgets hours past 25 and failures past keepFor, and bounds them.
func (w *Watch) prune(now time.Time) {
	from := now.Add(-25 * time.Hour).Unix()
	for h := range w.state.Hours {
		if h < from {
			delete(w.state.Hours, h)
		}
	}
	old := now.Add(-keepFor)
	for u, n := range w.state.Failures {
		if n.At.Before(old) {
			delete(w.state.Failures, u)
		}
	}
	if len(w.state.Failures) > keepFailures {
		type kv struct {
			u string
			n ledger.DeliveryNote
		}
		var all []kv
		for u, n := range w.state.Failures {
			all = append(all, kv{u, n})
		}
		sort.Slice(all, func(i, j int) bool { return all[i].n.At.After(all[j].n.At) })
		for _, e := range all[keepFailures:] {
			delete(w.state.Failures, e.u)
		}
	}
	un := w.state.Unnamed[:0]
	for _, n := range w.state.Unnamed {
		if !n.At.Before(old) {
			un = append(un, n)
		}
	}
	if len(un) > keepUnnamed {
		un = un[len(un)-keepUnnamed:]
	}
	w.state.Unnamed = un
}

func unique(in []string) []string {
	var out []string
	for _, s := range in {
		if s != "" && !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

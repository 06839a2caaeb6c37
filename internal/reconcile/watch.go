package reconcile

import (
	"context"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/oktaapi"
)

// Watch looks at Okta's side of the hook during a scheduled run
// (hookhealth.Watch). Run calls Begin before the read, Page on every page
// read, Recovered for each recovered event's log line, and End before the
// metrics are flushed. None of them can fail the run.
type Watch interface {
	// ExtraTypes are read in the same System Log read as the subscribed
	// types (an "or" clause of the filter); Page takes their events out,
	// so they are never queued.
	ExtraTypes() []string
	// Begin starts a run that reads through src (the run's SystemLog).
	Begin(ctx context.Context, src any)
	// Page sees a page before its events are queued and returns the
	// events to queue (those of the subscribed types).
	Page(ctx context.Context, p oktaapi.Page) []okta.Event
	// Recovered returns log attributes for a recovered event: whether Okta
	// reported its delivery failing, and why.
	Recovered(ev okta.Event) []any
	// End records the run's metrics.
	End(ctx context.Context, m metrics.Adder)
}

// readTypes are the types a scheduled run's filter reads.
func (r *Reconciler) readTypes() []string {
	if r.Watch == nil {
		return r.Types
	}
	return append(append([]string(nil), r.Types...), r.Watch.ExtraTypes()...)
}

func (r *Reconciler) watchBegin(ctx context.Context) {
	if r.Watch != nil {
		r.Watch.Begin(ctx, r.SystemLog)
	}
}

// watchPage returns the page's events to queue.
func (r *Reconciler) watchPage(ctx context.Context, p oktaapi.Page) []okta.Event {
	if r.Watch == nil {
		return p.Events
	}
	return r.Watch.Page(ctx, p)
}

func (r *Reconciler) watchEnd(ctx context.Context) {
	if r.Watch == nil {
		return
	}
	var m metrics.Adder
	if r.Metrics != nil {
		m = r.Metrics
	}
	r.Watch.End(ctx, m)
}

// recoveredAttrs are the Watch's attributes of a recovered event's log
// line (a scheduled run's only: a replay reads no delivery failures).
func (r *Reconciler) recoveredAttrs(ev okta.Event, origin string) []any {
	if r.Watch == nil || origin != envelope.OriginSystemLog {
		return nil
	}
	return r.Watch.Recovered(ev)
}

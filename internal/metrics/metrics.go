// Package metrics names hookline's CloudWatch metrics, once, and writes them
// in the CloudWatch embedded metric format (EMF): JSON lines on stdout that
// CloudWatch Logs turns into metrics as it ingests the function's log. No
// CloudWatch API is called on the request path, and a metric costs nothing
// when its value is not recorded.
//
// Every metric lives in one namespace (the template's MetricsNamespace) with
// the stack name as the Stack dimension, so two stacks in an account never
// mix. Other dimensions are low-cardinality by construction: a status class,
// or a handler name, which comes from code. Never an event uuid, an address
// or anything a caller sends.
//
// template.yaml's alarms and dashboard, and the tests, read Defs: a metric
// that is not in Defs cannot be recorded, and one the template names must be.
package metrics

import (
	"fmt"
	"slices"
)

// DefaultNamespace is the CloudWatch namespace when METRICS_NAMESPACE is
// unset, and the template parameter's default.
const DefaultNamespace = "Hookline"

// Unit is a CloudWatch unit. Only the units used here are defined.
type Unit string

// Units of hookline's metrics.
const (
	Count        Unit = "Count"
	Milliseconds Unit = "Milliseconds"
	Percent      Unit = "Percent"
)

// Kind says how the values one invocation records are written.
type Kind int

const (
	// Counter values are summed: one number per line.
	Counter Kind = iota
	// Distribution values are all kept, as an array of up to MaxValues
	// numbers per line, so percentiles stay exact.
	Distribution
)

// Dimension names.
const (
	DimStack       = "Stack"       // the CloudFormation stack name; on every metric
	DimStatusClass = "StatusClass" // "2xx", "4xx", "5xx" of the receiver's answer
	DimHandler     = "Handler"     // a handler's handlers.Name
	DimCheck       = "Check"       // a hook health check (internal/hookhealth Checks)
	DimOrg         = "Org"         // a configured org (internal/orgs), or orgs.Unknown; never raw input
)

// Metric names. The comment says what one unit is.
const (
	// Receiver.
	Deliveries      = "Deliveries"      // POSTs answered (any method but GET), by StatusClass and in total
	Verifications   = "Verifications"   // verification GETs answered, by StatusClass
	AuthFailures    = "AuthFailures"    // requests refused 401 (auth header) or 403 (source address)
	EventsReceived  = "EventsReceived"  // events in authenticated, well-formed deliveries
	EventsEnqueued  = "EventsEnqueued"  // events put on the events queue
	EnqueueFailures = "EnqueueFailures" // events not put on the queue (the delivery answered 5xx)
	// By org (Org: a configured name, or orgs.Unknown for a path naming none).
	OrgEventsEnqueued = "OrgEventsEnqueued" // EventsEnqueued of one org
	OrgAuthFailures   = "OrgAuthFailures"   // AuthFailures, and 404s of unknown orgs, by org
	OrgEventsHandled  = "OrgEventsHandled"  // EventsHandled of one org (worker)

	// Worker.
	EventsHandled     = "EventsHandled"     // records done: every handler succeeded now or before
	EventsRetried     = "EventsRetried"     // records failed back to the queue, to come again after a backoff
	EventsParked      = "EventsParked"      // records sent to the dead-letter queue
	DuplicatesSkipped = "DuplicatesSkipped" // handler runs skipped: the ledger says already done
	StaleSkipped      = "StaleSkipped"      // handlers.Latest runs skipped: a newer event of the subject already ran
	FilteredSkipped   = "FilteredSkipped"   // handler runs skipped: the event did not match the handler's handlers.Where
	HandlerErrors     = "HandlerErrors"     // handler runs that returned an error or panicked, by Handler and in total
	HandlerDuration   = "HandlerDuration"   // one handler run, by Handler
	EndToEndLag       = "EndToEndLag"       // from Okta's published time to the event handled
	SchemaChanges     = "SchemaChanges"     // payload drift: paths added, retyped or possibly removed ("schema changed")

	// Reconciler.
	EventsRecovered = "EventsRecovered" // events found in Okta's System Log but never received, queued again
	EventsUnkeyable = "EventsUnkeyable" // System Log events without a usable uuid, parked in the dead-letter queue

	// Streamer (Okta Log Streaming).
	EventsStreamed = "EventsStreamed" // streamed events of a subscribed type not queued before, put on the events queue

	// Reconciler, Okta's side (internal/hookhealth), once per run.
	OktaHookUnhealthy     = "OktaHookUnhealthy"     // 1 when a hook health check failed, 0 when it passed, by Check and in total
	OktaDeliveryFailures  = "OktaDeliveryFailures"  // event_hook.delivery failures Okta logged for the stack's hook
	OktaDailyEvents       = "OktaDailyEvents"       // subscribed events published in the last 24 hours (Okta's daily cap counts them)
	OktaRateLimitHeadroom = "OktaRateLimitHeadroom" // lowest X-Rate-Limit-Remaining as a percentage of X-Rate-Limit-Limit in the run
)

// Def is one metric.
type Def struct {
	Name string
	Unit Unit
	Kind Kind
	// Dimensions are the dimensions besides Stack, in the order Add takes them.
	Dimensions []string
	// Total also publishes the metric with the Stack dimension alone, summed
	// over the other dimensions (one more custom metric).
	Total bool
	// Emitter is the function that records it: "receiver", "worker",
	// "reconciler" or "streamer".
	Emitter string
}

// Defs is every metric hookline writes.
var Defs = []Def{
	{Name: Deliveries, Unit: Count, Dimensions: []string{DimStatusClass}, Total: true, Emitter: "receiver"},
	{Name: Verifications, Unit: Count, Dimensions: []string{DimStatusClass}, Emitter: "receiver"},
	{Name: AuthFailures, Unit: Count, Emitter: "receiver"},
	{Name: EventsReceived, Unit: Count, Emitter: "receiver"},
	{Name: EventsEnqueued, Unit: Count, Emitter: "receiver"},
	{Name: EnqueueFailures, Unit: Count, Emitter: "receiver"},
	{Name: OrgEventsEnqueued, Unit: Count, Dimensions: []string{DimOrg}, Emitter: "receiver"},
	{Name: OrgAuthFailures, Unit: Count, Dimensions: []string{DimOrg}, Emitter: "receiver"},
	{Name: OrgEventsHandled, Unit: Count, Dimensions: []string{DimOrg}, Emitter: "worker"},
	{Name: EventsHandled, Unit: Count, Emitter: "worker"},
	{Name: EventsRetried, Unit: Count, Emitter: "worker"},
	{Name: EventsParked, Unit: Count, Emitter: "worker"},
	{Name: DuplicatesSkipped, Unit: Count, Emitter: "worker"},
	{Name: StaleSkipped, Unit: Count, Emitter: "worker"},
	{Name: FilteredSkipped, Unit: Count, Emitter: "worker"},
	{Name: HandlerErrors, Unit: Count, Dimensions: []string{DimHandler}, Total: true, Emitter: "worker"},
	{Name: HandlerDuration, Unit: Milliseconds, Kind: Distribution, Dimensions: []string{DimHandler}, Emitter: "worker"},
	{Name: EndToEndLag, Unit: Milliseconds, Kind: Distribution, Emitter: "worker"},
	{Name: SchemaChanges, Unit: Count, Emitter: "worker"},
	{Name: EventsRecovered, Unit: Count, Emitter: "reconciler"},
	{Name: EventsUnkeyable, Unit: Count, Emitter: "reconciler"},
	{Name: EventsStreamed, Unit: Count, Emitter: "streamer"},
	{Name: OktaHookUnhealthy, Unit: Count, Dimensions: []string{DimCheck}, Total: true, Emitter: "reconciler"},
	{Name: OktaDeliveryFailures, Unit: Count, Emitter: "reconciler"},
	{Name: OktaDailyEvents, Unit: Count, Emitter: "reconciler"},
	{Name: OktaRateLimitHeadroom, Unit: Percent, Emitter: "reconciler"},
}

// Find returns the definition of the named metric.
func Find(name string) (Def, bool) {
	i := slices.IndexFunc(Defs, func(d Def) bool { return d.Name == name })
	if i < 0 {
		return Def{}, false
	}
	return Defs[i], true
}

// DimensionSets are the dimension sets the metric is published under, as an
// EMF directive lists them.
func (d Def) DimensionSets() [][]string {
	sets := [][]string{append([]string{DimStack}, d.Dimensions...)}
	if d.Total && len(d.Dimensions) > 0 {
		sets = append(sets, []string{DimStack})
	}
	return sets
}

// StatusClass is the StatusClass dimension value of an HTTP status.
func StatusClass(status int) string {
	if status < 100 || status > 599 {
		return "other"
	}
	return fmt.Sprintf("%dxx", status/100)
}

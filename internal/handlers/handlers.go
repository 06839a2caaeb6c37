// Package handlers is where Go code meets Okta events: register a function
// for an event type, or a family of them, and the worker runs it for every
// matching event.
//
//	reg.On("user.lifecycle.create", provision)
//	reg.On("user.lifecycle.*", audit)   // any type that starts with "user.lifecycle."
//	reg.On("*", archive)                // every event
package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/okta"
)

// Event is one Okta System Log event, as a handler receives it.
type Event struct {
	UUID      string
	Type      string
	Published time.Time
	// Raw is the event exactly as Okta sent it.
	Raw json.RawMessage

	DeliveryID   string    // the Okta delivery (eventId) it came in
	Origin       string    // the hook URL of the delivery, "systemlog" when read from the System Log, "logstream" from Okta Log Streaming (envelope.Message.Origin)
	Org          string    // the Okta org that sent it; "" is the stack's one org (envelope.Message.Org)
	ReceivedAt   time.Time // when the receiver accepted it
	MessageID    string    // the SQS message id
	ReceiveCount int       // SQS ApproximateReceiveCount: 1 on the first try
}

// LogEvent returns the event's typed fields, read leniently
// (okta.ParseLogEvent): a field whose value is of a type Okta does not
// document is left zero, the rest is read, and nothing fails. Raw stays the
// event as Okta sent it.
func (e Event) LogEvent() okta.LogEvent {
	le, _ := okta.ParseLogEvent(e.Raw)
	return le
}

// Decode unmarshals the raw event into v, such as your own struct. Unlike
// LogEvent it fails on a value of an unexpected type.
func (e Event) Decode(v any) error {
	return json.Unmarshal(e.Raw, v)
}

// Handler handles one event. Return an error to have the event retried
// later; wrap it with Permanent when retrying cannot help.
type Handler func(ctx context.Context, ev Event) error

// PermanentError marks a failure that retrying will not fix.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return "permanent: " + e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the worker parks the event instead of retrying it.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// IsPermanent reports whether err was wrapped by Permanent.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// Route is one registration.
type Route struct {
	Pattern string
	// Name identifies the handler in logs and in the idempotency ledger, so
	// keep it stable across deploys.
	Name    string
	Handler Handler
	// Timeout bounds one run; zero means whatever the invocation has left.
	Timeout time.Duration
	// Idempotent says running the handler twice on one event does no harm,
	// so the worker does not claim and complete it in the idempotency
	// ledger: two DynamoDB writes saved per event, and a duplicate runs it
	// again.
	Idempotent bool
	// SkipActors are Okta actor ids and OAuth client ids whose events the
	// handler never sees (see SkipActors).
	SkipActors []string
	// Latest, when set, picks the subject key of an event: the handler
	// keeps that subject's state, and only its newest event runs (see
	// Latest).
	Latest Subject
	// Where filters the events the handler runs on (see Where).
	Where []func(okta.LogEvent) bool
	// Orgs, when set, are the only orgs whose events the handler runs on
	// (see Orgs).
	Orgs []string
}

// ForOrg reports whether the route runs on events of org (an event's Org,
// or the stack's default org for an event without one).
func (r Route) ForOrg(org string) bool {
	return len(r.Orgs) == 0 || slices.Contains(r.Orgs, org)
}

// Option adjusts a registration.
type Option func(*Route)

// Name sets the handler's stable name. The default is the pattern, with
// "#2", "#3"… for later registrations of the same pattern.
func Name(name string) Option { return func(r *Route) { r.Name = name } }

// Timeout bounds each run of the handler.
func Timeout(d time.Duration) Option { return func(r *Route) { r.Timeout = d } }

// Idempotent marks a handler whose second run on an event does no harm (a
// log line, a put its consumers dedupe by event uuid): it skips the
// idempotency ledger, saving its two writes per event.
func Idempotent() Option { return func(r *Route) { r.Idempotent = true } }

// SkipActors names Okta actor ids (actor.id, such as the admin user an API
// token acts as, 00u…) and OAuth client ids (client.id, the service app a
// call was made with, 0oa…) whose events the handler is not run on: the
// worker logs "skipped: own actor" and counts them. A handler that writes to
// Okta names its own identity here, so the events its writes cause do not
// come back to it in a loop.
func SkipActors(ids ...string) Option {
	return func(r *Route) { r.SkipActors = append(r.SkipActors, ids...) }
}

// Orgs runs the handler only on the events of the named orgs (the names of
// the stack's OktaOrgs); an event without an org (a stack of one org, or a
// message queued before orgs) is the default org's, the first of OktaOrgs,
// and on a stack of one org every event is.
// Other events are skipped as filtered, as by Where.
func Orgs(names ...string) Option {
	return func(r *Route) { r.Orgs = append(r.Orgs, names...) }
}

// Registry maps event types to handlers. The zero value is ready to use.
type Registry struct {
	mu     sync.RWMutex
	routes []Route
}

// On registers h for events whose type matches pattern: an exact type, a
// prefix ending in ".*", or "*" for all. It panics on a malformed pattern or
// a duplicate name, as http.ServeMux does, because both are programming
// errors that should stop a deploy, not an event.
func (r *Registry) On(pattern string, h Handler, opts ...Option) {
	if err := validPattern(pattern); err != nil {
		panic(err)
	}
	if h == nil {
		panic("handlers: nil handler for " + pattern)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	route := Route{Pattern: pattern, Handler: h}
	for _, opt := range opts {
		opt(&route)
	}
	if route.Name == "" {
		route.Name = pattern
		n := 1
		for _, existing := range r.routes {
			if existing.Pattern == pattern {
				n++
			}
		}
		if n > 1 {
			route.Name = fmt.Sprintf("%s#%d", pattern, n)
		}
	}
	for _, existing := range r.routes {
		if existing.Name == route.Name {
			panic("handlers: two handlers named " + route.Name)
		}
	}
	r.routes = append(r.routes, route)
}

// Match returns the routes for an event type, in registration order.
func (r *Registry) Match(eventType string) []Route {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Route
	for _, route := range r.routes {
		if matches(route.Pattern, eventType) {
			out = append(out, route)
		}
	}
	return out
}

// Routes returns every registration.
func (r *Registry) Routes() []Route {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]Route(nil), r.routes...)
}

func validPattern(p string) error {
	switch {
	case p == "":
		return errors.New("handlers: empty pattern")
	case p == "*":
		return nil
	case strings.Contains(strings.TrimSuffix(p, ".*"), "*"):
		return fmt.Errorf("handlers: pattern %q: '*' may only end a pattern, as in \"user.lifecycle.*\"", p)
	case strings.HasPrefix(p, ".") || strings.Contains(p, ".."):
		return fmt.Errorf("handlers: pattern %q has an empty segment", p)
	}
	return nil
}

func matches(pattern, eventType string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(eventType, prefix) && len(eventType) > len(prefix)
	}
	return pattern == eventType
}

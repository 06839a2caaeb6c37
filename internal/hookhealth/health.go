// Package hookhealth watches Okta's side of the event hook, which hookline
// cannot see from its endpoint: whether Okta will deliver at all (the hook is
// found, ACTIVE, VERIFIED, subscribed to exactly the stack's event types and
// pointing at the stack's endpoint), the deliveries Okta itself logged as
// failed (event_hook.delivery events in the System Log), how close the org
// is to Okta's daily cap of 400,000 hook events, and how much of Okta's rate
// limit is left.
//
// Evaluate is the health check on one hook, shared by the reconciler and
// `hookline okta status`. Watch runs everything during a reconciler run (see
// reconcile.Watch): one Okta request for the hook, the System Log pages the
// run reads anyway, and one DynamoDB read and one write for what it keeps
// between runs (ledger.OktaSide).
package hookhealth

import (
	"slices"
	"strings"

	"github.com/hookline/hookline/internal/oktaapi"
)

// The checks, as the Check dimension of metrics.OktaHookUnhealthy names
// them, in the order they are reported.
const (
	CheckFound    = "found"    // Okta has the hook
	CheckActive   = "active"   // status ACTIVE: Okta delivers
	CheckVerified = "verified" // verificationStatus VERIFIED: Okta delivers
	CheckTypes    = "types"    // subscribed to exactly the stack's OktaEventTypes
	CheckURI      = "uri"      // its URI is the stack's EndpointUrl
)

// Checks lists every check.
var Checks = []string{CheckFound, CheckActive, CheckVerified, CheckTypes, CheckURI}

// Want is the hook the stack needs.
type Want struct {
	// Name, when set, names the hook (or its id); otherwise the hook is the
	// one whose URI is URI.
	Name string
	// URI is the stack's EndpointUrl.
	URI string
	// Types are the stack's OktaEventTypes.
	Types []string
	// Stack is the stack's name, for the fixing commands.
	Stack string
}

// Finding is the outcome of one check.
type Finding struct {
	Check string
	OK    bool
	// Problem says what is wrong and Fix the command that fixes it; both
	// empty when OK.
	Problem, Fix string
}

// Report is the outcome of the checks on one hook.
type Report struct {
	// Hook is the hook checked; nil when none was found.
	Hook *oktaapi.EventHook
	// Findings has one entry per check of Checks; only CheckFound when no
	// hook was found, as the others cannot be told.
	Findings []Finding
}

// Healthy reports whether every check passed.
func (r Report) Healthy() bool { return len(r.Failed()) == 0 }

// Failed returns the failed checks.
func (r Report) Failed() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if !f.OK {
			out = append(out, f)
		}
	}
	return out
}

// FailedChecks are the names of the failed checks.
func (r Report) FailedChecks() []string {
	var out []string
	for _, f := range r.Failed() {
		out = append(out, f.Check)
	}
	return out
}

// Find returns the stack's hook among hooks: the one named w.Name (or with
// that id), else, without a name, the first whose URI is w.URI; nil when
// none is.
func Find(hooks []oktaapi.EventHook, w Want) *oktaapi.EventHook {
	for i := range hooks {
		if w.Name != "" && (hooks[i].Name == w.Name || hooks[i].ID == w.Name) {
			return &hooks[i]
		}
		if w.Name == "" && w.URI != "" && hooks[i].Channel.Config.URI == w.URI {
			return &hooks[i]
		}
	}
	return nil
}

// Evaluate checks h (nil: not found) against w.
func Evaluate(h *oktaapi.EventHook, w Want) Report {
	register := "hookline okta register --stack " + stackArg(w.Stack)
	if w.Name != "" {
		register += " --name " + w.Name
	}
	if h == nil {
		what := "no event hook points at " + w.URI
		if w.Name != "" {
			what = "Okta has no event hook named " + w.Name
		}
		return Report{Findings: []Finding{{Check: CheckFound, Problem: what + ": Okta delivers nothing to this stack", Fix: register}}}
	}
	r := Report{Hook: h}
	add := func(check string, ok bool, problem, fix string) {
		f := Finding{Check: check, OK: ok}
		if !ok {
			f.Problem, f.Fix = problem, fix
		}
		r.Findings = append(r.Findings, f)
	}
	add(CheckFound, true, "", "")
	add(CheckActive, h.Status == oktaapi.StatusActive,
		"the hook is "+orNone(h.Status)+", not ACTIVE: Okta delivers nothing", "hookline okta activate "+h.Name)
	add(CheckVerified, h.VerificationStatus == oktaapi.StatusVerified,
		"the hook is "+orNone(h.VerificationStatus)+", not VERIFIED: Okta delivers nothing until it is verified", register)
	diff := TypesDiff(h.Events.Items, w.Types)
	add(CheckTypes, diff == "", "its event types differ from OktaEventTypes: "+diff, register)
	add(CheckURI, w.URI == "" || h.Channel.Config.URI == w.URI,
		"it points at "+orNone(h.Channel.Config.URI)+", not the stack's EndpointUrl "+w.URI, register)
	return r
}

func stackArg(s string) string {
	if s == "" {
		return "STACK"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// TypesDiff says how a hook's types differ from want ("" when they are
// the same set).
func TypesDiff(have, want []string) string {
	var missing, extra []string
	for _, t := range want {
		if !slices.Contains(have, t) {
			missing = append(missing, t)
		}
	}
	for _, t := range have {
		if !slices.Contains(want, t) {
			extra = append(extra, t)
		}
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "not subscribed to "+strings.Join(missing, ","))
	}
	if len(extra) > 0 {
		parts = append(parts, "also subscribed to "+strings.Join(extra, ","))
	}
	return strings.Join(parts, "; ")
}

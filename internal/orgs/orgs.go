// Package orgs names the Okta orgs one stack serves and where each org's
// secrets live.
//
// A stack serves the orgs its OktaOrgs parameter lists (OKTA_ORGS in the
// functions' environment), the first one being the default org. The default
// org is today's single org: its hook URL is the stack's EndpointUrl
// (/okta/events), its hook secret the stack's HookSecret and its Okta
// credentials the OktaCredentialsSecretArn secret, so a stack that names one
// org behaves as a stack before orgs did. Every other org has the hook URL
// /okta/events/<org> and two secrets the operator creates, named by the stack
// and the org, which the template grants by exactly those names:
//
//	hookline/<stack>/<org>/hook   the hook secret (AWSCURRENT, AWSPREVIOUS)
//	hookline/<stack>/<org>/okta   the Okta API credentials
//
// Org names are short lower-case words, so that they can be a path segment,
// a secret name part, a ledger key part and a metric dimension value; only
// configured names ever become one, never raw input.
package orgs

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// DefaultName is the org of a stack whose OktaOrgs is not set.
const DefaultName = "default"

// MaxOrgs bounds the orgs of one stack: template.yaml grants the secrets of
// the orgs after the default one in MaxOrgs-1 fixed slots (CloudFormation has
// no loops). Each org also costs a verifier in every receiver container, a
// System Log read in every reconciler run and a value of the Org dimension.
const MaxOrgs = 10

// Unknown is the Org dimension value of a request naming no configured org.
// It is not a valid org name, so it never collides with one.
const Unknown = "-"

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,30}$`)

// ErrInvalid wraps every problem Parse finds.
var ErrInvalid = errors.New("orgs: invalid OktaOrgs")

// List is a stack's orgs in their configured order; the first is the
// default org. The zero List stands for the one org DefaultName.
type List struct {
	names []string
}

// Parse reads a comma-separated list such as OKTA_ORGS. Blank means the one
// org DefaultName. Names must be valid (lower-case letters, digits and
// hyphens, at most 31), distinct and at most MaxOrgs.
func Parse(list string) (List, error) {
	var names []string
	var errs []error
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		switch {
		case n == "":
			continue
		case !validName.MatchString(n):
			errs = append(errs, fmt.Errorf("%q: want lower-case letters, digits and hyphens, at most 31", n))
		case slices.Contains(names, n):
			errs = append(errs, fmt.Errorf("%q is named twice", n))
		default:
			names = append(names, n)
		}
	}
	if len(names) > MaxOrgs {
		errs = append(errs, fmt.Errorf("%d orgs: at most %d", len(names), MaxOrgs))
	}
	if len(errs) > 0 {
		return List{}, fmt.Errorf("%w: %w", ErrInvalid, errors.Join(errs...))
	}
	return List{names: names}, nil
}

// Names returns the orgs, the default first.
func (l List) Names() []string {
	if len(l.names) == 0 {
		return []string{DefaultName}
	}
	return slices.Clone(l.names)
}

// Default returns the default org's name.
func (l List) Default() string {
	if len(l.names) == 0 {
		return DefaultName
	}
	return l.names[0]
}

// IsDefault reports whether org is the default org.
func (l List) IsDefault(org string) bool { return org == l.Default() }

// Has reports whether org is one of the configured orgs.
func (l List) Has(org string) bool {
	if len(l.names) == 0 {
		return org == DefaultName
	}
	return slices.Contains(l.names, org)
}

// Len returns the number of orgs.
func (l List) Len() int { return max(1, len(l.names)) }

// Secret kinds of an org (the last part of its secret names).
const (
	KindHook = "hook"
	KindOkta = "okta"
)

// SecretName is the name of a non-default org's secret of kind KindHook or
// KindOkta in the stack named stack: "hookline/<stack>/<org>/<kind>".
func SecretName(stack, org, kind string) string {
	return "hookline/" + stack + "/" + org + "/" + kind
}

// SecretID returns the Secrets Manager id of org's secret of kind: the
// default org's is defaultID (the stack's own secret), any other org's its
// SecretName.
func (l List) SecretID(stack, org, kind, defaultID string) string {
	if l.IsDefault(org) {
		return defaultID
	}
	return SecretName(stack, org, kind)
}

// HookPath is the path of org's hook URL under the API: "/okta/events" for
// the default org, "/okta/events/<org>" for the others. The default org is
// also served at "/okta/events/<default>".
func (l List) HookPath(org string) string {
	if l.IsDefault(org) {
		return BasePath
	}
	return BasePath + "/" + org
}

// BasePath is the default org's hook path, and the parent of every other's.
const BasePath = "/okta/events"

// FromPath returns the org a hook request's path names: the segment after
// BasePath, or the default org for BasePath itself (and for no path at all,
// as a direct invocation without a path has). A stage name before BasePath
// is allowed. ok is false when the path names no configured org (the
// receiver answers 404).
func (l List) FromPath(path string) (org string, ok bool) {
	if path == "" {
		return l.Default(), true
	}
	i := strings.Index(path, BasePath)
	if i < 0 {
		return "", false
	}
	rest := strings.TrimSuffix(path[i+len(BasePath):], "/")
	if rest == "" {
		return l.Default(), true
	}
	seg, found := strings.CutPrefix(rest, "/")
	if !found || strings.Contains(seg, "/") || !l.Has(seg) {
		return "", false
	}
	return seg, true
}

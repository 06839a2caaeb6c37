package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hookline/hookline/internal/orgs"
)

// ErrUnknownOrg means a request named an org the stack does not serve.
// Callers answer 404; no secret is read for it.
var ErrUnknownOrg = errors.New("unknown org")

// Orgs keeps one Verifier per org of a stack, each with its own secret and
// cache. A verifier is made on its org's first request (or by Refresh), and
// only for the configured orgs: a request naming any other org costs no
// Secrets Manager call and no memory. It is safe for concurrent use.
//
// A value that is another org's current or previous secret is refused at
// once (false, nil) on a URL of an org it does not belong to, without a read:
// it cannot be a newly rotated secret of this org unless the two orgs share a
// secret, which they must not.
type Orgs struct {
	list     orgs.List
	secrets  func(org string) Secrets
	settings Settings

	mu    sync.Mutex
	byOrg map[string]*Verifier
}

// NewOrgs returns the verifiers of the orgs in list; secrets gives the
// secret store of one org.
func NewOrgs(list orgs.List, secrets func(org string) Secrets, s Settings) *Orgs {
	return &Orgs{list: list, secrets: secrets, settings: s, byOrg: make(map[string]*Verifier, list.Len())}
}

// verifier returns org's verifier, making it on first use.
func (o *Orgs) verifier(org string) (*Verifier, error) {
	if !o.list.Has(org) {
		return nil, fmt.Errorf("%w %q", ErrUnknownOrg, org)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	v := o.byOrg[org]
	if v == nil {
		v = NewVerifier(o.secrets(org), o.settings)
		o.byOrg[org] = v
	}
	return v, nil
}

// Check reports whether presented is org's current or previous secret, as
// Verifier.Check does. An unconfigured org gives ErrUnknownOrg.
func (o *Orgs) Check(ctx context.Context, org, presented string) (bool, error) {
	v, err := o.verifier(org)
	if err != nil {
		return false, err
	}
	if v.Holds(presented) {
		return true, nil
	}
	if o.heldElsewhere(org, presented) {
		return false, nil
	}
	return v.Check(ctx, presented)
}

// heldElsewhere reports whether presented is a cached secret of another org.
func (o *Orgs) heldElsewhere(org, presented string) bool {
	o.mu.Lock()
	others := make([]*Verifier, 0, len(o.byOrg))
	for name, v := range o.byOrg {
		if name != org {
			others = append(others, v)
		}
	}
	o.mu.Unlock()
	for _, v := range others {
		if v.Holds(presented) {
			return true
		}
	}
	return false
}

// Refresh reads every org's secret now, all at once, so that the first
// request of each org does not pay for it; it reports the orgs whose secret
// could not be read.
func (o *Orgs) Refresh(ctx context.Context) error {
	names := o.list.Names()
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, org := range names {
		v, _ := o.verifier(org)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := v.Refresh(ctx); err != nil {
				errs[i] = fmt.Errorf("org %s: %w", org, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

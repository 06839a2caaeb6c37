package reconcile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/hookline/hookline/internal/oktaapi"
)

// Scheduled is the reconciler Lambda's handler. It reads the Okta
// credentials at every invocation, so a rotated token or key is used on the
// next run, and keeps one API client while they stay the same (its access
// token and rate-limit state carry over).
type Scheduled struct {
	// Reconciler is used with its SystemLog set per invocation.
	Reconciler *Reconciler
	// Credentials reads the credentials secret.
	Credentials func(ctx context.Context) (oktaapi.Credentials, error)
	// Okta tunes each new API client.
	Okta oktaapi.Settings

	mu     sync.Mutex
	creds  oktaapi.Credentials
	client *oktaapi.Client
}

// Handle runs one reconciliation for a schedule event (its content is not
// used) and answers the run's Stats.
func (s *Scheduled) Handle(ctx context.Context, _ json.RawMessage) (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	client, err := s.source(ctx)
	if err != nil {
		s.Reconciler.log().ErrorContext(ctx, "reconcile run", "pages", 0, "seen", 0, "alreadyDelivered", 0, "recovered", 0,
			"stopped", StopError, "error", err.Error())
		return Stats{Stopped: StopError}, err
	}
	r := *s.Reconciler
	r.SystemLog = client
	return r.Run(ctx)
}

func (s *Scheduled) source(ctx context.Context) (*oktaapi.Client, error) {
	creds, err := s.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	if s.client != nil && creds == s.creds {
		return s.client, nil
	}
	client, err := oktaapi.New(creds, s.Okta)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	s.creds, s.client = creds, client
	return client, nil
}

// Org is one org a Scheduled reconciles, with its own credentials, cursor,
// Okta API client and Watch.
type Org struct {
	// Name is the org's name, in its log lines.
	Name string
	// Stamp is the org stamped on its events (Reconciler.Org): its name on
	// a stack of several orgs, "" on a stack of one.
	Stamp string
	// Cursor names its cursor (Reconciler.Cursor).
	Cursor string
	// Credentials reads its Okta credentials secret.
	Credentials func(ctx context.Context) (oktaapi.Credentials, error)
	// Watch looks at its hook (Reconciler.Watch); nil: none.
	Watch Watch

	creds  oktaapi.Credentials
	client *oktaapi.Client
}

// HandleOrgs runs one reconciliation of every org in orgs at once, each
// with its own copy of s.Reconciler, cursor and API client: one org's
// failure (a rate limit, a bad token, an unreadable secret) ends that org's
// run only, and never delays another's. It answers the sum of the runs'
// Stats (Stopped: error if any org's run failed, else the default org's)
// and the orgs' errors, each naming its org.
func (s *Scheduled) HandleOrgs(ctx context.Context, orgs []*Org) (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	stats := make([]Stats, len(orgs))
	errs := make([]error, len(orgs))
	var wg sync.WaitGroup
	for i, o := range orgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stats[i], errs[i] = s.runOrg(ctx, o)
			if errs[i] != nil {
				errs[i] = fmt.Errorf("org %s: %w", o.Name, errs[i])
			}
		}()
	}
	wg.Wait()
	var sum Stats
	for i, st := range stats {
		sum.Pages += st.Pages
		sum.Seen += st.Seen
		sum.Marked += st.Marked
		sum.Queued += st.Queued
		sum.Parked += st.Parked
		sum.Failed += st.Failed
		if st.OldestQueued != "" && (sum.OldestQueued == "" || st.OldestQueued < sum.OldestQueued) {
			sum.OldestQueued = st.OldestQueued
		}
		if i == 0 {
			sum.Stopped = st.Stopped
		}
		if errs[i] != nil {
			sum.Stopped = StopError
		}
	}
	return sum, errors.Join(errs...)
}

func (s *Scheduled) runOrg(ctx context.Context, o *Org) (Stats, error) {
	r := *s.Reconciler
	r.Org, r.Cursor, r.Watch = o.Stamp, o.Cursor, o.Watch
	r.Log = r.log().With("org", o.Name)
	creds, err := o.Credentials(ctx)
	if err == nil && (o.client == nil || creds != o.creds) {
		var client *oktaapi.Client
		if client, err = oktaapi.New(creds, s.Okta); err == nil {
			o.creds, o.client = creds, client
		}
	}
	if err != nil {
		r.log().ErrorContext(ctx, "reconcile run", "pages", 0, "seen", 0, "alreadyDelivered", 0, "recovered", 0,
			"stopped", StopError, "error", err.Error())
		return Stats{Stopped: StopError}, err
	}
	r.SystemLog = o.client
	return r.Run(ctx)
}

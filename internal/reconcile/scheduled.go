package reconcile

import (
	"context"
	"encoding/json"
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

// Package auth checks Okta's auth header against the hook secret.
//
// The secret lives in Secrets Manager. Both the AWSCURRENT and the
// AWSPREVIOUS values are accepted so a rotation never drops a delivery, the
// values are cached with a TTL, and a failed compare may refresh them at
// most once per RefreshInterval so bad requests cannot hammer the API.
// When the secret cannot be read, nothing is accepted.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrUnavailable means the secret could not be read; callers answer 503.
var ErrUnavailable = errors.New("hook secret unavailable")

// Secrets is what a verifier needs from a secret store.
type Secrets interface {
	// Fetch returns the current value and, if one exists, the previous one
	// (empty otherwise).
	Fetch(ctx context.Context) (current, previous string, err error)
}

// Verifier compares presented header values with the cached secret values.
type Verifier struct {
	secrets         Secrets
	ttl             time.Duration
	refreshInterval time.Duration
	now             func() time.Time

	mu          sync.Mutex
	digests     [][sha256.Size]byte
	fetchedAt   time.Time
	lastRefresh time.Time // last refresh forced by a failed compare
	failedAt    time.Time // last failed fetch
}

// failureBackoff keeps an unreachable Secrets Manager from being called on
// every request while it is down.
const failureBackoff = time.Second

// Option configures a Verifier.
type Option func(*Verifier)

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option { return func(v *Verifier) { v.now = now } }

// WithRefreshInterval sets how often a failed compare may refresh the secret.
func WithRefreshInterval(d time.Duration) Option {
	return func(v *Verifier) { v.refreshInterval = d }
}

// NewVerifier returns a Verifier that caches values for ttl.
func NewVerifier(secrets Secrets, ttl time.Duration, opts ...Option) *Verifier {
	v := &Verifier{secrets: secrets, ttl: ttl, refreshInterval: 30 * time.Second, now: time.Now}
	for _, opt := range opts {
		opt(v)
	}
	return v
}

// Refresh fetches the secret now. Call it during init so the first request
// does not pay for it.
func (v *Verifier) Refresh(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.refreshLocked(ctx)
}

func (v *Verifier) refreshLocked(ctx context.Context) error {
	return v.fetchLocked(ctx, true)
}

// fetchLocked reads the secret. With forget, a failure drops the cached
// values (they have expired: fail closed); without, they stay, because they
// are still within their TTL and valid requests must keep passing.
func (v *Verifier) fetchLocked(ctx context.Context, forget bool) error {
	if !v.failedAt.IsZero() && v.now().Sub(v.failedAt) < failureBackoff {
		if forget {
			v.digests = nil
		}
		return fmt.Errorf("%w: last fetch failed %s ago", ErrUnavailable, v.now().Sub(v.failedAt).Round(time.Millisecond))
	}
	current, previous, err := v.secrets.Fetch(ctx)
	if err == nil && current == "" {
		err = errors.New("secret value is empty")
	}
	if err != nil {
		if forget {
			v.digests = nil
			v.fetchedAt = time.Time{}
		}
		v.failedAt = v.now()
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	v.failedAt = time.Time{}
	v.digests = v.digests[:0]
	v.digests = append(v.digests, sha256.Sum256([]byte(current)))
	if previous != "" && previous != current {
		v.digests = append(v.digests, sha256.Sum256([]byte(previous)))
	}
	v.fetchedAt = v.now()
	return nil
}

// Check reports whether presented matches the current or previous secret.
// It returns an error wrapping ErrUnavailable when the secret cannot be read.
func (v *Verifier) Check(ctx context.Context, presented string) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	if v.digests == nil || now.Sub(v.fetchedAt) >= v.ttl {
		if err := v.refreshLocked(ctx); err != nil {
			return false, err
		}
	}
	if presented == "" {
		return false, nil
	}
	digest := sha256.Sum256([]byte(presented))
	if v.matches(digest) {
		return true, nil
	}
	// The secret may have rotated since we cached it.
	if now.Sub(v.lastRefresh) < v.refreshInterval {
		return false, nil
	}
	v.lastRefresh = now
	// The presented value may be a newly rotated one we cannot confirm: 503
	// lets Okta retry. The cached values stay for everyone else.
	if err := v.fetchLocked(ctx, false); err != nil {
		return false, err
	}
	return v.matches(digest), nil
}

// matches compares SHA-256 digests so the compare takes the same time
// whatever the lengths of the values.
func (v *Verifier) matches(digest [sha256.Size]byte) bool {
	ok := 0
	for _, d := range v.digests {
		ok |= subtle.ConstantTimeCompare(digest[:], d[:])
	}
	return ok == 1
}

// Package auth checks Okta's auth header against the hook secret.
//
// The secret lives in Secrets Manager. Both the AWSCURRENT and the
// AWSPREVIOUS values are accepted, so a rotation never drops a delivery, and
// the values are cached for a TTL.
//
// A value that matches neither cached value may be a newly rotated one, so
// it is never refused on the strength of values read before the request
// arrived: the secret is read again (one read at a time, bounded by its own
// timeout) and the value refused only if it matches neither fresh value. To
// keep a flood of wrong values from hammering Secrets Manager, those re-reads
// draw on a small budget (DefaultRefreshBurst, then one more every
// DefaultRefreshEvery; see Settings); when it is spent, or Secrets
// Manager is failing, such a value is neither accepted nor refused but left
// unconfirmed (ErrUnconfirmed: callers answer 503, so Okta retries instead of
// dropping the delivery as it would on a 401).
//
// When the secret cannot be read and the cached values have expired, nothing
// is accepted (ErrUnavailable).
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

var (
	// ErrUnavailable means the secret could not be read and no cached value
	// is valid: nothing can be accepted. Callers answer 503.
	ErrUnavailable = errors.New("hook secret unavailable")
	// ErrUnconfirmed means the presented value matches no cached value and
	// the secret could not be read again to tell whether it was rotated.
	// Callers answer 503, not 401, so that Okta retries.
	ErrUnconfirmed = errors.New("auth value unconfirmed")
)

// Secrets is what a verifier needs from a secret store.
type Secrets interface {
	// Fetch returns the current value and, if one exists, the previous one
	// (empty otherwise).
	Fetch(ctx context.Context) (current, previous string, err error)
}

// Defaults for the zero fields of Settings.
const (
	// DefaultTTL is how long read values are trusted before they are read
	// again.
	DefaultTTL = 5 * time.Minute
	// DefaultFetchTimeout bounds one read of the secret (both stages).
	DefaultFetchTimeout = time.Second
	// DefaultRefreshBurst and DefaultRefreshEvery bound the re-reads caused
	// by unknown values: at most 10 at once, then one every 2 s, so at most
	// 40 in any minute.
	DefaultRefreshBurst = 10
	DefaultRefreshEvery = 2 * time.Second
)

// failureBackoff keeps an unreachable Secrets Manager from being called on
// every request while it is down.
const failureBackoff = time.Second

// Verifier compares presented header values with the cached secret values.
// It is safe for concurrent use.
type Verifier struct {
	secrets      Secrets
	ttl          time.Duration
	fetchTimeout time.Duration
	burst        int
	every        time.Duration

	mu        sync.Mutex
	digests   [][sha256.Size]byte
	fetchedAt time.Time // when the read that gave digests started
	failedAt  time.Time // when the last failed read ended
	lastErr   error
	tokens    int       // re-reads left in the budget
	tokensAt  time.Time // when tokens was last topped up
	flight    *flight   // the read in progress, if any
}

// flight is one read of the secret; done is closed when it ends.
type flight struct {
	done chan struct{}
	err  error
}

// Settings tune a Verifier. The zero value gives the defaults.
type Settings struct {
	// TTL is how long read values are trusted (default DefaultTTL).
	TTL time.Duration
	// FetchTimeout bounds one read of the secret (default
	// DefaultFetchTimeout).
	FetchTimeout time.Duration
	// RefreshBurst and RefreshEvery bound the re-reads unknown values may
	// cause: RefreshBurst at once, then one more every RefreshEvery
	// (defaults DefaultRefreshBurst and DefaultRefreshEvery).
	RefreshBurst int
	RefreshEvery time.Duration
}

// NewVerifier returns a Verifier reading secrets as s says.
func NewVerifier(secrets Secrets, s Settings) *Verifier {
	v := &Verifier{secrets: secrets, ttl: s.TTL, fetchTimeout: s.FetchTimeout, burst: s.RefreshBurst, every: s.RefreshEvery}
	if v.ttl <= 0 {
		v.ttl = DefaultTTL
	}
	if v.fetchTimeout <= 0 {
		v.fetchTimeout = DefaultFetchTimeout
	}
	if v.burst <= 0 {
		v.burst = DefaultRefreshBurst
	}
	if v.every <= 0 {
		v.every = DefaultRefreshEvery
	}
	v.tokens = v.burst
	return v
}

// Refresh reads the secret now, waiting at most until ctx is done (the read
// itself is bounded by the fetch timeout). Call it during init so the first
// request does not pay for it.
func (v *Verifier) Refresh(ctx context.Context) error {
	v.mu.Lock()
	f := v.flight
	if f == nil {
		f = v.startLocked(time.Now())
	}
	v.mu.Unlock()
	if err := f.wait(ctx); err != nil {
		return fmt.Errorf("%w: still reading the secret: %w", ErrUnavailable, err)
	}
	if f.err != nil {
		return fmt.Errorf("%w: %w", ErrUnavailable, f.err)
	}
	return nil
}

// Check reports whether presented matches the current or previous secret.
// A false answer with a nil error is definite: the value matched neither
// value read after the request arrived. Otherwise the error wraps
// ErrUnavailable or ErrUnconfirmed. Check returns by the time ctx is done.
func (v *Verifier) Check(ctx context.Context, presented string) (bool, error) {
	if presented == "" {
		return false, nil // never a secret: an empty secret fails closed
	}
	arrived := time.Now()
	digest := sha256.Sum256([]byte(presented))
	for {
		v.mu.Lock()
		now := time.Now()
		valid := v.digests != nil && now.Sub(v.fetchedAt) < v.ttl
		if valid && v.matches(digest) {
			v.mu.Unlock()
			return true, nil
		}
		if valid && !v.fetchedAt.Before(arrived) {
			v.mu.Unlock()
			return false, nil // read after the request arrived: a real mismatch
		}
		f := v.flight
		switch {
		case f != nil:
			// Join the read in progress, then look again.
		case !v.failedAt.IsZero() && now.Sub(v.failedAt) < failureBackoff:
			err := v.lastErr
			v.mu.Unlock()
			if valid {
				return false, fmt.Errorf("%w: the secret cannot be read again to confirm it: %w", ErrUnconfirmed, err)
			}
			return false, fmt.Errorf("%w: %w", ErrUnavailable, err)
		case valid && !v.takeTokenLocked(now):
			v.mu.Unlock()
			return false, fmt.Errorf("%w: secret re-read budget spent (%d, one more every %v)", ErrUnconfirmed, v.burst, v.every)
		default:
			f = v.startLocked(now)
		}
		v.mu.Unlock()
		if err := f.wait(ctx); err != nil {
			if valid {
				return false, fmt.Errorf("%w: out of time re-reading the secret: %w", ErrUnconfirmed, err)
			}
			return false, fmt.Errorf("%w: out of time reading the secret: %w", ErrUnavailable, err)
		}
	}
}

// startLocked starts a read of the secret, bounded by the fetch timeout and
// not by any request: a request that stops waiting leaves it to finish for
// the next one.
func (v *Verifier) startLocked(now time.Time) *flight {
	f := &flight{done: make(chan struct{})}
	v.flight = f
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), v.fetchTimeout)
		current, previous, err := v.secrets.Fetch(ctx)
		cancel()
		if err == nil && current == "" {
			err = errors.New("secret value is empty")
		}
		v.mu.Lock()
		if err != nil {
			// Cached values still within their TTL stay: valid requests
			// keep passing while Secrets Manager has a bad moment.
			v.failedAt, v.lastErr = time.Now(), err
		} else {
			v.failedAt, v.lastErr = time.Time{}, nil
			v.digests = v.digests[:0]
			v.digests = append(v.digests, sha256.Sum256([]byte(current)))
			if previous != "" && previous != current {
				v.digests = append(v.digests, sha256.Sum256([]byte(previous)))
			}
			v.fetchedAt = now
		}
		v.flight = nil
		f.err = err
		v.mu.Unlock()
		close(f.done)
	}()
	return f
}

func (f *flight) wait(ctx context.Context) error {
	select {
	case <-f.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// takeTokenLocked spends one re-read from the budget, if any is left.
func (v *Verifier) takeTokenLocked(now time.Time) bool {
	if v.tokensAt.IsZero() {
		v.tokensAt = now
	}
	if gained := int(now.Sub(v.tokensAt) / v.every); gained > 0 {
		v.tokens = min(v.burst, v.tokens+gained)
		v.tokensAt = v.tokensAt.Add(time.Duration(gained) * v.every)
	}
	if v.tokens == v.burst {
		v.tokensAt = now // a full budget earns nothing while it waits
	}
	if v.tokens == 0 {
		return false
	}
	v.tokens--
	return true
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

// Holds reports whether presented matches a value read within the TTL,
// without reading the secret: a true answer is definite, a false one is
// not (the value may be newly rotated).
func (v *Verifier) Holds(presented string) bool {
	if presented == "" {
		return false
	}
	digest := sha256.Sum256([]byte(presented))
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.digests != nil && time.Since(v.fetchedAt) < v.ttl && v.matches(digest)
}

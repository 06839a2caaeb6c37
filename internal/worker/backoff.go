package worker

import (
	"math/rand/v2"
	"time"

	"github.com/hookline/hookline/internal/queue"
)

// Backoff turns a message's receive count into how long it stays hidden
// before the next attempt.
type Backoff struct {
	// Base is the delay after the first failed receive; default 10 s.
	Base time.Duration
	// Max caps the delay; default 15 min, never above queue.MaxVisibility.
	Max time.Duration
	// Rand returns a number in [0, n); nil means math/rand/v2.
	Rand func(n int64) int64
}

func (b Backoff) limits() (base, ceiling time.Duration) {
	base, ceiling = b.Base, b.Max
	if base <= 0 {
		base = 10 * time.Second
	}
	if ceiling <= 0 {
		ceiling = 15 * time.Minute
	}
	ceiling = min(ceiling, queue.MaxVisibility)
	return min(base, ceiling), ceiling
}

// Ceiling is the largest delay for a receive count: Base·2^(n-1), capped.
func (b Backoff) Ceiling(receiveCount int) time.Duration {
	base, ceiling := b.limits()
	n := max(receiveCount, 1) - 1
	if n >= 32 || base<<n > ceiling || base<<n <= 0 {
		return ceiling
	}
	return base << n
}

// Delay is a jittered delay between Base and Ceiling(receiveCount), in whole
// seconds as SQS takes it. The jitter spreads out retries of events that
// failed together; the floor at Base keeps a broken downstream from being
// retried at once, which plain "full jitter" from zero would sometimes do.
func (b Backoff) Delay(receiveCount int) time.Duration {
	base, _ := b.limits()
	ceiling := b.Ceiling(receiveCount)
	d := base
	if span := int64(ceiling - base); span > 0 {
		r := rand.Int64N
		if b.Rand != nil {
			r = b.Rand
		}
		d += time.Duration(r(span + 1))
	}
	return d.Truncate(time.Second)
}

// MaxDelay is the largest delay this backoff gives.
func (b Backoff) MaxDelay() time.Duration {
	_, ceiling := b.limits()
	return ceiling
}

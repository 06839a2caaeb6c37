// Package clock is hookline's one way to wait: Sleep waits a duration or
// until its context ends, whichever comes first, so that no retry, backoff
// or pacing loop can outlive the invocation, the publish budget or the
// caller's deadline that its context carries.
package clock

import (
	"context"
	"time"
)

// Sleep waits d, or until ctx is done, and then returns ctx.Err(); it
// returns nil when d has passed. A d of zero or less does not wait.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

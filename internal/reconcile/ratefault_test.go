package reconcile_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/reconcile"
)

// TestAFarRateLimitResetFailsTheRunAtErrorAndTheNextResumes: Okta says no
// requests are left until a year from now. The run does not wait or stop
// quietly as rate-limited: it fails with ErrImplausibleReset, logged at
// ERROR (the function's error fires ReconcilerErrorsAlarm), and the next run
// of the same warm client asks Okta again and resumes at the cursor.
func TestAFarRateLimitResetFailsTheRunAtErrorAndTheNextResumes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	docs := f.events("far", 30, 30*time.Minute)
	f.org.SetRateLimit(2, 8760*time.Hour) // the second page says Remaining: 0 until next year
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	st, err := f.reconciler(10).Run(ctx)
	cancel()
	if !errors.Is(err, oktaapi.ErrImplausibleReset) || st.Stopped != reconcile.StopError || st.Queued != 20 {
		t.Fatalf("first run: %+v, %v; want 20 queued, then an implausible-reset error", st, err)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"level":"ERROR","msg":"reconcile run"`) || !strings.Contains(logs, "too far ahead") {
		t.Fatalf("the fault is not logged at ERROR: %s", logs)
	}
	f.org.SetRateLimit(600, time.Minute) // Okta answers sanely again
	st = run(t, f.reconciler(10))
	if st.Queued != 10 || st.Stopped != reconcile.StopCaughtUp {
		t.Fatalf("second run (same client) did not resume at the cursor: %+v", st)
	}
	if got := f.drain(t); len(got) != len(docs) {
		t.Fatalf("queued %d of %d", len(got), len(docs))
	}
}

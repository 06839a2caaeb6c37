package reconcile_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/reconcile"
	"github.com/hookline/hookline/internal/standin"
)

// These tests put an standin.Proxy between the reconciler and the
// stand-in org: Okta's answers, changed as a broken or hostile Okta would
// change them, with the real queue and ledger table on kumo.

// proxied points the fixture's client at a proxy in front of its org.
func (f *fixture) proxied(t *testing.T) *standin.Proxy {
	t.Helper()
	p := f.org.Proxy(t.Cleanup)
	var err error
	if f.okta, err = oktaapi.New(oktaapi.Credentials{OrgURL: p.URL, APIToken: "ssws-token"}, oktaapi.Settings{}); err != nil {
		t.Fatal(err)
	}
	return p
}

// runErr runs r within d and returns what it did and its error.
func runErr(t *testing.T, r *reconcile.Reconciler, d time.Duration) (reconcile.Stats, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	return r.Run(ctx)
}

func (f *fixture) cursor(t *testing.T) string {
	t.Helper()
	c, err := f.cursors.Load(t.Context(), reconcile.CursorName)
	if err != nil {
		t.Fatal(err)
	}
	return c.Next
}

// TestAForeignNextLinkIsNeverSavedAndLeavesNoGap: Okta's next link to
// another host ends the run with an ERROR naming that host (not its query
// or userinfo), and is not saved. The cursor keeps the last page read, so
// the next run, later than the lookback, resumes there and queues every
// event after it; had the foreign link been saved, that run would discard
// it and start at the lookback, past these events.
func TestAForeignNextLinkIsNeverSavedAndLeavesNoGap(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	proxy := f.proxied(t)
	f.events("fn", 15, 30*time.Minute)
	const canary = "canary-7f3a"
	proxy.SetNext(func(n int, _ *http.Request, next string) string {
		return "https://" + canary + ":" + canary + "@evil.example/api/v1/logs?after=" + canary
	})
	st, err := runErr(t, f.reconciler(10), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "evil.example") || strings.Contains(err.Error(), canary) {
		t.Fatalf("run: %+v, error %v: want one naming evil.example and not its query or userinfo", st, err)
	}
	if st.Queued != 10 {
		t.Fatalf("the first page was not queued: %+v", st)
	}
	logs := f.logs.String()
	if !strings.Contains(logs, `"level":"ERROR","msg":"reconcile run"`) || !strings.Contains(logs, "evil.example") || strings.Contains(logs, canary) {
		t.Fatalf("no ERROR naming the host alone:\n%s", logs)
	}
	cur := f.cursor(t)
	if err := f.okta.CheckPageURL(cur); err != nil {
		t.Fatalf("the cursor saved is %s: %v", cur, err)
	}

	// Okta answers well again, two hours later: past the one-hour lookback,
	// so only the cursor knows where the run stopped.
	proxy.SetNext(nil)
	f.now = f.now.Add(2 * time.Hour)
	st, err = runErr(t, f.reconciler(10), time.Minute)
	if err != nil || st.Queued != 5 {
		t.Fatalf("the run after: %+v %v: want the 5 events after the page read", st, err)
	}
	if got := f.drain(t); len(got) != 15 {
		t.Fatalf("queued %d of 15", len(got))
	}
}

// TestNextLinksThatRepeatAPageEndTheRead: a next link back to the page just
// read, or to an earlier one, ends a scheduled run and a replay with an
// error saying so, instead of reading the same pages until the deadline.
// The cursor stays on the last new page, and nothing past it is lost.
func TestNextLinksThatRepeatAPageEndTheRead(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	proxy := f.proxied(t)
	f.events("rp", 45, 30*time.Minute)
	// The second page names itself as next.
	proxy.SetNext(func(n int, r *http.Request, next string) string {
		if n == 2 {
			return r.URL.String()
		}
		return next
	})
	st, err := runErr(t, f.reconciler(10), 20*time.Second)
	if err == nil || !strings.Contains(err.Error(), "okta returned the same page again") {
		t.Fatalf("run: %+v, error %v", st, err)
	}
	if st.Pages != 2 || st.Queued != 20 {
		t.Fatalf("stats %+v: want 2 pages, 20 events", st)
	}
	if !strings.Contains(f.logs.String(), `"level":"ERROR","msg":"reconcile run"`) {
		t.Fatalf("no ERROR:\n%s", f.logs)
	}
	proxy.SetNext(nil)
	if st, err := runErr(t, f.reconciler(10), time.Minute); err != nil || st.Queued != 25 {
		t.Fatalf("the run after: %+v %v", st, err)
	}
	if got := f.drain(t); len(got) != 45 {
		t.Fatalf("queued %d of 45", len(got))
	}

	// A replay whose third page leads back to the first: a cycle.
	var first, third string
	base := proxy.LogsRequests()
	proxy.SetNext(func(n int, r *http.Request, next string) string {
		switch {
		case n-base == 1:
			first = r.URL.String()
		case n-base == 3:
			third = r.URL.String()
		}
		if r.URL.String() == third {
			return first // every time: a loop a reader cannot leave
		}
		return next
	})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	st, err = f.reconciler(10).Replay(ctx, reconcile.ReplayOptions{Since: f.now.Add(-time.Hour), Until: f.now, DryRun: true})
	if err == nil || !strings.Contains(err.Error(), "okta returned the same page again") || st.Pages != 3 {
		t.Fatalf("replay: %+v, error %v", st, err)
	}
}

// TestAnOversizedPageIsAClearErrorAndTheCursorStays: a page over
// oktaapi.MaxPageBytes even at one event ends the run with an error that
// says what happened, and the cursor stays before that page. A page that
// is only too large at the run's page size is read with a smaller one.
func TestAnOversizedPageIsAClearErrorAndTheCursorStays(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	proxy := f.proxied(t)
	f.events("big", 30, 30*time.Minute)
	huge := append(append([]byte(`[{"uuid":"huge","eventType":"user.lifecycle.create","pad":"`), bytes.Repeat([]byte("x"), oktaapi.MaxPageBytes)...), `"}]`...)
	proxy.SetBody(func(n int, r *http.Request, body []byte) []byte {
		if n >= 2 {
			return huge // whatever the limit
		}
		return body
	})
	st, err := runErr(t, f.reconciler(10), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "16 MiB for a page of one event") || st.Queued != 10 {
		t.Fatalf("run: %+v, error %v", st, err)
	}
	atPage2 := f.cursor(t)
	// Every run stops there, and the cursor does not move past the page.
	if _, err := runErr(t, f.reconciler(10), time.Minute); err == nil || f.cursor(t) != atPage2 {
		t.Fatalf("second run: error %v, cursor moved from %s to %s", err, atPage2, f.cursor(t))
	}

	// Too large only at the run's page size of 10: read 2 at a time.
	proxy.SetBody(func(n int, r *http.Request, body []byte) []byte {
		if r.URL.Query().Get("limit") == "10" {
			return huge
		}
		return body
	})
	f.logs.Reset()
	st, err = runErr(t, f.reconciler(10), time.Minute)
	if err != nil || st.Queued != 20 {
		t.Fatalf("run with smaller pages: %+v %v", st, err)
	}
	if !strings.Contains(f.logs.String(), "read with a smaller limit") {
		t.Fatalf("no warning about the smaller pages:\n%s", f.logs)
	}
	if got := f.drain(t); len(got) != 30 {
		t.Fatalf("queued %d of 30", len(got))
	}
}

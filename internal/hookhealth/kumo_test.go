package hookhealth_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/hookhealth"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/metrics/emftest"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/reconcile"
	"github.com/hookline/hookline/internal/standin"
)

// These tests run the reconciler with its Watch against the stand-in Okta
// org (standin) and kumo (the real queue and ledger table), and read what
// it writes: its EMF metric lines and its log.

const (
	subscribed = "user.lifecycle.create"
	endpoint   = "https://hooks.example.com/okta/events"
)

type rig struct {
	org     *standin.Org
	okta    *oktaapi.Client // the reconciler's (read) client
	admin   *oktaapi.Client // an admin's, to set the hook up
	ddb     *dynamodb.Client
	table   string
	r       *reconcile.Reconciler
	watch   *hookhealth.Watch
	logs    *bytes.Buffer
	emf     *bytes.Buffer
	now     time.Time
	queue   string
	hookReq int
}

func newRig(t *testing.T, creds func(org *standin.Org) oktaapi.Credentials) *rig {
	t.Helper()
	s := devstacktest.Start(t, devstacktest.Options{})
	g := &rig{org: standin.Start(t.Cleanup), logs: &bytes.Buffer{}, emf: &bytes.Buffer{}, now: time.Now(), ddb: s.Clients.DynamoDB,
		table: s.Resources.Tables["LedgerTable"], queue: s.QueueURL("EventsQueue")}
	g.org.SetAPIToken("admin-token")
	var err error
	if g.admin, err = oktaapi.New(oktaapi.Credentials{OrgURL: g.org.URL, APIToken: "admin-token"}, oktaapi.Settings{}); err != nil {
		t.Fatal(err)
	}
	c := oktaapi.Credentials{OrgURL: g.org.URL, APIToken: "admin-token"}
	if creds != nil {
		c = creds(g.org)
	}
	if g.okta, err = oktaapi.New(c, oktaapi.Settings{}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewJSONHandler(g.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	g.watch = &hookhealth.Watch{
		Want:  hookhealth.Want{URI: endpoint, Types: []string{subscribed}, Stack: "hl"},
		Store: &ledger.OktaSideStore{Client: g.ddb, Table: g.table},
		Log:   log,
		Now:   func() time.Time { return g.now },
	}
	g.r = &reconcile.Reconciler{
		SystemLog: g.okta,
		Marks:     &ledger.Marks{Client: g.ddb, Table: g.table},
		Cursors:   &ledger.Cursors{Client: g.ddb, Table: g.table},
		Publisher: &queue.Publisher{Sender: queue.SQSSender{Client: s.Clients.SQS, QueueURL: g.queue}, Budget: 5 * time.Second},
		Log:       log,
		Types:     []string{subscribed},
		Grace:     10 * time.Minute,
		Lookback:  48 * time.Hour,
		Now:       func() time.Time { return g.now },
		Metrics:   metrics.New("Hookline", "hl", g.emf),
		Watch:     g.watch,
	}
	return g
}

// hook registers the stack's hook, ACTIVE and VERIFIED, as Okta holds it
// after `hookline okta register`.
func (g *rig) hook(t *testing.T) oktaapi.EventHook {
	t.Helper()
	h, err := g.admin.CreateEventHook(t.Context(), oktaapi.NewEventHook("hookline-hl", endpoint, "Authorization", "s3cret", []string{subscribed}))
	if err != nil {
		t.Fatal(err)
	}
	g.org.UpdateHook(h.ID, func(h *standin.Hook) { h.VerificationStatus = "VERIFIED" })
	return h
}

// runOnce runs the reconciler and returns the metrics it wrote (by name,
// and name|Check=value) and the log lines of the run.
func (g *rig) runOnce(t *testing.T) (map[string]float64, []map[string]any) {
	t.Helper()
	g.logs.Reset()
	g.emf.Reset()
	before := g.org.HooksRequests()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := g.r.Run(ctx); err != nil {
		t.Fatal(err)
	}
	g.hookReq = g.org.HooksRequests() - before
	if g.hookReq > 1 {
		t.Fatalf("the run made %d requests to /api/v1/eventHooks, want at most 1", g.hookReq)
	}
	got := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(g.emf.Bytes()))
	for sc.Scan() {
		ms, err := emftest.Parse(sc.Bytes())
		if err != nil {
			t.Fatalf("EMF line %s: %v", sc.Text(), err)
		}
		for _, m := range ms {
			key := m.Name
			if c, ok := m.DimValues[metrics.DimCheck]; ok {
				key += "|" + c
			}
			got[key] = m.Values[0]
		}
	}
	var lines []map[string]any
	for _, l := range bytes.Split(g.logs.Bytes(), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(l, &m) == nil {
			lines = append(lines, m)
		}
	}
	return got, lines
}

func find(lines []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["msg"] == msg {
			out = append(out, l)
		}
	}
	return out
}

func oktaSide(t *testing.T, lines []map[string]any) map[string]any {
	t.Helper()
	l := find(lines, "okta side")
	if len(l) != 1 {
		t.Fatalf("want one okta side line, got %d", len(l))
	}
	return l[0]
}

// checkHealth asserts every check's metric: 1 for the failing one ("" for
// none), 0 for the others.
func checkHealth(t *testing.T, got map[string]float64, failing string) {
	t.Helper()
	for _, c := range hookhealth.Checks {
		want := 0.0
		if c == failing {
			want = 1
		}
		v, ok := got[metrics.OktaHookUnhealthy+"|"+c]
		if !ok || v != want {
			t.Errorf("OktaHookUnhealthy{Check=%s} = %v (written: %v), want %v", c, v, ok, want)
		}
	}
}

// Every check fails when Okta's hook is changed behind hookline's back, says
// the command that fixes it, and recovers when the hook is put right; each
// run reads the hook with one request (the list first, then by id).
func TestHookHealthEachCheckFailsAndRecovers(t *testing.T) {
	g := newRig(t, nil)
	h := g.hook(t)
	got, lines := g.runOnce(t)
	checkHealth(t, got, "")
	if side := oktaSide(t, lines); side["healthy"] != true || side["hookId"] != h.ID {
		t.Fatalf("okta side %v", side)
	}
	for _, tc := range []struct {
		check, fix   string
		break_, mend func(h *standin.Hook)
	}{
		{hookhealth.CheckActive, "hookline okta activate hookline-hl",
			func(h *standin.Hook) { h.Status = "INACTIVE" }, func(h *standin.Hook) { h.Status = "ACTIVE" }},
		{hookhealth.CheckVerified, "hookline okta register --stack hl",
			func(h *standin.Hook) { h.VerificationStatus = "UNVERIFIED" }, func(h *standin.Hook) { h.VerificationStatus = "VERIFIED" }},
		{hookhealth.CheckTypes, "hookline okta register --stack hl",
			func(h *standin.Hook) { h.Types = []string{subscribed, "user.lifecycle.delete.initiated"} }, func(h *standin.Hook) { h.Types = []string{subscribed} }},
		{hookhealth.CheckURI, "hookline okta register --stack hl",
			func(h *standin.Hook) { h.URI = "https://elsewhere.example.com/hook" }, func(h *standin.Hook) { h.URI = endpoint }},
	} {
		t.Run(tc.check, func(t *testing.T) {
			g.org.UpdateHook(h.ID, tc.break_)
			got, lines := g.runOnce(t)
			checkHealth(t, got, tc.check)
			if got[metrics.OktaHookUnhealthy] != 0 && got[metrics.OktaHookUnhealthy] != 1 {
				t.Errorf("total %v", got[metrics.OktaHookUnhealthy])
			}
			side := oktaSide(t, lines)
			if side["level"] != "WARN" || !strings.Contains(fmt.Sprint(side["fix"]), tc.fix) || !strings.Contains(fmt.Sprint(side["problems"]), tc.check+":") {
				t.Fatalf("okta side line %v: want WARN, the %s problem and fix %q", side, tc.check, tc.fix)
			}
			if g.hookReq != 1 {
				t.Fatalf("%d hook requests", g.hookReq)
			}
			g.org.UpdateHook(h.ID, tc.mend)
			got, _ = g.runOnce(t)
			checkHealth(t, got, "")
		})
	}
	t.Run(hookhealth.CheckFound, func(t *testing.T) {
		if _, err := g.admin.DeactivateEventHook(t.Context(), h.ID); err != nil {
			t.Fatal(err)
		}
		if err := g.admin.DeleteEventHook(t.Context(), h.ID); err != nil {
			t.Fatal(err)
		}
		// The remembered id is gone: no verdict this run (no false alarm
		// while a hook is registered anew), the list next run.
		got, lines := g.runOnce(t)
		if _, ok := got[metrics.OktaHookUnhealthy+"|"+hookhealth.CheckFound]; ok {
			t.Fatalf("a verdict on a vanished id: %v", got)
		}
		if side := oktaSide(t, lines); !strings.Contains(fmt.Sprint(side["healthError"]), "no longer exists") {
			t.Fatalf("okta side %v", side)
		}
		got, lines = g.runOnce(t)
		if got[metrics.OktaHookUnhealthy+"|"+hookhealth.CheckFound] != 1 {
			t.Fatalf("metrics %v", got)
		}
		if side := oktaSide(t, lines); !strings.Contains(fmt.Sprint(side["fix"]), "hookline okta register --stack hl") {
			t.Fatalf("okta side %v", side)
		}
		h = g.hook(t)
		got, _ = g.runOnce(t)
		checkHealth(t, got, "")
	})
}

// A service app without okta.eventHooks.read cannot check the hook: the
// run says so and how to fix it, writes no health verdict, and still
// recovers what the hook lost. With the scope, the health check works.
func TestHookHealthWithoutReadScopeIsAClearErrorAndRecoveryGoesOn(t *testing.T) {
	key, pem, err := standin.RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	var org *standin.Org
	g := newRig(t, func(o *standin.Org) oktaapi.Credentials {
		org = o
		o.AddServiceApp("0oalogsonly", &key.PublicKey, oktaapi.LogsScope)
		o.AddServiceApp("0oawithread", &key.PublicKey, oktaapi.LogsScope, oktaapi.EventHooksReadScope)
		return oktaapi.Credentials{OrgURL: o.URL, ClientID: "0oalogsonly", PrivateKey: pem}
	})
	g.hook(t)
	g.org.Add(standin.Event("lost-1", subscribed, g.now.Add(-time.Hour)))
	got, lines := g.runOnce(t)
	if got[metrics.EventsRecovered] != 1 {
		t.Fatalf("recovery stopped: %v", got)
	}
	for k := range got {
		if strings.HasPrefix(k, metrics.OktaHookUnhealthy) {
			t.Fatalf("a health verdict without the scope: %v", got)
		}
	}
	side := oktaSide(t, lines)
	if side["level"] != "WARN" || !strings.Contains(fmt.Sprint(side["healthError"]), oktaapi.EventHooksReadScope) ||
		!strings.Contains(fmt.Sprint(side["fix"]), "scopes") {
		t.Fatalf("okta side %v: want the missing scope and its fix", side)
	}

	g.r.SystemLog, err = oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oawithread", PrivateKey: pem,
		Scopes: oktaapi.LogsScope + " " + oktaapi.EventHooksReadScope}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = g.runOnce(t)
	checkHealth(t, got, "")
}

// Okta's own delivery failures of the hook are read in the subscribed read
// (no request of their own), logged once each with Okta's reason and the
// uuids they name, counted, never queued, and the recovered events' log
// lines say Okta reported their delivery failing. A page read again does
// not report them again; another hook's failures are not this hook's.
func TestOktaDeliveryFailuresReadOnceAcrossRuns(t *testing.T) {
	g := newRig(t, nil)
	var posts int
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		posts++
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(failing.Close)
	h := g.hook(t)
	other, err := g.admin.CreateEventHook(t.Context(), oktaapi.NewEventHook("other", "https://other.example.com/h", "Authorization", "x", []string{subscribed}))
	if err != nil {
		t.Fatal(err)
	}
	g.runOnce(t) // finds the hook and remembers its id
	// Okta delivers to the hook (its endpoint fails twice: Okta retries
	// once), and logs the failure; the events are in the System Log.
	g.org.UpdateHook(h.ID, func(x *standin.Hook) { x.URI = failing.URL })
	ev1 := standin.Event("0a1b2c3d-0000-4000-8000-000000000001", subscribed, time.Now().Add(-time.Second))
	ev2 := standin.Event("0a1b2c3d-0000-4000-8000-000000000002", subscribed, time.Now().Add(-time.Second))
	g.org.Add(ev1, ev2)
	g.org.UpdateHook(other.ID, func(x *standin.Hook) { x.Status, x.VerificationStatus = "ACTIVE", "VERIFIED" })
	if status, ok := g.org.DeliverAsOkta(t.Context(), h.ID, ev1, ev2); ok || status != http.StatusServiceUnavailable || posts != 2 {
		t.Fatalf("delivery: %d %v after %d posts; want a failure after one retry", status, ok, posts)
	}
	g.org.RecordDeliveryFailure(other.ID, []string{"0a1b2c3d-0000-4000-8000-00000000000f"}, "other hook's", 500)
	g.org.UpdateHook(h.ID, func(x *standin.Hook) { x.URI = endpoint })

	// The first run is inside the grace period: it reads the failure but
	// leaves the events to the hook, and will read the page again.
	got, lines := g.runOnce(t)
	if got[metrics.OktaDeliveryFailures] != 1 || got[metrics.EventsRecovered] != 0 {
		t.Fatalf("metrics %v: want 1 delivery failure, nothing recovered yet", got)
	}
	failed := find(lines, "okta delivery failed")
	if len(failed) != 1 {
		t.Fatalf("okta delivery failed lines: %v", failed)
	}
	f := failed[0]
	if !strings.Contains(fmt.Sprint(f["reason"]), "HTTP 503") || !strings.Contains(fmt.Sprint(f["eventUuids"]), "0a1b2c3d-0000-4000-8000-000000000001") ||
		!strings.Contains(fmt.Sprint(f["eventUuids"]), "0a1b2c3d-0000-4000-8000-000000000002") || !strings.Contains(fmt.Sprint(f["hookIds"]), h.ID) {
		t.Fatalf("failure line %v: want Okta's reason, the uuids and the hook", f)
	}
	if side := oktaSide(t, lines); side["otherHooksFailures"] != 1.0 {
		t.Fatalf("okta side %v", side)
	}

	// Past the grace period the events are recovered, and their lines say
	// why; the failure, read again on the same page, is not reported again.
	g.now = g.now.Add(15 * time.Minute)
	got, lines = g.runOnce(t)
	if got[metrics.OktaDeliveryFailures] != 0 || got[metrics.EventsRecovered] != 2 || len(find(lines, "okta delivery failed")) != 0 {
		t.Fatalf("metrics %v, lines %v", got, find(lines, "okta delivery failed"))
	}
	rec := find(lines, "event recovered")
	if len(rec) != 2 {
		t.Fatalf("recovered lines %v", rec)
	}
	for _, l := range rec {
		if l["oktaReportedFailure"] != true || !strings.Contains(fmt.Sprint(l["oktaFailureReason"]), "HTTP 503") {
			t.Fatalf("recovered line %v: want Okta's reported failure and reason", l)
		}
	}
	got, lines = g.runOnce(t)
	if got[metrics.OktaDeliveryFailures] != 0 || len(find(lines, "okta delivery failed")) != 0 {
		t.Fatalf("reported again: %v", got)
	}

	// An event Okta reported nothing about says so.
	g.org.Add(standin.Event("0a1b2c3d-0000-4000-8000-000000000003", subscribed, g.now.Add(-time.Hour)))
	_, lines = g.runOnce(t)
	rec = find(lines, "event recovered")
	if len(rec) != 1 || rec[0]["oktaReportedFailure"] != false {
		t.Fatalf("recovered lines %v", rec)
	}
}

// The daily count is the subscribed events published in the last 24 hours
// (by the hour): events read again are not counted twice, and events leave
// the count as they age out of the window.
func TestDailyCapCountAcrossThe24HourWindow(t *testing.T) {
	g := newRig(t, nil)
	g.hook(t)
	add := func(prefix string, n int, ago time.Duration) {
		for i := range n {
			g.org.Add(standin.Event(fmt.Sprintf("%s-%d", prefix, i), subscribed, g.now.Add(-ago)))
		}
	}
	add("old", 3, 30*time.Hour)  // outside the window
	add("day", 5, 23*time.Hour)  // inside, leaves it in two hours
	add("hour", 4, time.Hour)    // inside
	add("young", 2, time.Minute) // inside, and inside the grace: the page is read again
	got, _ := g.runOnce(t)
	if got[metrics.OktaDailyEvents] != 11 {
		t.Fatalf("daily %v, want 11", got[metrics.OktaDailyEvents])
	}
	got, _ = g.runOnce(t)
	if got[metrics.OktaDailyEvents] != 11 {
		t.Fatalf("daily after reading the page again %v, want 11", got[metrics.OktaDailyEvents])
	}
	g.now = g.now.Add(2 * time.Hour)
	got, _ = g.runOnce(t)
	if got[metrics.OktaDailyEvents] != 6 {
		t.Fatalf("daily two hours later %v, want 6 (the 23-hour-old events aged out)", got[metrics.OktaDailyEvents])
	}
	add("new", 3, 0)
	got, _ = g.runOnce(t)
	if got[metrics.OktaDailyEvents] != 9 {
		t.Fatalf("daily with 3 new %v, want 9", got[metrics.OktaDailyEvents])
	}
}

// The run reports the lowest share of Okta's rate limit left, per run.
func TestRateLimitHeadroomMetricPerRun(t *testing.T) {
	g := newRig(t, nil)
	g.hook(t)
	g.org.SetRateLimit(10, time.Hour)
	got, lines := g.runOnce(t) // one /api/v1/logs request: 9 of 10 left
	if got[metrics.OktaRateLimitHeadroom] != 90 {
		t.Fatalf("headroom %v, want 90", got)
	}
	if side := oktaSide(t, lines); side["rateLimitHeadroomPct"] != 90.0 {
		t.Fatalf("okta side %v", side)
	}
	got, _ = g.runOnce(t) // 8 of 10
	if got[metrics.OktaRateLimitHeadroom] != 80 {
		t.Fatalf("headroom %v, want 80", got)
	}
}

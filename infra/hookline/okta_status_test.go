package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/hookhealth"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

// `hookline okta status` finds the stack's hook by its endpoint URL and
// prints, on one screen, the reconciler's checks with the command fixing
// each, Okta's delivery failures of the last 24 hours with their reasons
// and the daily count the reconciler keeps in the ledger table; it exits 3
// while a check fails and 0 once the hook is put right.
func TestOktaStatusShowsOktasSideOnOneScreen(t *testing.T) {
	h := startOkta(t)
	const uri = "https://hooks.example.com/okta/events"
	admin, err := oktaapi.New(oktaapi.Credentials{OrgURL: h.org.URL, APIToken: oktaToken}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	hook, err := admin.CreateEventHook(t.Context(), oktaapi.NewEventHook("hookline-hl", uri, "Authorization", "s3cret", []string{"user.lifecycle.create"}))
	if err != nil {
		t.Fatal(err)
	}
	h.org.UpdateHook(hook.ID, func(x *standin.Hook) { x.VerificationStatus = "VERIFIED" })
	h.org.RecordDeliveryFailure(hook.ID, []string{"0a1b2c3d-0000-4000-8000-000000000001"}, "Event hook delivery failed: the endpoint answered HTTP 502", 502)
	table := h.s.Resources.Tables["LedgerTable"]
	hour := time.Now().Truncate(time.Hour).Unix()
	if err := (&ledger.OktaSideStore{Client: h.s.Clients.DynamoDB, Table: table}).Save(t.Context(), hookhealth.StateName,
		ledger.OktaSide{Hours: map[int64]int64{hour: 1234, hour - 30*3600: 99}, UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	args := []string{"status", "--url", uri, "--types", "user.lifecycle.create", "--table", table}

	code, out, errOut := h.okta(args...)
	if code != 0 {
		t.Fatalf("healthy hook: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"name:", "hookline-hl", "found", "active", "verified", "types", "uri",
		"1 in the last 24 h (event_hook.delivery)", "HTTP 502", "0a1b2c3d-0000-4000-8000-000000000001",
		"daily events:", "1234 in 24 h of Okta's cap of 400000", "rate-limit headroom:"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "FAILED") {
		t.Errorf("a healthy hook shows a failure:\n%s", out)
	}

	h.org.UpdateHook(hook.ID, func(x *standin.Hook) { x.Status = "INACTIVE" })
	code, out, errOut = h.okta(args...)
	if code != exitUnverified || !strings.Contains(out, "FAILED") || !strings.Contains(out, "hookline okta activate hookline-hl") ||
		!strings.Contains(errOut, "INACTIVE") {
		t.Fatalf("inactive hook: exit %d\n%s%s", code, out, errOut)
	}
	h.org.UpdateHook(hook.ID, func(x *standin.Hook) { x.Status, x.URI = "ACTIVE", "https://elsewhere.example.com/" })
	if code, out, _ = h.okta(args...); code != exitUnverified || !strings.Contains(out, "found") || !strings.Contains(out, "hookline okta register --stack STACK") {
		t.Fatalf("no hook at the URL: exit %d\n%s", code, out)
	}
	h.org.UpdateHook(hook.ID, func(x *standin.Hook) { x.URI = uri })
	if code, out, errOut = h.okta(args...); code != 0 {
		t.Fatalf("put right: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, _ = h.okta("status"); code != 2 {
		t.Fatalf("status with neither a name nor a stack: exit %d, want 2", code)
	}
	h.neverPrinted("s3cret", oktaToken)
}

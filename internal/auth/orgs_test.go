package auth_test

import (
	"errors"
	"testing"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/auth/authtest"
	"github.com/hookline/hookline/internal/orgs"
)

// TestOrgsMakesVerifiersOnlyForConfiguredOrgs: an org's verifier (and its
// secret read) is made on its first request, only for configured orgs; any
// other name costs no read and no verifier, however many are tried.
func TestOrgsMakesVerifiersOnlyForConfiguredOrgs(t *testing.T) {
	list, err := orgs.Parse("prod,preview")
	if err != nil {
		t.Fatal(err)
	}
	stores := map[string]*authtest.Static{"prod": authtest.NewStatic("prod-secret", ""), "preview": authtest.NewStatic("preview-secret", "")}
	made := map[string]int{}
	o := auth.NewOrgs(list, func(org string) auth.Secrets { made[org]++; return stores[org] }, auth.Settings{})
	for i := range 100 {
		ok, err := o.Check(t.Context(), "org-"+string(rune('a'+i%26)), "prod-secret")
		if ok || !errors.Is(err, auth.ErrUnknownOrg) {
			t.Fatalf("unknown org: %v, %v; want ErrUnknownOrg", ok, err)
		}
	}
	if len(made) != 0 {
		t.Fatalf("verifiers made for unknown orgs: %v", made)
	}
	if ok, err := o.Check(t.Context(), "preview", "preview-secret"); !ok || err != nil {
		t.Fatalf("preview's own secret: %v, %v", ok, err)
	}
	if ok, err := o.Check(t.Context(), "preview", "preview-secret"); !ok || err != nil || made["preview"] != 1 || stores["preview"].Calls() != 1 {
		t.Fatalf("second request: %v, %v; verifiers made %v, reads %d: want one verifier, one read", ok, err, made, stores["preview"].Calls())
	}
	if made["prod"] != 0 {
		t.Fatalf("prod's verifier made before any prod request: %v", made)
	}
}

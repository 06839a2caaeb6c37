package oktaapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

// TestCallWritesToOktaAsTheCredentialsCaller: Call reaches a management
// endpoint with the secret's credentials, and Okta records the write with
// the caller as actor (the service app's client id, asked for with the
// secret's scopes).
func TestCallWritesToOktaAsTheCredentialsCaller(t *testing.T) {
	org := standin.Start(t.Cleanup)
	k, pemText := rsaPEM(t)
	org.AddServiceApp("0oa-writer", &k.PublicKey, oktaapi.LogsScope, "okta.users.manage")
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oa-writer", PrivateKey: pemText, Scopes: "okta.logs.read  okta.users.manage"}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Call(t.Context(), http.MethodDelete, "/api/v1/users/00u42/sessions", nil, nil); err != nil {
		t.Fatal(err)
	}
	evs := org.Events()
	if len(evs) != 1 {
		t.Fatalf("%d events recorded, want 1", len(evs))
	}
	var ev struct {
		EventType string
		Actor     struct{ ID, Type string }
		Client    struct{ ID string }
		Target    []struct{ ID string }
	}
	_ = json.Unmarshal(evs[0], &ev)
	if ev.EventType != "user.session.clear" || ev.Actor.ID != "0oa-writer" || ev.Actor.Type != "PublicClientApp" || ev.Client.ID != "0oa-writer" || len(ev.Target) != 1 || ev.Target[0].ID != "00u42" {
		t.Fatalf("recorded %s", evs[0])
	}
}

// TestCallErrorsSayWhetherToRetry: a missing scope is ErrForbidden naming
// the scope the endpoint needs, and permanent; a path that is not the org's
// API is refused before anything is sent.
func TestCallErrorsSayWhetherToRetry(t *testing.T) {
	org := standin.Start(t.Cleanup)
	k, pemText := rsaPEM(t)
	org.AddServiceApp("0oa-reader", &k.PublicKey, oktaapi.LogsScope)
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oa-reader", PrivateKey: pemText}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Call(t.Context(), http.MethodPut, "/api/v1/groups/00g1/users/00u1", nil, nil)
	if !errors.Is(err, oktaapi.ErrForbidden) || !strings.Contains(err.Error(), "lacks scope okta.groups.manage") || !oktaapi.IsPermanent(err) {
		t.Fatalf("missing scope: %v", err)
	}
	for _, temporary := range []error{&oktaapi.APIError{Status: 503}, oktaapi.ErrUnauthorized, oktaapi.ErrRateLimited} {
		if oktaapi.IsPermanent(temporary) {
			t.Errorf("%v counted permanent", temporary)
		}
	}
	if !oktaapi.IsPermanent(&oktaapi.APIError{Status: 400, Code: "E0000001"}) {
		t.Error("a validation error counted temporary")
	}
	before := org.WriteRequests()
	for _, bad := range []string{"https://evil.example/api/v1/users", "//evil.example/api/v1/users", "/oauth2/v1/token", "/api/../oauth2/v1/token"} {
		if err := c.Call(t.Context(), http.MethodGet, bad, nil, nil); err == nil || !strings.Contains(err.Error(), "is not an /api/ path") {
			t.Errorf("%q: %v, want refused before sending", bad, err)
		}
	}
	if org.WriteRequests() != before {
		t.Fatal("a refused path was sent")
	}
}

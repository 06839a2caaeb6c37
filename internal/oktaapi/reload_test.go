package oktaapi_test

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

// TestARotatedAPITokenIsPickedUpOnTheNextRefusal: a long-lived client (the
// worker's) whose API token was rotated in the secret reads the secret again
// when Okta refuses the old token, and the same request succeeds; a token
// that stays wrong reads the secret at most once per ReloadEvery.
func TestARotatedAPITokenIsPickedUpOnTheNextRefusal(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("tok-1")
	var secret atomic.Value
	secret.Store("tok-1")
	var reads atomic.Int32
	now := time.Now()
	clock := func() time.Time { return now }
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "tok-1"}, oktaapi.Settings{
		Now: clock,
		Reload: func(context.Context) (oktaapi.Credentials, error) {
			reads.Add(1)
			return oktaapi.Credentials{OrgURL: org.URL, APIToken: secret.Load().(string)}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	call := func() error { return c.Call(t.Context(), http.MethodDelete, "/api/v1/users/00u42/sessions", nil, nil) }
	if err := call(); err != nil || reads.Load() != 0 {
		t.Fatalf("before rotation: %v, %d secret reads", err, reads.Load())
	}

	// Rotation: the secret and Okta move to tok-2; the client still holds tok-1.
	secret.Store("tok-2")
	org.SetAPIToken("tok-2")
	if err := call(); err != nil {
		t.Fatalf("after rotation: %v, want the request to succeed with the re-read token", err)
	}
	if reads.Load() != 1 {
		t.Fatalf("%d secret reads, want 1", reads.Load())
	}

	// Okta refuses tok-2 too (revoked, secret not yet updated): a flood of
	// refused requests reads the secret at most once per ReloadEvery.
	org.SetAPIToken("tok-3")
	now = now.Add(oktaapi.ReloadEvery)
	for range 20 {
		if err := call(); !errors.Is(err, oktaapi.ErrUnauthorized) {
			t.Fatalf("with a revoked token: %v, want ErrUnauthorized", err)
		}
	}
	if reads.Load() != 2 {
		t.Fatalf("%d secret reads after 20 refused requests, want 2 (one per ReloadEvery)", reads.Load())
	}
	now = now.Add(oktaapi.ReloadEvery)
	secret.Store("tok-3")
	if err := call(); err != nil || reads.Load() != 3 {
		t.Fatalf("after the secret caught up: %v, %d reads; want success and 3", err, reads.Load())
	}
}

// TestReloadKeepsTheOrg: credentials re-read for another org are not used;
// the client keeps calling the org it was made for.
func TestReloadKeepsTheOrg(t *testing.T) {
	org, other := standin.Start(t.Cleanup), standin.Start(t.Cleanup)
	org.SetAPIToken("tok-1")
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "old"}, oktaapi.Settings{
		Reload: func(context.Context) (oktaapi.Credentials, error) {
			return oktaapi.Credentials{OrgURL: other.URL, APIToken: "tok-1"}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Call(t.Context(), http.MethodDelete, "/api/v1/users/00u42/sessions", nil, nil); !errors.Is(err, oktaapi.ErrUnauthorized) {
		t.Fatalf("got %v, want ErrUnauthorized: credentials of another org must not be taken", err)
	}
}

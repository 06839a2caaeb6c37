package main

import (
	"errors"
	"testing"
)

// TestOrgFlagTargetsThatOrgsURLAndSecrets: --org preview on a stack of
// prod and preview acts at preview's hook URL with preview's own hook
// secret and Okta credentials; no --org (or the default org) is the stack's
// own outputs, as before orgs; an org the stack does not serve is refused.
func TestOrgFlagTargetsThatOrgsURLAndSecrets(t *testing.T) {
	t.Setenv("OKTA_CREDENTIALS_SECRET_ID", "")
	outs := map[string]string{"EndpointUrl": "https://api/okta/events", "HookSecretArn": "arn:hook", "OktaCredentialsSecretArn": "arn:creds",
		"OktaEventTypes": "a", "OktaOrgs": "prod,preview"}
	for _, tc := range []struct{ org, url, hook, creds string }{
		{"", "https://api/okta/events", "arn:hook", "arn:creds"},
		{"prod", "https://api/okta/events", "arn:hook", "arn:creds"},
		{"preview", "https://api/okta/events/preview", "hookline/stk/preview/hook", "hookline/stk/preview/okta"},
	} {
		e := &oktaEnv{stack: "stk", org: tc.org}
		if err := e.fill(outs); err != nil {
			t.Fatal(err)
		}
		if e.url != tc.url || e.secretID != tc.hook || e.credsSecret != tc.creds {
			t.Errorf("--org %q: url %q, hook secret %q, okta secret %q; want %q %q %q", tc.org, e.url, e.secretID, e.credsSecret, tc.url, tc.hook, tc.creds)
		}
	}
	e := &oktaEnv{stack: "stk", org: "other"}
	if err := e.fill(outs); !errors.Is(err, errUsage) {
		t.Fatalf("--org other: %v, want a usage error", err)
	}
	// A stack from before orgs serves only its one org.
	delete(outs, "OktaOrgs")
	e = &oktaEnv{stack: "stk", org: "preview"}
	if err := e.fill(outs); !errors.Is(err, errUsage) {
		t.Fatalf("--org preview on a single-org stack: %v, want a usage error", err)
	}

	r := &replayTarget{stack: "stk", org: "preview", types: []string{"a"}}
	outs["OktaOrgs"] = "prod,preview"
	outs["EventsQueueUrl"], outs["LedgerTableName"] = "https://q", "t"
	if err := r.fill("stack stk", outs); err != nil || r.secretID != "hookline/stk/preview/okta" || r.stamp != "preview" {
		t.Fatalf("replay --org preview: %v, secret %q, stamp %q", err, r.secretID, r.stamp)
	}
}

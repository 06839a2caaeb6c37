package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/standin"
)

// The header the CLI sends the hook secret in is the receiver's
// AUTH_HEADER as template.yaml sets it, or --auth-header.
func TestAuthHeaderComesFromTheTemplate(t *testing.T) {
	dir := t.TempDir()
	write := func(env string) string {
		p := filepath.Join(dir, "template.yaml")
		doc := "Resources:\n  ReceiverFunction:\n    Type: AWS::Serverless::Function\n    Properties:\n      Environment:\n        Variables:\n" + env
		if err := os.WriteFile(p, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if got := templateAuthHeader(write("          AUTH_HEADER: X-Hook-Secret\n")); got != "X-Hook-Secret" {
		t.Errorf("AUTH_HEADER X-Hook-Secret: got %q", got)
	}
	if got := templateAuthHeader(write("          LOG_LEVEL: info\n")); got != "Authorization" {
		t.Errorf("no AUTH_HEADER: got %q", got)
	}
	if got := templateAuthHeader(filepath.Join(dir, "none.yaml")); got != "Authorization" {
		t.Errorf("no template: got %q", got)
	}
	if got := templateAuthHeader(filepath.Join(devstacktest.RepoRoot(t), "template.yaml")); got != "Authorization" {
		t.Errorf("the repository's template: got %q", got)
	}
	if got := authHeaderOr("X-Flag"); got != "X-Flag" {
		t.Errorf("the flag: got %q", got)
	}
}

// TestOktaCommandsSendTheReceiversAuthHeader: with the receiver reading the
// secret from another header (AUTH_HEADER=X-Hook-Secret), `okta register`,
// `okta rotate`, `okta preview` and `send` send it there (--auth-header),
// so the real receiver accepts them, and the hook in Okta carries that
// header; register without it fails verification with the receiver's 401.
func TestOktaCommandsSendTheReceiversAuthHeader(t *testing.T) {
	const header = "X-Hook-Secret"
	h := &oktaHarness{t: t}
	h.s = devstacktest.Start(t, devstacktest.Options{Run: []string{"receiver"}, Env: []string{"AUTH_HEADER=" + header}})
	h.org = standin.Start(t.Cleanup)
	h.org.SetAPIToken(oktaToken)
	h.hookARN = h.s.Resources.SecretARNs["HookSecret"]
	h.credsARN = h.secret("okta-credentials", `{"orgUrl":"`+h.org.URL+`","apiToken":"`+oktaToken+`"}`)
	reg := []string{"register", "--url", h.s.URL(), "--types", "user.lifecycle.create", "--secret-id", h.hookARN}

	if code, out, errOut := h.okta(reg...); code != exitUnverified || !strings.Contains(errOut, "401") {
		t.Fatalf("register in Authorization, the receiver reading %s: exit %d, want 3 (401)\n%s%s", header, code, out, errOut)
	}
	if out := h.mustOkta(append(reg, "--auth-header", header)...); !strings.Contains(out, ": "+h.s.URL()+", 1 event type, secret") {
		t.Errorf("register of one type says:\n%s", out)
	}
	if hk := h.onlyHook(); hk.AuthKey != header || hk.VerificationStatus != "VERIFIED" {
		t.Fatalf("the hook in Okta: auth key %q, %s; want %s, VERIFIED", hk.AuthKey, hk.VerificationStatus, header)
	}
	if out := h.mustOkta("preview", "--type", "user.lifecycle.create", "--url", h.s.URL(), "--secret-id", h.hookARN, "--auth-header", header); !strings.Contains(out, "answer: 200") {
		t.Fatalf("preview: %s", out)
	}
	h.mustOkta("rotate", "--secret-id", h.hookARN, "--auth-header", header)
	if hk := h.onlyHook(); hk.AuthKey != header || hk.VerificationStatus != "VERIFIED" {
		t.Fatalf("after rotate: auth key %q, %s", hk.AuthKey, hk.VerificationStatus)
	}
	secret, _ := h.current("AWSCURRENT")
	var o, e strings.Builder
	events := filepath.Join(devstacktest.RepoRoot(t), "events", "delivery.json")
	if code := run(context.Background(), []string{"send", "--url", h.s.URL(), "--secret", secret, "--auth-header", header, "--events", events,
		"--state", filepath.Join(t.TempDir(), "none.json")}, &o, &e); code != 0 || !strings.Contains(o.String(), `{"accepted":4}`) {
		t.Fatalf("send --auth-header %s: exit %d\n%s%s", header, code, o.String(), e.String())
	}
	h.neverPrinted(secret)
}

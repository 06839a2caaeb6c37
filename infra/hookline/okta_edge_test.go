package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

// These tests run the CLI (run) only, so that they also run against the
// code before the edge work (with the stand-in org of after it).

// everyPutVerified fails unless each PUT to a hook was followed at once by
// that hook's verification, and no request body had a field Okta's spec
// does not allow in a request (a read-only one, say).
func everyPutVerified(t *testing.T, org *standin.Org) {
	t.Helper()
	log := org.HookRequestLog()
	puts := 0
	for i, r := range log {
		if r.Method != http.MethodPut {
			continue
		}
		puts++
		if i+1 == len(log) || log[i+1].Method != http.MethodPost || log[i+1].Path != r.Path+"/lifecycle/verify" {
			t.Errorf("PUT %s (request %d) was not followed by its verification", r.Path, i+1)
		}
	}
	if puts == 0 {
		t.Error("no PUT was made")
	}
	if p := org.HookRequestProblems(); len(p) > 0 {
		t.Errorf("request bodies that Okta's spec does not allow:\n%s", strings.Join(p, "\n"))
	}
}

// TestOktaRegisterAndRotateKeepWhatHooklineDoesNotOwn: an admin set a
// filter, an extra header and a description on the hook; register (an
// update) and rotate keep all three, send no read-only field, verify after
// every PUT and leave the hook ACTIVE and VERIFIED.
func TestOktaRegisterAndRotateKeepWhatHooklineDoesNotOwn(t *testing.T) {
	h := startOkta(t)
	hk := h.register()
	filter := `{"type":"EXPRESSION_LANGUAGE","eventFilterMap":[{"event":"user.lifecycle.create","condition":{"expression":"event.actor.type eq 'User'"}}]}`
	desc := "owned by the IAM team: ask before deleting"
	h.org.EditHook(hk.ID, func(s *standin.Hook) {
		s.Filter = json.RawMessage(filter)
		s.Headers = []standin.Header{{Key: "X-Team", Value: "iam"}}
		s.Description = &desc
	})
	kept := func(step string) {
		t.Helper()
		s := h.onlyHook()
		if string(s.Filter) != filter {
			t.Errorf("%s: filter %s, want the admin's %s", step, s.Filter, filter)
		}
		if len(s.Headers) != 1 || s.Headers[0] != (standin.Header{Key: "X-Team", Value: "iam"}) {
			t.Errorf("%s: headers %+v", step, s.Headers)
		}
		if s.Description == nil || *s.Description != desc {
			t.Errorf("%s: description %v, want the admin's", step, s.Description)
		}
		if s.Status != "ACTIVE" || s.VerificationStatus != "VERIFIED" {
			t.Errorf("%s: the hook is %s %s", step, s.Status, s.VerificationStatus)
		}
	}
	h.mustOkta("register", "--url", h.s.URL(), "--types", "user.lifecycle.create,user.session.start", "--secret-id", h.hookARN)
	kept("register")
	var marked []string
	h.org.AfterHooksRequest(func(r *http.Request) {
		if r.Method == http.MethodPut {
			for _, s := range h.org.Hooks() {
				if s.Description != nil {
					marked = append(marked, *s.Description)
				}
			}
		}
	})
	h.mustOkta("rotate", "--secret-id", h.hookARN)
	h.org.AfterHooksRequest(nil)
	kept("rotate")
	if len(marked) == 0 || !strings.HasPrefix(marked[0], desc+" ") || !strings.Contains(marked[0], "rotate in progress") {
		t.Errorf("the rotation mark did not follow the admin's description: %q", marked)
	}
	everyPutVerified(t, h.org)
}

// TestOktaRegisterAndRotateFailWhenOktaReportsTheHookUnverified: Okta
// answers each verification VERIFIED but the hook is UNVERIFIED when read
// back: register and rotate exit 3 and print no success.
func TestOktaRegisterAndRotateFailWhenOktaReportsTheHookUnverified(t *testing.T) {
	h := startOkta(t)
	hk := h.register()
	h.org.AfterHooksRequest(func(r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/lifecycle/verify") {
			h.org.EditHook(hk.ID, func(s *standin.Hook) { s.VerificationStatus = "UNVERIFIED" })
		}
	})
	code, out, errOut := h.okta("register", "--url", h.s.URL(), "--types", "user.lifecycle.create", "--secret-id", h.hookARN)
	if code != exitUnverified || strings.Contains(out, "registered:") || !strings.Contains(errOut, "UNVERIFIED, not ACTIVE and VERIFIED") {
		t.Fatalf("register: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut = h.okta("rotate", "--secret-id", h.hookARN)
	if code != exitUnverified || strings.Contains(out, "rotated") || !strings.Contains(errOut, "UNVERIFIED, not ACTIVE and VERIFIED") {
		t.Fatalf("rotate: exit %d\n%s%s", code, out, errOut)
	}
}

// TestOktaRegisterActivatesAnInactiveHook: register ends with the hook
// ACTIVE, as it reads it back.
func TestOktaRegisterActivatesAnInactiveHook(t *testing.T) {
	h := startOkta(t)
	hk := h.register()
	h.mustOkta("deactivate", hk.Name)
	out := h.mustOkta("register", "--url", h.s.URL(), "--types", "user.lifecycle.create", "--secret-id", h.hookARN)
	if s := h.onlyHook(); s.Status != "ACTIVE" || s.VerificationStatus != "VERIFIED" || !strings.Contains(out, "activated") {
		t.Fatalf("after register: %s %s\n%s", s.Status, s.VerificationStatus, out)
	}
}

// sink records every request that reaches it.
type sink struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newSink(t *testing.T) *sink {
	s := &sink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.auth = append(s.auth, r.Method+" "+r.Header.Get("Authorization"))
		s.mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *sink) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auth...)
}

// redirector answers every request with status and a Location on to
// target, the same path, and a query that must never be printed.
func redirector(t *testing.T, status int, target string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target+r.URL.Path+"?sig=LOCATIONQUERYCANARY", status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestOktaClientFollowsNoRedirectOffTheOrg: an org URL that redirects
// (307, 302, 308) to another port is an error naming the Location's host,
// never its query; the token reaches no one.
func TestOktaClientFollowsNoRedirectOffTheOrg(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken(oktaToken)
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusFound, http.StatusPermanentRedirect} {
		r := redirector(t, status, org.URL)
		t.Setenv("OKTA_ORG_URL", r.URL)
		t.Setenv("OKTA_API_TOKEN", oktaToken)
		var o, e strings.Builder
		code := run(context.Background(), []string{"okta", "list"}, &o, &e)
		out := o.String() + e.String()
		host := strings.TrimPrefix(org.URL, "http://")
		if code == 0 || !strings.Contains(out, "redirect to host "+host) || strings.Contains(out, "LOCATIONQUERYCANARY") || strings.Contains(out, oktaToken) {
			t.Fatalf("%d: exit %d\n%s", status, code, out)
		}
		if n := org.HooksRequests(); n != 0 {
			t.Fatalf("%d: the org got %d requests through the redirect", status, n)
		}
	}
	// A service app: the token request (its signed client assertion) is
	// not re-posted to the Location either.
	key, keyPEM, err := standin.RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	org.AddServiceApp("0oa-hooks", &key.PublicKey, oktaapi.EventHooksScope)
	t.Setenv("OKTA_ORG_URL", redirector(t, http.StatusTemporaryRedirect, org.URL).URL)
	t.Setenv("OKTA_API_TOKEN", "")
	t.Setenv("OKTA_CLIENT_ID", "0oa-hooks")
	t.Setenv("OKTA_PRIVATE_KEY", keyPEM)
	var o, e strings.Builder
	if code := run(context.Background(), []string{"okta", "list"}, &o, &e); code == 0 || org.TokenRequests() != 0 || org.HooksRequests() != 0 ||
		!strings.Contains(e.String(), "redirect to host") {
		t.Fatalf("service app behind a redirect: exit %d, %d token requests reached the org\n%s%s", code, org.TokenRequests(), o.String(), e.String())
	}
}

// previewState writes a dev stack state file naming secret, so that
// preview needs no AWS.
func previewState(t *testing.T, url, secret string) string {
	state := filepath.Join(t.TempDir(), "dev-stack.json")
	if err := writeState(state, State{PID: os.Getpid(), URL: url, Secret: secret}); err != nil {
		t.Fatal(err)
	}
	return state
}

// TestPreviewAndDiagnoseSendTheSecretNowhereElse: preview and register's
// diagnosis refuse an endpoint's redirect, say where it pointed (the host),
// and the redirect's target never gets the hook secret.
func TestPreviewAndDiagnoseSendTheSecretNowhereElse(t *testing.T) {
	const secret = "hook-secret-for-the-redirect-test"
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect, http.StatusFound} {
		s := newSink(t)
		r := redirector(t, status, s.URL)
		var o, e strings.Builder
		code := run(context.Background(), []string{"okta", "preview", "--type", "user.account.lock", "--url", r.URL + "/okta/events",
			"--state", previewState(t, r.URL, secret)}, &o, &e)
		out := o.String() + e.String()
		if code == 0 || !strings.Contains(out, "redirect to host "+strings.TrimPrefix(s.URL, "http://")) || strings.Contains(out, "LOCATIONQUERYCANARY") ||
			strings.Contains(out, secret) {
			t.Fatalf("preview through a %d: exit %d\n%s", status, code, out)
		}
		why := diagnose(context.Background(), r.URL+"/okta/events", defaultAuthHeader, secret)
		if !strings.Contains(why, "redirect") || strings.Contains(why, "LOCATIONQUERYCANARY") {
			t.Fatalf("diagnose through a %d: %s", status, why)
		}
		if got := s.requests(); len(got) != 0 {
			t.Fatalf("the redirect's target got %v", got)
		}
	}
}

// TestPreviewAndDiagnoseRequireHTTPSExceptOnLoopback: the hook secret is
// never sent over http to a host that is not loopback, nor to a URL with
// userinfo; the refusal quotes neither the userinfo nor the query.
func TestPreviewAndDiagnoseRequireHTTPSExceptOnLoopback(t *testing.T) {
	const secret = "hook-secret-for-the-https-test"
	state := previewState(t, "http://127.0.0.1:1/okta/events", secret)
	for _, u := range []string{"http://hooks.example.com/okta/events?token=QUERYCANARY", "http://10.0.0.8/okta/events",
		"https://USERCANARY:PASSCANARY@hooks.example.com/okta/events"} {
		var o, e strings.Builder
		code := run(context.Background(), []string{"okta", "preview", "--type", "user.account.lock", "--url", u, "--state", state}, &o, &e)
		out := o.String() + e.String()
		if code != 2 || !(strings.Contains(out, "must use https") || strings.Contains(out, "userinfo")) ||
			strings.Contains(out, "CANARY") || strings.Contains(out, secret) {
			t.Fatalf("preview --url %s: exit %d\n%s", u, code, out)
		}
		if why := diagnose(context.Background(), u, defaultAuthHeader, secret); !strings.Contains(why, "not checked from here") || strings.Contains(why, "CANARY") {
			t.Fatalf("diagnose %s: %s", u, why)
		}
	}
}

// TestOktaListAndStatusEscapeOktasStrings: a hook whose name, URI and
// types hold an escape sequence, a newline, a carriage return and a bidi
// override is printed escaped by list, status and deactivate: none of them
// reaches the terminal raw, and list prints one line per hook.
func TestOktaListAndStatusEscapeOktasStrings(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken(oktaToken)
	t.Setenv("OKTA_ORG_URL", org.URL)
	t.Setenv("OKTA_API_TOKEN", oktaToken)
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: oktaToken}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	name := "evil\x1b[31m\nforged line\r\u202eeman"
	hk, err := c.CreateEventHook(t.Context(), oktaapi.NewEventHook(name, "https://hooks.example.com/okta/events", "Authorization", "x", []string{"user.lifecycle.create"}))
	if err != nil {
		t.Fatal(err)
	}
	org.EditHook(hk.ID, func(s *standin.Hook) {
		s.URI = "https://hooks.example.com/\x1b]0;title\x07"
		s.Types = append(s.Types, "x\x1b[2J")
		s.VerificationStatus = "VERIFIED\x1b[0m"
	})
	raw := []string{"\x1b", "\r", "\u202e", "\x07"}
	check := func(what, out string, lines int) {
		t.Helper()
		for _, r := range raw {
			if strings.Contains(out, r) {
				t.Errorf("%s printed %q raw:\n%q", what, r, out)
			}
		}
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "forged line") {
				t.Errorf("%s printed a line the hook's name forged:\n%s", what, out)
			}
		}
		if n := strings.Count(out, "\n"); n != lines {
			t.Errorf("%s printed %d lines, want %d:\n%s", what, n, lines, out)
		}
		if !strings.Contains(out, `\x1b[31m\nforged line\r\u202eeman`) {
			t.Errorf("%s does not show the name escaped:\n%s", what, out)
		}
	}
	var o, e strings.Builder
	run(context.Background(), []string{"okta", "list"}, &o, &e)
	check("list", o.String(), 2)
	o.Reset()
	e.Reset()
	code := run(context.Background(), []string{"okta", "status", name}, &o, &e)
	check("status", o.String(), 15) // the hook, its checks, Okta's side
	if code != exitUnverified {
		t.Errorf("status of a hook whose verification is not VERIFIED: exit %d", code)
	}
	for _, r := range raw {
		if strings.Contains(e.String(), r) {
			t.Errorf("status's error printed %q raw: %q", r, e.String())
		}
	}
	o.Reset()
	e.Reset()
	run(context.Background(), []string{"okta", "deactivate", name}, &o, &e)
	check("deactivate", o.String(), 1)
}

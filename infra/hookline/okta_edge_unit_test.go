package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/oktaapi"
)

func TestTermSafeEscapesOnlyWhatNeedsIt(t *testing.T) {
	for in, want := range map[string]string{
		"hookline":                   "hookline",
		"my hook (prod)":             "my hook (prod)",
		"évènement":                  "évènement",
		"a\x1b[31mb":                 `"a\x1b[31mb"`,
		"a\nb":                       `"a\nb"`,
		"a\rb":                       `"a\rb"`,
		"a\u202eb":                   `"a\u202eb"`,
		"a\u2066b":                   `"a\u2066b"`,
		"a\tb":                       `"a\tb"`,
		"\xff":                       `"\xff"`,
		`"quoted"`:                   `"\"quoted\""`,
		"https://x.example/okta?a=b": "https://x.example/okta?a=b",
	} {
		if got := termSafe(in); got != want {
			t.Errorf("termSafe(%q) = %s, want %s", in, got, want)
		}
	}
	if got := escapeText("line one\nline\x1b[2J two\r\u202e"); got != `line one`+"\n"+`line\x1b[2J two\r\u202e` {
		t.Errorf("escapeText: %q", got)
	}
}

func TestRedactURLAndHookURL(t *testing.T) {
	if got := redactURL("https://user:pass@h.example:8443/p/a?token=x#f"); got != "https://<redacted>@h.example:8443/p/a?<redacted>#<redacted>" {
		t.Errorf("redactURL: %s", got)
	}
	for u, ok := range map[string]bool{
		"https://h.example/okta/events":                     true,
		"http://127.0.0.1:4566/okta/events":                 true,
		"http://[::1]:8080/okta/events":                     true,
		"http://localhost:3000/okta/events":                 true,
		"http://abc.execute-api.localhost:4566/okta/events": true,
		"http://h.example/okta/events":                      false,
		"http://127.0.0.1.nip.io/okta/events":               false,
		"https://u:p@h.example/okta/events":                 false,
		"ftp://h.example/x":                                 false,
		"not a url":                                         false,
	} {
		if err := hookURL(u); (err == nil) != ok {
			t.Errorf("hookURL(%s): %v", u, err)
		}
	}
}

// TestIPRangesFollowsRedirectsOnlyWithinItsHost: the ip-ranges client
// follows a redirect on the same https host, and refuses one to another
// host or to http, naming the host.
func TestIPRangesFollowsRedirectsOnlyWithinItsHost(t *testing.T) {
	other := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte(`{}`)) }))
	defer other.Close()
	var srv *httptest.Server
	srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusTemporaryRedirect)
		case "/other":
			http.Redirect(w, r, other.URL+"/final?q=x", http.StatusFound)
		case "/http":
			http.Redirect(w, r, strings.Replace(srv.URL, "https", "http", 1)+"/final", http.StatusFound)
		default:
			w.Write([]byte(`{"ok":1}`))
		}
	}))
	defer srv.Close()
	c := sameHostRedirects(5 * time.Second)
	c.Transport = srv.Client().Transport
	get := func(path string) error {
		resp, err := c.Get(srv.URL + path)
		if err == nil {
			resp.Body.Close()
		}
		return httpCause(err) // as fetch reports it: Go's *url.Error quotes the Location's query
	}
	if err := get("/same"); err != nil {
		t.Fatalf("same host: %v", err)
	}
	for _, p := range []string{"/other", "/http"} {
		err := get(p)
		if !errors.Is(err, errRedirect) || strings.Contains(err.Error(), "q=x") {
			t.Fatalf("%s: %v", p, err)
		}
	}
	if err := get("/other"); !strings.Contains(err.Error(), strings.TrimPrefix(other.URL, "https://")) {
		t.Fatalf("the error does not name the host: %v", err)
	}
}

func TestCellRangesPassOnlyCIDRs(t *testing.T) {
	if _, err := cellRanges([]byte(`{"c":{"ip_ranges":["1.2.3.0/24","1.2.3.4/32 Evil=1"]}}`), "c"); err == nil || !strings.Contains(err.Error(), "not a CIDR") {
		t.Fatalf("a non-CIDR entry: %v", err)
	}
}

// TestRotationMarkKeepsTheAdminsDescription: the mark is appended to the
// description an admin wrote and removed exactly; an earlier version's
// mark (the whole description) is still recognised.
func TestRotationMarkKeepsTheAdminsDescription(t *testing.T) {
	admin := "owned by IAM [team] : call x"
	for _, base := range []*string{nil, &admin} {
		m := withRotationMark(base, "v2")
		if got := rotationInProgress(hookWithDescription(m)); got != "v2" {
			t.Fatalf("mark on %v: %q reads as %q", base, *m, got)
		}
		// A second mark replaces the first.
		m = withRotationMark(m, "v3")
		if got := rotationInProgress(hookWithDescription(m)); got != "v3" || strings.Count(*m, "rotate in progress") != 1 {
			t.Fatalf("second mark: %q", *m)
		}
		back := withoutRotationMark(m)
		if (base == nil) != (back == nil) || (base != nil && *back != *base) {
			t.Fatalf("cleared %q: %v, want %v", *m, back, base)
		}
	}
	old := "hookline rotate in progress, secret version v1: run hookline okta rotate again to finish"
	if rotationInProgress(hookWithDescription(&old)) != "v1" || withoutRotationMark(&old) != nil {
		t.Fatal("an earlier version's mark")
	}
	if rotationInProgress(hookWithDescription(&admin)) != "" || withoutRotationMark(&admin) != &admin {
		t.Fatal("an admin's description is not a mark")
	}
}

// TestSafeErrorRedactsNotedSecretsAndKeepsTheChain: the last line of
// defence replaces what the command noted and keeps exit codes.
func TestSafeErrorRedactsNotedSecretsAndKeepsTheChain(t *testing.T) {
	ctx, set := withSecretSet(context.Background())
	noteSecrets(ctx, "tok-0123456789", "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n-----END PRIVATE KEY-----")
	noteOrgURL(ctx, "https://admin:hunter22@x.okta.com/?k=secretq")
	err := set.wrap(&exitError{exitOktaAccess, errors.New("bad tok-0123456789 MIIEvQIBADANBgkqhkiG9w0BAQEFAASC hunter22 secretq \x1b[0m")})
	msg := err.Error()
	for _, s := range []string{"tok-0123456789", "MIIEvQ", "hunter22", "secretq", "\x1b"} {
		if strings.Contains(msg, s) {
			t.Errorf("%q in %q", s, msg)
		}
	}
	var ee *exitError
	if !errors.As(err, &ee) || ee.ExitCode() != exitOktaAccess {
		t.Errorf("exit code lost: %v", err)
	}
}

func hookWithDescription(d *string) oktaapi.EventHook { return oktaapi.EventHook{Description: d} }

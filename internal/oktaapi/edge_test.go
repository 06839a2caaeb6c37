package oktaapi_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

// recorder is a server that records what reaches it and answers a page
// with one forged event, as an attacker's host would.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []string // method, path, Authorization, DPoP and body of each
}

func newRecorder(t *testing.T) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = req.ParseForm()
		r.mu.Lock()
		r.reqs = append(r.reqs, fmt.Sprintf("%s %s auth=%q dpop=%q form=%v", req.Method, req.URL, req.Header.Get("Authorization"), req.Header.Get("DPoP"), req.PostForm))
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if req.URL.Path == "/oauth2/v1/token" {
			fmt.Fprint(w, `{"token_type":"Bearer","access_token":"forged","expires_in":3600}`)
			return
		}
		fmt.Fprint(w, `[{"uuid":"forged-0001","published":"2026-01-01T00:00:00.000Z","eventType":"user.lifecycle.create"}]`)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) requests() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reqs...)
}

// redirector answers every request with status and a Location on target
// (with userinfo and a query that must never be quoted), except what
// serve answers itself (it reports true).
func redirector(status int, target string, serve func(http.ResponseWriter, *http.Request) bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if serve != nil && serve(w, r) {
			return
		}
		u, _ := url.Parse(target)
		u.User = url.UserPassword("lureuser", "lurepass")
		u.Path = r.URL.Path
		u.RawQuery = "lure=query-secret"
		w.Header().Set("Location", u.String())
		w.WriteHeader(status)
	}
}

// dpopTokenEndpoint serves /oauth2/v1/token as a DPoP-requiring org does:
// no proof is invalid_dpop_proof, a proof gets a DPoP-bound token.
func dpopTokenEndpoint(w http.ResponseWriter, r *http.Request) bool {
	if r.URL.Path != "/oauth2/v1/token" {
		return false
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("DPoP") == "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":"invalid_dpop_proof","error_description":"DPoP proof required"}`)
		return true
	}
	fmt.Fprint(w, `{"token_type":"DPoP","access_token":"dpop-bound-access-token","expires_in":3600}`)
	return true
}

func checkRedirectRefused(t *testing.T, err error, p oktaapi.Page, other *recorder) {
	t.Helper()
	if !errors.Is(err, oktaapi.ErrRedirect) || !errors.Is(err, oktaapi.ErrOrgURL) {
		t.Fatalf("error %v, want ErrRedirect (and ErrOrgURL)", err)
	}
	if host := other.Listener.Addr().String(); !strings.Contains(err.Error(), host) {
		t.Errorf("error %q does not name the Location host %s", err, host)
	}
	for _, lure := range []string{"lureuser", "lurepass", "query-secret"} {
		if strings.Contains(err.Error(), lure) {
			t.Errorf("error %q quotes the Location's %s", err, lure)
		}
	}
	if got := other.requests(); len(got) != 0 {
		t.Fatalf("the redirect's target got %d requests, the credentials with them: %v", len(got), got)
	}
	if len(p.Events) != 0 {
		t.Fatalf("the other host's answer was read as System Log data: %d events", len(p.Events))
	}
}

// TestNoCredentialFollowsARedirect: a 3xx from the org, from its token
// endpoint or to a DPoP-proofed request is an ErrRedirect naming the
// Location host, and the Location gets no request, so no SSWS token,
// access token, DPoP proof or client assertion reaches it, and nothing it
// answers is read as events.
func TestNoCredentialFollowsARedirect(t *testing.T) {
	since := oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour)}
	for _, status := range []int{http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(fmt.Sprintf("API token, %d to another port", status), func(t *testing.T) {
			other := newRecorder(t)
			org := httptest.NewServer(redirector(status, other.URL, nil))
			t.Cleanup(org.Close)
			c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "ssws-secret-token"}, oktaapi.Settings{})
			if err != nil {
				t.Fatal(err)
			}
			p, err := c.Logs(t.Context(), c.LogsURL(since))
			checkRedirectRefused(t, err, p, other)
			err = c.Call(t.Context(), http.MethodPost, "/api/v1/users/00u1/lifecycle/suspend", map[string]string{"a": "b"}, nil)
			checkRedirectRefused(t, err, oktaapi.Page{}, other)
		})
	}
	t.Run("https org to http, with the caller's client", func(t *testing.T) {
		other := newRecorder(t)
		org := httptest.NewTLSServer(redirector(http.StatusFound, other.URL, nil))
		t.Cleanup(org.Close)
		mine := org.Client()
		c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "ssws-secret-token"},
			oktaapi.Settings{HTTPClient: mine})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Logs(t.Context(), c.LogsURL(since))
		checkRedirectRefused(t, err, p, other)
		if !strings.Contains(err.Error(), `"http"`) {
			t.Errorf("error %q does not say the Location drops to http", err)
		}
		if mine.CheckRedirect != nil {
			t.Fatal("New changed the caller's http.Client")
		}
	})
	t.Run("token endpoint 307 would re-post the client assertion", func(t *testing.T) {
		other := newRecorder(t)
		org := httptest.NewServer(redirector(http.StatusTemporaryRedirect, other.URL, nil))
		t.Cleanup(org.Close)
		_, pemText := rsaPEM(t)
		c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oa-app", PrivateKey: pemText}, oktaapi.Settings{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Logs(t.Context(), c.LogsURL(since))
		checkRedirectRefused(t, err, p, other)
		if !strings.Contains(err.Error(), "/oauth2/v1/token") {
			t.Errorf("error %q does not say the token endpoint redirected", err)
		}
	})
	t.Run("DPoP-proofed request", func(t *testing.T) {
		other := newRecorder(t)
		org := httptest.NewServer(redirector(http.StatusTemporaryRedirect, other.URL, dpopTokenEndpoint))
		t.Cleanup(org.Close)
		_, pemText := rsaPEM(t)
		c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oa-dpop", PrivateKey: pemText}, oktaapi.Settings{})
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Logs(t.Context(), c.LogsURL(since))
		checkRedirectRefused(t, err, p, other)
		if c.Requests() != 3 { // token without proof, token with proof, the page
			t.Fatalf("%d requests, want 3: the DPoP token was not in use", c.Requests())
		}
	})
}

// TestAFarRateLimitResetIsAFaultNotAWait: a 429 whose reset is a year
// ahead is not waited (no sleep, no OnWait) but is an ErrImplausibleReset,
// and the next call asks Okta again.
func TestAFarRateLimitResetIsAFaultNotAWait(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("t")
	addEvents(org, 5, "user.lifecycle.create")
	org.SetRateLimit(100, 8760*time.Hour)
	org.Fail429(1)
	clock := &fakeClock{now: time.Now()}
	var told []time.Duration
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "t"}, oktaapi.Settings{Now: clock.Now, Sleep: clock.Sleep,
		OnWait: func(d time.Duration, _ string) { told = append(told, d) }})
	first := c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour)})
	_, err := c.Logs(t.Context(), first)
	var rl *oktaapi.RateLimitError
	if !errors.Is(err, oktaapi.ErrImplausibleReset) || !errors.Is(err, oktaapi.ErrRateLimited) || !errors.As(err, &rl) || !rl.Implausible {
		t.Fatalf("error %v, want an implausible-reset RateLimitError", err)
	}
	if len(clock.waits) != 0 || len(told) != 0 {
		t.Fatalf("waited %v (told %v) for a reset a year ahead", clock.waits, told)
	}
	if p, err := c.Logs(t.Context(), first); err != nil || len(p.Events) != 5 {
		t.Fatalf("the next call: %d events, %v", len(p.Events), err)
	}
	if org.LogsRequests() != 2 {
		t.Fatalf("%d requests, want 2", org.LogsRequests())
	}
}

// TestNoSavedResetOutlivesTheRunThatSawIt: a 200 with
// X-Rate-Limit-Remaining: 0 and a reset a year ahead fails the next call
// of that run (ErrImplausibleReset) but is then forgotten: the client, kept
// by a warm reconciler, asks Okta on its next run instead of stopping with
// zero requests for the life of the container.
func TestNoSavedResetOutlivesTheRunThatSawIt(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("t")
	addEvents(org, 5, "user.lifecycle.create")
	org.SetRateLimit(1, 8760*time.Hour)
	clock := &fakeClock{now: time.Now()}
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "t"}, oktaapi.Settings{Now: clock.Now, Sleep: clock.Sleep})
	first := c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Limit: 2})
	run := func() error {
		// A reconciler run: a deadline two minutes ahead.
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
		defer cancel()
		_, err := c.Logs(ctx, first)
		return err
	}
	if err := run(); err != nil {
		t.Fatal(err)
	}
	if err := run(); !errors.Is(err, oktaapi.ErrImplausibleReset) {
		t.Fatalf("after Remaining: 0 with a far reset: %v, want ErrImplausibleReset", err)
	}
	if org.LogsRequests() != 1 {
		t.Fatalf("%d requests, want 1: the fault is seen before asking", org.LogsRequests())
	}
	for range 3 {
		_ = run()
	}
	if org.LogsRequests() != 4 {
		t.Fatalf("%d requests after 3 more runs, want 4: every run asks Okta again", org.LogsRequests())
	}
	if len(clock.waits) != 0 {
		t.Fatalf("waited %v", clock.waits)
	}
}

// TestAPassedResetIsForgotten: a Remaining: 0 whose minute has passed
// costs no wait.
func TestAPassedResetIsForgotten(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("t")
	addEvents(org, 5, "user.lifecycle.create")
	org.SetRateLimit(1, time.Minute)
	clock := &fakeClock{now: time.Now()}
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "t"}, oktaapi.Settings{Now: clock.Now, Sleep: clock.Sleep})
	first := c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour)})
	if _, err := c.Logs(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	clock.mu.Lock()
	clock.now = clock.now.Add(2 * time.Minute)
	clock.mu.Unlock()
	org.SetRateLimit(100, time.Minute) // the org's window has moved on too
	if _, err := c.Logs(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	if len(clock.waits) != 0 {
		t.Fatalf("waited %v for a reset that had passed", clock.waits)
	}
}

// TestATokenEndpointFarResetIsImplausible: the token endpoint's own 429
// with a reset a day ahead is an ErrImplausibleReset too.
func TestATokenEndpointFarResetIsImplausible(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", fmt.Sprint(time.Now().Add(24*time.Hour).Unix()))
		w.WriteHeader(http.StatusTooManyRequests)
		fmt.Fprint(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`)
	}))
	t.Cleanup(srv.Close)
	_, pemText := rsaPEM(t)
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: srv.URL, ClientID: "0oa", PrivateKey: pemText}, oktaapi.Settings{})
	_, err := c.Logs(t.Context(), c.LogsURL(oktaapi.LogsQuery{Since: time.Now()}))
	if !errors.Is(err, oktaapi.ErrImplausibleReset) {
		t.Fatalf("error %v, want ErrImplausibleReset", err)
	}
}

// TestCallSendsOnlyCleanAPIPaths: a path that a normalising server could
// resolve outside /api/, or that names another host, is an ErrPath and
// nothing is sent; clean paths are sent as given.
func TestCallSendsOnlyCleanAPIPaths(t *testing.T) {
	seen := newRecorder(t)
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: seen.URL, APIToken: "ssws-secret-token"}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	bad := []string{
		"/api/..", "/api/../oauth2/v1/token", "/api/v1/..", "/api/./v1/users", "/api/v1/users/.",
		"/api/%2e%2e/oauth2/v1/token", "/api/%2E%2e/x", "/api/.%2e/x", "/api/v1%2f..%2f..%2foauth2", "/api/v1/users/x%5c..%5c..",
		"/api/v1/users/x/..;/..;/oauth2/v1/token", "/api/v1/users;jsessionid=1", "/api\\..\\oauth2", "/api/v1/users\\x",
		"/api//evil.example/x", "//evil.example/api/v1/users", "https://evil.example/api/v1/users", "http://127.0.0.1:1/api/v1/users",
		"/api/v1/users\n/x", "/api/v1/users\x00", "/api/v1/users\x7f", "/api/v1/users/%00", "/api/v1/users/%252e%252e",
		"/api/v1/users%", "/api/v1/users/%zz", "/api/v1/users#frag", "/oauth2/v1/token", "api/v1/users", "", "/api",
		"/api/v1/users/a b",
	}
	for _, p := range bad {
		err := c.Call(t.Context(), http.MethodGet, p, nil, nil)
		if !errors.Is(err, oktaapi.ErrPath) || !strings.Contains(err.Error(), "nothing was sent") || !oktaapi.IsPermanent(err) {
			t.Errorf("%q: error %v, want ErrPath (permanent)", p, err)
		}
	}
	if got := seen.requests(); len(got) != 0 {
		t.Fatalf("refused paths were sent: %v", got)
	}
	good := []string{"/api/v1/users/00u1/sessions", "/api/v1/users/john.doe@example.com", "/api/v1/users?search=profile.login%20eq%20%22a.b%22",
		"/api/v1/users/00u1/", "/api/v1/groups/00g1/users/00u%201"}
	for _, p := range good {
		if err := c.Call(t.Context(), http.MethodGet, p, nil, nil); err != nil {
			t.Errorf("%q: %v", p, err)
		}
	}
	if got := seen.requests(); len(got) != len(good) {
		t.Fatalf("sent %d of %d clean paths: %v", len(got), len(good), got)
	}
}

// TestAControlCharacterInACredentialIsAValidationError: a token, client
// id, key id or scope with a newline inside is refused by Validate naming
// the field, not reported later as an unreachable org.
func TestAControlCharacterInACredentialIsAValidationError(t *testing.T) {
	_, pemText := rsaPEM(t)
	org := "https://example.okta.com"
	for field, creds := range map[string]oktaapi.Credentials{
		"apiToken": {OrgURL: org, APIToken: "00abc\ndef"},
		"clientId": {OrgURL: org, ClientID: "0oa\r\nX-Injected: 1", PrivateKey: pemText},
		"keyId":    {OrgURL: org, ClientID: "0oa", PrivateKey: pemText, KeyID: "k\x1b[2J"},
		"scopes":   {OrgURL: org, ClientID: "0oa", PrivateKey: pemText, Scopes: "okta.logs.read\x00"},
	} {
		err := creds.Validate()
		if !errors.Is(err, oktaapi.ErrCredentials) || !strings.Contains(err.Error(), field+" has a control character") {
			t.Errorf("%s: error %v, want ErrCredentials naming %s", field, err, field)
		}
	}
	// Surrounding whitespace, such as the newline a pasted token ends with,
	// is still trimmed.
	if err := (oktaapi.Credentials{OrgURL: org, APIToken: "00abc\n"}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestOrgURLErrorsNeverQuoteUserinfoQueryOrFragment: a refused orgUrl is
// shown as scheme://host/path at most.
func TestOrgURLErrorsNeverQuoteUserinfoQueryOrFragment(t *testing.T) {
	for _, raw := range []string{
		"https://admin:hunter2secret@example.okta.com", "https://example.okta.com/?token=hunter2secret",
		"https://example.okta.com/#hunter2secret", "http://admin:hunter2secret@example.okta.com/?q=hunter2secret",
		"https://admin:hunter2secret@example-admin.okta.com", "https://example.okta.com/oauth2?hunter2secret",
		"https://exa mple.okta.com/hunter2secret", "https://example.okta.com?hunter2secret\n",
	} {
		_, err := oktaapi.OrgURL(raw)
		if !errors.Is(err, oktaapi.ErrOrgURL) {
			t.Errorf("%q accepted: %v", raw, err)
			continue
		}
		if strings.Contains(err.Error(), "hunter2secret") {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
	if _, err := oktaapi.OrgURL("https://example.okta.com?"); err == nil {
		t.Error("an empty query (a trailing ?) was accepted: it would end up before every path")
	}
}

// TestNoWaitIsLongerThanMaxResetWait: whatever reset a 429 names, the
// client never waits (or tells OnWait, as `hookline replay` prints it) more
// than MaxResetWait and a second: a reset within the cap is waited out,
// one past it is an ErrImplausibleReset with no wait at all.
func TestNoWaitIsLongerThanMaxResetWait(t *testing.T) {
	for _, ahead := range []time.Duration{30 * time.Second, oktaapi.MaxResetWait - time.Second, oktaapi.MaxResetWait + 2*time.Second, 8760 * time.Hour} {
		t.Run(ahead.String(), func(t *testing.T) {
			clock := &fakeClock{now: time.Now()}
			answered := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				answered++
				if answered > 1 {
					fmt.Fprint(w, "[]")
					return
				}
				// Okta's clock is the client's: the reset is ahead by ahead.
				w.Header().Set("Date", clock.Now().UTC().Format(http.TimeFormat))
				w.Header().Set("X-Rate-Limit-Remaining", "0")
				w.Header().Set("X-Rate-Limit-Reset", fmt.Sprint(clock.Now().Add(ahead).Unix()))
				w.WriteHeader(http.StatusTooManyRequests)
				fmt.Fprint(w, `{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`)
			}))
			t.Cleanup(srv.Close)
			var told []time.Duration
			c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: srv.URL, APIToken: "t"}, oktaapi.Settings{Now: clock.Now, Sleep: clock.Sleep,
				OnWait: func(d time.Duration, _ string) { told = append(told, d) }})
			_, err := c.Logs(t.Context(), c.LogsURL(oktaapi.LogsQuery{Since: time.Now()}))
			for _, d := range append(told, clock.waits...) {
				if d > oktaapi.MaxResetWait+time.Second {
					t.Fatalf("waited %v for a reset %v ahead", d, ahead)
				}
			}
			if ahead > oktaapi.MaxResetWait {
				if !errors.Is(err, oktaapi.ErrImplausibleReset) || len(clock.waits) != 0 {
					t.Fatalf("a reset %v ahead: error %v, waits %v; want ErrImplausibleReset at once", ahead, err, clock.waits)
				}
				return
			}
			if err != nil || len(clock.waits) != 1 || clock.waits[0] < ahead {
				t.Fatalf("a reset %v ahead: error %v, waits %v; want it waited out", ahead, err, clock.waits)
			}
		})
	}
}

package oktaapi_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

func rsaPEM(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, p, err := standin.RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	return k, p
}

func ecPEM(t *testing.T) (*ecdsa.PrivateKey, string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalECPrivateKey(k)
	return k, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}))
}

func addEvents(org *standin.Org, n int, typ string) [][]byte {
	base := time.Now().Add(-time.Hour)
	var out [][]byte
	for i := range n {
		out = append(out, standin.Event(fmt.Sprintf("uuid-%03d", i), typ, base.Add(time.Duration(i)*time.Second)))
	}
	org.Add(out...)
	return out
}

// readAll follows next links until a page is empty or has no next link.
func readAll(t *testing.T, c *oktaapi.Client, first string) (raws [][]byte, pages int) {
	t.Helper()
	for u := first; u != ""; {
		p, err := c.Logs(t.Context(), u)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, e := range p.Events {
			raws = append(raws, e.Raw)
		}
		if len(p.Events) == 0 {
			break
		}
		u = p.Next
	}
	return raws, pages
}

func TestAPITokenReadsEveryEventRawAcrossPages(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("tok-1")
	want := addEvents(org, 25, "user.lifecycle.create")
	addEvents(org, 3, "user.session.start") // filtered out
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "tok-1"}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	got, pages := readAll(t, c, c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Types: []string{"user.lifecycle.create"}, Limit: 10}))
	if len(got) != len(want) {
		t.Fatalf("got %d events, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("event %d changed:\n got %s\nwant %s", i, got[i], want[i])
		}
	}
	// 3 full pages, then the empty page that ends a polling read.
	if pages != 4 || c.Requests() != 4 {
		t.Fatalf("pages %d, requests %d; want 4 and 4", pages, c.Requests())
	}
}

func TestServiceAppGetsABearerTokenWithPrivateKeyJWT(t *testing.T) {
	for name, keyPEM := range map[string]func(*testing.T) (any, string){
		"RS256": func(t *testing.T) (any, string) { k, p := rsaPEM(t); return &k.PublicKey, p },
		"ES256": func(t *testing.T) (any, string) { k, p := ecPEM(t); return &k.PublicKey, p },
	} {
		t.Run(name, func(t *testing.T) {
			org := standin.Start(t.Cleanup)
			pub, pemText := keyPEM(t)
			org.AddServiceApp("0oa-app", pub, oktaapi.LogsScope)
			addEvents(org, 5, "user.lifecycle.create")
			c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oa-app", PrivateKey: pemText, KeyID: "k1"}, oktaapi.Settings{})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := readAll(t, c, c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Limit: 2}))
			if len(got) != 5 {
				t.Fatalf("got %d events", len(got))
			}
			if org.TokenRequests() != 1 {
				t.Fatalf("token requests %d, want 1 (the token is cached)", org.TokenRequests())
			}
		})
	}
}

func TestErrorsNameTheProblem(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("right")
	_, pemText := rsaPEM(t)
	other, _ := rsaPEM(t)
	appKey, appPEM := rsaPEM(t)
	org.AddServiceApp("0oa-noscope", &appKey.PublicKey) // no scope granted
	org.AddServiceApp("0oa-otherkey", &other.PublicKey, oktaapi.LogsScope)
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html>not okta</html>"))
	}))
	t.Cleanup(html.Close)
	missing := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(missing.Close)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()

	cases := []struct {
		name  string
		creds oktaapi.Credentials
		want  error
		says  string
	}{
		{"wrong api token", oktaapi.Credentials{OrgURL: org.URL, APIToken: "wrong"}, oktaapi.ErrUnauthorized, "401"},
		{"scope not granted", oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oa-noscope", PrivateKey: appPEM}, oktaapi.ErrForbidden, oktaapi.LogsScope},
		{"key not the app's", oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oa-otherkey", PrivateKey: pemText}, oktaapi.ErrUnauthorized, "invalid_client"},
		{"org answers html", oktaapi.Credentials{OrgURL: html.URL, APIToken: "x"}, oktaapi.ErrOrgURL, "is orgUrl your Okta org"},
		{"org has no api", oktaapi.Credentials{OrgURL: missing.URL, APIToken: "x"}, oktaapi.ErrOrgURL, "404"},
		{"org unreachable", oktaapi.Credentials{OrgURL: deadURL, APIToken: "x"}, oktaapi.ErrOrgURL, "cannot reach"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := oktaapi.New(tc.creds, oktaapi.Settings{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Logs(t.Context(), c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour)}))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v; want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
}

func TestTokenWithoutLogsScopeIsForbiddenNamingTheScope(t *testing.T) {
	// A token endpoint that grants a token for another scope, as Okta does
	// when the app asks for one it has and the API needs one it has not.
	org := standin.Start(t.Cleanup)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="x", scope="okta.logs.read", error="insufficient_scope"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`{"errorCode":"E0000006","errorSummary":"You do not have permission to perform the requested action"}`))
	}))
	t.Cleanup(srv.Close)
	_ = org
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: srv.URL, APIToken: "x"}, oktaapi.Settings{})
	_, err := c.Logs(t.Context(), c.LogsURL(oktaapi.LogsQuery{Since: time.Now()}))
	if !errors.Is(err, oktaapi.ErrForbidden) || !strings.Contains(err.Error(), "lacks scope okta.logs.read") {
		t.Fatalf("error %v", err)
	}
}

func TestCredentialsAreChecked(t *testing.T) {
	_, pemText := rsaPEM(t)
	cases := map[string]string{
		`not json`:         "not a JSON object",
		`{"apiToken":"x"}`: "orgUrl is empty",
		`{"orgUrl":"http://example.okta.com","apiToken":"x"}`:                      "must use https",
		`{"orgUrl":"https://example-admin.okta.com","apiToken":"x"}`:               "admin console",
		`{"orgUrl":"https://example.okta.com/oauth2","apiToken":"x"}`:              "base URL only",
		`{"orgUrl":"https://example.okta.com"}`:                                    "neither apiToken",
		`{"orgUrl":"https://example.okta.com","clientId":"a"}`:                     "privateKey (PEM) is not",
		`{"orgUrl":"https://example.okta.com","clientId":"a","privateKey":"nope"}`: "not PEM",
	}
	for doc, says := range cases {
		_, err := oktaapi.ParseCredentials([]byte(doc))
		if !errors.Is(err, oktaapi.ErrCredentials) && !errors.Is(err, oktaapi.ErrOrgURL) {
			t.Errorf("%s: error %v is neither ErrCredentials nor ErrOrgURL", doc, err)
		}
		if err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("%s: error %v, want it to say %q", doc, err, says)
		}
		if err != nil && strings.Contains(err.Error(), "nope") {
			t.Errorf("error quotes the secret: %v", err)
		}
	}
	for _, ok := range []string{
		`{"orgUrl":"https://example.okta.com/","apiToken":"x"}`,
		`{"orgUrl":"http://127.0.0.1:8080","apiToken":"x"}`,
		`{"orgUrl":"http://localhost:8080","apiToken":"x"}`,
		fmt.Sprintf(`{"orgUrl":"https://example.okta.com","clientId":"a","privateKey":%q}`, pemText),
	} {
		if _, err := oktaapi.ParseCredentials([]byte(ok)); err != nil {
			t.Errorf("%.60s: %v", ok, err)
		}
	}
}

// fakeClock lets rate-limit waits be checked without waiting.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
}

func (f *fakeClock) Now() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.waits = append(f.waits, d)
	f.now = f.now.Add(d)
	return nil
}

func TestA429WaitsUntilTheResetThenContinues(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("t")
	want := addEvents(org, 30, "user.lifecycle.create")
	org.Fail429(2)
	clock := &fakeClock{now: time.Now()}
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "t"}, oktaapi.Settings{Now: clock.Now, Sleep: clock.Sleep})
	got, _ := readAll(t, c, c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Limit: 10}))
	if len(got) != len(want) {
		t.Fatalf("got %d events after a 429, want %d", len(got), len(want))
	}
	if len(clock.waits) != 1 {
		t.Fatalf("waits %v, want exactly one", clock.waits)
	}
	// The stand-in's window is a minute from the first request: the wait
	// runs to its reset, not a fixed or spinning retry.
	if w := clock.waits[0]; w < 30*time.Second || w > 62*time.Second {
		t.Fatalf("waited %v, want until the reset (about a minute)", w)
	}
}

func TestNoRequestLeftWaitsForTheWindowBeforeAsking(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("t")
	addEvents(org, 30, "user.lifecycle.create")
	org.SetRateLimit(2, time.Minute)
	clock := &fakeClock{now: time.Now()}
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "t"}, oktaapi.Settings{Now: clock.Now, Sleep: clock.Sleep})
	first := c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Limit: 10})
	p1, err := c.Logs(t.Context(), first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logs(t.Context(), p1.Next); err != nil { // remaining is now 0
		t.Fatal(err)
	}
	if len(clock.waits) != 0 {
		t.Fatalf("waited %v before the window was used up", clock.waits)
	}
	// The third call must wait for the reset before asking; the stand-in's
	// real window has not reset, so it answers 429 and the client waits again.
	ctx, cancel := context.WithTimeout(t.Context(), time.Hour)
	defer cancel()
	_, _ = c.Logs(ctx, p1.Next)
	if len(clock.waits) == 0 || clock.waits[0] < 30*time.Second {
		t.Fatalf("waits %v: want a wait for the reset before the request", clock.waits)
	}
	if org.LogsRequests() > 2+6 {
		t.Fatalf("%d requests: the client spun", org.LogsRequests())
	}
}

func TestRateLimitPastTheDeadlineStopsWithTheResetTime(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("t")
	addEvents(org, 5, "user.lifecycle.create")
	org.Fail429(1)
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "t"}, oktaapi.Settings{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err := c.Logs(ctx, c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour)}))
	var rl *oktaapi.RateLimitError
	if !errors.As(err, &rl) || !errors.Is(err, oktaapi.ErrRateLimited) {
		t.Fatalf("error %v, want a RateLimitError", err)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("took %v: it should stop at once, not wait past its deadline", time.Since(start))
	}
	if org.LogsRequests() != 1 {
		t.Fatalf("%d requests, want 1", org.LogsRequests())
	}
}

func TestPageURLsOutsideTheOrgAreRefused(t *testing.T) {
	org := standin.Start(t.Cleanup)
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "t"}, oktaapi.Settings{})
	for _, u := range []string{"http://198.51.100.1/api/v1/logs", org.URL + "/api/v1/users"} {
		if _, err := c.Logs(t.Context(), u); !errors.Is(err, oktaapi.ErrOrgURL) {
			t.Errorf("%s: error %v", u, err)
		}
	}
	if org.LogsRequests() != 0 {
		t.Fatal("a request was sent")
	}
}

func TestATokenEndpointRateLimitIsARateLimit(t *testing.T) {
	reset := time.Now().Add(42 * time.Second).Unix()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", fmt.Sprint(reset))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"errorCode":"E0000047","errorSummary":"API call exceeded rate limit due to too many requests."}`))
	}))
	t.Cleanup(srv.Close)
	_, pemText := rsaPEM(t)
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: srv.URL, ClientID: "0oa", PrivateKey: pemText}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Logs(t.Context(), c.LogsURL(oktaapi.LogsQuery{Since: time.Now()}))
	var rl *oktaapi.RateLimitError
	if !errors.As(err, &rl) || rl.ResetAt.Unix() != reset {
		t.Fatalf("error %v, want a RateLimitError until the reset", err)
	}
}

func TestServiceAppThatRequiresDPoPGetsABoundToken(t *testing.T) {
	org := standin.Start(t.Cleanup)
	key, pemText := rsaPEM(t)
	org.AddServiceApp("0oa-dpop", &key.PublicKey, oktaapi.LogsScope)
	org.RequireDPoP("0oa-dpop")
	want := addEvents(org, 7, "user.lifecycle.create")
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oa-dpop", PrivateKey: pemText}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	got, pages := readAll(t, c, c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Limit: 3}))
	if len(got) != len(want) || pages != 4 {
		t.Fatalf("got %d events in %d pages", len(got), pages)
	}
	// Without a proof, with a proof but no nonce, then the token; each page
	// after that carries a proof with the cached token.
	if n := org.TokenRequests(); n != 3 {
		t.Fatalf("token requests %d, want 3", n)
	}
}

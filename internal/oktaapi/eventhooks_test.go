package oktaapi_test

import (
	"context"
	"encoding/json"
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

// endpoint is a hook endpoint that answers Okta's verification challenge
// when the auth header holds secret, and records what it was sent.
type endpoint struct {
	*httptest.Server
	mu       sync.Mutex
	secret   string
	delay    time.Duration
	echo     bool // answer the challenge (false: a wrong answer)
	requests []*http.Request
}

func newEndpoint(t *testing.T, secret string) *endpoint {
	e := &endpoint{secret: secret, echo: true}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.requests = append(e.requests, r.Clone(context.Background()))
		secret, delay, echo := e.secret, e.delay, e.echo
		e.mu.Unlock()
		time.Sleep(delay)
		if r.Header.Get("Authorization") != secret {
			http.Error(w, `{"message":"Unauthorized"}`, http.StatusUnauthorized)
			return
		}
		challenge := r.Header.Get("x-okta-verification-challenge")
		if !echo {
			challenge = "something else"
		}
		json.NewEncoder(w).Encode(map[string]string{"verification": challenge})
	}))
	t.Cleanup(e.Close)
	return e
}

func hooksClient(t *testing.T, org *standin.Org, token string, s oktaapi.Settings) *oktaapi.Client {
	t.Helper()
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: token}, s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreatedHookIsActiveUnverifiedUntilOktaVerifiesIt(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("tok")
	ep := newEndpoint(t, "s3cret-value")
	c := hooksClient(t, org, "tok", oktaapi.Settings{})
	h, err := c.CreateEventHook(t.Context(), oktaapi.NewEventHook("hookline", ep.URL+"/okta/events", "Authorization", "s3cret-value", []string{"user.lifecycle.create"}))
	if err != nil {
		t.Fatal(err)
	}
	if h.ID == "" || h.Status != oktaapi.StatusActive || h.VerificationStatus != oktaapi.StatusUnverified {
		t.Fatalf("created %+v, want ACTIVE UNVERIFIED with an id", h)
	}
	if h.Channel.Config.AuthScheme == nil || h.Channel.Config.AuthScheme.Value != "" || h.Channel.Config.AuthScheme.Key != "Authorization" {
		t.Fatalf("auth scheme %+v: Okta returns the header name, never the value", h.Channel.Config.AuthScheme)
	}
	v, err := c.VerifyEventHook(t.Context(), h.ID)
	if err != nil || v.VerificationStatus != oktaapi.StatusVerified {
		t.Fatalf("verify: %+v %v", v, err)
	}
	// The stand-in really called the URI with the challenge and the secret.
	ep.mu.Lock()
	req := ep.requests[len(ep.requests)-1]
	ep.mu.Unlock()
	if req.Method != http.MethodGet || req.URL.Path != "/okta/events" || req.Header.Get("x-okta-verification-challenge") == "" ||
		req.Header.Get("Authorization") != "s3cret-value" {
		t.Fatalf("verification request %s %s %v", req.Method, req.URL, req.Header)
	}
	list, err := c.EventHooks(t.Context())
	if err != nil || len(list) != 1 || list[0].VerificationStatus != oktaapi.StatusVerified || list[0].Events.Items[0] != "user.lifecycle.create" {
		t.Fatalf("list %+v %v", list, err)
	}
	// The secret never shows in a printed hook.
	if s := fmt.Sprintf("%v %+v", oktaapi.NewEventHook("n", "u", "Authorization", "s3cret-value", nil), h); strings.Contains(s, "s3cret-value") {
		t.Fatalf("printed hook shows the secret: %s", s)
	}
}

func TestVerifyFailsWithOktasReason(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("tok")
	c := hooksClient(t, org, "tok", oktaapi.Settings{})
	ep := newEndpoint(t, "right")
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	cases := []struct {
		name, uri, secret string
		setup             func()
		says              string
	}{
		{"wrong secret", ep.URL, "wrong", nil, "HTTP 401"},
		{"wrong answer", ep.URL, "right", func() { ep.mu.Lock(); ep.echo = false; ep.mu.Unlock() }, "did not contain the verification value"},
		{"unreachable", deadURL, "right", nil, "could not connect"},
		{"slower than 3 s", ep.URL, "right", func() { ep.mu.Lock(); ep.echo, ep.delay = true, 3500*time.Millisecond; ep.mu.Unlock() }, "within 3 seconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.setup != nil {
				tc.setup()
			}
			h, err := c.CreateEventHook(t.Context(), oktaapi.NewEventHook(tc.name, tc.uri, "Authorization", tc.secret, []string{"a.b"}))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = c.VerifyEventHook(t.Context(), h.ID)
			if !errors.Is(err, oktaapi.ErrVerification) || !strings.Contains(err.Error(), "E0000001") || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("error %v; want ErrVerification with E0000001 saying %q", err, tc.says)
			}
			if d := time.Since(start); d > 2*3*time.Second+time.Second {
				t.Fatalf("verify took %v: Okta gives up after 3 s and one retry", d)
			}
		})
	}
}

// TestReplaceVerifiesAgainAndLifecycle: every replace, with the same URI
// or a new one, is followed by a verification (Okta unverifies a hook
// whose channel is written, and every PUT writes it), so the hook is
// VERIFIED after it; when the endpoint fails the challenge, the replace is
// done and the error wraps ErrVerification.
func TestReplaceVerifiesAgainAndLifecycle(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("tok")
	c := hooksClient(t, org, "tok", oktaapi.Settings{})
	ep := newEndpoint(t, "s")
	ctx := t.Context()
	h, _ := c.CreateEventHook(ctx, oktaapi.NewEventHook("n", ep.URL+"/a", "Authorization", "s", []string{"a.b"}))
	if _, err := c.VerifyEventHook(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	before := org.Verifications(h.ID)
	same, err := c.ReplaceEventHook(ctx, h.ID, oktaapi.NewEventHook("n", ep.URL+"/a", "Authorization", "s", []string{"a.b", "c.d"}))
	if err != nil || same.VerificationStatus != oktaapi.StatusVerified || len(same.Events.Items) != 2 || org.Verifications(h.ID) != before+1 {
		t.Fatalf("same URI: %+v %v, %d verifications", same, err, org.Verifications(h.ID)-before)
	}
	moved, err := c.ReplaceEventHook(ctx, h.ID, oktaapi.NewEventHook("n", ep.URL+"/b", "Authorization", "s", []string{"a.b"}))
	if err != nil || moved.VerificationStatus != oktaapi.StatusVerified || org.Verifications(h.ID) != before+2 {
		t.Fatalf("new URI: %+v %v; want VERIFIED again", moved, err)
	}
	wrong, err := c.ReplaceEventHook(ctx, h.ID, oktaapi.NewEventHook("n", ep.URL+"/b", "Authorization", "not-the-secret", []string{"a.b"}))
	if !errors.Is(err, oktaapi.ErrVerification) || wrong.ID != h.ID || org.Hooks()[0].VerificationStatus != oktaapi.StatusUnverified {
		t.Fatalf("wrong secret: %+v %v; want the PUT's answer and ErrVerification, the hook UNVERIFIED", wrong, err)
	}
	c.ReplaceEventHook(ctx, h.ID, oktaapi.NewEventHook("n", ep.URL+"/b", "Authorization", "s", []string{"a.b"}))
	if r, err := c.ReadEventHook(ctx, h.ID); err != nil || r.ID != h.ID || r.VerificationStatus != oktaapi.StatusVerified || r.Status != oktaapi.StatusActive {
		t.Fatalf("read back: %+v %v", r, err)
	}
	if err := c.DeleteEventHook(ctx, h.ID); err == nil || !strings.Contains(err.Error(), "INACTIVE") {
		t.Fatalf("delete of an active hook: %v", err)
	}
	if d, err := c.DeactivateEventHook(ctx, h.ID); err != nil || d.Status != oktaapi.StatusInactive {
		t.Fatalf("deactivate %+v %v", d, err)
	}
	if a, err := c.ActivateEventHook(ctx, h.ID); err != nil || a.Status != oktaapi.StatusActive {
		t.Fatalf("activate %+v %v", a, err)
	}
	c.DeactivateEventHook(ctx, h.ID)
	if err := c.DeleteEventHook(ctx, h.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ActivateEventHook(ctx, h.ID); !errors.Is(err, oktaapi.ErrNotFound) {
		t.Fatalf("deleted hook: %v, want ErrNotFound", err)
	}
	if list, _ := c.EventHooks(ctx); len(list) != 0 {
		t.Fatalf("%d hooks left", len(list))
	}
}

func TestHookErrorsNameTheScopeAndWaitOut429(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("tok")
	org.SetReadOnlyAPIToken("readonly")
	logsKey, logsPEM := rsaPEM(t)
	org.AddServiceApp("0oa-logs", &logsKey.PublicKey, oktaapi.LogsScope)
	hooksKey, hooksPEM := rsaPEM(t)
	org.AddServiceApp("0oa-hooks", &hooksKey.PublicKey, oktaapi.LogsScope, oktaapi.EventHooksScope)
	ctx := t.Context()

	if _, err := hooksClient(t, org, "wrong", oktaapi.Settings{}).EventHooks(ctx); !errors.Is(err, oktaapi.ErrUnauthorized) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := hooksClient(t, org, "readonly", oktaapi.Settings{}).EventHooks(ctx); !errors.Is(err, oktaapi.ErrForbidden) ||
		!strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), oktaapi.EventHooksScope) {
		t.Fatalf("read-only admin: %v", err)
	}
	app := func(id, pemText string, scope string) *oktaapi.Client {
		c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: id, PrivateKey: pemText}, oktaapi.Settings{Scope: scope})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	// An app not granted the scope is refused it by the token endpoint.
	if _, err := app("0oa-logs", logsPEM, oktaapi.EventHooksScope).EventHooks(ctx); !errors.Is(err, oktaapi.ErrForbidden) || !strings.Contains(err.Error(), oktaapi.EventHooksScope) {
		t.Fatalf("scope not granted: %v", err)
	}
	// A token for another scope gets 403 insufficient_scope, naming the
	// scope the GET needs (okta.eventHooks.read; manage includes it).
	if _, err := app("0oa-logs", logsPEM, oktaapi.LogsScope).EventHooks(ctx); !errors.Is(err, oktaapi.ErrForbidden) || !strings.Contains(err.Error(), "lacks scope "+oktaapi.EventHooksReadScope) {
		t.Fatalf("token without the scope: %v", err)
	}
	if _, err := app("0oa-hooks", hooksPEM, oktaapi.EventHooksScope).EventHooks(ctx); err != nil {
		t.Fatalf("app granted the scope: %v", err)
	}

	// A 429 is waited out until the reset, then the request is sent again.
	var waits []time.Duration
	c := hooksClient(t, org, "tok", oktaapi.Settings{Now: time.Now, Sleep: func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }})
	org.FailHooks429(org.HooksRequests() + 1)
	if _, err := c.EventHooks(ctx); err != nil || len(waits) != 1 {
		t.Fatalf("after a 429: %v, waits %v", err, waits)
	}
	// With no time to wait, a 429 is ErrRateLimited.
	org.FailHooks429(org.HooksRequests() + 1)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	defer cancel()
	if _, err := c.EventHooks(short); !errors.Is(err, oktaapi.ErrRateLimited) {
		t.Fatalf("429 past the deadline: %v", err)
	}
}

// TestReplaceKeepsWhatHooklineDoesNotOwnAndSendsNoReadOnlyField: a hook
// read from Okta, changed where hookline owns it and replaced, keeps the
// filter, the extra headers and the description an admin set, and the
// request carries no read-only field (the stand-in checks every body
// against Okta's OpenAPI spec); the PUT is followed by a verification.
func TestReplaceKeepsWhatHooklineDoesNotOwnAndSendsNoReadOnlyField(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("tok")
	c := hooksClient(t, org, "tok", oktaapi.Settings{})
	ep := newEndpoint(t, "s")
	ctx := t.Context()
	h, err := c.CreateEventHook(ctx, oktaapi.NewEventHook("n", ep.URL, "Authorization", "s", []string{"group.user_membership.add"}))
	if err != nil {
		t.Fatal(err)
	}
	// An admin adds a filter, a header and a description in the Admin Console.
	filter := `{"type":"EXPRESSION_LANGUAGE","eventFilterMap":[{"event":"group.user_membership.add","condition":{"expression":"event.target.?[type eq 'UserGroup'].size()>0","version":null}}]}`
	desc := "owned by the IAM team"
	org.EditHook(h.ID, func(s *standin.Hook) {
		s.Filter = json.RawMessage(filter)
		s.Headers = []standin.Header{{Key: "X-Other-Header", Value: "my-header-value"}}
		s.Description = &desc
	})
	list, err := c.EventHooks(ctx)
	if err != nil || len(list) != 1 {
		t.Fatal(list, err)
	}
	upd := list[0]
	upd.Events.Items = []string{"group.user_membership.add", "user.lifecycle.create"}
	upd.Channel.Config.AuthScheme = &oktaapi.AuthScheme{Type: "HEADER", Key: "Authorization", Value: "s"}
	got, err := c.ReplaceEventHook(ctx, h.ID, upd)
	if err != nil || got.VerificationStatus != oktaapi.StatusVerified {
		t.Fatalf("replace: %+v %v", got, err)
	}
	stored := org.Hooks()[0]
	var want, have any
	json.Unmarshal([]byte(strings.Replace(filter, `,"version":null`, "", 1)), &want)
	json.Unmarshal(stored.Filter, &have)
	if fmt.Sprint(want) != fmt.Sprint(have) {
		t.Errorf("filter after the replace: %s, want the admin's %s", stored.Filter, filter)
	}
	if len(stored.Headers) != 1 || stored.Headers[0].Key != "X-Other-Header" || stored.Headers[0].Value != "my-header-value" {
		t.Errorf("headers after the replace: %+v", stored.Headers)
	}
	if stored.Description == nil || *stored.Description != desc {
		t.Errorf("description after the replace: %v", stored.Description)
	}
	if len(stored.Types) != 2 || stored.AuthValue != "s" {
		t.Errorf("hookline's fields were not written: %+v", stored)
	}
	if p := org.HookRequestProblems(); len(p) > 0 {
		t.Errorf("request bodies Okta's spec does not allow:\n%s", strings.Join(p, "\n"))
	}
	log := org.HookRequestLog()
	for i, r := range log {
		if r.Method == http.MethodPut && (i+1 == len(log) || log[i+1].Method != http.MethodPost || log[i+1].Path != r.Path+"/lifecycle/verify") {
			t.Errorf("PUT %s was not followed by its verification", r.Path)
		}
	}
}

package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

// oktaHarness is the local stack with the real receiver behind kumo's HTTP
// API, a stand-in Okta org (standin) holding an API token, and the Okta
// credentials secret in kumo. Every command's stdout and stderr are kept,
// so that a test can check that no secret was ever printed.
type oktaHarness struct {
	t        *testing.T
	s        *devstack.Stack
	org      *standin.Org
	hookARN  string
	credsARN string
	mu       sync.Mutex
	printed  strings.Builder
}

const oktaToken = "00okta-api-token-for-tests"

func startOkta(t *testing.T) *oktaHarness {
	t.Helper()
	h := &oktaHarness{t: t}
	h.s = devstacktest.Start(t, devstacktest.Options{Run: []string{"receiver"}})
	h.org = standin.Start(t.Cleanup)
	h.org.SetAPIToken(oktaToken)
	h.hookARN = h.s.Resources.SecretARNs["HookSecret"]
	if h.hookARN == "" {
		t.Fatalf("no HookSecret in %v", h.s.Resources.SecretARNs)
	}
	h.credsARN = h.secret("okta-credentials", `{"orgUrl":"`+h.org.URL+`","apiToken":"`+oktaToken+`"}`)
	return h
}

func (h *oktaHarness) secret(name, value string) string {
	out, err := h.s.Clients.SecretsManager.CreateSecret(h.t.Context(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &value})
	if err != nil {
		h.t.Fatal(err)
	}
	return aws.ToString(out.ARN)
}

// okta runs `hookline okta args... --okta-secret ... --endpoint-url kumo`.
func (h *oktaHarness) okta(args ...string) (code int, stdout, stderr string) {
	h.t.Helper()
	var o, e strings.Builder
	full := append([]string{"okta"}, args...)
	if args[0] != "ip-ranges" && args[0] != "preview" {
		full = append(full, "--okta-secret", h.credsARN)
	}
	if args[0] != "ip-ranges" {
		full = append(full, "--endpoint-url", h.s.Kumo.Endpoint)
	}
	code = run(context.Background(), full, &o, &e)
	h.mu.Lock()
	h.printed.WriteString(o.String() + e.String())
	h.mu.Unlock()
	return code, o.String(), e.String()
}

func (h *oktaHarness) mustOkta(args ...string) string {
	h.t.Helper()
	code, out, errOut := h.okta(args...)
	if code != 0 {
		h.t.Fatalf("okta %v: exit %d\n%s%s", args, code, out, errOut)
	}
	return out
}

func (h *oktaHarness) current(stage string) (value, version string) {
	h.t.Helper()
	out, err := h.s.Clients.SecretsManager.GetSecretValue(h.t.Context(), &secretsmanager.GetSecretValueInput{SecretId: &h.hookARN, VersionStage: &stage})
	if err != nil {
		h.t.Fatal(err)
	}
	return aws.ToString(out.SecretString), aws.ToString(out.VersionId)
}

// neverPrinted fails if any command printed one of the values.
func (h *oktaHarness) neverPrinted(values ...string) {
	h.t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, v := range values {
		if v != "" && strings.Contains(h.printed.String(), v) {
			h.t.Errorf("a command printed a secret (%d chars)", len(v))
		}
	}
}

func (h *oktaHarness) onlyHook() standin.Hook {
	h.t.Helper()
	hooks := h.org.Hooks()
	if len(hooks) != 1 {
		h.t.Fatalf("%d hooks in the org, want 1: %+v", len(hooks), hooks)
	}
	return hooks[0]
}

// TestOktaRegisterVerifiesAgainstTheRealReceiver: register creates the hook
// and Okta's verification passes through kumo's HTTP API to the real
// receiver; a wrong secret fails with the reason; register again updates
// (one hook), a changed URI is verified again; status, list, preview and
// the lifecycle commands work; no command prints a secret.
func TestOktaRegisterVerifiesAgainstTheRealReceiver(t *testing.T) {
	h := startOkta(t)
	secret, _ := h.current("AWSCURRENT")
	types := "user.lifecycle.create,user.session.start"
	reg := []string{"register", "--url", h.s.URL(), "--types", types}

	// A secret other than the receiver's: verification fails and says why.
	wrong := h.secret("not-the-hook-secret", "a-different-secret-value-0123456789")
	code, out, errOut := h.okta(append(reg, "--secret-id", wrong)...)
	if code != exitUnverified || !strings.Contains(out, "created event hook") || !strings.Contains(errOut, "refused the secret (401)") ||
		!strings.Contains(errOut, "differ") || !strings.Contains(errOut, "E0000001") {
		t.Fatalf("wrong secret: exit %d\n%s%s", code, out, errOut)
	}
	if hk := h.onlyHook(); hk.VerificationStatus != "UNVERIFIED" {
		t.Fatalf("after a failed verification: %s", hk.VerificationStatus)
	}

	// The right secret: the same hook is updated and verified.
	out = h.mustOkta(append(reg, "--secret-id", h.hookARN)...)
	if !strings.Contains(out, "updated event hook \"hookline\"") || !strings.Contains(out, "verified: Okta called "+h.s.URL()) {
		t.Fatalf("register: %s", out)
	}
	hk := h.onlyHook()
	if hk.Status != "ACTIVE" || hk.VerificationStatus != "VERIFIED" || hk.AuthKey != "Authorization" || hk.AuthValue != secret ||
		strings.Join(hk.Types, ",") != types || hk.URI != h.s.URL() {
		t.Fatalf("hook %+v", hk)
	}
	if st, err := h.org.Deliver(t.Context(), hk.ID, []byte(`{"eventType":"com.okta.event_hook","data":{"events":[]}}`)); err != nil || st != http.StatusOK {
		t.Fatalf("Okta's delivery: %d %v", st, err)
	}

	// Twice: still one hook, verified again.
	before := h.org.Verifications(hk.ID)
	h.mustOkta(append(reg, "--secret-id", h.hookARN)...)
	if h.onlyHook(); h.org.Verifications(hk.ID) != before+1 {
		t.Fatalf("second register did not verify again")
	}

	// A new URI (the same API behind another address): found by name,
	// updated, verified again.
	kumo, _ := url.Parse(h.s.Kumo.Endpoint)
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(kumo)
		r.Out.Host = h.s.APIHost()
	}})
	t.Cleanup(proxy.Close)
	moved := proxy.URL + "/okta/events"
	out = h.mustOkta("register", "--url", moved, "--types", types, "--secret-id", h.hookARN)
	if hk = h.onlyHook(); hk.URI != moved || hk.VerificationStatus != "VERIFIED" || !strings.Contains(out, "URI changed from "+h.s.URL()) ||
		h.org.Verifications(hk.ID) != before+2 {
		t.Fatalf("moved: %+v\n%s", hk, out)
	}

	// status: matches the types or not (exit 3), unknown name (exit 6).
	if out = h.mustOkta("status", "hookline", "--types", types); !strings.Contains(out, "match OktaEventTypes") || !strings.Contains(out, "VERIFIED") {
		t.Fatalf("status: %s", out)
	}
	if code, out, _ = h.okta("status", "hookline", "--types", "user.lifecycle.create,group.user_membership.add"); code != exitUnverified ||
		!strings.Contains(out, "not subscribed to group.user_membership.add; also subscribed to user.session.start") {
		t.Fatalf("status with other types: exit %d %s", code, out)
	}
	if code, _, _ = h.okta("status", "nope"); code != exitNoHook {
		t.Fatalf("status of an unknown hook: exit %d", code)
	}
	if out = h.mustOkta("list", "--types", types); !strings.Contains(out, "hookline") || !strings.Contains(out, "MATCHES STACK") {
		t.Fatalf("list: %s", out)
	}

	// preview: a sample delivery through the real receiver.
	if out = h.mustOkta("preview", "--type", "user.account.lock", "--url", h.s.URL(), "--secret-id", h.hookARN); !strings.Contains(out, "answer: 200") ||
		!strings.Contains(out, `"eventType": "user.account.lock"`) {
		t.Fatalf("preview: %s", out)
	}
	if code, out, _ = h.okta("preview", "--type", "user.account.lock", "--url", h.s.URL(), "--secret-id", wrong); code != 1 || !strings.Contains(out, "answer: 401") {
		t.Fatalf("preview with a wrong secret: exit %d %s", code, out)
	}

	// preview with no target: the running dev stack named in the state file.
	state := filepath.Join(t.TempDir(), "dev-stack.json")
	if err := writeState(state, State{PID: os.Getpid(), URL: h.s.URL(), Secret: secret}); err != nil {
		t.Fatal(err)
	}
	if out = h.mustOkta("preview", "--type", "user.account.lock", "--state", state); !strings.Contains(out, "answer: 200") {
		t.Fatalf("preview of the dev stack: %s", out)
	}

	// Lifecycle.
	if out = h.mustOkta("deactivate", "hookline"); !strings.Contains(out, "INACTIVE") || h.onlyHook().Status != "INACTIVE" {
		t.Fatalf("deactivate: %s", out)
	}
	if code, _, errOut = h.okta("status", "hookline"); code != exitUnverified || !strings.Contains(errOut, "INACTIVE") {
		t.Fatalf("status of an inactive hook: exit %d %s", code, errOut)
	}
	h.mustOkta("activate", "hookline")
	if h.onlyHook().Status != "ACTIVE" {
		t.Fatal("activate")
	}
	h.mustOkta("delete", "hookline") // active: deactivated first
	if n := len(h.org.Hooks()); n != 0 {
		t.Fatalf("%d hooks after delete", n)
	}

	// A 26th hook is refused: Okta allows 25 per org.
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: h.org.URL, APIToken: oktaToken}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range oktaapi.MaxEventHooks {
		if _, err := c.CreateEventHook(t.Context(), oktaapi.NewEventHook(fmt.Sprint("other-", i), fmt.Sprintf("https://other-%d.example/hook", i),
			"Authorization", "x", []string{"a.b"})); err != nil {
			t.Fatal(err)
		}
	}
	if code, _, errOut = h.okta(append(reg, "--secret-id", h.hookARN)...); code != 1 || !strings.Contains(errOut, "already has 25 event hooks, Okta's maximum") {
		t.Fatalf("26th hook: exit %d %s", code, errOut)
	}
	h.neverPrinted(secret, "a-different-secret-value-0123456789", oktaToken)
}

// deliveries has Okta deliver to a hook, one delivery after another, until
// stop, and keeps every status.
type deliveries struct {
	mu       sync.Mutex
	statuses []int
	stop     chan struct{}
	done     chan struct{}
}

func deliverAll(org *standin.Org, id string) *deliveries {
	d := &deliveries{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(d.done)
		for {
			d.one(org, id)
			select {
			case <-d.stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	return d
}

// notSent is the status kept when Okta sends nothing: the hook is not
// VERIFIED between a change in Okta and its verification.
const notSent = -2

// one has Okta deliver once and keeps the status.
func (d *deliveries) one(org *standin.Org, id string) {
	st, err := org.Deliver(context.Background(), id, []byte(`{"eventType":"com.okta.event_hook","data":{"events":[]}}`))
	switch {
	case errors.Is(err, standin.ErrNotDelivering):
		st = notSent
	case err != nil:
		st = -1
	}
	d.mu.Lock()
	d.statuses = append(d.statuses, st)
	d.mu.Unlock()
}

// duringEachStep has Okta deliver after each change the command makes in
// Okta, before the command goes on.
func (d *deliveries) duringEachStep(org *standin.Org, id string) {
	org.AfterHooksRequest(func(*http.Request) { d.one(org, id) })
}

// await waits until n more deliveries were answered.
func (d *deliveries) await(t *testing.T, n int) {
	t.Helper()
	d.mu.Lock()
	want := len(d.statuses) + n
	d.mu.Unlock()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		d.mu.Lock()
		got := len(d.statuses)
		d.mu.Unlock()
		if got >= want {
			return
		}
	}
	t.Fatalf("fewer than %d deliveries in 30 s", n)
}

// allAccepted stops the deliveries and fails unless every one got 200.
func (d *deliveries) allAccepted(t *testing.T) {
	t.Helper()
	close(d.stop)
	<-d.done
	d.mu.Lock()
	defer d.mu.Unlock()
	skipped := 0
	for i, st := range d.statuses {
		if st == notSent {
			skipped++
			continue
		}
		if st != http.StatusOK {
			t.Fatalf("delivery %d of %d answered %d: %v", i+1, len(d.statuses), st, d.statuses)
		}
	}
	if skipped == len(d.statuses) {
		t.Fatal("Okta delivered nothing")
	}
	t.Logf("%d deliveries, all accepted; %d times Okta sent nothing (the hook was between a change and its verification)", len(d.statuses)-skipped, skipped)
}

func (h *oktaHarness) register() standin.Hook {
	h.t.Helper()
	h.mustOkta("register", "--url", h.s.URL(), "--types", "user.lifecycle.create", "--secret-id", h.hookARN)
	return h.onlyHook()
}

// TestOktaRotateNeverFailsADelivery: Okta delivers all along (before,
// during and after the rotation) and the real receiver accepts every
// delivery; the secret moves to a new AWSCURRENT, the old one is
// AWSPREVIOUS, and Okta holds the new one.
func TestOktaRotateNeverFailsADelivery(t *testing.T) {
	h := startOkta(t)
	hk := h.register()
	old, oldVersion := h.current("AWSCURRENT")
	d := deliverAll(h.org, hk.ID)
	d.await(t, 5) // deliveries before, during (all along, and between any two steps) and after
	d.duringEachStep(h.org, hk.ID)
	out := h.mustOkta("rotate", "--secret-id", h.hookARN)
	d.await(t, 5)
	d.allAccepted(t)

	now, version := h.current("AWSCURRENT")
	prev, prevVersion := h.current("AWSPREVIOUS")
	hk = h.onlyHook()
	if now == old || version == oldVersion || prev != old || prevVersion != oldVersion || hk.AuthValue != now ||
		hk.VerificationStatus != "VERIFIED" || hk.Status != "ACTIVE" || hk.Description != nil ||
		!strings.Contains(out, "rotated to secret version "+version+": event hook \"hookline\" ("+hk.ID+") is ACTIVE and VERIFIED, as read back from Okta") {
		t.Fatalf("after rotate: current %s, previous %s (was %s), hook %+v\n%s", version, prevVersion, oldVersion, hk, out)
	}
	h.neverPrinted(old, now, oktaToken)
}

// TestOktaRotateResumesAfterAFailure: Okta fails the request that would
// give it the new secret; deliveries with the old one stay accepted, and a
// second run resumes without putting another version.
func TestOktaRotateResumesAfterAFailure(t *testing.T) {
	h := startOkta(t)
	hk := h.register()
	old, oldVersion := h.current("AWSCURRENT")
	// rotate: list, mark (PUT), its verification, then the PUT of the new
	// secret fails.
	h.org.FailHooks(h.org.HooksRequests()+4, http.StatusInternalServerError)
	d := deliverAll(h.org, hk.ID)
	d.await(t, 5)
	d.duringEachStep(h.org, hk.ID)
	code, out, errOut := h.okta("rotate", "--secret-id", h.hookARN)
	if code != 1 || !strings.Contains(errOut, "Okta still sends the old one, which is accepted as AWSPREVIOUS; run again to resume") {
		t.Fatalf("interrupted rotate: exit %d\n%s%s", code, out, errOut)
	}
	next, nextVersion := h.current("AWSCURRENT")
	if hk = h.onlyHook(); hk.AuthValue != old || hk.Description == nil || !strings.Contains(*hk.Description, nextVersion) {
		t.Fatalf("after the failure: hook %+v, current version %s", hk, nextVersion)
	}
	if code, _, errOut = h.okta("status", "hookline"); code != exitUnverified || !strings.Contains(errOut, "rotation to secret version "+nextVersion+" is unfinished") {
		t.Fatalf("status during an unfinished rotation: exit %d %s", code, errOut)
	}
	d.await(t, 5) // Okta keeps sending the old value meanwhile
	out = h.mustOkta("rotate", "--secret-id", h.hookARN)
	d.await(t, 5)
	d.allAccepted(t)
	if !strings.Contains(out, "resuming the rotation to secret version "+nextVersion) {
		t.Fatalf("second run did not resume: %s", out)
	}
	now, version := h.current("AWSCURRENT")
	prev, prevVersion := h.current("AWSPREVIOUS")
	hk = h.onlyHook()
	if version != nextVersion || now != next || prev != old || prevVersion != oldVersion || hk.AuthValue != next || hk.Description != nil ||
		hk.VerificationStatus != "VERIFIED" {
		t.Fatalf("after resuming: current %s (want %s), previous %s (want %s), hook %+v", version, nextVersion, prevVersion, oldVersion, hk)
	}
	h.neverPrinted(old, next, oktaToken)
}

func TestOktaIPRangesFromAFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ip_ranges.json")
	// The shape Okta publishes: cells, each with its ip_ranges.
	os.WriteFile(f, []byte(`{"us_cell_1":{"ip_ranges":["3.41.0.0/24","52.1.2.3/32"]},"emea_cell_2":{"ip_ranges":["18.1.0.0/16"]}}`), 0o644)
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"okta", "ip-ranges", "--cell", "us_cell_1", "--file", f}, &out, &errOut); code != 0 ||
		out.String() != "3.41.0.0/24,52.1.2.3/32\n" {
		t.Fatalf("exit %d %q %s", code, out.String(), errOut.String())
	}
	out.Reset()
	errOut.Reset()
	if code := run(context.Background(), []string{"okta", "ip-ranges", "--cell", "us_cell_9", "--file", f}, &out, &errOut); code != 2 ||
		!strings.Contains(errOut.String(), "emea_cell_2, us_cell_1") {
		t.Fatalf("unknown cell: exit %d %s", code, errOut.String())
	}
}

func TestOktaCommandsRefuseBadCallsAndLimits(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken(oktaToken)
	org.SetReadOnlyAPIToken("readonly")
	t.Setenv("OKTA_ORG_URL", org.URL)
	t.Setenv("OKTA_API_TOKEN", oktaToken)
	var printed strings.Builder
	call := func(args ...string) (int, string) {
		var o, e strings.Builder
		code := run(context.Background(), append([]string{"okta"}, args...), &o, &e)
		printed.WriteString(o.String() + e.String())
		return code, o.String() + e.String()
	}
	defer func() {
		if strings.Contains(printed.String(), oktaToken) {
			t.Error("a command printed the API token")
		}
	}()
	for _, args := range [][]string{{"register", "-h"}, {"rotate", "-h"}, {"status", "-h"}, {"list", "-h"}, {"preview", "-h"}, {"ip-ranges", "-h"}, {"activate", "-h"}, {"delete", "-h"}, {"-h"}} {
		if code, out := call(args...); code != 0 || !strings.Contains(strings.ToLower(out), "usage") {
			t.Fatalf("%v: exit %d %s", args, code, out)
		}
	}
	if code, _ := call("frobnicate"); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
	if code, _ := call("register"); code != 2 {
		t.Fatalf("register without a target: exit %d", code)
	}
	// Okta refuses: 401 and 403 exit 4 and say what is missing.
	t.Setenv("OKTA_API_TOKEN", "wrong")
	if code, out := call("list"); code != exitOktaAccess || !strings.Contains(out, "401") {
		t.Fatalf("wrong token: exit %d %s", code, out)
	}
	t.Setenv("OKTA_API_TOKEN", "readonly")
	if code, out := call("list"); code != exitOktaAccess || !strings.Contains(out, "403") || !strings.Contains(out, oktaapi.EventHooksScope) {
		t.Fatalf("read-only admin: exit %d %s", code, out)
	}
	// A service app: with scope okta.eventHooks.manage it may list hooks;
	// without it, the token endpoint refuses and the error names the scope.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	org.AddServiceApp("0oa-hooks", &key.PublicKey, oktaapi.EventHooksScope)
	org.AddServiceApp("0oa-logs", &key.PublicKey, oktaapi.LogsScope)
	t.Setenv("OKTA_API_TOKEN", "")
	t.Setenv("OKTA_PRIVATE_KEY", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	t.Setenv("OKTA_CLIENT_ID", "0oa-hooks")
	if code, out := call("list"); code != 0 {
		t.Fatalf("service app with the scope: exit %d %s", code, out)
	}
	t.Setenv("OKTA_CLIENT_ID", "0oa-logs")
	if code, out := call("list"); code != exitOktaAccess || !strings.Contains(out, "not granted scope "+oktaapi.EventHooksScope) {
		t.Fatalf("service app without the scope: exit %d %s", code, out)
	}
	t.Setenv("OKTA_CLIENT_ID", "")
	t.Setenv("OKTA_PRIVATE_KEY", "")
	t.Setenv("OKTA_API_TOKEN", oktaToken)

	t.Setenv("OKTA_ORG_URL", "https://example-admin.okta.com")
	if code, out := call("list"); code != exitOktaAccess || !strings.Contains(out, "admin console") {
		t.Fatalf("admin URL: exit %d %s", code, out)
	}
	t.Setenv("OKTA_ORG_URL", org.URL)
	t.Setenv("OKTA_API_TOKEN", oktaToken)

	// A rate limit that outlasts the command exits 5.
	org.FailHooks429(org.HooksRequests() + 1)
	// The reset is over 1 s away, so a 1 s deadline cannot wait it out.
	short, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	var o, e strings.Builder
	if code := run(short, []string{"okta", "list"}, &o, &e); code != exitRateLimit || !strings.Contains(e.String(), "rate limit") {
		t.Fatalf("429: exit %d %s", code, e.String())
	}

	// More than 300 types is refused before Okta is asked.
	many := make([]string, oktaapi.MaxEventTypes+1)
	for i := range many {
		many[i] = "type.t" + strings.Repeat("x", i)
	}
	before := org.HooksRequests()
	if code, out := call("register", "--url", "https://x.example/okta/events", "--secret-id", "s", "--types", strings.Join(many, ","),
		"--endpoint-url", "http://127.0.0.1:1"); code != 1 || !strings.Contains(out, "301 event types: Okta allows at most 300") || org.HooksRequests() != before {
		t.Fatalf("301 types: exit %d %s", code, out)
	}
	printed.WriteString(o.String() + e.String())
}

func TestDiagnoseSaysWhyVerificationFailed(t *testing.T) {
	answer := func(status int, echo bool, delay time.Duration) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			time.Sleep(delay)
			if r.Header.Get("Authorization") != "s" {
				t.Errorf("the diagnosis sent another auth value")
			}
			w.WriteHeader(status)
			if echo {
				fmt.Fprintf(w, `{"verification":%q}`, r.Header.Get("x-okta-verification-challenge"))
			}
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	cases := []struct{ name, url, says string }{
		{"unreachable", dead.URL, "unreachable from here"},
		{"slow", answer(200, true, 3500*time.Millisecond), "within 3 seconds"},
		{"401", answer(401, false, 0), "refused the secret (401)"},
		{"403", answer(403, false, 0), "AllowedSourceCidrs"},
		{"fine from here", answer(200, true, 0), "Okta itself cannot reach it"},
		{"500", answer(500, false, 0), "answered HTTP 500"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := diagnose(t.Context(), tc.url, defaultAuthHeader, "s"); !strings.Contains(got, tc.says) || strings.Contains(got, `"s"`) {
				t.Fatalf("diagnose: %q, want %q", got, tc.says)
			}
		})
	}
}

func TestOktaTargetFromStackOutputsAndParameters(t *testing.T) {
	t.Setenv("OKTA_CREDENTIALS_SECRET_ID", "")
	// OktaEventTypes is a parameter too: a stack without the output still has it.
	outs := map[string]string{"EndpointUrl": "https://api/okta/events", "HookSecretArn": "arn:hook", "OktaCredentialsSecretArn": "arn:creds",
		"OktaEventTypes": "a, b"}
	e := &oktaEnv{secretID: "mine"}
	e.fill(outs)
	if e.url != "https://api/okta/events" || e.secretID != "mine" || e.credsSecret != "arn:creds" || strings.Join(e.types, "|") != "a|b" || !e.typesKnown {
		t.Fatalf("%+v", e)
	}
	got, err := readStackOutputs(t.Context(), stackWithParameters{"OktaEventTypes": "x,y"}, "hookline")
	if err != nil || got["OktaEventTypes"] != "x,y" {
		t.Fatalf("parameter fallback: %v %v", got, err)
	}
}

// stackWithParameters answers DescribeStacks with parameters and no outputs.
type stackWithParameters map[string]string

func (s stackWithParameters) DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	var ps []cftypes.Parameter
	for k, v := range s {
		ps = append(ps, cftypes.Parameter{ParameterKey: aws.String(k), ParameterValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{Parameters: ps}}}, nil
}

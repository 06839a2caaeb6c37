package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

// Canary values: each credential the okta commands hold, and the parts of
// a URL that may carry one. No command output may contain any of them.
const (
	canaryToken  = "CANARY-api-token-7f3a"
	canaryHook   = "CANARY-hook-secret-9b1c"
	canaryUser   = "CANARYuser5d2e"
	canaryPass   = "CANARYpass8a4f"
	canaryQuery  = "CANARYquery3c6b"
	canaryFrag   = "CANARYfrag2b7a"
	canaryKey    = "CANARYkey1e9dCANARYkey1e9d"
	canaryLocQry = "LOCATIONQUERYCANARY" // in a redirect's Location (redirector)
)

// canaryCase is one error path of an okta command.
type canaryCase struct {
	name string
	env  map[string]string // OKTA_* variables (the others are emptied)
	args []string          // after "okta"
	code int               // the exit status the path must give
	ctx  func() (context.Context, context.CancelFunc)
}

// TestOktaErrorPathsNeverPrintACredential provokes every error path of
// the okta commands that can be provoked here, with canary values in the
// API token, the hook secret, the private key, and the org or endpoint
// URL's userinfo, query and fragment; neither stdout nor stderr may ever
// hold a canary, and each path exits with its status.
func TestOktaErrorPathsNeverPrintACredential(t *testing.T) {
	h := startOkta(t)
	org := h.org
	org.SetAPIToken(canaryToken)
	org.SetReadOnlyAPIToken(canaryToken + "-read-only")
	key, keyPEM, err := standin.RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	org.AddServiceApp("0oa-hooks", &key.PublicKey, oktaapi.EventHooksScope)
	canaries := []string{canaryToken, canaryHook, canaryUser, canaryPass, canaryQuery, canaryFrag, canaryKey, canaryLocQry}
	for _, line := range strings.Split(keyPEM, "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
			canaries = append(canaries, line) // every line of the real key
		}
	}
	badKey := "-----BEGIN PRIVATE KEY-----\n" + canaryKey + "\n-----END PRIVATE KEY-----\n"

	// Endpoints and orgs that answer badly.
	s := newSink(t)
	redirectingOrg := redirector(t, http.StatusTemporaryRedirect, org.URL).URL
	redirectingHook := redirector(t, http.StatusTemporaryRedirect, s.URL).URL + "/okta/events"
	dead := "http://127.0.0.1:1"
	host := strings.TrimPrefix(org.URL, "http://")
	userinfoOrg := "http://" + canaryUser + ":" + canaryPass + "@" + host
	queryOrg := org.URL + "/?" + canaryQuery + "=" + canaryQuery
	fragOrg := org.URL + "/#" + canaryFrag
	kumo := h.s.Kumo.Endpoint

	// Secrets in kumo: the hook secret and credentials documents.
	hookCanaryARN := h.secret("canary-hook-secret", canaryHook)
	creds := func(name, doc string) string { return h.secret(name, doc) }
	goodCreds := creds("creds-good", `{"orgUrl":"`+org.URL+`","apiToken":"`+canaryToken+`"}`)
	userinfoCreds := creds("creds-userinfo", `{"orgUrl":"`+userinfoOrg+`","apiToken":"`+canaryToken+`"}`)
	queryCreds := creds("creds-query", `{"orgUrl":"`+queryOrg+`","apiToken":"`+canaryToken+`"}`)
	wrongTokenCreds := creds("creds-401", `{"orgUrl":"`+org.URL+`","apiToken":"`+canaryToken+`-wrong"}`)
	badKeyCreds := creds("creds-bad-key", `{"orgUrl":"`+org.URL+`","clientId":"0oa-hooks","privateKey":`+jsonString(badKey)+`}`)
	unknownAppCreds := creds("creds-unknown-app", `{"orgUrl":"`+org.URL+`","clientId":"0oa-unknown","privateKey":`+jsonString(keyPEM)+`}`)
	redirectCreds := creds("creds-redirect", `{"orgUrl":"`+redirectingOrg+`","apiToken":"`+canaryToken+`"}`)
	deadCreds := creds("creds-dead", `{"orgUrl":"`+dead+`","apiToken":"`+canaryToken+`"}`)

	// A registered hook for the commands that need one (status, rotate...).
	t.Setenv("OKTA_ORG_URL", "")
	var o, e strings.Builder
	if code := run(context.Background(), []string{"okta", "register", "--url", h.s.URL(), "--types", "user.lifecycle.create", "--secret-id", h.hookARN,
		"--okta-secret", goodCreds, "--endpoint-url", kumo}, &o, &e); code != 0 {
		t.Fatalf("register: exit %d\n%s%s", code, o.String(), e.String())
	}
	state := filepath.Join(t.TempDir(), "dev-stack.json")
	if err := writeState(state, State{PID: os.Getpid(), URL: h.s.URL(), Secret: canaryHook}); err != nil {
		t.Fatal(err)
	}

	token := map[string]string{"OKTA_ORG_URL": org.URL, "OKTA_API_TOKEN": canaryToken}
	env := func(kv ...string) map[string]string {
		m := map[string]string{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	app := env("OKTA_ORG_URL", org.URL, "OKTA_CLIENT_ID", "0oa-hooks", "OKTA_PRIVATE_KEY", keyPEM)
	withSecret := func(arn string, args ...string) []string {
		return append(args, "--okta-secret", arn, "--endpoint-url", kumo)
	}
	reg := func(url, secretID string) []string {
		return []string{"register", "--url", url, "--types", "user.lifecycle.create", "--secret-id", secretID}
	}
	short := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), time.Second)
	}

	cases := []canaryCase{
		// The org URL and the credentials, from the environment.
		{name: "list: org URL with userinfo", env: env("OKTA_ORG_URL", userinfoOrg, "OKTA_API_TOKEN", canaryToken), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: org URL with a query", env: env("OKTA_ORG_URL", queryOrg, "OKTA_API_TOKEN", canaryToken), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: org URL with a fragment", env: env("OKTA_ORG_URL", fragOrg, "OKTA_API_TOKEN", canaryToken), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: http org URL off loopback with userinfo", env: env("OKTA_ORG_URL", "http://"+canaryUser+":"+canaryPass+"@example.okta.com", "OKTA_API_TOKEN", canaryToken), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: 401", env: env("OKTA_ORG_URL", org.URL, "OKTA_API_TOKEN", canaryToken+"-wrong"), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: 403 (read-only admin)", env: env("OKTA_ORG_URL", org.URL, "OKTA_API_TOKEN", canaryToken+"-read-only"), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: unreachable org", env: env("OKTA_ORG_URL", dead, "OKTA_API_TOKEN", canaryToken), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: org redirects", env: env("OKTA_ORG_URL", redirectingOrg, "OKTA_API_TOKEN", canaryToken), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: service app, org redirects the token request", env: env("OKTA_ORG_URL", redirectingOrg, "OKTA_CLIENT_ID", "0oa-hooks", "OKTA_PRIVATE_KEY", keyPEM), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: token with a newline", env: env("OKTA_ORG_URL", org.URL, "OKTA_API_TOKEN", canaryToken+"\nX-Injected: 1"), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: token and service app both", env: env("OKTA_ORG_URL", org.URL, "OKTA_API_TOKEN", canaryToken, "OKTA_CLIENT_ID", "0oa-hooks", "OKTA_PRIVATE_KEY", keyPEM), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: private key that is not a key", env: env("OKTA_ORG_URL", org.URL, "OKTA_CLIENT_ID", "0oa-hooks", "OKTA_PRIVATE_KEY", badKey), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: service app unknown to the org", env: env("OKTA_ORG_URL", org.URL, "OKTA_CLIENT_ID", "0oa-unknown", "OKTA_PRIVATE_KEY", keyPEM), args: []string{"list"}, code: exitOktaAccess},
		{name: "list: 429 outlasting the command", env: app, args: []string{"list"}, code: exitRateLimit, ctx: short},
		{name: "list: 500", env: token, args: []string{"list"}, code: 1},
		{name: "status: 401", env: env("OKTA_ORG_URL", org.URL, "OKTA_API_TOKEN", canaryToken+"-wrong"), args: []string{"status", "hookline"}, code: exitOktaAccess},
		{name: "status: no such hook", env: app, args: []string{"status", "nope"}, code: exitNoHook},
		{name: "status: org redirects", env: env("OKTA_ORG_URL", redirectingOrg, "OKTA_API_TOKEN", canaryToken), args: []string{"status", "hookline"}, code: exitOktaAccess},
		{name: "activate: 401", env: env("OKTA_ORG_URL", org.URL, "OKTA_API_TOKEN", canaryToken+"-wrong"), args: []string{"activate", "hookline"}, code: exitOktaAccess},
		{name: "deactivate: no such hook", env: app, args: []string{"deactivate", "nope"}, code: exitNoHook},
		{name: "deactivate: org URL with userinfo", env: env("OKTA_ORG_URL", userinfoOrg, "OKTA_API_TOKEN", canaryToken), args: []string{"deactivate", "hookline"}, code: exitOktaAccess},
		{name: "delete: org redirects", env: env("OKTA_ORG_URL", redirectingOrg, "OKTA_API_TOKEN", canaryToken), args: []string{"delete", "hookline"}, code: exitOktaAccess},
		{name: "delete: 403", env: env("OKTA_ORG_URL", org.URL, "OKTA_API_TOKEN", canaryToken+"-read-only"), args: []string{"delete", "hookline"}, code: exitOktaAccess},

		// The credentials secret (register and rotate read AWS).
		{name: "register: secret's org URL with userinfo", args: withSecret(userinfoCreds, reg(h.s.URL(), h.hookARN)...), code: exitOktaAccess},
		{name: "register: secret's org URL with a query", args: withSecret(queryCreds, reg(h.s.URL(), h.hookARN)...), code: exitOktaAccess},
		{name: "register: secret's private key is not a key", args: withSecret(badKeyCreds, reg(h.s.URL(), h.hookARN)...), code: exitOktaAccess},
		{name: "register: secret's service app unknown", args: withSecret(unknownAppCreds, reg(h.s.URL(), h.hookARN)...), code: exitOktaAccess},
		{name: "register: 401", args: withSecret(wrongTokenCreds, reg(h.s.URL(), h.hookARN)...), code: exitOktaAccess},
		{name: "register: org redirects", args: withSecret(redirectCreds, reg(h.s.URL(), h.hookARN)...), code: exitOktaAccess},
		{name: "register: org unreachable", args: withSecret(deadCreds, reg(h.s.URL(), h.hookARN)...), code: exitOktaAccess},
		{name: "register: wrong hook secret (verification and diagnosis)", args: withSecret(goodCreds, reg(h.s.URL()+"?"+canaryQuery, hookCanaryARN)...), code: exitUnverified},
		{name: "register: endpoint redirects (verification and diagnosis)", args: withSecret(goodCreds, reg(redirectingHook, hookCanaryARN)...), code: exitUnverified},
		{name: "register: http endpoint off loopback", args: withSecret(goodCreds, reg("http://hooks.example.com/okta/events?k="+canaryQuery, hookCanaryARN)...), code: 2},
		{name: "register: endpoint URL with userinfo", args: withSecret(goodCreds, reg("https://"+canaryUser+":"+canaryPass+"@hooks.example.com/okta/events", hookCanaryARN)...), code: 2},
		{name: "rotate: 401", args: withSecret(wrongTokenCreds, "rotate", "--secret-id", hookCanaryARN), code: exitOktaAccess},
		{name: "rotate: no such hook", args: withSecret(goodCreds, "rotate", "--secret-id", hookCanaryARN, "--name", "nope"), code: exitNoHook},
		{name: "rotate: Okta refuses the marked hook's verification", args: withSecret(goodCreds, "rotate", "--secret-id", hookCanaryARN, "--name", "canary-hook"), code: exitUnverified},
		{name: "rotate: org redirects", args: withSecret(redirectCreds, "rotate", "--secret-id", hookCanaryARN), code: exitOktaAccess},

		// preview holds the hook secret.
		{name: "preview: http endpoint off loopback", args: []string{"preview", "--type", "a.b", "--url", "http://hooks.example.com/okta/events?k=" + canaryQuery, "--state", state}, code: 2},
		{name: "preview: endpoint URL with userinfo", args: []string{"preview", "--type", "a.b", "--url", "https://" + canaryUser + ":" + canaryPass + "@hooks.example.com/okta/events", "--state", state}, code: 2},
		{name: "preview: endpoint redirects", args: []string{"preview", "--type", "a.b", "--url", redirectingHook, "--state", state}, code: 1},
		{name: "preview: endpoint unreachable", args: []string{"preview", "--type", "a.b", "--url", dead + "/okta/events?k=" + canaryQuery + "#" + canaryFrag, "--state", state}, code: 1},
		{name: "preview: endpoint refuses the secret", args: []string{"preview", "--type", "a.b", "--url", h.s.URL() + "?k=" + canaryQuery, "--secret-id", hookCanaryARN, "--endpoint-url", kumo}, code: 1},

		// ip-ranges holds no credential; its error paths are provoked too.
		{name: "ip-ranges: unreadable file", args: []string{"ip-ranges", "--cell", "c", "--file", filepath.Join(t.TempDir(), "none.json")}, code: 1},
		{name: "ip-ranges: unknown cell", args: []string{"ip-ranges", "--cell", "nope", "--file", writeFile(t, `{"c":{"ip_ranges":["1.2.3.0/24"]}}`)}, code: 2},
		{name: "ip-ranges: not a CIDR", args: []string{"ip-ranges", "--cell", "c", "--file", writeFile(t, `{"c":{"ip_ranges":["1.2.3.0/24 X=1"]}}`)}, code: 1},
	}

	// The hook rotate's verification fails for: registered with the
	// receiver's secret, rotated with the canary secret the receiver does
	// not hold.
	if code := run(context.Background(), []string{"okta", "register", "--name", "canary-hook", "--url", h.s.URL() + "/", "--types", "user.lifecycle.create",
		"--secret-id", h.hookARN, "--okta-secret", goodCreds, "--endpoint-url", kumo}, &o, &e); code != 0 {
		t.Fatalf("register canary-hook: exit %d\n%s%s", code, o.String(), e.String())
	}

	vars := []string{"OKTA_ORG_URL", "OKTA_API_TOKEN", "OKTA_CLIENT_ID", "OKTA_PRIVATE_KEY", "OKTA_KEY_ID", "OKTA_CREDENTIALS_SECRET_ID"}
	for _, c := range cases {
		for _, v := range vars {
			t.Setenv(v, c.env[v])
		}
		switch c.name {
		case "list: 429 outlasting the command":
			org.FailHooks429(org.HooksRequests() + 1)
		case "list: 500":
			org.FailHooks(org.HooksRequests()+1, http.StatusInternalServerError)
		}
		ctx, cancel := context.Background(), context.CancelFunc(func() {})
		if c.ctx != nil {
			ctx, cancel = c.ctx()
		}
		var o, e strings.Builder
		code := run(ctx, append([]string{"okta"}, c.args...), &o, &e)
		cancel()
		out := o.String() + e.String()
		if code != c.code || strings.TrimSpace(e.String()) == "" {
			t.Errorf("%s: exit %d, want %d\n%s", c.name, code, c.code, out)
		}
		for _, cn := range canaries {
			if strings.Contains(out, cn) {
				t.Errorf("%s: printed a canary (%.12s…):\n%s", c.name, cn, out)
			}
		}
	}
	if got := s.requests(); len(got) != 0 {
		t.Errorf("the redirects' target got %v", got)
	}
	t.Logf("%d error paths provoked", len(cases))
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\n':
			b.WriteString(`\n`)
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func writeFile(t *testing.T, content string) string {
	p := filepath.Join(t.TempDir(), "f.json")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

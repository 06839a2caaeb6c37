package oktaapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/oktaapi"
)

// Canary values, put in every credential field, URL part and (by the
// hostile org, which echoes what it received) every answer.
const (
	canaryToken    = "CANARYapiTOKEN00aa11bb22cc33"
	canaryClient   = "CANARYclient0oa77de88"
	canaryKeyID    = "CANARYkeyIDkid99"
	canaryUser     = "CANARYuserinfoNAME"
	canaryPass     = "CANARYuserinfoPASS"
	canaryQuery    = "CANARYqueryVALUE"
	canaryFragment = "CANARYfragmentVALUE"
	canaryAccess   = "CANARYaccessTOKENissued"
	canaryPEM      = "CANARYpemTEXT"
	canaryPath     = "CANARYcallQUERY"
)

// hostileOrg is an org that answers every way the client must survive, and
// echoes back what it received (the Authorization and DPoP headers, the
// client assertion, the query) in its error texts, codes, token types and
// Location, as an attacker or a careless proxy might.
type hostileOrg struct {
	*httptest.Server
	mu       sync.Mutex
	api, tok string   // how /api/... and /oauth2/v1/token answer
	received []string // every credential-bearing value it received
}

func newHostileOrg(t *testing.T) *hostileOrg {
	h := &hostileOrg{}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.Close)
	return h
}

func (h *hostileOrg) set(api, tok string) {
	h.mu.Lock()
	h.api, h.tok = api, tok
	h.mu.Unlock()
}

func (h *hostileOrg) secretsReceived() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.received...)
}

func (h *hostileOrg) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	// Read any body to its end, so the server notices a client that hangs up.
	_, _ = io.Copy(io.Discard, r.Body)
	auth, proof, assertion := r.Header.Get("Authorization"), r.Header.Get("DPoP"), r.PostForm.Get("client_assertion")
	h.mu.Lock()
	for _, v := range []string{auth, strings.TrimPrefix(strings.TrimPrefix(auth, "SSWS "), "DPoP "), proof, assertion} {
		if len(v) > 12 {
			h.received = append(h.received, v)
		}
	}
	mode := h.api
	if r.URL.Path == "/oauth2/v1/token" {
		mode = h.tok
	}
	h.mu.Unlock()
	echo := strings.Join([]string{auth, proof, assertion}, " ")
	okta := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]any{"errorCode": code, "errorSummary": "echo " + echo,
			"errorCauses": []map[string]string{{"errorSummary": echo}}})
	}
	oauth := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "echo " + echo})
	}
	far := fmt.Sprint(time.Now().Add(8760 * time.Hour).Unix())
	switch mode {
	case "401":
		okta(http.StatusUnauthorized, "E0000011")
	case "403":
		okta(http.StatusForbidden, "E0000006")
	case "403scope":
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer error="insufficient_scope", scope=%q`, echo))
		okta(http.StatusForbidden, "E0000006")
	case "404okta":
		okta(http.StatusNotFound, "E0000007")
	case "404":
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, echo)
	case "400":
		okta(http.StatusBadRequest, "E0000001 "+echo)
	case "500":
		okta(http.StatusInternalServerError, "E0000009")
	case "503text":
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, echo)
	case "html":
		// Echoed in the content type too: page() names only its kind.
		w.Header().Set("Content-Type", "text/html; x="+echo)
		fmt.Fprint(w, "<html>"+echo+"</html>")
	case "notjson2xx":
		fmt.Fprint(w, "{"+echo)
	case "redirect":
		w.Header().Set("Location", "http://"+canaryUser+":"+canaryPass+"@127.0.0.1:1/api/v1/logs?"+canaryQuery+"&"+echo)
		w.WriteHeader(http.StatusFound)
	case "429far":
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", far)
		okta(http.StatusTooManyRequests, "E0000047"+echo)
	case "429near":
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", fmt.Sprint(time.Now().Add(50*time.Second).Unix()))
		okta(http.StatusTooManyRequests, "E0000047"+echo)
	case "remaining0far":
		w.Header().Set("X-Rate-Limit-Remaining", "0")
		w.Header().Set("X-Rate-Limit-Reset", far)
		fmt.Fprint(w, "[]")
	case "hang":
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	case "ok":
		fmt.Fprint(w, "[]")

	// The token endpoint.
	case "tok-bearer":
		json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "access_token": canaryAccess, "expires_in": 3600})
	case "tok-dpop":
		if proof == "" {
			oauth(http.StatusBadRequest, "invalid_dpop_proof")
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"token_type": "DPoP", "access_token": canaryAccess, "expires_in": 3600})
	case "tok-invalid_client":
		oauth(http.StatusUnauthorized, "invalid_client")
	case "tok-invalid_scope":
		oauth(http.StatusBadRequest, "invalid_scope")
	case "tok-error-echo":
		oauth(http.StatusBadRequest, "invalid_request "+echo)
	case "tok-500":
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, echo)
	case "tok-html":
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, "<html>"+echo)
	case "tok-429far":
		w.Header().Set("X-Rate-Limit-Reset", far)
		okta(http.StatusTooManyRequests, "E0000047")
	case "tok-type":
		json.NewEncoder(w).Encode(map[string]any{"token_type": "N_A " + echo, "access_token": canaryAccess})
	case "tok-dpop-refused":
		oauth(http.StatusBadRequest, "invalid_dpop_proof")
	case "tok-nonce-loop":
		if proof == "" {
			oauth(http.StatusBadRequest, "invalid_dpop_proof")
			return
		}
		w.Header().Set("DPoP-Nonce", "nonce-"+fmt.Sprint(time.Now().UnixNano()))
		oauth(http.StatusBadRequest, "use_dpop_nonce")
	case "tok-nonce-missing":
		if proof == "" {
			oauth(http.StatusBadRequest, "invalid_dpop_proof")
			return
		}
		oauth(http.StatusBadRequest, "use_dpop_nonce") // and no DPoP-Nonce header
	case "tok-redirect":
		w.Header().Set("Location", "https://"+canaryUser+":"+canaryPass+"@127.0.0.1:1/oauth2/v1/token?"+canaryQuery)
		w.WriteHeader(http.StatusTemporaryRedirect)
	default:
		w.WriteHeader(http.StatusTeapot)
	}
}

type fakeSecrets struct{ doc string }

func (f fakeSecrets) GetSecretValue(context.Context, *secretsmanager.GetSecretValueInput, ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	return &secretsmanager.GetSecretValueOutput{SecretString: &f.doc}, nil
}

// TestNoErrorQuotesACanary provokes every error path of the Okta client
// with canary values in the API token, the client id, the key id, the
// private key, the org URL's userinfo, query and fragment, a Call's query,
// a Location's userinfo and query, and an org that echoes the credentials
// it received (tokens, client assertions, DPoP proofs) in its error texts,
// codes, token types, WWW-Authenticate and Location. No error text, slog line or
// OnWait reason may hold a canary or anything the org received.
func TestNoErrorQuotesACanary(t *testing.T) {
	h := newHostileOrg(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	_, keyPEM := rsaPEM(t)
	// A line of the key's base64 body stands for the private key.
	keyLine := strings.Split(keyPEM, "\n")[3]
	tokenCreds := oktaapi.Credentials{OrgURL: h.URL, APIToken: canaryToken}
	appCreds := oktaapi.Credentials{OrgURL: h.URL, ClientID: canaryClient, KeyID: canaryKeyID, PrivateKey: keyPEM}
	userinfoURL := strings.Replace(h.URL, "http://", "http://"+canaryUser+":"+canaryPass+"@", 1)
	since := oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour)}

	var reasons bytes.Buffer
	settings := oktaapi.Settings{OnWait: func(d time.Duration, reason string) { fmt.Fprintln(&reasons, d, reason) }}
	newClient := func(creds oktaapi.Credentials) (*oktaapi.Client, error) { return oktaapi.New(creds, settings) }
	logs := func(creds oktaapi.Credentials, api, tok string) func(context.Context) error {
		return func(ctx context.Context) error {
			h.set(api, tok)
			c, err := newClient(creds)
			if err != nil {
				return err
			}
			_, err = c.Logs(ctx, c.LogsURL(since))
			return err
		}
	}
	call := func(creds oktaapi.Credentials, api, tok, method, path string) func(context.Context) error {
		return func(ctx context.Context) error {
			h.set(api, tok)
			c, err := newClient(creds)
			if err != nil {
				return err
			}
			var out map[string]any
			return c.Call(ctx, method, path, map[string]string{"x": canaryPath}, &out)
		}
	}
	validate := func(creds oktaapi.Credentials) func(context.Context) error {
		return func(context.Context) error { _, err := newClient(creds); return err }
	}
	withTimeout := func(d time.Duration, f func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return f(ctx)
		}
	}
	withCancel := func(f func(context.Context) error) func(context.Context) error {
		return func(ctx context.Context) error {
			ctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(100*time.Millisecond, cancel)
			return f(ctx)
		}
	}
	garbledPEM := "-----BEGIN " + canaryPEM + "-----\n" + keyLine + "\n-----END " + canaryPEM + "-----\n"

	cases := []struct {
		name string
		want error // nil: any error
		run  func(context.Context) error
	}{
		// Credentials and org URL, refused before any request.
		{"apiToken with a newline", oktaapi.ErrCredentials, validate(oktaapi.Credentials{OrgURL: h.URL, APIToken: canaryToken + "\n" + canaryToken})},
		{"clientId with a NUL", oktaapi.ErrCredentials, validate(oktaapi.Credentials{OrgURL: h.URL, ClientID: canaryClient + "\x00" + canaryClient, PrivateKey: keyPEM})},
		{"clientId with a newline", oktaapi.ErrCredentials, validate(oktaapi.Credentials{OrgURL: h.URL, ClientID: canaryClient + "\n1", PrivateKey: keyPEM})},
		{"keyId with an escape", oktaapi.ErrCredentials, validate(oktaapi.Credentials{OrgURL: h.URL, ClientID: canaryClient, KeyID: canaryKeyID + "\x1b", PrivateKey: keyPEM})},
		{"private key not PEM", oktaapi.ErrCredentials, validate(oktaapi.Credentials{OrgURL: h.URL, ClientID: canaryClient, PrivateKey: canaryPEM + keyLine})},
		{"private key with an unknown PEM label", oktaapi.ErrCredentials, validate(oktaapi.Credentials{OrgURL: h.URL, ClientID: canaryClient, PrivateKey: garbledPEM})},
		{"private key PEM not a key", oktaapi.ErrCredentials, validate(oktaapi.Credentials{OrgURL: h.URL, ClientID: canaryClient, PrivateKey: strings.ReplaceAll(garbledPEM, canaryPEM, "PRIVATE KEY")})},
		{"token and app both", oktaapi.ErrCredentials, validate(oktaapi.Credentials{OrgURL: h.URL, APIToken: canaryToken, ClientID: canaryClient, PrivateKey: keyPEM})},
		{"clientId without key", oktaapi.ErrCredentials, validate(oktaapi.Credentials{OrgURL: h.URL, ClientID: canaryClient})},
		{"orgUrl with userinfo", oktaapi.ErrOrgURL, validate(oktaapi.Credentials{OrgURL: userinfoURL, APIToken: canaryToken})},
		{"orgUrl with a query", oktaapi.ErrOrgURL, validate(oktaapi.Credentials{OrgURL: h.URL + "/?token=" + canaryQuery, APIToken: canaryToken})},
		{"orgUrl with a fragment", oktaapi.ErrOrgURL, validate(oktaapi.Credentials{OrgURL: h.URL + "#" + canaryFragment, APIToken: canaryToken})},
		{"orgUrl http off loopback with userinfo", oktaapi.ErrOrgURL, validate(oktaapi.Credentials{OrgURL: "http://" + canaryUser + ":" + canaryPass + "@example.okta.com/?" + canaryQuery, APIToken: canaryToken})},
		{"orgUrl admin host with userinfo", oktaapi.ErrOrgURL, validate(oktaapi.Credentials{OrgURL: "https://" + canaryUser + "@example-admin.okta.com", APIToken: canaryToken})},
		{"orgUrl not a URL", oktaapi.ErrOrgURL, validate(oktaapi.Credentials{OrgURL: "https://" + canaryUser + " x@/" + canaryQuery, APIToken: canaryToken})},
		{"orgUrl empty", oktaapi.ErrOrgURL, validate(oktaapi.Credentials{APIToken: canaryToken})},
		{"secret document not JSON", oktaapi.ErrCredentials, func(context.Context) error {
			_, err := oktaapi.ParseCredentials([]byte(`{"apiToken":"` + canaryToken + `",`))
			return err
		}},
		{"secret with a bad orgUrl", oktaapi.ErrOrgURL, func(ctx context.Context) error {
			_, err := oktaapi.LoadCredentials(ctx, fakeSecrets{`{"orgUrl":"` + userinfoURL + `/?q=` + canaryQuery + `","apiToken":"` + canaryToken + `"}`}, "arn:secret")
			return err
		}},

		// The org's answers, with an API token.
		{"unreachable", oktaapi.ErrOrgURL, logs(oktaapi.Credentials{OrgURL: deadURL, APIToken: canaryToken}, "", "")},
		{"unreachable Call with a query", oktaapi.ErrOrgURL, call(oktaapi.Credentials{OrgURL: deadURL, APIToken: canaryToken}, "", "", http.MethodGet, "/api/v1/users?search="+canaryPath)},
		{"401", oktaapi.ErrUnauthorized, logs(tokenCreds, "401", "")},
		{"403", oktaapi.ErrForbidden, logs(tokenCreds, "403", "")},
		{"403 insufficient_scope", oktaapi.ErrForbidden, logs(tokenCreds, "403scope", "")},
		{"404 of the resource (Call)", oktaapi.ErrNotFound, call(tokenCreds, "404okta", "", http.MethodGet, "/api/v1/users/00u1?q="+canaryPath)},
		{"404 not Okta", oktaapi.ErrOrgURL, logs(tokenCreds, "404", "")},
		{"400 validation (Call)", nil, call(tokenCreds, "400", "", http.MethodPost, "/api/v1/users?activate="+canaryPath)},
		{"500", nil, logs(tokenCreds, "500", "")},
		{"503 not JSON (Call)", nil, call(tokenCreds, "503text", "", http.MethodGet, "/api/v1/users?q="+canaryPath)},
		{"200 not JSON (Logs)", oktaapi.ErrOrgURL, logs(tokenCreds, "html", "")},
		{"2xx answer not JSON (Call)", nil, call(tokenCreds, "notjson2xx", "", http.MethodGet, "/api/v1/users?q="+canaryPath)},
		{"2xx answer not JSON (event hooks)", oktaapi.ErrOrgURL, func(ctx context.Context) error {
			h.set("notjson2xx", "")
			c, _ := newClient(tokenCreds)
			_, err := c.EventHooks(ctx)
			return err
		}},
		{"redirect", oktaapi.ErrRedirect, logs(tokenCreds, "redirect", "")},
		{"redirect (Call)", oktaapi.ErrRedirect, call(tokenCreds, "redirect", "", http.MethodDelete, "/api/v1/users/00u1/sessions?q="+canaryPath)},
		{"429 with a far reset", oktaapi.ErrImplausibleReset, logs(tokenCreds, "429far", "")},
		{"Remaining 0 with a far reset", oktaapi.ErrImplausibleReset, func(ctx context.Context) error {
			h.set("remaining0far", "")
			c, _ := newClient(tokenCreds)
			if _, err := c.Logs(ctx, c.LogsURL(since)); err != nil {
				return fmt.Errorf("the first page: %w", err)
			}
			_, err := c.Logs(ctx, c.LogsURL(since))
			return err
		}},
		{"429 past the deadline", oktaapi.ErrRateLimited, withTimeout(2*time.Second, logs(tokenCreds, "429near", ""))},
		{"deadline while waiting for an answer (Call)", context.DeadlineExceeded, withTimeout(200*time.Millisecond, call(tokenCreds, "hang", "", http.MethodGet, "/api/v1/users?search="+canaryPath))},
		{"deadline while waiting for an answer (Logs)", context.DeadlineExceeded, withTimeout(200*time.Millisecond, logs(tokenCreds, "hang", ""))},
		{"cancelled while waiting for an answer", context.Canceled, withCancel(logs(tokenCreds, "hang", ""))},

		// Call paths, refused before sending.
		{"Call path with ..", oktaapi.ErrPath, call(tokenCreds, "ok", "", http.MethodGet, "/api/v1/../../oauth2/v1/token?"+canaryPath)},
		{"Call path %2e%2e", oktaapi.ErrPath, call(tokenCreds, "ok", "", http.MethodGet, "/api/%2e%2e/x?"+canaryPath)},
		{"Call path ;", oktaapi.ErrPath, call(tokenCreds, "ok", "", http.MethodGet, "/api/v1/x/..;/y?"+canaryPath)},
		{"Call path backslash", oktaapi.ErrPath, call(tokenCreds, "ok", "", http.MethodGet, "/api\\..\\x?"+canaryPath)},
		{"Call path with a host and userinfo", oktaapi.ErrPath, call(tokenCreds, "ok", "", http.MethodGet, "https://"+canaryUser+":"+canaryPass+"@evil.example/api/v1?"+canaryPath)},
		{"Call path scheme-relative", oktaapi.ErrPath, call(tokenCreds, "ok", "", http.MethodGet, "//"+canaryUser+"@evil.example/api/v1?"+canaryPath)},
		{"Call path control character", oktaapi.ErrPath, call(tokenCreds, "ok", "", http.MethodGet, "/api/v1/users\n?"+canaryPath)},
		{"Call body not JSON-encodable", nil, func(ctx context.Context) error {
			c, _ := newClient(tokenCreds)
			return c.Call(ctx, http.MethodPost, "/api/v1/users?"+canaryPath, map[string]any{canaryPath: func() {}}, nil)
		}},

		// A service app: the token endpoint, DPoP, and the API after it.
		{"token endpoint unreachable", oktaapi.ErrOrgURL, logs(oktaapi.Credentials{OrgURL: deadURL, ClientID: canaryClient, KeyID: canaryKeyID, PrivateKey: keyPEM}, "", "")},
		{"token endpoint invalid_client", oktaapi.ErrUnauthorized, logs(appCreds, "ok", "tok-invalid_client")},
		{"token endpoint invalid_scope", oktaapi.ErrForbidden, logs(appCreds, "ok", "tok-invalid_scope")},
		{"token endpoint error echoing the assertion", oktaapi.ErrUnauthorized, logs(appCreds, "ok", "tok-error-echo")},
		{"token endpoint 500", nil, logs(appCreds, "ok", "tok-500")},
		{"token endpoint not JSON", oktaapi.ErrOrgURL, logs(appCreds, "ok", "tok-html")},
		{"token endpoint 429 with a far reset", oktaapi.ErrImplausibleReset, logs(appCreds, "ok", "tok-429far")},
		{"token endpoint unusable token type", oktaapi.ErrUnauthorized, logs(appCreds, "ok", "tok-type")},
		{"token endpoint redirect", oktaapi.ErrRedirect, logs(appCreds, "ok", "tok-redirect")},
		{"token endpoint deadline", context.DeadlineExceeded, withTimeout(200*time.Millisecond, logs(appCreds, "ok", "hang"))},
		{"DPoP proof refused", oktaapi.ErrUnauthorized, logs(appCreds, "ok", "tok-dpop-refused")},
		{"DPoP nonce asked for ever", oktaapi.ErrUnauthorized, logs(appCreds, "ok", "tok-nonce-loop")},
		{"DPoP nonce asked for without one", oktaapi.ErrUnauthorized, logs(appCreds, "ok", "tok-nonce-missing")},
		{"bearer token refused (401 twice)", oktaapi.ErrUnauthorized, logs(appCreds, "401", "tok-bearer")},
		{"DPoP token refused (401 twice)", oktaapi.ErrUnauthorized, logs(appCreds, "401", "tok-dpop")},
		{"DPoP token 403 insufficient_scope", oktaapi.ErrForbidden, logs(appCreds, "403scope", "tok-dpop")},
		{"DPoP token 500", nil, logs(appCreds, "500", "tok-dpop")},
		{"DPoP request redirect", oktaapi.ErrRedirect, logs(appCreds, "redirect", "tok-dpop")},
		{"DPoP 400 (Call)", nil, call(appCreds, "400", "tok-dpop", http.MethodPost, "/api/v1/groups?"+canaryPath)},
	}

	var logged bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logged, nil))
	canaries := []string{canaryToken, canaryClient, canaryKeyID, canaryUser, canaryPass, canaryQuery, canaryFragment, canaryAccess, canaryPEM, canaryPath, keyLine}
	for _, tc := range cases {
		err := tc.run(t.Context())
		if err == nil {
			t.Errorf("%s: no error: the path was not provoked", tc.name)
			continue
		}
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, err, tc.want)
		}
		log.Error("okta call failed", "case", tc.name, "error", err.Error())
		text := err.Error()
		var api *oktaapi.APIError
		if errors.As(err, &api) {
			// Its fields are read by callers too.
			text += " " + api.Code + " " + api.Summary + " " + api.Path
		}
		for _, s := range append(canaries, h.secretsReceived()...) {
			if strings.Contains(text, s) {
				t.Errorf("%s: error quotes %.24s…: %v", tc.name, s, err)
			}
		}
	}
	// Credentials themselves, printed or logged by mistake.
	for _, creds := range []oktaapi.Credentials{tokenCreds, appCreds, {OrgURL: userinfoURL + "/?" + canaryQuery + "#" + canaryFragment, APIToken: canaryToken}} {
		fmt.Fprintf(&reasons, "%v %+v %#v %s\n", creds, creds, creds, creds)
		log.Info("credentials", "creds", creds)
	}
	for _, s := range append(canaries, h.secretsReceived()...) {
		if strings.Contains(logged.String(), s) || strings.Contains(reasons.String(), s) {
			t.Errorf("a log line or wait reason quotes %.24s…: %s", s, reasons.String())
		}
	}
	if len(h.secretsReceived()) == 0 {
		t.Fatal("the hostile org received no credential: the echo cases checked nothing")
	}
	t.Logf("%d error paths provoked, none quotes a canary or a received credential (%d received)", len(cases), len(h.secretsReceived()))
}

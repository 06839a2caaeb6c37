// Package oktaapi calls Okta's API for everything in hookline that talks to
// Okta: the System Log (GET /api/v1/logs, scope okta.logs.read) and the
// event hooks (/api/v1/eventHooks, scope okta.eventHooks.manage), with an API
// token (SSWS) or an OAuth 2.0 service app (private_key_jwt).
//
// Events come back as Okta's raw JSON, byte for byte. The client honours
// Okta's rate-limit headers: with nothing left in the window it waits for the
// reset, and a 429 (E0000047) is retried after the reset, never sooner; a
// reset more than MaxResetWait ahead is a fault, not waited. It follows no
// redirect, and sends Call requests only to clean /api/ paths, so the
// credentials go to the org alone; no error quotes them.
// Errors wrap the sentinels below, so callers can tell a wrong org URL, bad
// credentials, a missing scope and a rate limit apart.
package oktaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// LogsScope is the OAuth scope a service app needs to read the System Log.
const LogsScope = "okta.logs.read"

var (
	// ErrCredentials means the credentials secret is unreadable or its
	// document is not usable.
	ErrCredentials = errors.New("okta credentials")
	// ErrOrgURL means the org URL is not an Okta org's API: malformed, not
	// https, unreachable, or answering what Okta would not.
	ErrOrgURL = errors.New("okta org URL")
	// ErrUnauthorized means Okta refused the credentials (401, or the token
	// endpoint refused the client).
	ErrUnauthorized = errors.New("okta refused the credentials")
	// ErrForbidden means the credentials are valid but may not make the
	// request (403, or the scope is not granted); the error names the scope.
	ErrForbidden = errors.New("okta forbids it")
	// ErrNotFound means Okta has no such object (404 E0000007).
	ErrNotFound = errors.New("okta: not found")
	// ErrRateLimited means Okta's rate limit would make the caller wait
	// past its deadline; RateLimitError says until when.
	ErrRateLimited = errors.New("okta rate limit")
)

// Credentials is the JSON document kept in the Okta credentials secret:
// orgUrl and either apiToken, or clientId and privateKey (PEM) with an
// optional keyId.
type Credentials struct {
	OrgURL     string `json:"orgUrl"`
	APIToken   string `json:"apiToken,omitempty"`
	ClientID   string `json:"clientId,omitempty"`
	PrivateKey string `json:"privateKey,omitempty"`
	KeyID      string `json:"keyId,omitempty"`
	// Scopes are the OAuth scopes a service app asks for, space-separated;
	// empty means LogsScope. A worker handler that writes to Okta needs
	// its scopes here too, such as "okta.logs.read okta.users.manage".
	Scopes string `json:"scopes,omitempty"`
}

// String shows the org (scheme://host/path) and which way of signing in is
// set, never a secret: Credentials printed with %v or %+v, in an error or
// a log line, quote no token or key.
func (c Credentials) String() string {
	kind := "no sign-in"
	switch {
	case strings.TrimSpace(c.APIToken) != "":
		kind = "apiToken <redacted>"
	case strings.TrimSpace(c.ClientID) != "" || strings.TrimSpace(c.PrivateKey) != "":
		kind = "service app <redacted>"
	}
	return "okta credentials for " + redactURL(c.OrgURL) + ", " + kind
}

// GoString is String, for %#v.
func (c Credentials) GoString() string { return c.String() }

// LogValue is String, for log/slog.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// ParseCredentials reads and checks the secret's document. The error never
// quotes the document: it holds a secret.
func ParseCredentials(doc []byte) (Credentials, error) {
	var c Credentials
	if err := json.Unmarshal(doc, &c); err != nil {
		return Credentials{}, fmt.Errorf("%w: the secret is not a JSON object with orgUrl and apiToken, or clientId and privateKey", ErrCredentials)
	}
	return c, c.Validate()
}

// Validate checks that exactly one way of signing in is given, that the
// org URL is usable and that no field holds a control character (such as a
// newline inside a pasted token), naming the field and never its value.
func (c Credentials) Validate() error {
	if _, err := OrgURL(c.OrgURL); err != nil {
		return err
	}
	for _, f := range []struct{ name, value string }{
		{"apiToken", c.APIToken}, {"clientId", c.ClientID}, {"keyId", c.KeyID}, {"scopes", c.Scopes},
	} {
		if hasControl(strings.TrimSpace(f.value)) {
			return fmt.Errorf("%w: %s has a control character (such as a newline) inside it", ErrCredentials, f.name)
		}
	}
	token := strings.TrimSpace(c.APIToken) != ""
	app := strings.TrimSpace(c.ClientID) != "" || strings.TrimSpace(c.PrivateKey) != ""
	switch {
	case token && app:
		return fmt.Errorf("%w: give either apiToken or clientId+privateKey, not both", ErrCredentials)
	case !token && !app:
		return fmt.Errorf("%w: neither apiToken nor clientId+privateKey is set", ErrCredentials)
	case app && strings.TrimSpace(c.ClientID) == "":
		return fmt.Errorf("%w: privateKey is set but clientId is not", ErrCredentials)
	case app && strings.TrimSpace(c.PrivateKey) == "":
		return fmt.Errorf("%w: clientId is set but privateKey (PEM) is not", ErrCredentials)
	case app:
		if _, err := parsePrivateKey(c.PrivateKey); err != nil {
			return fmt.Errorf("%w: privateKey: %v", ErrCredentials, err)
		}
	}
	return nil
}

// OrgURL checks an org URL such as https://example.okta.com and returns it
// without a trailing slash. It must be https, except on a loopback address
// (local stand-ins and tests), carry no path, query or credentials, and not
// be the admin console's -admin host.
func OrgURL(raw string) (*url.URL, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return nil, fmt.Errorf("%w: orgUrl is empty (want https://<your-org>.okta.com)", ErrOrgURL)
	}
	// Errors quote it as scheme://host/path only: a userinfo, query or
	// fragment may hold a password or a token.
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: orgUrl is not a URL (want https://<your-org>.okta.com)", ErrOrgURL)
	}
	shown := redactURL(raw)
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	default:
		return nil, fmt.Errorf("%w: %s must use https (http only on a loopback address)", ErrOrgURL, shown)
	}
	switch {
	case u.User != nil:
		return nil, fmt.Errorf("%w: %s must be the org's base URL only, like https://<your-org>.okta.com, with no user or password", ErrOrgURL, shown)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Trim(u.Path, "/") != "":
		return nil, fmt.Errorf("%w: %s must be the org's base URL only, like https://<your-org>.okta.com, with no path, query or fragment", ErrOrgURL, shown)
	}
	if host, _, _ := strings.Cut(u.Hostname(), "."); strings.HasSuffix(host, "-admin") {
		return nil, fmt.Errorf("%w: %s is the admin console; use the org URL without -admin", ErrOrgURL, shown)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SecretsManagerAPI is the Secrets Manager call LoadCredentials makes.
type SecretsManagerAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// LoadCredentials reads the credentials secret (its AWSCURRENT value).
func LoadCredentials(ctx context.Context, sm SecretsManagerAPI, secretID string) (Credentials, error) {
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secretID})
	if err != nil {
		return Credentials{}, fmt.Errorf("%w: read secret %s: %w", ErrCredentials, secretID, err)
	}
	if out.SecretString == nil {
		return Credentials{}, fmt.Errorf("%w: secret %s has no string value (want the JSON document)", ErrCredentials, secretID)
	}
	c, err := ParseCredentials([]byte(*out.SecretString))
	if err != nil {
		return Credentials{}, fmt.Errorf("secret %s: %w", secretID, err)
	}
	return c, nil
}

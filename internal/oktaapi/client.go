package oktaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/internal/clock"
	"github.com/hookline/hookline/internal/okta"
)

// Defaults of a Client.
const (
	// DefaultLimit is the page size asked of the System Log (Okta's maximum).
	DefaultLimit = 1000
	// DefaultNoResetWait is how long a 429 without a usable
	// X-Rate-Limit-Reset header is waited out.
	DefaultNoResetWait  = 30 * time.Second
	maxRateLimitRetries = 5
)

// Client reads Okta's API. It is safe for one caller at a time per page
// sequence; rate-limit state is shared.
type Client struct {
	org  *url.URL
	http *http.Client
	now  func() time.Time
	// sleep waits for a rate-limit reset; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
	// onWait is told about each rate-limit wait.
	onWait func(d time.Duration, reason string)

	requests atomic.Int64
	headroom headroom // see headroom.go

	mu        sync.Mutex
	remaining int       // from the last X-Rate-Limit-Remaining; -1 unknown
	resetAt   time.Time // when the window of remaining resets, local clock

	authMu     sync.Mutex
	auth       authorizer
	creds      Credentials // what auth was built from
	scope      string      // what a service app asks the token endpoint for
	fixedScope string      // Settings.Scope; "" means the credentials' scopes
	reload     func(ctx context.Context) (Credentials, error)
	reloadedAt time.Time
}

// ReloadEvery is how often, at most, a Client re-reads its credentials
// after Okta refused them (Settings.Reload): a rotated API token or key is
// picked up on the next refused request, and a wrong one cannot make every
// request read the secret.
const ReloadEvery = 30 * time.Second

// Settings tune a Client. The zero value gives the defaults.
type Settings struct {
	// HTTPClient makes the requests (default: a client with a 30 s timeout).
	// The Client uses a copy that follows no redirect (see ErrRedirect);
	// this one is left as it is.
	HTTPClient *http.Client
	// Scope is what a service app asks the token endpoint for, such as
	// EventHooksScope (default: the credentials' scopes, else LogsScope).
	Scope string
	// OnWait, when set, is told about each rate-limit wait before it starts,
	// for progress output.
	OnWait func(d time.Duration, reason string)
	// Reload, when set, re-reads the credentials (for example
	// LoadCredentials on the secret) after Okta answers 401, at most every
	// ReloadEvery; the request is then sent once more with them. A client
	// that lives long, such as the worker's, so picks up a rotated API token
	// or key without a restart. The org URL cannot change this way.
	Reload func(ctx context.Context) (Credentials, error)
	// Now and Sleep are the clock and the wait used for rate-limit resets
	// (default time.Now and a context-aware sleep). Tests of the waits set
	// them: the stand-in org answers over loopback, where testing/synctest
	// cannot run.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
}

// New returns a Client for the credentials (see Credentials.Validate).
func New(creds Credentials, s Settings) (*Client, error) {
	if err := creds.Validate(); err != nil {
		return nil, err
	}
	org, _ := OrgURL(creds.OrgURL)
	// Every request carries a credential (the token request too), so no
	// client of this one follows a redirect.
	c := &Client{org: org, http: credentialClient(s.HTTPClient), now: s.Now, sleep: s.Sleep, onWait: s.OnWait, remaining: -1}
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = clock.Sleep
	}
	c.fixedScope, c.reload = s.Scope, s.Reload
	c.setCredentials(creds)
	return c, nil
}

// setCredentials builds the authorizer for creds (validated) and uses it
// from the next request on.
func (c *Client) setCredentials(creds Credentials) {
	scope := c.fixedScope
	if scope == "" {
		scope = scopesOf(creds)
	}
	var a authorizer
	if strings.TrimSpace(creds.APIToken) != "" {
		a = apiToken(strings.TrimSpace(creds.APIToken))
	} else {
		key, _ := parsePrivateKey(creds.PrivateKey) // checked by Validate
		a = &serviceApp{
			tokenURL: c.org.String() + "/oauth2/v1/token",
			clientID: strings.TrimSpace(creds.ClientID),
			keyID:    strings.TrimSpace(creds.KeyID),
			key:      key,
			scopes:   scope,
			http:     c.http,
			now:      c.now,
			onCall:   func() { c.requests.Add(1) },
		}
	}
	c.authMu.Lock()
	c.auth, c.creds, c.scope = a, creds, scope
	c.authMu.Unlock()
}

// scopeInUse is the scope the credentials in use ask for.
func (c *Client) scopeInUse() string {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return c.scope
}

// authorizer returns the authorizer in use.
func (c *Client) authorizer() authorizer {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	return c.auth
}

// reloadCredentials re-reads the credentials after a 401, at most every
// ReloadEvery, and reports whether they changed (and are now in use).
func (c *Client) reloadCredentials(ctx context.Context) bool {
	c.authMu.Lock()
	if c.reload == nil || (!c.reloadedAt.IsZero() && c.now().Sub(c.reloadedAt) < ReloadEvery) {
		c.authMu.Unlock()
		return false
	}
	c.reloadedAt = c.now()
	old := c.creds
	c.authMu.Unlock()
	creds, err := c.reload(ctx)
	if err != nil || creds.Validate() != nil || creds == old {
		return false
	}
	if org, err := OrgURL(creds.OrgURL); err != nil || org.String() != c.org.String() {
		return false
	}
	c.setCredentials(creds)
	return true
}

// Requests counts the HTTP requests made to Okta so far, token requests
// and retries included.
func (c *Client) Requests() int64 { return c.requests.Load() }

// LogsQuery is the first request of a System Log read.
type LogsQuery struct {
	// Since is the lower bound. In a polling read (no Until) Okta compares it
	// with the time events were stored; in a bounded read, with published.
	Since time.Time
	// Until, when set, makes a bounded read: it ends when the range is done.
	Until time.Time
	// Types filters on eventType (any of them); empty reads every type.
	Types []string
	// Limit is the page size; zero means DefaultLimit.
	Limit int
}

// LogsURL returns the URL of the first page: sortOrder=ASCENDING, the
// types as a filter, and no until for a polling read.
func (c *Client) LogsURL(q LogsQuery) string {
	v := url.Values{}
	v.Set("since", q.Since.UTC().Format("2006-01-02T15:04:05.000Z"))
	if !q.Until.IsZero() {
		v.Set("until", q.Until.UTC().Format("2006-01-02T15:04:05.000Z"))
	}
	if f := TypeFilter(q.Types); f != "" {
		v.Set("filter", f)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	v.Set("limit", strconv.Itoa(limit))
	v.Set("sortOrder", "ASCENDING")
	return c.org.String() + "/api/v1/logs?" + v.Encode()
}

// TypeFilter is the System Log filter matching any of types, e.g.
// eventType eq "a" or eventType eq "b".
func TypeFilter(types []string) string {
	parts := make([]string, 0, len(types))
	for _, t := range types {
		if t = strings.TrimSpace(t); t != "" {
			parts = append(parts, "eventType eq "+strconv.Quote(t))
		}
	}
	return strings.Join(parts, " or ")
}

// Page is one page of the System Log.
type Page struct {
	// URL is the address this page was read from.
	URL string
	// Events are in the order Okta returned them, each with its raw JSON.
	Events []okta.Event
	// Next is the rel="next" link, or "" when Okta gave none (the end of a
	// bounded read). A polling read always has one. It is Okta's answer:
	// check it with CheckPageURL before keeping it.
	Next string
	// Limit, when not 0, is the smaller page size the events were read
	// with because URL's answer was over MaxPageBytes (see Logs).
	Limit int
}

// RateLimitError is a rate limit the caller's deadline cannot wait out, or
// one whose reset is implausibly far ahead.
type RateLimitError struct {
	ResetAt time.Time
	// Implausible is set when the reset was more than MaxResetWait ahead:
	// not waited, a fault to report (ErrImplausibleReset), retried on the
	// next run.
	Implausible bool
}

func (e *RateLimitError) Error() string {
	if e.Implausible {
		return fmt.Sprintf("%v: %v: X-Rate-Limit-Reset %s is more than %v ahead, though Okta's windows are one minute: not waited, the next run tries again",
			ErrRateLimited, ErrImplausibleReset, e.ResetAt.UTC().Format(time.RFC3339), MaxResetWait)
	}
	return fmt.Sprintf("%v: no requests left until %s, past the deadline", ErrRateLimited, e.ResetAt.UTC().Format(time.RFC3339))
}

// Unwrap makes errors.Is(err, ErrRateLimited) hold, and
// errors.Is(err, ErrImplausibleReset) for an implausible reset.
func (e *RateLimitError) Unwrap() []error {
	if e.Implausible {
		return []error{ErrRateLimited, ErrImplausibleReset}
	}
	return []error{ErrRateLimited}
}

// roundTrip sends one request to the org and returns a 2xx answer. It waits
// out rate limits within ctx's deadline (a 429 means Okta did nothing, so
// any method may be sent again), gets a new access token once after a 401,
// and turns any other answer into an error naming op's fix. A redirect is
// an ErrRedirect, never followed. No error quotes a credential.
func (c *Client) roundTrip(ctx context.Context, method, target string, reqBody []byte, op operation) (_ *http.Response, _ []byte, err error) {
	defer func() { err = scrub(err, c.secrets()) }()
	reauthorized := false
	for attempt := 0; ; attempt++ {
		if err := c.waitForWindow(ctx); err != nil {
			return nil, nil, err
		}
		resp, body, err := c.send(ctx, method, target, reqBody)
		if err != nil {
			return nil, nil, err
		}
		switch {
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			return resp, body, nil
		case resp.StatusCode == http.StatusTooManyRequests:
			if attempt >= maxRateLimitRetries {
				return nil, nil, fmt.Errorf("%w: still 429 after %d waits for the reset", ErrRateLimited, attempt)
			}
			wait, err := c.resetWait(resp)
			if err != nil {
				return nil, nil, err
			}
			if err := c.wait(ctx, wait, "429 "+oktaText(errorCode(body))); err != nil {
				return nil, nil, err
			}
		case resp.StatusCode == http.StatusUnauthorized && !reauthorized:
			// A cached access token may have been revoked: get a new one
			// once, and the credentials themselves may have been rotated.
			auth := c.authorizer()
			auth.invalidate()
			reauthorized = true
			if c.reloadCredentials(ctx) {
				continue
			}
			if _, ok := auth.(apiToken); ok {
				return nil, nil, op.error(method, target, resp, body)
			}
		default:
			return nil, nil, op.error(method, target, resp, body)
		}
	}
}

func (c *Client) send(ctx context.Context, method, target string, reqBody []byte) (*http.Response, []byte, error) {
	var rd io.Reader
	if reqBody != nil {
		rd = bytes.NewReader(reqBody)
	}
	req, err := http.NewRequestWithContext(ctx, method, target, rd)
	if err != nil {
		// Its text quotes the whole URL.
		return nil, nil, fmt.Errorf("okta: %s %s is not a URL to send to", method, redactURL(target))
	}
	req.Header.Set("Accept", "application/json")
	if reqBody != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := c.authorizer().authorize(ctx, req); err != nil {
		return nil, nil, err
	}
	c.requests.Add(1)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, nil, unreachable(target, err)
	}
	defer resp.Body.Close()
	if isRedirect(resp.StatusCode) {
		return nil, nil, redirectError(method, req.URL, resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes))
	if err != nil {
		return nil, nil, fmt.Errorf("okta: read %s: %w", req.URL.Path, err)
	}
	c.noteRateLimit(resp)
	return resp, body, nil
}

// noteRateLimit keeps X-Rate-Limit-Remaining and X-Rate-Limit-Reset.
func (c *Client) noteRateLimit(resp *http.Response) {
	c.noteHeadroom(resp)
	rem, err := strconv.Atoi(resp.Header.Get("X-Rate-Limit-Remaining"))
	if err != nil {
		return
	}
	reset, _ := c.resetTime(resp)
	c.mu.Lock()
	// A reset from an earlier answer does not describe this one's window.
	c.remaining, c.resetAt = rem, reset
	c.mu.Unlock()
}

// resetTime converts X-Rate-Limit-Reset (epoch seconds on Okta's clock) to
// the local clock using the Date header, so clock skew does not shorten or
// stretch the wait.
func (c *Client) resetTime(resp *http.Response) (time.Time, bool) {
	return resetTime(resp, c.now())
}

func resetTime(resp *http.Response, now time.Time) (time.Time, bool) {
	sec, err := strconv.ParseInt(resp.Header.Get("X-Rate-Limit-Reset"), 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, false
	}
	reset := time.Unix(sec, 0)
	if d, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
		return now.Add(reset.Sub(d)), true
	}
	return reset, true
}

// resetWait is how long a 429 is waited out: until its reset, or an
// implausible-reset RateLimitError when that is more than MaxResetWait
// ahead.
func (c *Client) resetWait(resp *http.Response) (time.Duration, error) {
	reset, ok := c.resetTime(resp)
	if !ok {
		return DefaultNoResetWait, nil
	}
	d := reset.Sub(c.now())
	if d > MaxResetWait {
		// Reported now, so not kept for the next request to report again.
		c.forgetWindow(reset)
		return 0, &RateLimitError{ResetAt: reset, Implausible: true}
	}
	// The reset is a whole second; a second more avoids arriving early.
	return max(d, 0) + time.Second, nil
}

// waitForWindow waits for the reset when the last answer said no requests
// are left in the window. A reset that has passed is forgotten, and so is
// one more than MaxResetWait ahead, after failing this request with an
// implausible-reset RateLimitError: the client is kept across runs of a
// warm reconciler, and no saved reset may stop a later run unasked.
func (c *Client) waitForWindow(ctx context.Context) error {
	c.mu.Lock()
	rem, reset := c.remaining, c.resetAt
	c.mu.Unlock()
	if rem != 0 || reset.IsZero() {
		return nil
	}
	d := reset.Sub(c.now())
	switch {
	case d <= 0:
		c.forgetWindow(reset)
		return nil
	case d > MaxResetWait:
		c.forgetWindow(reset)
		return &RateLimitError{ResetAt: reset, Implausible: true}
	}
	return c.wait(ctx, d+time.Second, "X-Rate-Limit-Remaining: 0")
}

// forgetWindow drops the saved window if it is still the one that reset at
// reset.
func (c *Client) forgetWindow(reset time.Time) {
	c.mu.Lock()
	if c.resetAt.Equal(reset) {
		c.remaining, c.resetAt = -1, time.Time{}
	}
	c.mu.Unlock()
}

// wait sleeps d (at most MaxResetWait and a second) within ctx's deadline.
func (c *Client) wait(ctx context.Context, d time.Duration, reason string) error {
	d = min(d, MaxResetWait+time.Second)
	if deadline, ok := ctx.Deadline(); ok && c.now().Add(d).After(deadline) {
		return &RateLimitError{ResetAt: c.now().Add(d)}
	}
	if c.onWait != nil {
		c.onWait(d, reason)
	}
	if err := c.sleep(ctx, d); err != nil {
		return err
	}
	c.mu.Lock()
	c.remaining, c.resetAt = -1, time.Time{}
	c.mu.Unlock()
	return nil
}

// oktaError is Okta's error document.
type oktaError struct {
	ErrorCode    string `json:"errorCode"`
	ErrorSummary string `json:"errorSummary"`
	ErrorCauses  []struct {
		ErrorSummary string `json:"errorSummary"`
	} `json:"errorCauses"`
}

func errorCode(body []byte) string {
	var e oktaError
	_ = json.Unmarshal(body, &e)
	return e.ErrorCode
}

// operation says what a kind of request needs, for its errors.
type operation struct {
	scope string // the OAuth scope it needs
	role  string // the admin role an API token's user needs
	what  string // what it does, "read the System Log"
}

var logsOp = operation{scope: LogsScope, role: "an admin role that may read the System Log (Read-only Administrator or higher)", what: "read the System Log"}

// error turns a refused request into an error naming the fix.
func (op operation) error(method, target string, resp *http.Response, body []byte) error {
	var e oktaError
	isOkta := json.Unmarshal(body, &e) == nil && e.ErrorCode != ""
	detail := ""
	if isOkta {
		detail = ": " + e.ErrorCode + " " + e.ErrorSummary
		for _, c := range e.ErrorCauses {
			detail += "; " + c.ErrorSummary
		}
		detail = oktaText(detail)
	}
	path := target
	if u, err := url.Parse(target); err == nil {
		path = u.Path
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		return fmt.Errorf("%w (401%s): check the apiToken, or the service app's clientId and key", ErrUnauthorized, detail)
	case http.StatusForbidden:
		if www := resp.Header.Get("WWW-Authenticate"); strings.Contains(www, "insufficient_scope") {
			scope := op.scope
			// Okta names the scope the endpoint needs: scope="...".
			if _, rest, ok := strings.Cut(www, `scope="`); ok {
				if needed, _, ok := strings.Cut(rest, `"`); ok && needed != "" {
					scope = oktaText(needed)
				}
			}
			return fmt.Errorf("%w to %s (403%s): the access token lacks scope %s: grant it to the service app (Okta API Scopes tab)", ErrForbidden, op.what, detail, scope)
		}
		return fmt.Errorf("%w to %s (403%s): the token or service app needs scope %s and %s", ErrForbidden, op.what, detail, op.scope, op.role)
	case http.StatusNotFound:
		if e.ErrorCode == "E0000007" {
			return fmt.Errorf("%w: %s %s: 404%s", ErrNotFound, method, path, detail)
		}
		return fmt.Errorf("%w: %s %s answered 404%s: is orgUrl your Okta org?", ErrOrgURL, method, path, detail)
	}
	if !isOkta && resp.StatusCode < 500 {
		return fmt.Errorf("%w: %s %s answered %d with no Okta error: is orgUrl your Okta org?", ErrOrgURL, method, path, resp.StatusCode)
	}
	return &APIError{Status: resp.StatusCode, Code: oktaText(e.ErrorCode), Summary: strings.TrimPrefix(detail, ": "), Method: method, Path: path}
}

// APIError is an answer of Okta's that is neither success nor one of the
// sentinel cases: a validation error (400 E0000001), a server error.
type APIError struct {
	Status       int
	Code         string // errorCode, such as E0000001
	Summary      string // errorCode, errorSummary and the errorCauses
	Method, Path string
}

func (e *APIError) Error() string {
	if e.Summary == "" {
		return fmt.Sprintf("okta: %s %s answered %d", e.Method, e.Path, e.Status)
	}
	return fmt.Sprintf("okta: %s %s answered %d: %s", e.Method, e.Path, e.Status, e.Summary)
}

// unreachable is the error of a request that got no answer. net/http's
// *url.Error quotes the whole URL, query included: only its cause is kept,
// with the host.
func unreachable(target string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	host := "the org"
	if u, perr := url.Parse(target); perr == nil {
		host = u.Host
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("okta: request to %s stopped: %w", host, err)
	}
	return fmt.Errorf("%w: cannot reach %s: %w", ErrOrgURL, host, err)
}

// secrets are the credentials in use, for scrub.
func (c *Client) secrets() []string {
	c.authMu.Lock()
	defer c.authMu.Unlock()
	s := c.auth.secrets()
	return append(s, strings.TrimSpace(c.creds.APIToken), strings.TrimSpace(c.creds.ClientID), strings.TrimSpace(c.creds.KeyID))
}

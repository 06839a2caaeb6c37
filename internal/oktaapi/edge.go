package oktaapi

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file holds what keeps the credentials at the org and out of errors:
// the redirect policy of every client that carries them, the check of Call
// paths, the rate-limit cap, and the redaction of URLs and secrets.

var (
	// ErrRedirect means Okta (or what answers at orgUrl) answered a
	// redirect. hookline follows none: the request carried the credentials
	// (an API token, an access token, a DPoP proof or a client assertion),
	// and they go only to the org. It comes with ErrOrgURL, as a redirect
	// usually means orgUrl is not the org's own URL.
	ErrRedirect = errors.New("okta answered a redirect, which hookline does not follow")
	// ErrImplausibleReset means a rate-limit answer asked to wait more than
	// MaxResetWait, which Okta's one-minute windows cannot explain: it is
	// not waited, the caller stops with an error (the reconciler logs it at
	// ERROR) and tries again on its next run. It comes with ErrRateLimited.
	ErrImplausibleReset = errors.New("okta rate-limit reset too far ahead")
	// ErrPath means a Call path is not a clean /api/ path of the org;
	// nothing was sent.
	ErrPath = errors.New("okta: Call path refused")
)

// MaxResetWait is the longest X-Rate-Limit-Reset a Client waits for. Okta's
// rate-limit windows are one minute, so a reset further ahead is a fault
// (a hostile or broken answer, or a wrong clock), never a reason to stop
// for hours.
const MaxResetWait = 5 * time.Minute

// noRedirect is the CheckRedirect of every client that carries
// credentials: the 3xx answer comes back to the caller, which turns it into
// an ErrRedirect, and nothing is sent to the Location.
func noRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// credentialClient returns the client a Client sends with: a copy of base
// (never base itself, which the caller may use elsewhere) or a new one with
// a 30 s timeout, that follows no redirect.
func credentialClient(base *http.Client) *http.Client {
	if base == nil {
		return &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirect}
	}
	c := *base
	c.CheckRedirect = noRedirect
	return &c
}

// isRedirect reports whether status is a redirect: any 3xx, since
// http.ErrUseLastResponse hands back every one of them.
func isRedirect(status int) bool { return status >= 300 && status < 400 }

// redirectError describes a redirect by the host of its Location, never
// its userinfo, path or query (where a hostile org would put bait).
func redirectError(method string, req *url.URL, resp *http.Response) error {
	where := "no Location"
	if loc := resp.Header.Get("Location"); loc != "" {
		where = "an unreadable Location"
		if u, err := req.Parse(loc); err == nil && u.Host != "" {
			where = "Location host " + strconv.Quote(u.Host)
			if u.Scheme != req.Scheme {
				where += " (" + strconv.Quote(u.Scheme) + ")"
			}
		}
	}
	return fmt.Errorf("%w: %s %s answered %d to %s, not followed: %w (use the org's own https://<your-org>.okta.com)",
		ErrRedirect, method, req.Path, resp.StatusCode, where, ErrOrgURL)
}

// redactURL is raw as scheme://host/path, quoted: no userinfo, query or
// fragment, which may hold a password, a token or a cursor.
func redactURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "(a URL that does not parse)"
	}
	r := url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}
	return strconv.Quote(r.String())
}

// checkAPIPath reports why p is not a clean path of the org's API, or nil.
// A clean path starts with /api/, has no . or .. segment, no empty
// segment, no ; parameter, no backslash and no control character, and
// %-encodes none of . / \ ; % and no control character: a server or proxy
// that normalises or decodes paths can then resolve it nowhere but under
// /api/. The query is kept as given.
func checkAPIPath(p string) error {
	for _, r := range p {
		switch {
		case unicode.IsControl(r):
			return errors.New("it has a control character")
		case r == '\\':
			return errors.New("it has a backslash")
		case r == '#':
			return errors.New("it has a fragment (#)")
		}
	}
	path, _, _ := strings.Cut(p, "?")
	if !strings.HasPrefix(path, "/api/") {
		return errors.New("it must start with /api/ (no scheme or host)")
	}
	if strings.Contains(path, "//") {
		return errors.New("it has an empty segment (//)")
	}
	if strings.ContainsAny(path, "; ") {
		return errors.New("it has a ; path parameter or a space")
	}
	for i := 0; i < len(path); i++ {
		if path[i] != '%' {
			continue
		}
		if i+2 >= len(path) {
			return errors.New("it has a malformed %-escape")
		}
		b, err := strconv.ParseUint(path[i+1:i+3], 16, 8)
		if err != nil {
			return errors.New("it has a malformed %-escape")
		}
		if b < 0x20 || b == 0x7f || strings.IndexByte(`./\;%?#`, byte(b)) >= 0 {
			return errors.New("it %-encodes a dot, slash, backslash, ;, %, ?, # or control character")
		}
		i += 2
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." {
			return errors.New("it has a . or .. segment")
		}
	}
	return nil
}

// quotePath quotes a refused Call path for its error: an absolute URL as
// scheme://host/path, a path without its query.
func quotePath(p string) string {
	if strings.Contains(p, "://") || strings.HasPrefix(p, "//") {
		return redactURL(p)
	}
	path, _, _ := strings.Cut(p, "?")
	return strconv.Quote(path)
}

// oktaText is text from an answer (an error summary, a code) made safe to
// put in an error or a log line: control characters become spaces and it
// is cut at 300 bytes, so a hostile answer cannot forge lines or flood logs.
func oktaText(s string) string {
	const maxLen = 300
	s = strings.ToValidUTF8(s, "?")
	if len(s) > maxLen {
		cut := maxLen
		for !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// hasControl reports whether s has a control character.
func hasControl(s string) bool {
	return strings.IndexFunc(s, unicode.IsControl) >= 0
}

// redactedError is an error whose text had secrets removed; errors.Is and
// errors.As still see the original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// minSecretLen is the shortest secret scrubbed from error text: shorter
// ones (test tokens such as "x") would garble every message.
const minSecretLen = 8

// scrub removes secrets from err's text: a hostile or careless org may
// echo a token, an assertion or a proof back in an error summary or a
// Location.
func scrub(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	// An *APIError's fields are read by callers too, not only its text.
	var api *APIError
	if errors.As(err, &api) {
		api.Code, api.Summary = scrubText(api.Code, secrets), scrubText(api.Summary, secrets)
	}
	msg := err.Error()
	if out := scrubText(msg, secrets); out != msg {
		return &redactedError{msg: out, err: err}
	}
	return err
}

// scrubText is s with each secret (of minSecretLen or more) replaced.
func scrubText(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= minSecretLen {
			s = strings.ReplaceAll(s, secret, "<redacted>")
		}
	}
	return s
}

package main

// The edge of the okta commands: what their HTTP clients may follow, which
// URLs they send the hook secret to, and how they print what Okta or an
// endpoint said.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// errRedirect means a server answered with a redirect, which a client that
// holds a credential or the hook secret never follows: Go's default policy
// would send the credential on to another port, host or scheme.
var errRedirect = errors.New("refused to follow a redirect")

// refuseRedirects turns a 3xx answer with a Location into errRedirect,
// naming the Location's host only (never its path or query), before Go's
// redirect machinery sees it.
type refuseRedirects struct{ next http.RoundTripper }

func (t refuseRedirects) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || !isRedirect(resp) {
		return resp, err
	}
	resp.Body.Close()
	return nil, fmt.Errorf("%w to %s (%d): hookline sends credentials and the hook secret only to the URL it was given", errRedirect, locationHost(req.URL, resp.Header.Get("Location")), resp.StatusCode)
}

func isRedirect(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return resp.Header.Get("Location") != ""
	}
	return false
}

// locationHost names where a Location points: its host, escaped for the
// terminal, or what it is when it has none.
func locationHost(base *url.URL, loc string) string {
	u, err := base.Parse(loc)
	switch {
	case err != nil:
		return "an unparsable Location"
	case u.Host == "":
		return "a Location without a host"
	}
	return "host " + termSafe(u.Host)
}

// noRedirects is the HTTP client of every request that carries an Okta
// credential or the hook secret: a redirect is an error (errRedirect).
func noRedirects(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: refuseRedirects{http.DefaultTransport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// sameHostRedirects is the client of a request that carries no credential
// but whose answer is trusted (Okta's IP ranges become AllowedSourceCidrs):
// it follows at most 3 redirects, each to https on the same host, so that
// no other host can choose the answer.
func sameHostRedirects(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		switch {
		case req.URL.Scheme != "https" || req.URL.Host != via[0].URL.Host:
			return fmt.Errorf("%w to %s: only redirects within https://%s are followed", errRedirect, locationHost(via[0].URL, req.URL.String()), termSafe(via[0].URL.Host))
		case len(via) >= 3:
			return fmt.Errorf("%w: more than 3 redirects", errRedirect)
		}
		return nil
	}}
}

// redactURL is raw with its userinfo, query and fragment shown as
// <redacted>, for messages and listings: they may hold credentials (a
// function key in a query, say).
func redactURL(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	s := u.Scheme + "://"
	if u.User != nil {
		s += "<redacted>@"
	}
	s += u.Host + u.EscapedPath()
	if u.RawQuery != "" || u.ForceQuery {
		s += "?<redacted>"
	}
	if u.Fragment != "" {
		s += "#<redacted>"
	}
	return termSafe(s)
}

// httpCause is err without the *url.Error wrapper, which quotes the full
// request URL (query included).
func httpCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// hookURL checks a URL hookline sends the hook secret to: https, or http
// on a loopback host (localhost, *.localhost, 127.0.0.0/8, ::1) as the org
// URL may be, and no userinfo. The error never quotes the URL's userinfo
// or query.
func hookURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	switch {
	case err != nil || u.Host == "":
		return fmt.Errorf("%s is not a URL", redactURL(raw))
	case u.User != nil:
		return fmt.Errorf("%s carries userinfo: give the endpoint URL alone", redactURL(raw))
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return fmt.Errorf("%s must use https (http only on a loopback address): the hook secret would travel in clear text", redactURL(raw))
}

func isLoopbackHost(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true // resolved to 127.0.0.1 (RFC 6761), as standin.Endpoint dials it
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// termSafe is s as it may reach a terminal: unchanged when every rune is
// printable (ASCII space included), else quoted as strconv.Quote does, so
// that control characters, escape sequences, newlines, carriage returns
// and bidi overrides are shown escaped, never interpreted. A string that
// starts with a double quote is quoted too, so the two never look alike.
func termSafe(s string) string {
	if strings.HasPrefix(s, `"`) || !printable(s) {
		return strconv.Quote(s)
	}
	return s
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r != ' ' && !strconv.IsPrint(r) {
			return false
		}
	}
	return true
}

func termSafeAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = termSafe(s)
	}
	return out
}

// escapeText escapes, in a message of several lines, each rune that is not
// printable except the newlines and tabs the message itself uses.
func escapeText(s string) string {
	if printable(strings.NewReplacer("\n", "", "\t", "").Replace(s)) {
		return s
	}
	var b strings.Builder
	for i, w := 0, 0; i < len(s); i += w {
		r, size := utf8.DecodeRuneInString(s[i:])
		w = size
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || r == '\t' || r == ' ' || strconv.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// safeError is an error as the okta commands print it: the credentials the
// command read are replaced (a last line of defence: messages are written
// not to quote them) and the text is escaped for the terminal. It wraps
// the original, so exit codes and sentinels still work.
type safeError struct {
	err     error
	secrets []string
}

func (e *safeError) Error() string {
	s := e.err.Error()
	for _, v := range e.secrets {
		s = strings.ReplaceAll(s, v, "<redacted>")
	}
	return escapeText(s)
}

func (e *safeError) Unwrap() error { return e.err }

// secretSet collects the credentials a command reads, so that its error
// can be cleaned of them.
type secretSet struct {
	mu     sync.Mutex
	values []string
}

type secretsKey struct{}

func withSecretSet(ctx context.Context) (context.Context, *secretSet) {
	s := &secretSet{}
	return context.WithValue(ctx, secretsKey{}, s), s
}

// noteSecrets records credential values read by the command in ctx. Values
// shorter than 6 characters are not recorded: replacing them would garble
// messages and they guard little.
func noteSecrets(ctx context.Context, values ...string) {
	s, _ := ctx.Value(secretsKey{}).(*secretSet)
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, v := range values {
		for _, part := range strings.Split(v, "\n") { // a PEM key line by line too
			if part = strings.TrimSpace(part); len(part) >= 6 && !strings.HasPrefix(part, "-----") {
				s.values = append(s.values, part)
			}
		}
		if v = strings.TrimSpace(v); len(v) >= 6 {
			s.values = append(s.values, v)
		}
	}
}

// noteOrgURL records the parts of an org URL that may hold credentials:
// its userinfo, query and fragment.
func noteOrgURL(ctx context.Context, raw string) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		noteSecrets(ctx, raw) // unparsable: the whole of it
		return
	}
	if u.User != nil {
		p, _ := u.User.Password()
		noteSecrets(ctx, u.User.String(), u.User.Username(), p)
	}
	noteSecrets(ctx, u.RawQuery, u.Fragment)
	for _, vs := range u.Query() {
		noteSecrets(ctx, vs...)
	}
}

func (s *secretSet) wrap(err error) error {
	if err == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Longest first, so that a value is replaced before a part of it.
	vs := append([]string(nil), s.values...)
	for i := range vs {
		for j := i + 1; j < len(vs); j++ {
			if len(vs[j]) > len(vs[i]) {
				vs[i], vs[j] = vs[j], vs[i]
			}
		}
	}
	return &safeError{err: err, secrets: vs}
}

// quoted is s in double quotes, escaped for the terminal (strconv.Quote:
// %q of a name Okta returned).
func quoted(s string) string { return strconv.Quote(s) }

package oktaapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Call sends one request to the org's management API, for handlers that
// act on Okta, and decodes a JSON answer into out (unless out is nil or the
// answer is empty). path is the API path with any query, such as
// "/api/v1/users/00u1/sessions"; it must be a clean path under /api/ (no
// . or .. segment, //, ;, backslash, control character, or %-encoded dot,
// slash or backslash: see checkAPIPath), so the credentials never go
// anywhere but this org's API, even through a server that normalises
// paths. A refused path is an ErrPath and nothing is sent. in, when not nil, is
// sent as JSON. Rate limits are waited out as for Logs (within ctx's
// deadline) and a refused cached access token is renewed once. A refusal
// wraps ErrUnauthorized, ErrForbidden (naming the scope: a service app asks
// for its credentials' scopes) or ErrNotFound; anything else not 2xx is an
// *APIError. IsPermanent tells which are worth retrying.
func (c *Client) Call(ctx context.Context, method, path string, in, out any) error {
	if why := checkAPIPath(path); why != nil {
		return fmt.Errorf("%w: %s is not an /api/ path of the org: %v; nothing was sent", ErrPath, quotePath(path), why)
	}
	u, err := url.Parse(c.org.String() + path)
	if err != nil || u.Scheme != c.org.Scheme || u.Host != c.org.Host || !strings.HasPrefix(u.EscapedPath(), "/api/") {
		return fmt.Errorf("%w: %s is not an /api/ path of the org; nothing was sent", ErrPath, quotePath(path))
	}
	var body []byte
	if in != nil {
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("okta: %s %s: encode the request: %w", method, u.Path, err)
		}
	}
	op := operation{scope: c.scopeInUse(), what: method + " " + u.Path, role: "an admin role allowed to do that"}
	_, answer, err := c.roundTrip(ctx, method, c.org.String()+path, body, op)
	if err != nil {
		return err
	}
	if out == nil || len(bytes.TrimSpace(answer)) == 0 {
		return nil
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("okta: %s %s: decode the answer: %w", method, u.Path, err)
	}
	return nil
}

// IsPermanent reports whether a Call error will come back the same on a
// retry: what Okta refused (403, a 404 of the resource, a 4xx *APIError
// such as a validation error) and a Call path refused as ErrPath. A 401 is
// not: the credentials secret may be fixed meanwhile; nor are 5xx answers,
// a rate limit past the deadline or Okta being unreachable.
func IsPermanent(err error) bool {
	var api *APIError
	switch {
	case errors.As(err, &api):
		return api.Status >= 400 && api.Status < 500 && api.Status != http.StatusTooManyRequests
	case errors.Is(err, ErrForbidden), errors.Is(err, ErrNotFound), errors.Is(err, ErrPath):
		return true
	}
	return false
}

// scopesOf is the scope parameter a service app asks for by default: the
// credentials' scopes, or LogsScope.
func scopesOf(creds Credentials) string {
	if s := strings.Join(strings.Fields(creds.Scopes), " "); s != "" {
		return s
	}
	return LogsScope
}

package oktaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/hookline/hookline/internal/okta"
)

// MaxPageBytes bounds one answer of Okta's API, a System Log page above
// all. Reading a page costs a few times its size in heap (the body, each
// event's copy, the parse); the bound keeps that well under half of the
// reconciler's memory (TestThePageBoundFitsTheReconcilersMemory checks it
// against template.yaml's MemorySize). Okta's events are a few KB, so a
// page of DefaultLimit events is far below it.
const MaxPageBytes = 16 << 20

// maxPageBytes is what send reads of any body: one byte over MaxPageBytes,
// so a page that was cut short is told from one that fits.
const maxPageBytes = MaxPageBytes + 1

// oktaDefaultLimit is the page size Okta uses for a page URL without limit.
const oktaDefaultLimit = 100

// ErrPageTooLarge means the System Log answered more than MaxPageBytes even
// for a page of one event: no System Log event is that large.
var ErrPageTooLarge = errors.New("okta: System Log page too large")

// Logs reads one page of the System Log from pageURL (LogsURL, or a
// previous page's Next, checked with CheckPageURL). It waits out rate limits
// within ctx's deadline.
//
// A page over MaxPageBytes is not parsed: it is asked for again with a
// quarter of its limit, down to one event, so a run of large events is
// read in smaller pages instead of stopping every read at the same place.
// The Page then holds the events of the smaller page, its URL is still
// pageURL, and its Next asks for pageURL's limit again. Only when one event
// alone is over the bound does Logs fail, with ErrPageTooLarge.
func (c *Client) Logs(ctx context.Context, pageURL string) (Page, error) {
	if err := c.CheckPageURL(pageURL); err != nil {
		// Never send the credentials anywhere but the org.
		return Page{}, err
	}
	asked := limitOf(pageURL)
	target, limit := pageURL, asked
	for {
		resp, body, err := c.roundTrip(ctx, http.MethodGet, target, nil, logsOp)
		if err != nil {
			return Page{}, err
		}
		if len(body) <= MaxPageBytes {
			p, err := c.page(pageURL, limit, resp, body)
			if err == nil && limit != asked {
				p.Limit = limit
				if c.CheckPageURL(p.Next) == nil {
					p.Next = withLimit(p.Next, asked)
				}
			}
			return p, err
		}
		if limit <= 1 {
			return Page{}, fmt.Errorf("%w: GET /api/v1/logs answered more than %d MiB for a page of one event; no System Log event is that large: is orgUrl your Okta org, with nothing in between that changes its answers? Nothing past this page is read until it is smaller",
				ErrPageTooLarge, MaxPageBytes>>20)
		}
		limit = max(limit/4, 1)
		target = withLimit(pageURL, limit)
	}
}

// CheckPageURL refuses a System Log page URL that is not this org's: it
// must have the org's scheme and host, the path /api/v1/logs, and no
// userinfo or fragment. Every page URL is checked before it is requested,
// and a next link before it is saved as a cursor: the credentials go only
// to the org. The error names the URL's host, never its query or userinfo.
func (c *Client) CheckPageURL(pageURL string) error {
	u, err := url.Parse(pageURL)
	if err != nil {
		return fmt.Errorf("%w: a System Log page URL that does not parse", ErrOrgURL)
	}
	switch {
	case u.Scheme != c.org.Scheme || !strings.EqualFold(u.Host, c.org.Host) || u.Opaque != "":
		return fmt.Errorf("%w: a System Log page URL for %s://%s is not this org's", ErrOrgURL, u.Scheme, u.Host)
	case u.User != nil:
		return fmt.Errorf("%w: a System Log page URL for %s carries userinfo", ErrOrgURL, u.Host)
	case u.Fragment != "" || strings.Contains(pageURL, "#"):
		return fmt.Errorf("%w: a System Log page URL for %s carries a fragment", ErrOrgURL, u.Host)
	case u.EscapedPath() != "/api/v1/logs":
		return fmt.Errorf("%w: a System Log page URL for %s is not for /api/v1/logs", ErrOrgURL, u.Host)
	}
	return nil
}

// limitOf is the page size pageURL asks for.
func limitOf(pageURL string) int {
	u, err := url.Parse(pageURL)
	if err != nil {
		return oktaDefaultLimit
	}
	n, err := strconv.Atoi(u.Query().Get("limit"))
	if err != nil || n < 1 {
		return oktaDefaultLimit
	}
	return n
}

// withLimit is pageURL asking for limit events.
func withLimit(pageURL string, limit int) string {
	u, err := url.Parse(pageURL)
	if err != nil {
		return pageURL
	}
	q := u.Query()
	q.Set("limit", strconv.Itoa(limit))
	u.RawQuery = q.Encode()
	return u.String()
}

// page reads a System Log answer: a JSON array of at most limit events
// (and at most DefaultLimit, Okta's maximum), as Okta never returns more.
// The events' Raw are slices of body, not copies, so a page costs its body
// and little more; a hostile answer of millions of tiny elements is refused
// before any of them is parsed.
func (c *Client) page(pageURL string, limit int, resp *http.Response, body []byte) (Page, error) {
	limit = min(limit, DefaultLimit)
	raws, err := arrayElements(body, limit)
	if errors.Is(err, errTooMany) {
		return Page{}, fmt.Errorf("%w: GET /api/v1/logs answered more than the %d events it was asked for: is orgUrl your Okta org?", ErrOrgURL, limit)
	}
	if err != nil {
		// The answer's own words (its Content-Type included) are not
		// quoted: a hostile org could echo a credential into them.
		kind := "not JSON"
		if mt, _, perr := mime.ParseMediaType(resp.Header.Get("Content-Type")); perr == nil && mt == "application/json" {
			kind = "JSON"
		}
		return Page{}, fmt.Errorf("%w: GET /api/v1/logs answered 200 with no JSON array (content type %s): is orgUrl your Okta org?",
			ErrOrgURL, kind)
	}
	p := Page{URL: pageURL, Events: make([]okta.Event, len(raws))}
	for i, raw := range raws {
		p.Events[i] = okta.ParseEvent(raw)
	}
	p.Next = nextLink(resp.Header.Values("Link"))
	return p, nil
}

var errTooMany = errors.New("too many elements")

// arrayElements returns the elements of the JSON array b, each exactly as
// written (a slice of b whose capacity ends with it, so an append to one
// cannot overwrite the next), or errTooMany past max of them.
func arrayElements(b []byte, max int) ([]json.RawMessage, error) {
	if !json.Valid(b) {
		return nil, errors.New("not JSON")
	}
	i := skipSpace(b, 0)
	if b[i] != '[' {
		return nil, errors.New("not an array")
	}
	var out []json.RawMessage
	for i = skipSpace(b, i+1); b[i] != ']'; {
		if len(out) == max {
			return nil, errTooMany
		}
		end := valueEnd(b, i)
		out = append(out, json.RawMessage(b[i:end:end]))
		if i = skipSpace(b, end); b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	return out, nil
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// valueEnd returns the index just past the JSON value at b[i]; b is valid
// JSON.
func valueEnd(b []byte, i int) int {
	depth := 0
	for j := i; j < len(b); j++ {
		switch b[j] {
		case '"':
			for j++; b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			if depth == 0 {
				return j + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return j // the end of a scalar inside the array
			}
			if depth--; depth == 0 {
				return j + 1
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return j
			}
		}
	}
	return len(b)
}

// nextLink finds rel="next" in Link headers (one per link, or comma-joined).
func nextLink(headers []string) string {
	for _, h := range headers {
		for _, part := range strings.Split(h, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(part), ";")
			if !ok {
				continue
			}
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
					return strings.Trim(strings.TrimSpace(target), "<>")
				}
			}
		}
	}
	return ""
}

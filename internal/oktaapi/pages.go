package oktaapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hookline/hookline/internal/okta"
)

const maxPageBytes = 64 << 20

// Logs reads one page of the System Log from pageURL (LogsURL, or a
// previous page's Next). It waits out rate limits within ctx's deadline.
func (c *Client) Logs(ctx context.Context, pageURL string) (Page, error) {
	u, err := url.Parse(pageURL)
	if err != nil || u.Scheme != c.org.Scheme || u.Host != c.org.Host || u.Path != "/api/v1/logs" {
		// Never send the credentials anywhere but the org.
		return Page{}, fmt.Errorf("%w: page URL %q is not this org's /api/v1/logs", ErrOrgURL, pageURL)
	}
	resp, body, err := c.roundTrip(ctx, http.MethodGet, pageURL, nil, logsOp)
	if err != nil {
		return Page{}, err
	}
	return c.page(pageURL, resp, body)
}

func (c *Client) page(pageURL string, resp *http.Response, body []byte) (Page, error) {
	// json.RawMessage keeps each element's bytes exactly as Okta sent them.
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return Page{}, fmt.Errorf("%w: GET /api/v1/logs answered 200 with no JSON array (content type %q): is orgUrl your Okta org?",
			ErrOrgURL, resp.Header.Get("Content-Type"))
	}
	p := Page{URL: pageURL, Events: make([]okta.Event, len(raws))}
	for i, raw := range raws {
		p.Events[i] = okta.ParseEvent(raw)
	}
	p.Next = nextLink(resp.Header.Values("Link"))
	return p, nil
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

package standin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Endpoint is a hook endpoint as Okta calls it: the one-time verification
// GET and the event hook deliveries, with the hook's auth header and
// headers. It is the only client in hookline that acts as Okta towards a
// hook: `hookline send`, `hookline okta preview` and `register`, the
// stand-in org's own hooks (Org.Deliver, the verification of a hook) and the
// tests use it.
type Endpoint struct {
	URL    string // the endpoint
	Host   string // Host header override ("" keeps the URL's)
	Secret string // the auth header's value; "" sends no auth header
	// AuthHeader names the auth header; "" means Authorization.
	AuthHeader string
	// Headers are the hook's further headers (Okta's channel.config.headers);
	// the auth header wins over one of the same name.
	Headers []Header
	// HTTP is the client; nil means a 10 s timeout and no redirect followed.
	HTTP *http.Client
}

// Answer is one answer of the endpoint.
type Answer struct {
	Status int
	Body   string // its first 64 KiB
	Sent   time.Time
	Took   time.Duration
}

func (c *Endpoint) do(ctx context.Context, method string, body []byte, hdr map[string]string) (Answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL, bytes.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	if c.Host != "" {
		req.Host = c.Host
	} else if h := req.URL.Hostname(); strings.HasSuffix(h, ".localhost") {
		// curl resolves *.localhost to loopback, Go's resolver does not:
		// dial loopback and keep the name as the Host kumo routes by.
		req.Host = req.URL.Host
		req.URL.Host = "127.0.0.1:" + req.URL.Port()
	}
	for _, h := range c.Headers {
		req.Header.Set(h.Key, h.Value)
	}
	if c.Secret != "" {
		name := c.AuthHeader
		if name == "" {
			name = "Authorization"
		}
		req.Header.Set(name, c.Secret)
	}
	req.Header.Set("User-Agent", "Okta-Integrations")
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	hc := c.HTTP
	if hc == nil {
		// Okta follows no redirect from a hook endpoint, and the request
		// carries the hook secret: neither does this client.
		hc = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			return fmt.Errorf("refused to follow a redirect to host %s: the hook secret goes to the endpoint only", strconv.Quote(req.URL.Host))
		}}
	}
	r := Answer{Sent: time.Now()}
	resp, err := hc.Do(req)
	if err != nil {
		return r, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	r.Status, r.Body, r.Took = resp.StatusCode, string(b), time.Since(r.Sent)
	return r, nil
}

// Verify sends Okta's one-time verification GET with challenge.
func (c *Endpoint) Verify(ctx context.Context, challenge string) (Answer, error) {
	return c.do(ctx, http.MethodGet, nil, map[string]string{"x-okta-verification-challenge": challenge})
}

// Deliver POSTs one event hook delivery.
func (c *Endpoint) Deliver(ctx context.Context, body []byte) (Answer, error) {
	return c.do(ctx, http.MethodPost, body, nil)
}

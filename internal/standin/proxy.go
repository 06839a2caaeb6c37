package standin

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// Proxy stands in front of an Org the way a broken or hostile Okta answers:
// it passes every request on to the org and lets a test change the System
// Log's answers, their next link or their body. Its URL is the org URL to
// give a client; the org's own links are rewritten to it, so an unchanged
// answer is the org's.
type Proxy struct {
	URL string

	mu   sync.Mutex
	next func(n int, r *http.Request, next string) string
	body func(n int, r *http.Request, body []byte) []byte
	logs int
}

// Proxy starts a Proxy in front of o on a loopback port, closed in cleanup.
func (o *Org) Proxy(cleanup func(func())) *Proxy {
	p := &Proxy{}
	target, _ := url.Parse(o.URL)
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			req := resp.Request
			if req.Method != http.MethodGet || req.URL.Path != "/api/v1/logs" {
				return nil
			}
			p.mu.Lock()
			p.logs++
			n, next, body := p.logs, p.next, p.body
			p.mu.Unlock()
			// The request as the client sent it, to the proxy.
			in := req.Clone(req.Context())
			in.URL, _ = url.Parse(p.URL + req.URL.RequestURI())
			var links []string
			hadNext := false
			for _, l := range resp.Header.Values("Link") {
				l = strings.ReplaceAll(l, o.URL, p.URL)
				if next != nil && strings.Contains(l, `rel="next"`) {
					hadNext = true
					u, _, _ := strings.Cut(strings.TrimPrefix(l, "<"), ">")
					if u = next(n, in, u); u == "" {
						continue
					}
					l = "<" + u + `>; rel="next"`
				}
				links = append(links, l)
			}
			if next != nil && !hadNext {
				if u := next(n, in, ""); u != "" {
					links = append(links, "<"+u+`>; rel="next"`)
				}
			}
			resp.Header.Del("Link")
			for _, l := range links {
				resp.Header.Add("Link", l)
			}
			if body != nil {
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					return err
				}
				b = body(n, req, b)
				resp.Body = io.NopCloser(bytes.NewReader(b))
				resp.ContentLength = int64(len(b))
				resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
			}
			return nil
		},
	}
	srv := httptest.NewServer(rp)
	p.URL = srv.URL
	cleanup(srv.Close)
	return p
}

// SetNext makes the n-th System Log answer (1-based, counted by the proxy)
// carry next(n, request, its next link) as its next link instead; "" drops
// it, and an answer without one (the end of a bounded read) gets one when
// next(n, request, "") is not "". request's URL is the proxy's. nil
// restores the org's links.
func (p *Proxy) SetNext(next func(n int, r *http.Request, next string) string) {
	p.mu.Lock()
	p.next = next
	p.mu.Unlock()
}

// SetBody makes the n-th System Log answer carry body(n, request, its body)
// instead; nil restores the org's bodies. request is the one sent to the
// org: its context ends when the client gives up, so body may wait on it
// to stand in for an org that does not answer.
func (p *Proxy) SetBody(body func(n int, r *http.Request, body []byte) []byte) {
	p.mu.Lock()
	p.body = body
	p.mu.Unlock()
}

// LogsRequests counts the System Log requests that passed the proxy.
func (p *Proxy) LogsRequests() int { p.mu.Lock(); defer p.mu.Unlock(); return p.logs }

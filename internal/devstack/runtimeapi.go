package devstack

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
)

// serveRuntimeAPI serves a Lambda Runtime API on 127.0.0.1 that forwards
// everything to kumo's, so the function processes poll it instead of kumo.
// It exists to make the events a function receives look as they do on AWS:
// kumo's API Gateway puts host:port in requestContext.http.sourceIp, where
// API Gateway puts the bare address. The functions' own code stays free of
// emulator quirks.
func serveRuntimeAPI(kumoEndpoint string, log *slog.Logger) (*http.Server, int, error) {
	target, err := url.Parse(kumoEndpoint)
	if err != nil {
		return nil, 0, err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) { r.SetURL(target) },
		// A stopped process abandons its long poll: nothing to report.
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode != http.StatusOK || !strings.HasSuffix(resp.Request.URL.Path, "/runtime/invocation/next") {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			body = normalizeEvent(body)
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		},
	}
	return serveLocal(0, proxy, "runtime API proxy", log)
}

// normalizeEvent returns an invocation event as AWS would deliver it: in
// an API Gateway payload 2.0 event, a requestContext.http.sourceIp of the
// form host:port becomes the bare host. Any other event is returned as is.
func normalizeEvent(event []byte) []byte {
	var ev map[string]json.RawMessage
	if json.Unmarshal(event, &ev) != nil || string(ev["version"]) != `"2.0"` {
		return event
	}
	var rc map[string]json.RawMessage
	if json.Unmarshal(ev["requestContext"], &rc) != nil {
		return event
	}
	var h map[string]json.RawMessage
	if json.Unmarshal(rc["http"], &h) != nil {
		return event
	}
	var ip string
	if json.Unmarshal(h["sourceIp"], &ip) != nil {
		return event
	}
	host, _, err := net.SplitHostPort(ip)
	if err != nil || net.ParseIP(host) == nil {
		return event // already bare, or not an address: leave it to the function
	}
	h["sourceIp"] = marshal(host)
	rc["http"] = marshal(h)
	ev["requestContext"] = marshal(rc)
	return marshal(ev)
}

// marshal is json.Marshal without HTML escaping, which would rewrite the
// untouched parts of the event (json.Marshal cannot fail on these values).
func marshal(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

package devstack

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"
)

// servePublic forwards every request on 127.0.0.1:port to the HTTP API.
// kumo routes API Gateway traffic by the Host header
// (<apiId>.execute-api.localhost:<port>), which a tunnel would otherwise
// have to rewrite.
func servePublic(port int, kumoEndpoint, apiHost string, log *slog.Logger) (*http.Server, error) {
	target, err := url.Parse(kumoEndpoint)
	if err != nil {
		return nil, err
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.Out.Host = apiHost
			r.SetXForwarded()
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("public proxy stopped", "error", err.Error())
		}
	}()
	return srv, nil
}

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
	srv, _, err := serveLocal(port, proxy, "public proxy", log)
	return srv, err
}

// serveLocal serves h on 127.0.0.1:port (0 picks a free port) until the
// server is closed, and returns the port.
func serveLocal(port int, h http.Handler, what string, log *slog.Logger) (*http.Server, int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return nil, 0, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(what+" stopped", "error", err.Error())
		}
	}()
	return srv, l.Addr().(*net.TCPAddr).Port, nil
}

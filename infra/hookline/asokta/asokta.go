// Package asokta acts as Okta towards a hook endpoint, for the hookline CLI
// (`hookline send`) and the dev stack benchmark: the verification GET, event
// hook deliveries, generated System Log events, and deliveries read from the
// files in events/.
package asokta

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client acts as Okta towards a hook endpoint.
type Client struct {
	URL    string // the endpoint
	Host   string // Host header override ("" keeps the URL's)
	Secret string // the auth header's value
	Header string // the auth header the receiver reads (its AUTH_HEADER); "" is Authorization
	HTTP   *http.Client
}

// Response is one answer of the endpoint.
type Response struct {
	Status int
	Body   string
	Sent   time.Time
	Took   time.Duration
}

func (c *Client) do(ctx context.Context, method string, body []byte, hdr map[string]string) (Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.URL, bytes.NewReader(body))
	if err != nil {
		return Response{}, err
	}
	if c.Host != "" {
		req.Host = c.Host
	} else if h := req.URL.Hostname(); strings.HasSuffix(h, ".localhost") {
		// curl resolves *.localhost to loopback, Go's resolver does not:
		// dial loopback and keep the name as the Host kumo routes by.
		req.Host = req.URL.Host
		req.URL.Host = "127.0.0.1:" + req.URL.Port()
	}
	req.Header.Set(cmp.Or(c.Header, "Authorization"), c.Secret)
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
	r := Response{Sent: time.Now()}
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
func (c *Client) Verify(ctx context.Context, challenge string) (Response, error) {
	return c.do(ctx, http.MethodGet, nil, map[string]string{"x-okta-verification-challenge": challenge})
}

// Deliver POSTs one event hook delivery.
func (c *Client) Deliver(ctx context.Context, body []byte) (Response, error) {
	return c.do(ctx, http.MethodPost, body, nil)
}

// Delivery builds an Okta event hook delivery of events (raw LogEvents).
func Delivery(events []json.RawMessage) []byte {
	d := map[string]any{
		"eventType":          "com.okta.event_hook",
		"eventTypeVersion":   "1.0",
		"cloudEventsVersion": "0.1",
		"source":             "https://dev-00000000.okta.com/api/v1/eventHooks/hookline-dev",
		"eventId":            NewUUID(),
		"eventTime":          time.Now().UTC().Format(time.RFC3339Nano),
		"contentType":        "application/json",
		"data":               map[string]any{"events": events},
	}
	b, _ := json.Marshal(d) // plain maps always marshal
	return b
}

// NewLogEvent generates an Okta System Log event of eventType with a fresh uuid.
func NewLogEvent(eventType string) (uuid string, raw json.RawMessage) {
	uuid = NewUUID()
	ev := map[string]any{
		"uuid":           uuid,
		"published":      time.Now().UTC().Format(time.RFC3339Nano),
		"eventType":      eventType,
		"version":        "0",
		"severity":       "INFO",
		"displayMessage": "hookline send: " + eventType,
		"actor":          map[string]any{"id": "00u1hooklinedev", "type": "User", "alternateId": "dev@example.com", "displayName": "Dev User"},
		"outcome":        map[string]any{"result": "SUCCESS"},
		"target":         []any{map[string]any{"id": "00u2hooklinedev", "type": "User", "alternateId": "target@example.com", "displayName": "Target User"}},
		"client":         map[string]any{"ipAddress": "198.51.100.23", "userAgent": map[string]any{"rawUserAgent": "hookline-send"}},
		"transaction":    map[string]any{"id": NewUUID(), "type": "WEB"},
	}
	b, _ := json.Marshal(ev)
	return uuid, b
}

// ErrNotDelivery marks a file that holds no delivery.
var ErrNotDelivery = errors.New("not an Okta event hook delivery")

// DeliveryFromFile reads a delivery body from a file holding either an API
// Gateway (payload 2.0) POST event, whose body is taken (base64-decoded if
// need be), or a raw Okta delivery. Anything else (a verification GET, the
// worker's SQS event) is an error wrapping ErrNotDelivery that says what the
// file is instead.
func DeliveryFromFile(data []byte) ([]byte, error) {
	var probe struct {
		Version         string  `json:"version"`
		RouteKey        string  `json:"routeKey"`
		Body            *string `json:"body"`
		IsBase64Encoded bool    `json:"isBase64Encoded"`
		EventType       string  `json:"eventType"`
		Records         []any   `json:"Records"`
	}
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotDelivery, err)
	}
	switch {
	case probe.EventType != "":
		return data, nil
	case probe.RouteKey != "" || probe.Version != "":
		if probe.Body == nil || !strings.HasPrefix(probe.RouteKey, "POST") {
			return nil, fmt.Errorf("%w: an API Gateway %q event without a body", ErrNotDelivery, probe.RouteKey)
		}
		if probe.IsBase64Encoded {
			b, err := base64.StdEncoding.DecodeString(*probe.Body)
			if err != nil {
				return nil, fmt.Errorf("%w: body is not base64: %v", ErrNotDelivery, err)
			}
			return b, nil
		}
		return []byte(*probe.Body), nil
	case probe.Records != nil:
		return nil, fmt.Errorf("%w: an SQS event (the worker's input)", ErrNotDelivery)
	}
	return nil, fmt.Errorf("%w: neither an API Gateway event nor an Okta delivery", ErrNotDelivery)
}

// NewUUID returns a random (version 4) UUID.
func NewUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

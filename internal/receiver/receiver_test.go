package receiver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/auth/authtest"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/queue/queuetest"
)

const secret = "hookline-test-secret-0123456789abcdef"

func delivery(n int, eventType string) string {
	evs := make([]string, n)
	for i := range evs {
		evs[i] = fmt.Sprintf(`{"uuid":"uuid-%d","published":"2024-01-01T00:00:%02d.000Z","eventType":%q,"displayMessage":"event <%d>","actor":{"alternateId":"a@example.com"},"outcome":{"result":"SUCCESS"}}`, i, 59-i%60, eventType, i)
	}
	return `{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","source":"https://example.okta.com/api/v1/eventHooks/who1","eventId":"delivery-1","eventTime":"2024-01-01T00:01:00.000Z","contentType":"application/json","data":{"events":[` + strings.Join(evs, ",") + `]}}`
}

func request(method string, headers map[string]string, body string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{
		Version:  "2.0",
		RouteKey: method + " /okta/events",
		RawPath:  "/okta/events",
		Headers:  headers,
		Body:     body,
	}
	req.RequestContext.RequestID = "req-1"
	req.RequestContext.HTTP.Method = method
	req.RequestContext.HTTP.SourceIP = "203.0.113.7"
	return req
}

func authed(extra map[string]string) map[string]string {
	h := map[string]string{"authorization": secret, "content-type": "application/json"}
	for k, v := range extra {
		if v == "" {
			delete(h, k)
			continue
		}
		h[k] = v
	}
	return h
}

type fixture struct {
	h     *Handler
	mem   *queuetest.Memory
	store *authtest.Static
	logs  *bytes.Buffer
}

func newFixture(cfg Config) *fixture {
	f := &fixture{mem: &queuetest.Memory{}, store: authtest.NewStatic(secret, "old-secret-still-valid-0123456789"), logs: &bytes.Buffer{}}
	pub := &queue.Publisher{Sender: f.mem, Budget: 100 * time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}
	log := slog.New(slog.NewJSONHandler(f.logs, nil))
	f.h = New(cfg, auth.NewVerifier(f.store, auth.Settings{TTL: time.Minute}), pub, log)
	return f
}

func TestHandle(t *testing.T) {
	big := strings.Repeat(" ", 2048) + delivery(1, "user.lifecycle.create")
	tests := []struct {
		name         string
		cfg          Config
		req          events.APIGatewayV2HTTPRequest
		setup        func(*fixture)
		wantStatus   int
		wantEnqueued int
		wantBody     string
	}{
		{name: "verification", req: request("GET", authed(map[string]string{ChallengeHeader: "abc\"<x>"}), ""), wantStatus: 200, wantBody: `{"verification":"abc\"\u003cx\u003e"}`},
		{name: "verification with mixed-case headers", req: request("GET", map[string]string{"Authorization": secret, "X-Okta-Verification-Challenge": "c1"}, ""), wantStatus: 200, wantBody: `{"verification":"c1"}`},
		{name: "verification with previous secret", req: request("GET", map[string]string{"authorization": "old-secret-still-valid-0123456789", ChallengeHeader: "c"}, ""), wantStatus: 200},
		{name: "verification without auth", req: request("GET", map[string]string{ChallengeHeader: "c"}, ""), wantStatus: 401},
		{name: "verification wrong auth", req: request("GET", map[string]string{"authorization": "nope", ChallengeHeader: "c"}, ""), wantStatus: 401},
		{name: "verification missing challenge", req: request("GET", authed(nil), ""), wantStatus: 400},
		{name: "verification challenge too long", req: request("GET", authed(map[string]string{ChallengeHeader: strings.Repeat("a", 1025)}), ""), wantStatus: 400},
		{name: "verification challenge at limit", req: request("GET", authed(map[string]string{ChallengeHeader: strings.Repeat("a", 1024)}), ""), wantStatus: 200},
		{name: "delivery", req: request("POST", authed(nil), delivery(3, "user.lifecycle.create")), wantStatus: 200, wantEnqueued: 3},
		{name: "delivery of 25 events", req: request("POST", authed(nil), delivery(25, "user.lifecycle.create")), wantStatus: 200, wantEnqueued: 25},
		{name: "delivery base64", req: func() events.APIGatewayV2HTTPRequest {
			r := request("POST", authed(nil), base64.StdEncoding.EncodeToString([]byte(delivery(2, "x"))))
			r.IsBase64Encoded = true
			return r
		}(), wantStatus: 200, wantEnqueued: 2},
		{name: "bad base64", req: func() events.APIGatewayV2HTTPRequest {
			r := request("POST", authed(nil), "%%%")
			r.IsBase64Encoded = true
			return r
		}(), wantStatus: 400},
		{name: "custom auth header", cfg: Config{AuthHeader: "X-Hook-Key"}, req: request("POST", authed(map[string]string{"authorization": "", "x-hook-key": secret}), delivery(1, "x")), wantStatus: 200, wantEnqueued: 1},
		{name: "custom auth header ignores authorization", cfg: Config{AuthHeader: "X-Hook-Key"}, req: request("POST", authed(nil), delivery(1, "x")), wantStatus: 401},
		{name: "delivery without auth", req: request("POST", authed(map[string]string{"authorization": ""}), delivery(1, "x")), wantStatus: 401},
		{name: "delivery wrong auth", req: request("POST", authed(map[string]string{"authorization": "Bearer " + secret}), delivery(1, "x")), wantStatus: 401},
		{name: "body too large", cfg: Config{MaxBodyBytes: 1024}, req: request("POST", authed(nil), big), wantStatus: 413},
		{name: "base64 body too large", cfg: Config{MaxBodyBytes: 1024}, req: func() events.APIGatewayV2HTTPRequest {
			r := request("POST", authed(nil), base64.StdEncoding.EncodeToString([]byte(big)))
			r.IsBase64Encoded = true
			return r
		}(), wantStatus: 413},
		{name: "not json media type", req: request("POST", authed(map[string]string{"content-type": "text/plain"}), delivery(1, "x")), wantStatus: 415},
		{name: "json with charset", req: request("POST", authed(map[string]string{"content-type": "application/json; charset=utf-8"}), delivery(1, "x")), wantStatus: 200, wantEnqueued: 1},
		{name: "no content type", req: request("POST", authed(map[string]string{"content-type": ""}), delivery(1, "x")), wantStatus: 200, wantEnqueued: 1},
		{name: "malformed json", req: request("POST", authed(nil), `{"eventType":`), wantStatus: 400},
		{name: "not an event hook", req: request("POST", authed(nil), `{"eventType":"com.example","data":{"events":[]}}`), wantStatus: 400},
		{name: "events not array", req: request("POST", authed(nil), `{"eventType":"com.okta.event_hook","data":{"events":{}}}`), wantStatus: 400},
		{name: "empty events", req: request("POST", authed(nil), `{"eventType":"com.okta.event_hook","data":{"events":[]}}`), wantStatus: 200},
		{name: "duplicate uuids in one delivery", req: request("POST", authed(nil), `{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"a"},{"uuid":"a"},{"uuid":"b"}]}}`), wantStatus: 200, wantEnqueued: 2},
		{name: "source allowed", cfg: Config{AllowedCIDRs: mustCIDRs("203.0.113.0/24")}, req: request("POST", authed(nil), delivery(1, "x")), wantStatus: 200, wantEnqueued: 1},
		{name: "source denied", cfg: Config{AllowedCIDRs: mustCIDRs("198.51.100.0/24, 10.0.0.1")}, req: request("POST", authed(nil), delivery(1, "x")), wantStatus: 403},
		{name: "source with a port denied", cfg: Config{AllowedCIDRs: mustCIDRs("127.0.0.0/8")}, req: func() events.APIGatewayV2HTTPRequest {
			r := request("POST", authed(nil), delivery(1, "x"))
			r.RequestContext.HTTP.SourceIP = "127.0.0.1:40668" // API Gateway sends a bare address
			return r
		}(), wantStatus: 403},
		{name: "source unparsable denied", cfg: Config{AllowedCIDRs: mustCIDRs("0.0.0.0/0")}, req: func() events.APIGatewayV2HTTPRequest {
			r := request("POST", authed(nil), delivery(1, "x"))
			r.RequestContext.HTTP.SourceIP = "not-an-ip"
			return r
		}(), wantStatus: 403},
		{name: "ipv4-mapped source allowed", cfg: Config{AllowedCIDRs: mustCIDRs("203.0.113.0/24")}, req: func() events.APIGatewayV2HTTPRequest {
			r := request("POST", authed(nil), delivery(1, "x"))
			r.RequestContext.HTTP.SourceIP = "::ffff:203.0.113.9"
			return r
		}(), wantStatus: 200, wantEnqueued: 1},
		{name: "auth header twice, different values", req: request("POST", map[string]string{"Authorization": secret, "authorization": "other", "content-type": "application/json"}, delivery(1, "x")), wantStatus: 401},
		{name: "auth header twice, same value", req: request("POST", map[string]string{"Authorization": secret, "authorization": secret, "content-type": "application/json"}, delivery(1, "x")), wantStatus: 200, wantEnqueued: 1},
		{name: "challenge twice, different values", req: request("GET", authed(map[string]string{ChallengeHeader: "a", "X-Okta-Verification-Challenge": "b"}), ""), wantStatus: 400},
		{name: "content type twice, different values", req: request("POST", authed(map[string]string{"Content-Type": "text/plain"}), delivery(1, "x")), wantStatus: 415},
		{name: "DATA is not data", req: request("POST", authed(nil), `{"eventType":"com.okta.event_hook","DATA":{"events":[{"uuid":"a"}]}}`), wantStatus: 400},
		{name: "data key twice", req: request("POST", authed(nil), `{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"a"}]},"data":{"events":[]}}`), wantStatus: 400},
		{name: "eventID spelling", req: request("POST", authed(nil), `{"eventType":"com.okta.event_hook","eventID":"d","data":{"events":[{"uuid":"a"}]}}`), wantStatus: 200, wantEnqueued: 1},
		{name: "method not allowed", req: request("PUT", authed(nil), delivery(1, "x")), wantStatus: 405},
		{name: "secret unavailable", setup: func(f *fixture) { f.store.SetErr(errors.New("AccessDenied")) }, req: request("POST", authed(nil), delivery(1, "x")), wantStatus: 503},
		{name: "queue down", setup: func(f *fixture) { f.mem.Err = func(int) error { return errors.New("down") } }, req: request("POST", authed(nil), delivery(3, "x")), wantStatus: 503},
		{name: "one entry keeps failing", setup: func(f *fixture) {
			f.mem.Fail = func(_ int, m queue.Message) bool { return m.Attributes[envelope.AttrEventUUID] == "uuid-1" }
		}, req: request("POST", authed(nil), delivery(3, "x")), wantStatus: 503, wantEnqueued: 2},
		{name: "entry rejected as sender fault", setup: func(f *fixture) {
			f.mem.Reject = func(_ int, m queue.Message) bool { return m.Attributes[envelope.AttrEventUUID] == "uuid-1" }
		}, req: request("POST", authed(nil), delivery(3, "x")), wantStatus: 500, wantEnqueued: 2},
		{name: "transient entry failure retried", setup: func(f *fixture) {
			f.mem.Fail = func(call int, m queue.Message) bool { return call == 1 }
		}, req: request("POST", authed(nil), delivery(3, "x")), wantStatus: 200, wantEnqueued: 3},
		{name: "event too large for sqs", cfg: Config{MaxBodyBytes: 2 << 20}, req: request("POST", authed(nil), `{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"huge","pad":"`+strings.Repeat("x", 1<<20)+`"},{"uuid":"small"}]}}`), wantStatus: 500, wantEnqueued: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(tt.cfg)
			if tt.setup != nil {
				tt.setup(f)
			}
			resp, err := f.h.Handle(context.Background(), tt.req)
			if err != nil {
				t.Fatalf("handler error: %v", err)
			}
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, resp.Body)
			}
			if got := len(f.mem.Sent()); got != tt.wantEnqueued {
				t.Fatalf("enqueued %d, want %d", got, tt.wantEnqueued)
			}
			if tt.wantBody != "" && resp.Body != tt.wantBody {
				t.Fatalf("body = %s, want %s", resp.Body, tt.wantBody)
			}
			if resp.Headers["Content-Type"] != "application/json" || !json.Valid([]byte(resp.Body)) {
				t.Fatalf("response is not JSON: %v %q", resp.Headers, resp.Body)
			}
			// Nothing secret or echoed leaks into the response or the logs.
			if strings.Contains(resp.Body, secret) || strings.Contains(f.logs.String(), secret) {
				t.Fatal("secret leaked")
			}
			if tt.wantStatus >= 400 && strings.Contains(resp.Body, "uuid") {
				t.Fatalf("error body echoes the request: %s", resp.Body)
			}
			checkLogLine(t, f.logs.Bytes(), tt.wantStatus)
		})
	}
}

func checkLogLine(t *testing.T, logs []byte, status int) {
	t.Helper()
	var found bool
	for _, line := range bytes.Split(bytes.TrimSpace(logs), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["msg"] == "okta hook request" {
			if found {
				t.Fatal("more than one request log line")
			}
			found = true
			if rec["requestId"] != "req-1" || rec["status"] != float64(status) || rec["durationMs"] == nil {
				t.Fatalf("request log line incomplete: %s", line)
			}
		}
	}
	if !found {
		t.Fatalf("no request log line in %s", logs)
	}
}

func TestMessagesCarryEnvelopeAndAttributes(t *testing.T) {
	f := newFixture(Config{})
	resp, _ := f.h.Handle(context.Background(), request("POST", authed(nil), delivery(3, "user.lifecycle.create")))
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	sent := f.mem.Sent()
	var published []string
	for _, m := range sent {
		env, err := envelope.Decode(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		var ev struct {
			UUID           string `json:"uuid"`
			DisplayMessage string `json:"displayMessage"`
		}
		if err := json.Unmarshal(env.Event, &ev); err != nil {
			t.Fatal(err)
		}
		if env.DeliveryID != "delivery-1" || env.Origin == "" || env.ReceivedAt.IsZero() {
			t.Errorf("envelope %+v", env)
		}
		if !bytes.Contains(env.Event, []byte(`"displayMessage":"event <`)) {
			t.Errorf("raw event was re-encoded: %s", env.Event)
		}
		if m.Attributes[envelope.AttrEventUUID] != ev.UUID || m.Attributes[envelope.AttrEventType] != "user.lifecycle.create" {
			t.Errorf("attributes %v", m.Attributes)
		}
		published = append(published, m.Attributes[envelope.AttrPublished])
	}
	for i := 1; i < len(published); i++ {
		if published[i-1] > published[i] {
			t.Fatalf("not ordered by published: %v", published)
		}
	}
}

func TestParseCIDRs(t *testing.T) {
	if _, err := ParseCIDRs("10.0.0.0/8, nonsense"); err == nil {
		t.Fatal("want error for a bad CIDR")
	}
	got, err := ParseCIDRs(" 10.0.0.0/8 ,,2001:db8::1, 192.168.1.7/24")
	if err != nil || len(got) != 3 || got[2].String() != "192.168.1.0/24" {
		t.Fatalf("got %v, %v", got, err)
	}
}

func mustCIDRs(s string) []netip.Prefix {
	p, err := ParseCIDRs(s)
	if err != nil {
		panic(err)
	}
	return p
}

// BenchmarkDelivery10 measures a 10-event delivery through the handler into
// an in-memory queue; BenchmarkUnmarshal10 is json.Unmarshal of the same body.
func BenchmarkDelivery10(b *testing.B) {
	f := newFixture(Config{})
	f.h.log = slog.New(slog.NewJSONHandler(io.Discard, nil))
	req := request("POST", authed(nil), delivery(10, "user.lifecycle.create"))
	ctx := context.Background()
	b.SetBytes(int64(len(req.Body)))
	b.ReportAllocs()
	for b.Loop() {
		resp, _ := f.h.Handle(ctx, req)
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
		f.mem.Reset()
	}
}

func BenchmarkUnmarshal10(b *testing.B) {
	body := []byte(delivery(10, "user.lifecycle.create"))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(body, &v); err != nil {
			b.Fatal(err)
		}
	}
}

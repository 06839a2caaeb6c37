package receiver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/faultproxy"
	"github.com/hookline/hookline/internal/receiver"
)

// These tests run the real receiver bootstrap under aws-lambda-rie with the
// template's environment and 2 s timeout, against kumo, with a fault proxy
// in front of Secrets Manager and another in front of SQS. Each checks the
// promise that matters under its fault: an answer before the timeout, and
// no event unaccounted for.

// functionTimeout is the receiver's Timeout in template.yaml, which the
// stack gives rie as AWS_LAMBDA_FUNCTION_TIMEOUT.
const functionTimeout = 2 * time.Second

type rig struct {
	stack   *devstack.Stack
	sm, sqs *faultproxy.Proxy
	fn      *devstacktest.RIE
}

func startRig(t *testing.T, env ...string) *rig {
	t.Helper()
	s := devstacktest.Start(t, devstacktest.Options{})
	if f, ok := s.Spec.Function("receiver"); !ok || time.Duration(f.TimeoutSec)*time.Second != functionTimeout {
		t.Fatalf("template receiver timeout is not %v: %+v", functionTimeout, f)
	}
	kumo := strings.TrimPrefix(s.Kumo.Endpoint, "http://")
	r := &rig{stack: s}
	for _, p := range []**faultproxy.Proxy{&r.sm, &r.sqs} {
		proxy, err := faultproxy.Start(kumo)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { proxy.Close() })
		*p = proxy
	}
	env = append([]string{"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + r.sm.URL(), "AWS_ENDPOINT_URL_SQS=" + r.sqs.URL()}, env...)
	r.fn = devstacktest.StartRIE(t, s, "receiver", "", env...)
	return r
}

// post invokes the receiver with a POST carrying auth and body, and returns
// the status it answered and how long the invocation took. A timeout fails
// the test: it is the outcome every test here rules out.
func (r *rig) post(t *testing.T, auth string, body []byte) (int, time.Duration) {
	t.Helper()
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /okta/events", RawPath: "/okta/events",
		Headers: map[string]string{"authorization": auth, "content-type": "application/json"},
		Body:    string(body),
	}
	req.RequestContext.HTTP.Method = "POST"
	req.RequestContext.HTTP.SourceIP = "198.51.100.23"
	req.RequestContext.RequestID = fmt.Sprintf("req-%d", time.Now().UnixNano())
	payload, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	out, err := r.fn.Invoke(ctx, payload)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("invoke: %v", err)
	}
	var resp events.APIGatewayV2HTTPResponse
	if json.Unmarshal(out, &resp) != nil || resp.StatusCode == 0 {
		t.Fatalf("no answer after %v: %s", took, out)
	}
	if took >= functionTimeout {
		t.Fatalf("answered %d after %v, past the %v timeout", resp.StatusCode, took, functionTimeout)
	}
	return resp.StatusCode, took
}

// logLines waits until the function has written a line matching pred (an
// answer can come before its log lines), then returns every such line.
func (r *rig) logLines(t *testing.T, pred func(map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var out []map[string]any
		for _, line := range strings.Split(r.fn.Logs(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && pred(rec) {
				out = append(out, rec)
			}
		}
		if len(out) > 0 || time.Now().After(deadline) {
			return out
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func requestLine(status int, reason string) func(map[string]any) bool {
	return func(rec map[string]any) bool {
		return rec["msg"] == "okta hook request" && rec["status"] == float64(status) && (reason == "" || rec["reason"] == reason)
	}
}

// minimalDelivery is a delivery of n events holding nothing but a uuid
// (prefix-0 … prefix-(n-1)): the most events a body can carry.
func minimalDelivery(prefix string, n int) []byte {
	var b strings.Builder
	b.WriteString(`{"eventType":"com.okta.event_hook","data":{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"uuid":"%s-%d"}`, prefix, i)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// tinyDelivery is a delivery of n small events, uuids prefix-0 … prefix-(n-1).
func tinyDelivery(prefix string, n int) []byte {
	var b strings.Builder
	b.WriteString(`{"eventType":"com.okta.event_hook","eventId":"d-faults","data":{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"uuid":"%s-%d","eventType":"user.lifecycle.create","published":"2026-01-01T00:00:00Z"}`, prefix, i)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// paddedDelivery is a delivery of n events of about size bytes each.
func paddedDelivery(prefix string, n, size int) []byte {
	pad := strings.Repeat("x", max(size-120, 0))
	var b strings.Builder
	b.WriteString(`{"eventType":"com.okta.event_hook","eventId":"d-faults","data":{"events":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"uuid":"%s-%d","eventType":"user.lifecycle.create","published":"2026-01-01T00:00:00Z","displayMessage":"%s"}`, prefix, i, pad)
	}
	b.WriteString(`]}}`)
	return []byte(b.String())
}

// Secrets Manager that stops answering once the cached secret has expired:
// 503 well before the timeout, and the 503 line Receiver5xxAlarm counts is
// written. The receiver recovers when Secrets Manager does.
func TestSecretsManagerHangingGets503BeforeTheTimeout(t *testing.T) {
	r := startRig(t, "SECRET_CACHE_TTL=1s")
	if status, _ := r.post(t, devstack.DevSecret, tinyDelivery("warm", 1)); status != 200 {
		t.Fatalf("warm-up: status %d", status)
	}
	r.sm.SetMode(faultproxy.Hang)
	time.Sleep(1100 * time.Millisecond) // the cached secret expires
	status, took := r.post(t, devstack.DevSecret, tinyDelivery("hang", 1))
	if status != 503 {
		t.Fatalf("status %d after %v, want 503", status, took)
	}
	if len(r.logLines(t, requestLine(503, "secret unavailable"))) != 1 {
		t.Fatalf("no 503 request line:\n%s", r.fn.Logs())
	}
	r.sm.SetMode(faultproxy.Pass)
	time.Sleep(1100 * time.Millisecond) // past the retry backoff
	if status, _ := r.post(t, devstack.DevSecret, tinyDelivery("after", 1)); status != 200 {
		t.Fatalf("after recovery: status %d", status)
	}
}

// A cold start while Secrets Manager hangs: under rie the init's read
// counts against the function's timeout (on Lambda init has its own), and
// the first request is still answered 503 in time.
func TestColdStartWithSecretsManagerHangingGets503InTime(t *testing.T) {
	r := startRig(t)
	r.sm.SetMode(faultproxy.Hang) // before the first invocation starts the bootstrap
	if status, took := r.post(t, devstack.DevSecret, tinyDelivery("cold", 1)); status != 503 {
		t.Fatalf("status %d after %v, want 503", status, took)
	}
	if len(r.logLines(t, func(rec map[string]any) bool { return rec["msg"] == "hook secret not readable at init" })) != 1 {
		t.Fatalf("init did not log the unreadable secret:\n%s", r.fn.Logs())
	}
}

// 100 ms added to every SQS call: batches go out concurrently, so a 500
// event delivery (50 batches) is still answered 200 with every event
// queued, where one batch after another needed 5 s.
func TestSlowSQSLargeDeliveryStillAnswered200(t *testing.T) {
	r := startRig(t)
	r.sqs.SetLatency(100 * time.Millisecond)
	const n = 500
	status, took := r.post(t, devstack.DevSecret, paddedDelivery("slow", n, 600))
	if status != 200 {
		t.Fatalf("status %d after %v, want 200", status, took)
	}
	got := drain(t, r.stack.Clients.SQS, r.stack.QueueURL("EventsQueue"), n)
	for i := range n {
		if _, ok := got[fmt.Sprintf("slow-%d", i)]; !ok {
			t.Fatalf("slow-%d not queued (%d of %d)", i, len(got), n)
		}
	}
}

// A 1 MiB delivery of tens of thousands of tiny events while SQS is down:
// 503 before the timeout, and every uuid named in a bounded number of
// "events not enqueued" lines (one per event ran past the timeout).
func TestSQSDownAnswers503InTimeNamingEveryEvent(t *testing.T) {
	r := startRig(t)
	// Warm: the secret is cached and SQS answered once.
	if status, _ := r.post(t, devstack.DevSecret, tinyDelivery("warm", 1)); status != 200 {
		t.Fatalf("warm-up: status %d", status)
	}
	r.sqs.SetMode(faultproxy.Down)
	n := 0
	for len(minimalDelivery("d", n+1000)) <= 1<<20 {
		n += 1000
	}
	status, took := r.post(t, devstack.DevSecret, minimalDelivery("d", n))
	if status != 503 {
		t.Fatalf("status %d after %v, want 503", status, took)
	}
	reqLines := r.logLines(t, requestLine(503, ""))
	if len(reqLines) != 1 {
		t.Fatalf("no 503 request line")
	}
	lines := r.logLines(t, func(rec map[string]any) bool { return rec["msg"] == "events not enqueued" })
	if max := n/receiver.UUIDsPerLogLine + 3; len(lines) > max {
		t.Fatalf("%d lines for %d events, want at most %d", len(lines), n, max)
	}
	named := map[string]bool{}
	for _, l := range lines {
		for _, u := range strings.Fields(l["eventUuids"].(string)) {
			named[u] = true
		}
	}
	for i := range n {
		if !named[fmt.Sprintf("d-%d", i)] {
			t.Fatalf("d-%d is named in no line (%d lines, %d uuids named, %d events, answered after %v)", i, len(lines), len(named), n, took)
		}
	}
	t.Logf("%d events: 503 after %v (handler: %v ms), named in %d lines", n, took, reqLines[0]["durationMs"], len(lines))
}

// A flood of wrong values on the real bootstrap: Secrets Manager sees at
// most the re-read budget (auth.DefaultRefreshBurst, then one every
// auth.DefaultRefreshEvery), two GetSecretValue calls a read; once it is
// spent the values get 503, and the real secret keeps passing from the cache.
func TestFloodOfWrongValuesBoundsSecretsManagerCalls(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	target, err := url.Parse(s.Kumo.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".GetSecretValue") {
			calls.Add(1)
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(counter.Close)
	r := &rig{stack: s, fn: devstacktest.StartRIE(t, s, "receiver", "", "AWS_ENDPOINT_URL_SECRETS_MANAGER="+counter.URL)}

	if status, _ := r.post(t, devstack.DevSecret, tinyDelivery("warm", 1)); status != 200 {
		t.Fatalf("warm-up: status %d", status)
	}
	before, start := calls.Load(), time.Now()
	statuses := map[int]int{}
	for i := range 300 {
		status, _ := r.post(t, fmt.Sprintf("wrong-value-%d", i), tinyDelivery("flood", 1))
		statuses[status]++
	}
	reads := int(calls.Load()-before) / 2
	allowed := auth.DefaultRefreshBurst + int(time.Since(start)/auth.DefaultRefreshEvery) + 1
	if reads > allowed || statuses[401] > allowed || statuses[401]+statuses[503] != 300 {
		t.Fatalf("%d reads, statuses %v for 300 wrong values in %v: want at most %d reads, the rest 503", reads, statuses, time.Since(start), allowed)
	}
	if statuses[503] == 0 {
		t.Fatalf("statuses %v: the budget was never spent", statuses)
	}
	before = calls.Load()
	if status, _ := r.post(t, devstack.DevSecret, tinyDelivery("during", 1)); status != 200 || calls.Load() != before {
		t.Fatalf("the real secret during the flood: status %d, %d calls", status, calls.Load()-before)
	}
	t.Logf("300 wrong values in %v: statuses %v, %d reads", time.Since(start).Round(time.Millisecond), statuses, reads)
}

// A wrong value right before a rotation (a scanner, or Okta switched a
// moment early) must not get the new value refused: Okta never retries a
// 401. The warm receiver accepts it on the next request.
func TestRotationAfterWrongValueAcceptedAtOnce(t *testing.T) {
	r := startRig(t)
	if status, _ := r.post(t, devstack.DevSecret, tinyDelivery("before", 1)); status != 200 {
		t.Fatalf("before rotation: status %d", status)
	}
	if status, _ := r.post(t, "scanner-guess-0123456789abcdef0123", tinyDelivery("scan", 1)); status != 401 {
		t.Fatalf("wrong value: status %d, want 401", status)
	}
	const newSecret = "rotated-secret-0123456789abcdef0123456789"
	arn := r.stack.Resources.SecretARNs["HookSecret"]
	if _, err := r.stack.Clients.SecretsManager.PutSecretValue(context.Background(), &secretsmanager.PutSecretValueInput{SecretId: &arn, SecretString: aws.String(newSecret)}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{newSecret, devstack.DevSecret} {
		if status, _ := r.post(t, s, tinyDelivery("after-"+s[:7], 1)); status != 200 {
			t.Fatalf("after rotation, %s…: status %d, want 200", s[:7], status)
		}
	}
}

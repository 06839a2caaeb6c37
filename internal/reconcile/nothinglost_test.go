package reconcile_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/metrics/emftest"
	"github.com/hookline/hookline/internal/reconcile"
	"github.com/hookline/hookline/internal/standin"
)

// handled counts the worker's "okta event" lines (its event-log handler)
// by event uuid.
type handled struct {
	mu    sync.Mutex
	count map[string]int
}

func (h *handled) line(source string, line []byte) {
	if source != "worker" {
		return
	}
	var rec struct {
		Msg       string `json:"msg"`
		EventUUID string `json:"eventUuid"`
	}
	if json.Unmarshal(line, &rec) == nil && rec.Msg == "okta event" {
		h.mu.Lock()
		h.count[rec.EventUUID]++
		h.mu.Unlock()
	}
}

func (h *handled) of(uuid string) int { h.mu.Lock(); defer h.mu.Unlock(); return h.count[uuid] }

// TestNothingLostWhenOktaGivesUp is the promise end to end, with the real
// bootstraps: the hook delivers some events; another delivery fails twice
// (the queue unreachable, so the receiver answers 503, and Okta's one retry
// fails the same way) and Okta gives up. The next reconciler run brings
// every event of the failed delivery to its handler, once, and nothing the
// hook delivered a second time.
func TestNothingLostWhenOktaGivesUp(t *testing.T) {
	t.Parallel()
	h := &handled{count: map[string]int{}}
	s := devstacktest.Start(t, devstacktest.Options{Run: []string{"receiver", "worker"}, OnLine: h.line})
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("e2e-token")
	secret, err := s.Clients.SecretsManager.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("okta-credentials"), SecretString: aws.String(`{"orgUrl":"` + org.URL + `","apiToken":"e2e-token"}`)})
	if err != nil {
		t.Fatal(err)
	}
	published := time.Now().Add(-time.Minute)
	event := func(u string) json.RawMessage {
		raw := standin.Event(u, "user.lifecycle.create", published)
		org.Add(raw) // Okta writes every event to its System Log
		return raw
	}
	var delivered, lost []string
	var deliveredRaw, lostRaw []json.RawMessage
	for i := range 3 {
		u := fmt.Sprintf("delivered-%d", i)
		delivered, deliveredRaw = append(delivered, u), append(deliveredRaw, event(u))
	}
	for i := range 5 {
		u := fmt.Sprintf("lost-%d", i)
		lost, lostRaw = append(lost, u), append(lostRaw, event(u))
	}

	// The hook works for the first delivery.
	if status, body := devstacktest.Call(t, s, "POST", s.Secret, standin.Delivery(standin.DevHookURL, deliveredRaw...)); status != 200 {
		t.Fatalf("delivery: %d %s", status, body)
	}
	// The second finds the queue unreachable, twice.
	failing := devstacktest.StartRIE(t, s, "receiver", "", "AWS_ENDPOINT_URL_SQS=http://127.0.0.1:1")
	body := standin.Delivery(standin.DevHookURL, lostRaw...)
	for attempt := range 2 {
		req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST /okta/events", RawPath: "/okta/events",
			Headers: map[string]string{"authorization": s.Secret, "content-type": "application/json"}, Body: string(body)}
		req.RequestContext.HTTP.Method = "POST"
		req.RequestContext.HTTP.SourceIP = "198.51.100.23"
		req.RequestContext.RequestID = fmt.Sprintf("okta-try-%d", attempt)
		payload, _ := json.Marshal(req)
		out, err := failing.Invoke(t.Context(), payload)
		var resp events.APIGatewayV2HTTPResponse
		if err != nil || json.Unmarshal(out, &resp) != nil || resp.StatusCode != 503 {
			t.Fatalf("attempt %d: want 503 with the queue unreachable, got %s %v", attempt, out, err)
		}
	}
	waitFor(t, "the delivered events handled", func() bool {
		for _, u := range delivered {
			if h.of(u) == 0 {
				return false
			}
		}
		return true
	})

	// The reconciler's next run, with the template's environment.
	rec := devstacktest.StartRIE(t, s, "reconciler", "", "OKTA_CREDENTIALS_SECRET_ID="+aws.ToString(secret.ARN), "RECONCILE_GRACE=1s")
	runOnce := func() reconcile.Stats {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
		defer cancel()
		out, err := rec.Invoke(ctx, []byte(`{"source":"aws.events","detail-type":"Scheduled Event"}`))
		var st reconcile.Stats
		if err != nil || json.Unmarshal(out, &st) != nil || st.Stopped == "" {
			t.Fatalf("reconciler: %s %v\n%s", out, err, rec.Logs())
		}
		return st
	}
	if st := runOnce(); st.Queued != len(lost) || st.Marked != len(delivered) {
		t.Fatalf("run: %+v\n%s", st, rec.Logs())
	}
	waitFor(t, "the lost events handled", func() bool {
		for _, u := range lost {
			if h.of(u) == 0 {
				return false
			}
		}
		return true
	})
	if st := runOnce(); st.Queued != 0 {
		t.Fatalf("second run recovered %d", st.Queued)
	}
	// Give a duplicate time to show: the worker polls every 2 s.
	time.Sleep(3 * time.Second)
	for _, u := range append(delivered, lost...) {
		if n := h.of(u); n != 1 {
			t.Errorf("event %s handled %d times, want once", u, n)
		}
	}
	logs := rec.Logs()
	for _, want := range []string{`"msg":"reconcile run"`, `"recovered":5`, `"msg":"event recovered"`, `"eventUuid":"lost-0"`, `"EventsRecovered":5`, `"msg":"okta side"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("reconciler log lacks %s", want)
		}
	}
	// Its EMF lines are valid by the specification and name only the
	// reconciler's metrics.
	sums, err := emftest.Sums([]byte(logs))
	if err != nil {
		t.Errorf("reconciler EMF: %v", err)
	}
	for key := range sums {
		name, _, _ := strings.Cut(key, " ") // "Name Dim=value" for a metric with dimensions
		if def, ok := metrics.Find(name); !ok || def.Emitter != "reconciler" {
			t.Errorf("the reconciler wrote metric %s, which internal/metrics does not give it", key)
		}
	}
	if sums[metrics.EventsRecovered] != 5 {
		t.Errorf("EventsRecovered = %v over both runs, want 5", sums[metrics.EventsRecovered])
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

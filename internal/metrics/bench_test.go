package metrics_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/auth/authtest"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/queue/queuetest"
	"github.com/hookline/hookline/internal/receiver"
	"github.com/hookline/hookline/internal/worker"
)

// counter counts the bytes written to it.
type counter struct{ n atomic.Int64 }

func (c *counter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// BenchmarkLogBytesPerEvent measures what one event costs in CloudWatch Logs:
// the receiver takes a delivery of N events and the worker handles them as
// one batch, with the real handlers (event-log), ledger (in memory) and
// metrics. It reports the EMF bytes and all stdout bytes (JSON logs plus
// EMF) per event; Lambda's own START/END/REPORT lines are not included.
func BenchmarkLogBytesPerEvent(b *testing.B) {
	for _, n := range []int{1, 10} {
		b.Run(fmt.Sprintf("delivery=%d", n), func(b *testing.B) {
			emf, logs := &counter{}, &counter{}
			log := slog.New(slog.NewJSONHandler(logs, nil))
			mem := &queuetest.Memory{}
			const secret = "bench-secret-0123456789abcdef0123456789"
			rcv := receiver.New(receiver.Config{Metrics: metrics.New("Hookline", "hookline", emf)},
				auth.NewVerifier(authtest.NewStatic(secret, ""), auth.Settings{TTL: time.Hour}), &queue.Publisher{Sender: mem}, log)
			reg := &handlers.Registry{}
			reg.On("*", handlers.EventLog(log), handlers.Name("event-log"))
			w := &worker.Worker{Registry: reg, Log: log, Ledger: &ledgertest.Memory{}, Metrics: metrics.New("Hookline", "hookline", emf)}
			ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "8f5c5b6e-3c1a-4a0e-9f57-1b2c3d4e5f60"})

			b.ResetTimer()
			for i := range b.N {
				req := request(n, i, secret)
				if resp, _ := rcv.Handle(ctx, req); resp.StatusCode != 200 {
					b.Fatalf("receiver answered %d", resp.StatusCode)
				}
				batch := events.SQSEvent{}
				for j, m := range mem.Sent() {
					batch.Records = append(batch.Records, events.SQSMessage{MessageId: strconv.Itoa(j), Body: string(m.Body),
						Attributes:        map[string]string{"ApproximateReceiveCount": "1"},
						MessageAttributes: map[string]events.SQSMessageAttribute{envelope.AttrEventUUID: {StringValue: ptr(m.Attributes[envelope.AttrEventUUID]), DataType: "String"}}})
				}
				mem.Reset()
				if resp, _ := w.Handle(ctx, batch); len(resp.BatchItemFailures) != 0 {
					b.Fatal("worker failed records")
				}
			}
			evs := float64(b.N * n)
			b.ReportMetric(float64(emf.n.Load())/evs, "emf-B/event")
			b.ReportMetric(float64(emf.n.Load()+logs.n.Load())/evs, "stdout-B/event")
		})
	}
}

func ptr(s string) *string { return &s }

// request is an API Gateway delivery of n realistic System Log events.
func request(n, i int, secret string) events.APIGatewayV2HTTPRequest {
	evs := make([]string, n)
	for j := range evs {
		ev, _ := json.Marshal(map[string]any{
			"uuid": fmt.Sprintf("%08d-0000-4000-8000-%012d", i, j), "published": time.Now().UTC().Format(time.RFC3339Nano),
			"eventType": "user.lifecycle.deactivate", "version": "0", "severity": "INFO",
			"displayMessage": "Deactivate Okta user",
			"actor":          map[string]any{"id": "00u1abcdefGHIJKLMN0x7", "type": "User", "alternateId": "admin@example.com", "displayName": "Admin"},
			"outcome":        map[string]any{"result": "SUCCESS"},
			"target":         []any{map[string]any{"id": "00u2abcdefGHIJKLMN0x7", "type": "User", "alternateId": "leaver@example.com", "displayName": "Leaver"}},
			"client":         map[string]any{"ipAddress": "198.51.100.23", "userAgent": map[string]any{"rawUserAgent": "Mozilla/5.0"}},
		})
		evs[j] = string(ev)
	}
	body := `{"eventType":"com.okta.event_hook","eventTypeVersion":"1.0","cloudEventsVersion":"0.1","source":"https://example.okta.com/api/v1/eventHooks/who1","eventId":"` +
		fmt.Sprintf("delivery-%d", i) + `","eventTime":"2026-01-01T00:00:00.000Z","contentType":"application/json","data":{"events":[` + strings.Join(evs, ",") + `]}}`
	req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST /okta/events", RawPath: "/okta/events", Body: body,
		Headers: map[string]string{"authorization": secret, "content-type": "application/json"}}
	req.RequestContext.RequestID = "AbCdEfGhIjKlMnO="
	req.RequestContext.HTTP.Method = "POST"
	req.RequestContext.HTTP.SourceIP = "198.51.100.23"
	return req
}

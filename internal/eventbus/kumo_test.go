package eventbus_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/eventbus"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/worker"
)

// busStack is a kumo with the template's resources, an event bus "okta",
// a rule sending user.lifecycle.deactivate to an SQS queue (as the README
// shows), and a rule matching everything from hookline.okta.
type busStack struct {
	endpoint string
	eb       *eventbridge.Client
	sqs      *sqs.Client
	ruleURL  string // the deactivations rule's target queue
	ledger   *ledger.DynamoDB
}

func newBusStack(t *testing.T) *busStack {
	t.Helper()
	s := devstacktest.Start(t, devstacktest.Options{})
	devstacktest.Setenv(t, s)
	env, err := awsenv.FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	b := &busStack{endpoint: s.Clients.Endpoint, eb: newClient(env), sqs: s.Clients.SQS,
		ledger: &ledger.DynamoDB{Client: s.Clients.DynamoDB, Table: s.Resources.Tables["LedgerTable"]}}
	ctx := t.Context()
	if _, err := b.eb.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("okta")}); err != nil {
		t.Fatal(err)
	}
	q, err := b.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("deactivations")})
	if err != nil {
		t.Fatal(err)
	}
	b.ruleURL = aws.ToString(q.QueueUrl)
	for name, pattern := range map[string]string{
		"deactivations": `{"source":["hookline.okta"],"detail-type":["user.lifecycle.deactivate"]}`,
		"everything":    `{"source":["hookline.okta"]}`,
	} {
		if _, err := b.eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name), EventBusName: aws.String("okta"), EventPattern: aws.String(pattern)}); err != nil {
			t.Fatal(err)
		}
		target := "arn:aws:sqs:us-east-1:000000000000:" + name
		if _, err := b.eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name), EventBusName: aws.String("okta"),
			Targets: []ebtypes.Target{{Id: aws.String("q"), Arn: aws.String(target)}}}); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// newClient builds an EventBridge client as the worker's main does.
func newClient(env awsenv.Env) *eventbridge.Client {
	c := env.Service(eventbridge.ServiceID)
	return eventbridge.New(eventbridge.Options{Region: c.Region, Credentials: c.Credentials, BaseEndpoint: c.BaseEndpoint, HTTPClient: c.HTTPClient})
}

// delivered is kumo's record of the events its rules matched.
type delivered struct {
	Source, DetailType, Detail, EventBusName, RuleName, Time string
}

func (b *busStack) delivered(t *testing.T) []delivered {
	t.Helper()
	resp, err := http.Get(b.endpoint + "/kumo/eventbridge/delivered-events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []delivered
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

func oktaEvent(uuid, typ string) json.RawMessage {
	return json.RawMessage(`{"uuid":"` + uuid + `","eventType":"` + typ + `","published":"2024-05-01T10:00:0` + uuid[len(uuid)-1:] + `.123Z","actor":{"id":"00u1","type":"User"},"outcome":{"result":"SUCCESS"}}`)
}

func sqsRecord(id string, receives int, raw json.RawMessage) events.SQSMessage {
	return events.SQSMessage{MessageId: id, Body: string(envelope.Encode("d1", "src", time.Now(), raw)),
		Attributes: map[string]string{"ApproximateReceiveCount": fmt.Sprint(receives)}}
}

// TestEventsReachTheBusAndRulesMatchByDetailType: a batch through the
// worker with the fan-out handler puts every event on the bus with Source,
// DetailType, Time and Detail as the README says, in one PutEvents request
// per 10 events; the rule on user.lifecycle.deactivate matches those only
// and delivers them to its queue. A redelivered batch puts nothing again:
// the ledger keeps each event once.
func TestEventsReachTheBusAndRulesMatchByDetailType(t *testing.T) {
	b := newBusStack(t)
	// A long linger: under a loaded test machine 10 ms may pass before all
	// ten records reach the handler, which would only cost a request more.
	pub := &eventbus.Publisher{Client: b.eb, Bus: "okta", Linger: 500 * time.Millisecond}
	reg := &handlers.Registry{}
	reg.On("*", pub.Handle, handlers.Name("event-bus"))
	w := &worker.Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: b.ledger}

	raws := map[string]json.RawMessage{}
	var batch events.SQSEvent
	for i := range 12 {
		typ := "user.session.start"
		if i%4 == 0 {
			typ = "user.lifecycle.deactivate"
		}
		uuid := fmt.Sprintf("ev-%02d", i)
		raws[uuid] = oktaEvent(uuid, typ)
		batch.Records = append(batch.Records, sqsRecord("m"+uuid, 1, raws[uuid]))
	}
	for round := 1; round <= 2; round++ {
		if resp, err := w.Handle(t.Context(), batch); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("round %d: %+v %v", round, resp, err)
		}
	}
	if pub.Requests() != 2 {
		t.Errorf("%d PutEvents requests for 12 events (and their duplicates), want 2", pub.Requests())
	}

	byRule := map[string][]delivered{}
	for _, d := range b.delivered(t) {
		byRule[d.RuleName] = append(byRule[d.RuleName], d)
	}
	if len(byRule["everything"]) != 12 || len(byRule["deactivations"]) != 3 {
		t.Fatalf("delivered %d to everything (want 12), %d to deactivations (want 3)", len(byRule["everything"]), len(byRule["deactivations"]))
	}
	for _, d := range byRule["everything"] {
		var f struct{ UUID, EventType, Published string }
		_ = json.Unmarshal([]byte(d.Detail), &f)
		want, _ := time.Parse(time.RFC3339Nano, f.Published)
		got, err := time.Parse(time.RFC3339, d.Time)
		if d.Source != "hookline.okta" || d.DetailType != f.EventType || d.EventBusName != "okta" ||
			d.Detail != string(raws[f.UUID]) || err != nil || !got.Equal(want.Truncate(time.Second)) {
			t.Errorf("delivered %+v", d)
		}
	}
	for _, d := range byRule["deactivations"] {
		if d.DetailType != "user.lifecycle.deactivate" {
			t.Errorf("the deactivations rule matched %s", d.DetailType)
		}
	}

	// The rule's target queue gets EventBridge's envelope with the event as
	// its detail.
	var got int
	for deadline := time.Now().Add(5 * time.Second); got < 3 && time.Now().Before(deadline); {
		out, err := b.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &b.ruleURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			var env struct {
				Source     string          `json:"source"`
				DetailType string          `json:"detail-type"`
				Detail     json.RawMessage `json:"detail"`
			}
			if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &env); err != nil || env.DetailType != "user.lifecycle.deactivate" || env.Source != "hookline.okta" {
				t.Errorf("rule target got %s", aws.ToString(m.Body))
			}
			var f struct{ UUID string }
			_ = json.Unmarshal(env.Detail, &f)
			if !bytes.Equal(compact(t, env.Detail), compact(t, raws[f.UUID])) {
				t.Errorf("detail %s, want %s", env.Detail, raws[f.UUID])
			}
			got++
		}
	}
	if got != 3 {
		t.Fatalf("the rule's queue got %d messages, want 3", got)
	}
}

func compact(t *testing.T, raw []byte) []byte {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// entryFailer is an HTTP proxy in front of kumo's EventBridge that makes
// PutEvents entries fail the way EventBridge reports it: the entries whose
// Detail contains a marker (while failing is on) are taken out of the
// request, the rest go to kumo, and the answer gets a failed result entry
// (ErrorCode InternalFailure) at each taken index, with FailedEntryCount.
// kumo itself accepts every entry.
func entryFailer(t *testing.T, kumo, marker string) (*httptest.Server, *atomic.Bool) {
	var failing atomic.Bool
	failing.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		var failed []int
		if r.Header.Get("X-Amz-Target") == "AWSEvents.PutEvents" && failing.Load() && json.Unmarshal(body, &req) == nil {
			var kept []any
			for i, e := range req["Entries"].([]any) {
				if d, _ := e.(map[string]any)["Detail"].(string); strings.Contains(d, marker) {
					failed = append(failed, i)
					continue
				}
				kept = append(kept, e)
			}
			req["Entries"] = kept
			body, _ = json.Marshal(req)
		}
		out := map[string]any{"Entries": []any{}, "FailedEntryCount": 0}
		var answer []byte
		if len(failed) == 0 || len(body) > 0 && len(req["Entries"].([]any)) > 0 {
			fwd, _ := http.NewRequest(r.Method, kumo+r.URL.Path, bytes.NewReader(body))
			fwd.Header = r.Header.Clone()
			resp, err := http.DefaultClient.Do(fwd)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadGateway)
				return
			}
			answer, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if len(failed) == 0 {
				for k, v := range resp.Header {
					w.Header()[k] = v
				}
				w.Header().Del("Content-Length")
				w.WriteHeader(resp.StatusCode)
				w.Write(answer)
				return
			}
			_ = json.Unmarshal(answer, &out)
		}
		results, _ := out["Entries"].([]any)
		for _, i := range failed {
			fail := map[string]any{"ErrorCode": "InternalFailure", "ErrorMessage": "injected by the test proxy"}
			results = append(results[:i], append([]any{fail}, results[i:]...)...)
		}
		out["Entries"], out["FailedEntryCount"] = results, len(failed)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	return srv, &failing
}

// TestPartialPutEventsFailureRetriesOnlyThatRecord: in a batch of three,
// EventBridge refuses one entry. Only its record is reported failed (and
// retried by SQS with backoff); the other two are on the bus. On the retry
// of the whole batch (an SQS redelivery), the two already put are skipped
// by the ledger and only the failed one is put, once.
func TestPartialPutEventsFailureRetriesOnlyThatRecord(t *testing.T) {
	b := newBusStack(t)
	proxy, failing := entryFailer(t, b.endpoint, `"uuid":"ev-2"`)
	// The worker's own client, pointed at the proxy the standard way.
	t.Setenv("AWS_ENDPOINT_URL_EVENTBRIDGE", proxy.URL)
	env, err := awsenv.FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	pub := &eventbus.Publisher{Client: newClient(env), Bus: "okta"}
	reg := &handlers.Registry{}
	reg.On("*", pub.Handle, handlers.Name("event-bus"))
	w := &worker.Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: b.ledger}

	var batch events.SQSEvent
	for i := 1; i <= 3; i++ {
		uuid := fmt.Sprintf("ev-%d", i)
		batch.Records = append(batch.Records, sqsRecord("m"+uuid, 1, oktaEvent(uuid, "user.lifecycle.deactivate")))
	}
	resp, err := w.Handle(t.Context(), batch)
	if err != nil || len(resp.BatchItemFailures) != 1 || resp.BatchItemFailures[0].ItemIdentifier != "mev-2" {
		t.Fatalf("first try: %+v %v, want only mev-2 failed", resp, err)
	}
	if n := len(b.delivered(t)); n != 2*2 { // two events, two rules each
		t.Fatalf("%d deliveries after the first try, want 4", n)
	}

	failing.Store(false)
	for i := range batch.Records {
		batch.Records[i].Attributes["ApproximateReceiveCount"] = "2"
	}
	if resp, err := w.Handle(t.Context(), batch); err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("retry: %+v %v", resp, err)
	}
	count := map[string]int{}
	for _, d := range b.delivered(t) {
		if d.RuleName == "everything" {
			var f struct{ UUID string }
			_ = json.Unmarshal([]byte(d.Detail), &f)
			count[f.UUID]++
		}
	}
	if count["ev-1"] != 1 || count["ev-2"] != 1 || count["ev-3"] != 1 {
		t.Fatalf("events on the bus: %v, want each once", count)
	}
}

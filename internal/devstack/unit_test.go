package devstack

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/samtemplate"
)

func loadTemplate(t *testing.T) *samtemplate.Template {
	t.Helper()
	tmpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return tmpl
}

func TestFromTemplateSpec(t *testing.T) {
	tmpl := loadTemplate(t)
	spec, err := fromTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	// The DLQ must exist before the queue whose RedrivePolicy names it.
	pos := map[string]int{}
	for i, q := range spec.Queues {
		pos[q.LogicalID] = i
	}
	for _, q := range spec.Queues {
		if q.DeadLetterTarget != "" && pos[q.DeadLetterTarget] > pos[q.LogicalID] {
			t.Errorf("%s is created before its DLQ %s", q.LogicalID, q.DeadLetterTarget)
		}
	}
	q, ok := spec.Queue("EventsQueue")
	if !ok {
		t.Fatal("no EventsQueue")
	}
	for _, attr := range []string{"VisibilityTimeout", "MaximumMessageSize", "MessageRetentionPeriod"} {
		want, err := tmpl.IntProp("EventsQueue", attr)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Attributes[attr]; got != itoa(want) {
			t.Errorf("EventsQueue %s = %q, template says %d", attr, got, want)
		}
	}
	rp := tmpl.Resources["EventsQueue"].Properties["RedrivePolicy"].(map[string]any)
	if want, _ := tmpl.Int(rp["maxReceiveCount"]); q.MaxReceiveCount != want || q.DeadLetterTarget != "EventsDLQ" {
		t.Errorf("redrive = %s after %d, template says EventsDLQ after %d", q.DeadLetterTarget, q.MaxReceiveCount, want)
	}

	w, ok := spec.Function("worker")
	if !ok || w.SQS == nil {
		t.Fatal("worker has no SQS event source")
	}
	ev := tmpl.FunctionEvents("WorkerFunction", "SQS")["Queue"]
	wantBatch, _ := tmpl.Int(ev["BatchSize"])
	wantWindow, _ := tmpl.Int(ev["MaximumBatchingWindowInSeconds"])
	if w.SQS.BatchSize != wantBatch || w.SQS.WindowSec != wantWindow || !w.SQS.ReportFailures || w.SQS.QueueLogicalID != "EventsQueue" {
		t.Errorf("worker SQS source = %+v, template says batch %d window %d", *w.SQS, wantBatch, wantWindow)
	}
	if wantTimeout, _ := tmpl.IntProp("WorkerFunction", "Timeout"); w.TimeoutSec != wantTimeout {
		t.Errorf("worker timeout %d, template %d", w.TimeoutSec, wantTimeout)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

func TestBatchFailures(t *testing.T) {
	msgs := []sqstypes.Message{{MessageId: aws.String("a")}, {MessageId: aws.String("b")}}
	tests := []struct {
		name    string
		payload string
		report  bool
		want    []string
		wantErr bool
	}{
		{"null response", `null`, true, nil, false},
		{"empty failures", `{"batchItemFailures":[]}`, true, nil, false},
		{"one failure", `{"batchItemFailures":[{"itemIdentifier":"b"}]}`, true, []string{"b"}, false},
		{"unknown id fails the batch", `{"batchItemFailures":[{"itemIdentifier":"zzz"}]}`, true, nil, true},
		{"empty id fails the batch", `{"batchItemFailures":[{"itemIdentifier":""}]}`, true, nil, true},
		{"garbage fails the batch", `"nope"`, true, nil, true},
		{"ignored without ReportBatchItemFailures", `{"batchItemFailures":[{"itemIdentifier":"b"}]}`, false, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := batchFailures([]byte(tt.payload), msgs, tt.report)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("failed = %v, want %v", got, tt.want)
			}
			for _, id := range tt.want {
				if !got[id] {
					t.Errorf("%s not failed", id)
				}
			}
		})
	}
}

func TestSQSEventShape(t *testing.T) {
	msgs := []sqstypes.Message{{
		MessageId: aws.String("m1"), ReceiptHandle: aws.String("rh"), Body: aws.String(`{"v":1}`), MD5OfBody: aws.String("md5"),
		Attributes: map[string]string{"ApproximateReceiveCount": "2", "SentTimestamp": "1", "ApproximateFirstReceiveTimestamp": "2"},
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"eventType": {DataType: aws.String("String"), StringValue: aws.String("user.lifecycle.create")}},
	}}
	b, err := json.Marshal(queue.LambdaEvent("arn:aws:sqs:us-east-1:000000000000:q", Region, msgs))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"messageId":"m1"`, `"receiptHandle":"rh"`, `"md5OfBody":"md5"`, `"eventSource":"aws:sqs"`,
		`"eventSourceARN":"arn:aws:sqs:us-east-1:000000000000:q"`, `"awsRegion":"us-east-1"`, `"ApproximateReceiveCount":"2"`,
		`"eventType":{"stringValue":"user.lifecycle.create","stringListValues":[],"binaryListValues":[],"dataType":"String"}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("event lacks %s:\n%s", want, b)
		}
	}
}

func TestAddReceivedKeepsOneCopyPerMessage(t *testing.T) {
	msg := func(id, handle string) sqstypes.Message {
		return sqstypes.Message{MessageId: aws.String(id), ReceiptHandle: aws.String(handle)}
	}
	batch := addReceived(nil, []sqstypes.Message{msg("a", "a1"), msg("b", "b1")})
	batch = addReceived(batch, []sqstypes.Message{msg("c", "c1"), msg("a", "a2")})
	var got []string
	for _, m := range batch {
		got = append(got, aws.ToString(m.MessageId)+"="+aws.ToString(m.ReceiptHandle))
	}
	if strings.Join(got, ",") != "a=a2,b=b1,c=c1" {
		t.Fatalf("batch %v, want one copy of a with its newest receipt handle", got)
	}
}

func TestNormalizeEventStripsThePortOfTheSourceIP(t *testing.T) {
	const rest = `"body":"<a&b>","headers":{"x":"1"}`
	tests := []struct{ name, in, want string }{
		{"kumo's host:port", `{"version":"2.0","requestContext":{"http":{"sourceIp":"127.0.0.1:40668"}},` + rest + `}`, "127.0.0.1"},
		{"IPv6 with port", `{"version":"2.0","requestContext":{"http":{"sourceIp":"[::1]:40668"}},` + rest + `}`, "::1"},
		{"already bare", `{"version":"2.0","requestContext":{"http":{"sourceIp":"203.0.113.7"}},` + rest + `}`, "203.0.113.7"},
		{"not an address", `{"version":"2.0","requestContext":{"http":{"sourceIp":"nope:1"}},` + rest + `}`, "nope:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := normalizeEvent([]byte(tt.in))
			var ev events.APIGatewayV2HTTPRequest
			if err := json.Unmarshal(out, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.RequestContext.HTTP.SourceIP != tt.want || ev.Body != "<a&b>" || ev.Headers["x"] != "1" {
				t.Errorf("%s -> %s", tt.in, out)
			}
		})
	}
	// Other events pass untouched, byte for byte.
	for _, in := range []string{`{"Records":[{"messageId":"m"}]}`, `{"version":"1.0","requestContext":{"identity":{"sourceIp":"1.2.3.4:5"}}}`, `not json`} {
		if out := normalizeEvent([]byte(in)); string(out) != in {
			t.Errorf("%s -> %s", in, out)
		}
	}
}

func TestMaxReceiveCountOverrideReachesTheWorker(t *testing.T) {
	tmpl := loadTemplate(t)
	spec, err := fromTemplate(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	w, ok := spec.Function("worker")
	if !ok {
		t.Fatal("no worker")
	}
	r := &Resources{QueueURLs: map[string]string{}, QueueARNs: map[string]string{}, SecretARNs: map[string]string{},
		Tables: map[string]string{}, Functions: map[string]string{}}
	for _, q := range spec.Queues {
		r.QueueURLs[q.LogicalID], r.QueueARNs[q.LogicalID] = "http://kumo/"+q.Name, "arn:aws:sqs:us-east-1:000000000000:"+q.Name
	}
	for id := range tmpl.Resources {
		r.Tables[id], r.SecretARNs[id] = id, "arn:"+id
	}
	get := func(env []string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, "MAX_RECEIVE_COUNT="); ok {
				return v
			}
		}
		return ""
	}
	env, err := r.FunctionEnv(tmpl, w, Overrides{})
	if err != nil {
		t.Fatal(err)
	}
	q, _ := spec.Queue("EventsQueue")
	if got := get(env); got != itoa(q.MaxReceiveCount) {
		t.Fatalf("MAX_RECEIVE_COUNT = %q without override, want the queue's %d", got, q.MaxReceiveCount)
	}
	env, err = r.FunctionEnv(tmpl, w, Overrides{MaxReceiveCount: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got := get(env); got != "3" {
		t.Errorf("MAX_RECEIVE_COUNT = %q with a maxReceiveCount override of 3, want 3", got)
	}
}

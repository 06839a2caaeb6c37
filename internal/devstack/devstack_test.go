package devstack_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/samtemplate"
	"github.com/hookline/hookline/internal/standin"
)

// logs collects the JSON lines of the stack's functions, so tests wait on
// what the handlers did rather than on time.
type logs struct {
	mu    sync.Mutex
	lines []map[string]any
	raw   []string
}

func (l *logs) line(source string, b []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.raw = append(l.raw, source+" | "+string(b))
	var m map[string]any
	if json.Unmarshal(b, &m) == nil {
		m["_source"] = source
		l.lines = append(l.lines, m)
	}
}

// count returns, per eventUuid, the worker lines with message msg.
func (l *logs) count(msg string) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := map[string]int{}
	for _, m := range l.lines {
		if m["_source"] == "worker" && m["msg"] == msg {
			id, _ := m["eventUuid"].(string)
			n[id]++
		}
	}
	return n
}

func (l *logs) dump(t *testing.T) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.raw {
		t.Log(s)
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startStack starts the dev stack as `hookline dev` does, with worker as
// the worker's bootstrap ("" for the real one).
func startStack(t *testing.T, worker string, ov devstack.Overrides, env ...string) (*devstack.Stack, *logs) {
	t.Helper()
	l := &logs{}
	opts := devstacktest.Options{Run: []string{"receiver", "worker"}, Overrides: ov, OnLine: l.line, Env: env}
	if worker != "" {
		opts.Bootstraps = map[string]string{"worker": worker}
	}
	s := devstacktest.Start(t, opts)
	t.Cleanup(func() {
		if t.Failed() {
			l.dump(t)
		}
	})
	t.Logf("dev stack ready in %v at %s", s.Ready, s.URL())
	return s, l
}

func queueDepth(t *testing.T, s *devstack.Stack, logicalID string) int {
	t.Helper()
	out, err := s.Clients.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(s.QueueURL(logicalID)),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		x, _ := strconv.Atoi(v)
		n += x
	}
	return n
}

func TestDevStackEndToEnd(t *testing.T) {
	t.Parallel()
	s, l := startStack(t, "", devstack.Overrides{})

	t.Run("verification answers the challenge", func(t *testing.T) {
		if status, body := devstacktest.Call(t, s, "GET", s.Secret, nil); status != 200 || body != `{"verification":"challenge"}` {
			t.Fatalf("verify = %d %s", status, body)
		}
	})

	t.Run("wrong secret gets 401 and enqueues nothing", func(t *testing.T) {
		_, ev := standin.NewEvent("user.lifecycle.create")
		if status, body := devstacktest.Call(t, s, "POST", "wrong-secret", standin.Delivery(standin.DevHookURL, ev)); status != 401 {
			t.Fatalf("deliver = %d %s", status, body)
		}
		if n := queueDepth(t, s, "EventsQueue"); n != 0 {
			t.Errorf("%d messages enqueued after a 401", n)
		}
	})

	t.Run("each event is handled exactly once", func(t *testing.T) {
		const n = 25
		var evs []json.RawMessage
		var uuids []string
		for range n {
			id, ev := standin.NewEvent("user.lifecycle.create")
			uuids, evs = append(uuids, id), append(evs, ev)
		}
		if status, body := devstacktest.Call(t, s, "POST", s.Secret, standin.Delivery(standin.DevHookURL, evs...)); status != 200 || body != `{"accepted":25}` {
			t.Fatalf("deliver = %d %s", status, body)
		}
		waitFor(t, "every event handled", 20*time.Second, func() bool {
			seen := l.count("okta event")
			for _, id := range uuids {
				if seen[id] == 0 {
					return false
				}
			}
			return true
		})
		// Once the queue is empty every message was deleted, so none can
		// come back: the counts below are final.
		waitFor(t, "queue drained", 10*time.Second, func() bool { return queueDepth(t, s, "EventsQueue") == 0 })
		seen := l.count("okta event")
		for _, id := range uuids {
			if seen[id] != 1 {
				t.Errorf("event %s handled %d times", id, seen[id])
			}
		}
	})
}

func TestDevStackFailingEventReachesDLQ(t *testing.T) {
	t.Parallel()
	// A test-only worker whose handler for test.always.fail always fails.
	worker := devstacktest.Build(t, "./internal/devstack/testdata/failworker")
	const maxReceive = 2
	// Short visibility and redrive so the retries take seconds, not minutes;
	// without Overrides the template's values apply. No batching window: the
	// template's 1 s would let a message come back (its 1 s visibility ran
	// out) while its batch is still being gathered.
	s, l := startStack(t, worker, devstack.Overrides{VisibilityTimeout: 1, MaxReceiveCount: maxReceive, BatchingWindow: -1})
	ctx := context.Background()

	okID, okEv := standin.NewEvent("user.lifecycle.create")
	badID, badEv := standin.NewEvent("test.always.fail")
	okID2, okEv2 := standin.NewEvent("group.user_membership.add")
	if status, body := devstacktest.Call(t, s, "POST", s.Secret, standin.Delivery(standin.DevHookURL, okEv, badEv, okEv2)); status != 200 {
		t.Fatalf("deliver = %d %s", status, body)
	}

	waitFor(t, "the failing event in the DLQ", 30*time.Second, func() bool { return queueDepth(t, s, "EventsDLQ") == 1 })
	out, err := s.Clients.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(s.QueueURL("EventsDLQ")),
		MessageAttributeNames: []string{"All"}})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("DLQ receive = %v, %v", out, err)
	}
	if got := aws.ToString(out.Messages[0].MessageAttributes["eventUuid"].StringValue); got != badID {
		t.Errorf("DLQ holds %s, want the failing event %s", got, badID)
	}
	if n := queueDepth(t, s, "EventsQueue"); n != 0 {
		t.Errorf("%d messages left on the events queue", n)
	}
	failed := l.count("handler failed")
	if failed[badID] != maxReceive {
		t.Errorf("failing handler ran %d times, want maxReceiveCount = %d", failed[badID], maxReceive)
	}
	handled := l.count("okta event")
	for _, id := range []string{okID, okID2} {
		if handled[id] != 1 {
			t.Errorf("batch-mate %s handled %d times, want 1", id, handled[id])
		}
	}
}

// TestLocalResourcesMatchTemplate checks what kumo holds against
// template.yaml, read independently of the Spec: queue settings, redrive,
// function env var names, routes and function timeouts.
func TestLocalResourcesMatchTemplate(t *testing.T) {
	t.Parallel()
	s, _ := startStack(t, "", devstack.Overrides{})
	tmpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Queue URLs name the port this kumo listens on (kumo's own say 4566).
	for _, id := range []string{"EventsQueue", "EventsDLQ"} {
		if u := s.QueueURL(id); !strings.HasPrefix(u, s.Kumo.Endpoint+"/") {
			t.Errorf("%s URL %s is not on %s", id, u, s.Kumo.Endpoint)
		}
	}

	for _, tt := range []struct{ queue, attr string }{
		{"EventsQueue", "VisibilityTimeout"},
		{"EventsQueue", "MaximumMessageSize"},
		{"EventsQueue", "MessageRetentionPeriod"},
		{"EventsDLQ", "MaximumMessageSize"},
		{"EventsDLQ", "MessageRetentionPeriod"},
	} {
		want, err := tmpl.IntProp(tt.queue, tt.attr)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Clients.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.QueueURL(tt.queue)),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeName(tt.attr)}})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Attributes[tt.attr]; got != strconv.Itoa(want) {
			t.Errorf("%s %s = %q, template says %d", tt.queue, tt.attr, got, want)
		}
	}

	out, err := s.Clients.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(s.QueueURL("EventsQueue")),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameRedrivePolicy}})
	if err != nil {
		t.Fatal(err)
	}
	var rp struct {
		Target string `json:"deadLetterTargetArn"`
		Max    any    `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(out.Attributes["RedrivePolicy"]), &rp); err != nil {
		t.Fatalf("RedrivePolicy %q: %v", out.Attributes["RedrivePolicy"], err)
	}
	tmplRP := tmpl.Resources["EventsQueue"].Properties["RedrivePolicy"].(map[string]any)
	wantMax, _ := tmpl.Int(tmplRP["maxReceiveCount"])
	if gotMax, _ := tmpl.Int(rp.Max); rp.Target != s.Resources.QueueARNs["EventsDLQ"] || gotMax != wantMax {
		t.Errorf("RedrivePolicy = %+v, want the DLQ after %d receives", rp, wantMax)
	}

	for _, fn := range []struct{ short, logical string }{{"receiver", "ReceiverFunction"}, {"worker", "WorkerFunction"}} {
		want := samtemplate.SortedKeys(tmpl.FunctionEnv(fn.logical))
		var got []string
		for _, kv := range s.Env[fn.short] {
			k, _, _ := strings.Cut(kv, "=")
			got = append(got, k)
		}
		sort.Strings(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s env names = %v, template says %v", fn.short, got, want)
		}
		f, _ := s.Spec.Function(fn.short)
		conf, err := s.Clients.Lambda.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(f.Name)})
		if err != nil {
			t.Fatal(err)
		}
		if wantT, _ := tmpl.IntProp(fn.logical, "Timeout"); int(aws.ToInt32(conf.Configuration.Timeout)) != wantT {
			t.Errorf("%s timeout = %d, template says %d", fn.short, aws.ToInt32(conf.Configuration.Timeout), wantT)
		}
	}

	routes, err := s.Clients.APIGateway.GetRoutes(ctx, &apigatewayv2.GetRoutesInput{ApiId: aws.String(s.Resources.APIID)})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range routes.Items {
		got = append(got, aws.ToString(r.RouteKey))
	}
	var want []string
	for _, id := range tmpl.ResourcesOfType(samtemplate.TypeFunction) {
		for _, ev := range tmpl.FunctionEvents(id, "HttpApi") {
			m, _ := tmpl.Str(ev["Method"])
			p, _ := tmpl.Str(ev["Path"])
			want = append(want, m+" "+p)
		}
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("routes = %v, template says %v", got, want)
	}
}

// The receiver on the local stack sees the bare source address API Gateway
// sends (kumo's own events carry host:port), so ALLOWED_SOURCE_CIDRS works
// end to end: the HTTP API, the Runtime API and the real receiver.
func TestReceiverSeesBareSourceIP(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		cidrs  string
		status int
	}{
		{"127.0.0.0/8", 200},
		{"203.0.113.0/24", 403},
	} {
		t.Run(tt.cidrs, func(t *testing.T) {
			l := &logs{}
			s := devstacktest.Start(t, devstacktest.Options{Run: []string{"receiver"}, OnLine: l.line,
				Env: []string{"ALLOWED_SOURCE_CIDRS=" + tt.cidrs}})
			_, ev := standin.NewEvent("user.lifecycle.create")
			if status, body := devstacktest.Call(t, s, "POST", s.Secret, standin.Delivery(standin.DevHookURL, ev)); status != tt.status {
				t.Fatalf("POST from 127.0.0.1 with ALLOWED_SOURCE_CIDRS=%s: %d %s, want %d", tt.cidrs, status, body, tt.status)
			}
			waitFor(t, "the receiver's request line", 5*time.Second, func() bool {
				l.mu.Lock()
				defer l.mu.Unlock()
				for _, m := range l.lines {
					if m["_source"] == "receiver" && m["msg"] == "okta hook request" {
						if m["sourceIp"] != "127.0.0.1" {
							t.Fatalf("receiver saw sourceIp %v, want the bare 127.0.0.1", m["sourceIp"])
						}
						return true
					}
				}
				return false
			})
		})
	}
}

package intake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/reconcile"
	"github.com/hookline/hookline/internal/standin"
)

// These tests run the receiver, the worker and the streamer as `make dev`
// does, on kumo: kumo's EventBridge matches the stand-in log stream's events
// against the template's rule and invokes the streamer with them.

const subscribed = "user.lifecycle.create"

// lines keeps every log line of the stack's functions, parsed.
type lines struct {
	mu  sync.Mutex
	all []line
}

type line struct {
	proc string
	m    map[string]any
}

func (l *lines) add(proc string, raw []byte) {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	l.mu.Lock()
	l.all = append(l.all, line{proc, m})
	l.mu.Unlock()
}

// count counts the lines of proc with this msg about this event uuid.
func (l *lines) count(proc, msg, uuid string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, ln := range l.all {
		if ln.proc == proc && ln.m["msg"] == msg && ln.m["eventUuid"] == uuid {
			n++
		}
	}
	return n
}

// runs counts the worker's "handler ran" lines of uuid, by handler.
func (l *lines) runs(uuid string) map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, ln := range l.all {
		if ln.proc == "worker" && ln.m["msg"] == "handler ran" && ln.m["eventUuid"] == uuid {
			out[ln.m["handler"].(string)]++
		}
	}
	return out
}

// mentions reports whether any line of the functions names uuid.
func (l *lines) mentions(uuid string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.all {
		if ln.proc != "kumo" && ln.m["eventUuid"] == uuid {
			return true
		}
	}
	return false
}

func (l *lines) wait(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !ok(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// newEvent is an event of typ published now, to the millisecond as Okta
// writes published (standin.NewEvent's nanoseconds do not survive the
// handlers.Latest watermark; see the report of issue 19).
func newEvent(typ string) (string, []byte) {
	u := standin.NewUUID()
	return u, standin.Event(u, typ, time.Now())
}

type streamStack struct {
	s      *devstack.Stack
	logs   *lines
	stream standin.LogStream
}

func startStream(t *testing.T) *streamStack {
	t.Helper()
	logs := &lines{}
	// A worker whose handlers ("provision", "sync-user") keep the ledger,
	// as a user's do (the built-in event log is idempotent and keeps none).
	worker := devstacktest.Build(t, "./internal/devstack/testdata/handlerlog")
	s := devstacktest.Start(t, devstacktest.Options{Run: []string{"receiver", "worker", "streamer"}, OnLine: logs.add,
		Bootstraps: map[string]string{"worker": worker}})
	return &streamStack{s: s, logs: logs, stream: standin.LogStream{Client: s.Clients.EventBridge, Source: devstack.DevLogStreamSource}}
}

func (st *streamStack) hook(t *testing.T, ev []byte) {
	t.Helper()
	if code, body := devstacktest.Call(t, st.s, http.MethodPost, st.s.Secret, standin.Delivery(standin.DevHookURL, ev)); code != http.StatusOK {
		t.Fatalf("delivery answered %d %s", code, body)
	}
}

func (st *streamStack) send(t *testing.T, evs ...[]byte) {
	t.Helper()
	if err := st.stream.Send(t.Context(), evs...); err != nil {
		t.Fatal(err)
	}
}

func TestAnEventThroughTheHookAndTheStreamIsHandledOncePerHandler(t *testing.T) {
	st := startStream(t)
	handled := func(u string) func() bool { return func() bool { return len(st.logs.runs(u)) > 0 } }

	// The hook first: the stream finds its mark and queues nothing.
	hookFirst, ev := newEvent(subscribed)
	st.hook(t, ev)
	st.logs.wait(t, "the hook's event handled", handled(hookFirst))
	st.send(t, ev)
	st.logs.wait(t, "the streamer to find the hook's mark", func() bool { return st.logs.count("streamer", "stream event already queued", hookFirst) == 1 })

	// The stream first: the hook does not read marks and queues it again;
	// the worker's ledger runs each handler once.
	streamFirst, ev2 := newEvent(subscribed)
	st.send(t, ev2)
	st.logs.wait(t, "the streamed event handled", handled(streamFirst))
	st.hook(t, ev2)
	st.logs.wait(t, "the worker to skip the hook's copy", func() bool { return st.logs.count("worker", "duplicate skipped", streamFirst) > 0 })

	time.Sleep(time.Second) // anything late would show up now
	for _, u := range []string{hookFirst, streamFirst} {
		runs := st.logs.runs(u)
		if len(runs) != 2 {
			t.Fatalf("%s: handlers ran %v, want provision and sync-user", u, runs)
		}
		for h, n := range runs {
			if n != 1 {
				t.Errorf("%s: handler %s ran %d times, want once", u, h, n)
			}
		}
	}
	if n := st.logs.count("streamer", "stream event queued", streamFirst); n != 1 {
		t.Errorf("streamer queued %s %d times, want once", streamFirst, n)
	}
	if n := st.logs.count("streamer", "stream event queued", hookFirst); n != 0 {
		t.Errorf("streamer queued the hook's event %s again", hookFirst)
	}
}

func TestAStreamedEventIsNeverRecoveredByTheReconciler(t *testing.T) {
	st := startStream(t)
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("ssws-token")
	u := standin.NewUUID()
	ev := standin.Event(u, subscribed, time.Now().Add(-30*time.Minute)) // past the reconciler's grace
	org.Add(ev)                                                         // in the System Log, as every streamed event is
	st.send(t, ev)
	st.logs.wait(t, "the streamed event queued and marked", func() bool { return st.logs.count("streamer", "stream event queued", u) == 1 })

	table := st.s.Resources.Tables["LedgerTable"]
	item, err := st.s.Clients.DynamoDB.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: aws.String(table),
		Key: map[string]ddbtypes.AttributeValue{ledger.AttrKey: &ddbtypes.AttributeValueMemberS{Value: ledger.MarkKey(u)}}})
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := item.Item[ledger.AttrOrigin].(*ddbtypes.AttributeValueMemberS); o == nil || o.Value != envelope.OriginLogStream {
		t.Fatalf("mark of %s = %v, want origin %q", u, item.Item, envelope.OriginLogStream)
	}

	okta, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "ssws-token"}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	r := &reconcile.Reconciler{
		SystemLog: okta,
		Marks:     &ledger.Marks{Client: st.s.Clients.DynamoDB, Table: table},
		Cursors:   &ledger.Cursors{Client: st.s.Clients.DynamoDB, Table: table},
		Publisher: &queue.Publisher{Sender: queue.SQSSender{Client: st.s.Clients.SQS, QueueURL: st.s.QueueURL("EventsQueue")}, Budget: 5 * time.Second},
		Log:       slog.New(slog.NewJSONHandler(&logs, nil)),
		Types:     []string{subscribed},
		Lookback:  time.Hour,
	}
	stats, err := r.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if stats.Seen != 1 || stats.Marked != 1 || stats.Queued != 0 {
		t.Errorf("reconcile run = %+v, want the streamed event seen and skipped as marked", stats)
	}
	if strings.Contains(logs.String(), "event recovered") {
		t.Errorf("the reconciler recovered the streamed event:\n%s", logs.String())
	}
	time.Sleep(500 * time.Millisecond)
	for h, n := range st.logs.runs(u) {
		if n != 1 {
			t.Errorf("handler %s ran %d times", h, n)
		}
	}
}

func TestAStreamedEventOfAnUnsubscribedTypeIsNotQueued(t *testing.T) {
	st := startStream(t)
	other, ev := newEvent("user.session.start") // the stream sends every type
	sub, ev2 := newEvent(subscribed)
	st.send(t, ev, ev2)
	st.logs.wait(t, "the subscribed event handled", func() bool { return len(st.logs.runs(sub)) > 0 })

	// The rule passes the subscribed types only, as the template's does.
	resp, err := http.Get(st.s.Clients.Endpoint + "/kumo/eventbridge/delivered-events")
	if err != nil {
		t.Fatal(err)
	}
	delivered, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if bytes.Contains(delivered, []byte(other)) || !bytes.Contains(delivered, []byte(sub)) {
		t.Errorf("rule delivered %s; want %s only", delivered, sub)
	}
	// And the streamer queues none of another type, should a wider rule
	// (or a changed OktaEventTypes before the rule) hand it one.
	fn, _ := st.s.Spec.Function("streamer")
	third, ev3 := newEvent("user.session.start")
	payload, _ := json.Marshal(map[string]any{"id": "eb-1", "source": devstack.DevLogStreamSource, "detail-type": "SystemLog", "detail": json.RawMessage(ev3)})
	out, err := st.s.Clients.Lambda.Invoke(t.Context(), &lambda.InvokeInput{FunctionName: aws.String(fn.Name), Payload: payload})
	if err != nil || out.FunctionError != nil {
		t.Fatalf("streamer invoke: %v %s", err, out.Payload)
	}
	barrier, ev4 := newEvent(subscribed)
	st.send(t, ev4)
	st.logs.wait(t, "a later event handled", func() bool { return len(st.logs.runs(barrier)) > 0 })
	for _, u := range []string{other, third} {
		if st.logs.count("streamer", "stream event queued", u) > 0 || st.logs.count("worker", "handler ran", u) > 0 {
			t.Errorf("event %s of an unsubscribed type was queued", u)
		}
	}
	if st.logs.mentions(other) {
		t.Errorf("the unsubscribed event %s reached a function", other)
	}
}

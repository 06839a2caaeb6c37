// Package handlertest runs a registry's handlers on an event the way the
// worker does, without AWS: the real worker (filters, the loop guard,
// handlers.Latest ordering, retries and permanent failures) with the ledger
// in memory, and reports what became of each handler.
//
//	reg := &handlers.Registry{}
//	register(reg, handlertest.Services(t, nil))
//	r := handlertest.New(reg)
//	got := r.RunFile(t, "../../events/okta/user.lifecycle.deactivate.json")
//	if got.Of("revoke-sessions").Outcome != handlertest.Ran { ... }
//
// One Runner keeps its ledger across runs, so a second run of the same event
// is a duplicate and an older event of a handlers.Latest subject is skipped
// as stale, as in production. Where a handler calls Okta, Services gives it
// a client of a stand-in org (standin) that answers as Okta does.
package handlertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
	"github.com/hookline/hookline/internal/worker"
)

// Outcome is what became of one handler on one event.
type Outcome string

// Outcomes, named as the worker logs them.
const (
	Ran          Outcome = "ran"               // ran and returned nil
	Failed       Outcome = "error"             // returned an error: the event would be retried
	Permanent    Outcome = "permanent error"   // returned handlers.Permanent, or could not be ordered: the event would be parked
	SkippedStale Outcome = "stale skipped"     // handlers.Latest: a newer event of the subject already ran
	Filtered     Outcome = "filtered"          // the event did not match the handler's handlers.Where
	Duplicate    Outcome = "duplicate skipped" // the ledger says this handler already handled the event
	OwnActor     Outcome = "skipped: own actor"
	InProgress   Outcome = "in progress elsewhere" // another run holds the event or its subject: retried later
)

// Result is one handler's outcome.
type Result struct {
	Handler string
	Outcome Outcome
	// Err is the handler's error, for Failed and Permanent.
	Err string
}

// Results are a run's outcomes, one per matching handler, in registration
// order.
type Results []Result

// Of returns the named handler's result (a zero Result when the handler did
// not match the event type).
func (rs Results) Of(handler string) Result {
	for _, r := range rs {
		if r.Handler == handler {
			return r
		}
	}
	return Result{}
}

func (rs Results) String() string {
	var b strings.Builder
	for i, r := range rs {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s", r.Handler, r.Outcome)
		if r.Err != "" {
			fmt.Fprintf(&b, " (%s)", r.Err)
		}
	}
	return b.String()
}

// Runner runs a registry's handlers. Make one with New.
type Runner struct {
	Registry *handlers.Registry
	// Ledger is kept across runs.
	Ledger *ledgertest.Memory
	// OwnActors is the worker's loop guard (OWN_ACTOR_IDS).
	OwnActors []string
	// Log, when set, also gets the worker's and the handlers' JSON lines.
	Log *strings.Builder

	mu sync.Mutex
	n  int
}

// New returns a Runner of reg with an empty in-memory ledger.
func New(reg *handlers.Registry) *Runner {
	return &Runner{Registry: reg, Ledger: &ledgertest.Memory{}}
}

// Run runs the handlers on one System Log event given as JSON (as Okta
// sends it, or as in events/okta/). A retried or parked event is not run
// again by itself: call Run again, as a redelivery would.
func (r *Runner) Run(ctx context.Context, raw json.RawMessage) (Results, error) {
	r.mu.Lock()
	r.n++
	n := r.n
	r.mu.Unlock()
	var lines bytes.Buffer
	var out io.Writer = &lines
	if r.Log != nil {
		out = teeWriter{&lines, r.Log}
	}
	log := slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	w := &worker.Worker{Registry: r.Registry, Log: log, Ledger: r.Ledger, OwnActors: r.OwnActors}
	id := "handlertest-" + strconv.Itoa(n)
	rec := events.SQSMessage{MessageId: id, ReceiptHandle: id, Body: string(envelope.Encode("delivery-"+id, "handlertest", time.Now(), raw)),
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}}
	if _, ok := lambdacontext.FromContext(ctx); !ok {
		ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{AwsRequestID: id})
	}
	if _, err := w.Handle(ctx, events.SQSEvent{Records: []events.SQSMessage{rec}}); err != nil {
		return nil, err
	}
	return results(r.Registry, okta.ParseEvent(raw).EventType, lines.Bytes())
}

// RunFile runs the handlers on the event in a file: a System Log event (as
// in events/okta/), or an Okta delivery, bare or as the body of an API
// Gateway request (events/delivery.json), whose events it runs in turn. It fails t on an unreadable file.
func (r *Runner) RunFile(t testing.TB, path string) Results {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	raws := []json.RawMessage{b}
	var apigw events.APIGatewayV2HTTPRequest
	if json.Unmarshal(b, &apigw) == nil && apigw.Body != "" {
		// An API Gateway request (events/delivery.json): its body.
		b = []byte(apigw.Body)
		if apigw.IsBase64Encoded {
			if b, err = base64.StdEncoding.DecodeString(apigw.Body); err != nil {
				t.Fatalf("%s: body: %v", path, err)
			}
		}
	}
	if d, err := okta.ParseDelivery(b); err == nil {
		raws = raws[:0]
		for _, ev := range d.Events {
			raws = append(raws, ev.Raw)
		}
	}
	var all Results
	for _, raw := range raws {
		rs, err := r.Run(t.Context(), raw)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		all = append(all, rs...)
	}
	return all
}

// RunLogEvent runs the handlers on an event the test builds. Its Raw is used
// when set; otherwise the typed fields are encoded, with a uuid and a
// published time (now) filled in when empty.
func (r *Runner) RunLogEvent(t testing.TB, e okta.LogEvent) Results {
	t.Helper()
	raw := e.Raw
	if len(raw) == 0 {
		r.mu.Lock()
		n := r.n + 1
		r.mu.Unlock()
		if e.UUID == "" {
			e.UUID = fmt.Sprintf("handlertest-event-%d", n)
		}
		if e.Published == "" {
			e.Published = time.Now().UTC().Format(time.RFC3339Nano)
		}
		var err error
		if raw, err = json.Marshal(e); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := r.Run(t.Context(), raw)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// outcomeOf maps the worker's per-handler log lines (its log-field
// contract) to outcomes.
var outcomeOf = map[string]Outcome{
	"stale skipped":      SkippedStale,
	"filtered":           Filtered,
	"duplicate skipped":  Duplicate,
	"skipped: own actor": OwnActor,
	"handler in progress elsewhere; will retry": InProgress,
	"subject in progress elsewhere; will retry": InProgress,
}

func results(reg *handlers.Registry, eventType string, logs []byte) (Results, error) {
	byHandler := map[string]Result{}
	for _, line := range bytes.Split(bytes.TrimSpace(logs), []byte("\n")) {
		var l struct {
			Msg, Handler, Result, Error string
		}
		if json.Unmarshal(line, &l) != nil || l.Handler == "" {
			continue
		}
		res := byHandler[l.Handler]
		res.Handler = l.Handler
		switch {
		case l.Msg == "handler ran":
			res.Outcome = map[string]Outcome{"ok": Ran, "error": Failed, "permanent error": Permanent}[l.Result]
		case l.Msg == "handler failed":
			res.Err = l.Error
		case l.Msg == "handler not started":
			// Not run at all: the event cannot be ordered, or no time left.
			res.Outcome, res.Err = Failed, l.Error
			if strings.HasPrefix(l.Error, "handlers.Latest") {
				res.Outcome = Permanent
			}
		case outcomeOf[l.Msg] != "":
			res.Outcome = outcomeOf[l.Msg]
		default:
			continue
		}
		byHandler[l.Handler] = res
	}
	var out Results
	for _, route := range reg.Match(eventType) {
		res, ok := byHandler[route.Name]
		if !ok || res.Outcome == "" {
			return nil, fmt.Errorf("handlertest: no outcome logged for handler %s\n%s", route.Name, logs)
		}
		out = append(out, res)
	}
	return out, nil
}

type teeWriter struct{ a, b io.Writer }

func (t teeWriter) Write(p []byte) (int, error) {
	t.b.Write(p)
	return t.a.Write(p)
}

// Services returns what the worker gives register, for a test: a logger
// that writes to t.Log (nil log) or log, and an Okta client of a stand-in org
// (standin, stopped when the test ends) that answers the management calls
// it models, such as DELETE /api/v1/users/{id}/sessions, as Okta does, and
// records the System Log events they cause (Org.Events). AWS is the zero
// aws.Config: a handler's AWS calls belong in a test on kumo.
func Services(t testing.TB, log *slog.Logger) (handlers.Services, *standin.Org) {
	t.Helper()
	if log == nil {
		log = slog.New(slog.NewJSONHandler(tWriter{t}, nil))
	}
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("handlertest-token")
	client, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "handlertest-token"}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	return handlers.Services{Log: log, Okta: client}, org
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

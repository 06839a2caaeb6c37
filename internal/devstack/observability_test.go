package devstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/deploycheck"
	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/metrics/emftest"
	"github.com/hookline/hookline/internal/samtemplate"
	"github.com/hookline/hookline/internal/standin"
)

// wrongSecret is what a prober sends; like the real secret it must never
// reach a log line.
const wrongSecret = "wrong-secret-that-must-never-be-logged-0123456789"

// TestObservabilityContract runs the real receiver and worker bootstraps on
// the dev stack through what operators watch for (a verification, a refused
// caller, a delivery, Okta's retry of it, a malformed message) and checks
// what they print, as CloudWatch would read it:
//   - every EMF line is valid by the specification, in the template's
//     namespace with the stack as dimension, naming only metrics
//     internal/metrics defines for that function, and the counts add up;
//   - every field the template's saved Logs Insights queries use is one the
//     functions really log (or one Lambda or Logs Insights adds);
//   - neither the hook secret nor a wrong one appears in any line.
func TestObservabilityContract(t *testing.T) {
	// The EventBridge fan-out on: the event log needs no ledger (it runs
	// again on a duplicate), the event-bus handler is the one the ledger
	// skips on Okta's retry.
	s, l := startStack(t, "", devstack.Overrides{}, "EVENT_BUS_NAME=hookline-dev")
	ctx := context.Background()

	if status, _ := devstacktest.Call(t, s, "GET", s.Secret, nil); status != 200 {
		t.Fatalf("verify = %d", status)
	}
	if status, _ := devstacktest.Call(t, s, "POST", wrongSecret, standin.Delivery(standin.DevHookURL)); status != 401 {
		t.Fatalf("wrong secret = %d", status)
	}
	var evs []json.RawMessage
	for range 5 {
		_, ev := standin.NewEvent("user.lifecycle.create")
		evs = append(evs, ev)
	}
	delivery := standin.Delivery(standin.DevHookURL, evs...)
	for i := range 2 { // Okta's retry of the same delivery: the ledger skips event-bus
		if status, body := devstacktest.Call(t, s, "POST", s.Secret, delivery); status != 200 {
			t.Fatalf("deliver = %d %s", status, body)
		}
		// Okta retries after its 3 s timeout, when the first copy is
		// handled: a copy arriving during the first's event-bus run
		// would be failed as in progress elsewhere and come back later.
		waitFor(t, "the delivery handled", 10*time.Second, func() bool { return total(l.count("handler ran")) == []int{10, 15}[i] }) // then only event-log runs
	}
	// A message no receiver wrote: the worker parks it.
	if _, err := s.Clients.SQS.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(s.QueueURL("EventsQueue")), MessageBody: aws.String("not an envelope")}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "events handled, duplicates skipped, the malformed message parked", 20*time.Second, func() bool {
		return total(l.count("okta event")) == 10 && total(l.count("duplicate skipped")) == 5 && total(l.count("parked in the DLQ")) == 1
	})
	// The batch lines (and their metrics) follow the handlers' lines.
	waitFor(t, "worker metrics written", 10*time.Second, func() bool {
		sums := emfSums(t, l, "worker")
		return sums[metrics.EventsHandled] == 10 && sums[metrics.EventsParked] == 1
	})

	t.Run("EMF lines are valid and name only defined metrics", func(t *testing.T) {
		for _, source := range []string{"receiver", "worker"} {
			n := 0
			for _, line := range sourceLines(l, source) {
				if !emftest.IsEMF([]byte(line)) {
					continue
				}
				n++
				ms, err := emftest.Parse([]byte(line))
				if err != nil {
					t.Errorf("%s: invalid EMF line %s:\n%v", source, line, err)
				}
				for _, m := range ms {
					def, ok := metrics.Find(m.Name)
					switch {
					case !ok:
						t.Errorf("%s: metric %s is not in internal/metrics", source, m.Name)
					case def.Emitter != source:
						t.Errorf("%s: metric %s belongs to the %s", source, m.Name, def.Emitter)
					case m.Unit != string(def.Unit):
						t.Errorf("%s: metric %s in %s, defined in %s", source, m.Name, m.Unit, def.Unit)
					}
					if want, _ := s.Template.ParameterDefault("MetricsNamespace"); m.Namespace != want || m.DimValues[metrics.DimStack] != devstack.StackName {
						t.Errorf("%s: %s in namespace %q stack %q, want the template's %q and %q", source, m.Name, m.Namespace, m.DimValues[metrics.DimStack], want, devstack.StackName)
					}
				}
			}
			if n == 0 {
				t.Errorf("%s printed no EMF line", source)
			}
		}
		rs := emfSums(t, l, "receiver")
		for key, want := range map[string]float64{
			"Verifications StatusClass=2xx": 1, "Deliveries StatusClass=2xx": 2, "Deliveries StatusClass=4xx": 1,
			"AuthFailures": 1, "EventsReceived": 10, "EventsEnqueued": 10,
		} {
			if rs[key] != want {
				t.Errorf("receiver %s = %v, want %v (all: %v)", key, rs[key], want, rs)
			}
		}
		ws := emfSums(t, l, "worker")
		for key, want := range map[string]float64{"EventsHandled": 10, "DuplicatesSkipped": 5, "EventsParked": 1} {
			if ws[key] != want {
				t.Errorf("worker %s = %v, want %v (all: %v)", key, ws[key], want, ws)
			}
		}
		if lags := emfValues(t, l, "worker", metrics.EndToEndLag); len(lags) != 5 {
			t.Errorf("end-to-end lag measured %d times, want once per event handled for the first time (5)", len(lags))
		}
		if d := emfValues(t, l, "worker", metrics.HandlerDuration); len(d) != 15 {
			t.Errorf("handler duration measured %d times, want 10 runs of event-log and 5 of event-bus", len(d))
		}
	})

	t.Run("saved queries use only logged fields", func(t *testing.T) {
		logged := loggedFields(l)
		tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		ids := tpl.ResourcesOfType("AWS::Logs::QueryDefinition")
		if len(ids) == 0 {
			t.Fatal("the template has no saved queries")
		}
		for _, id := range ids {
			q, _ := tpl.Resources[id].Properties["QueryString"].(string)
			for _, f := range queryFields(q) {
				if !logged[f] && !lambdaFields[f] && !strings.HasPrefix(f, "@") {
					t.Errorf("%s uses field %q, which no function logged; logged: %v", id, f, keys(logged))
				}
				if strings.HasPrefix(f, "@") && !insightsFields[f] {
					t.Errorf("%s uses %q, which is not a Logs Insights system field", id, f)
				}
			}
		}
	})

	t.Run("the README's log-field table lists every field logged", func(t *testing.T) {
		readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
		if err != nil {
			t.Fatal(err)
		}
		table, err := deploycheck.LogFieldTable(string(readme))
		if err != nil {
			t.Fatal(err)
		}
		var lines [][]byte
		for _, source := range []string{"receiver", "worker"} {
			for _, line := range sourceLines(l, source) {
				lines = append(lines, []byte(line))
			}
		}
		for _, p := range deploycheck.LogFieldProblems(table, lines, nil) {
			t.Error(p)
		}
	})

	t.Run("no secret in any line", func(t *testing.T) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, line := range l.raw {
			for _, secret := range []string{s.Secret, wrongSecret} {
				if strings.Contains(line, secret) {
					t.Errorf("a secret was logged: %s", line)
				}
			}
		}
	})
}

// lambdaFields are what Lambda adds to a function's JSON log (its platform
// lines): a failures query reads timeouts and crashes from them.
var lambdaFields = map[string]bool{"type": true, "record.status": true}

// insightsFields are Logs Insights' system fields.
var insightsFields = map[string]bool{"@timestamp": true, "@message": true, "@log": true, "@logStream": true}

func total(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func sourceLines(l *logs, source string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.raw {
		if line, ok := strings.CutPrefix(r, source+" | "); ok {
			out = append(out, line)
		}
	}
	return out
}

func emfSums(t *testing.T, l *logs, source string) map[string]float64 {
	t.Helper()
	sums, err := emftest.Sums([]byte(strings.Join(sourceLines(l, source), "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return sums
}

func emfValues(t *testing.T, l *logs, source, name string) []float64 {
	t.Helper()
	var out []float64
	for _, line := range sourceLines(l, source) {
		if !emftest.IsEMF([]byte(line)) {
			continue
		}
		ms, _ := emftest.Parse([]byte(line))
		for _, m := range ms {
			if m.Name == name {
				out = append(out, m.Values...)
			}
		}
	}
	return out
}

// loggedFields are the keys of every JSON line the functions printed, nested
// ones joined with dots as Logs Insights names them (actor.id, eventUuids.0).
func loggedFields(l *logs) map[string]bool {
	out := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				walk(join(prefix, k), e)
			}
		case []any:
			for i, e := range x {
				walk(join(prefix, fmt.Sprint(i)), e)
			}
		default:
			out[prefix] = true
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, m := range l.lines {
		if m["_source"] == "receiver" || m["_source"] == "worker" {
			for k, v := range m {
				if k != "_source" {
					walk(k, v)
				}
			}
		}
	}
	return out
}

func join(prefix, k string) string {
	if prefix == "" {
		return k
	}
	return prefix + "." + k
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var (
	queryStrings = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|/(?:[^/\\\n]|\\.)+/`)
	queryIdent   = regexp.MustCompile(`@?[A-Za-z_][A-Za-z0-9_.]*(\s*\()?`)
	queryAlias   = regexp.MustCompile(`\bas\s+([A-Za-z_][A-Za-z0-9_]*)`)
	queryWords   = []string{"fields", "filter", "stats", "sort", "limit", "by", "as", "and", "or", "not", "desc", "asc", "like", "in", "display", "parse", "dedup"}
)

// queryFields returns the log fields a Logs Insights query reads: its
// identifiers without commands, keywords, functions, aliases it defines,
// strings and regexes.
func queryFields(q string) []string {
	var lines []string
	for _, line := range strings.Split(q, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			lines = append(lines, line)
		}
	}
	q = queryStrings.ReplaceAllString(strings.Join(lines, "\n"), `""`)
	aliases := map[string]bool{}
	for _, m := range queryAlias.FindAllStringSubmatch(q, -1) {
		aliases[m[1]] = true
	}
	q = queryAlias.ReplaceAllString(q, "")
	var out []string
	for _, tok := range queryIdent.FindAllString(q, -1) {
		if strings.HasSuffix(tok, "(") || aliases[tok] || slices.Contains(queryWords, tok) {
			continue
		}
		if !slices.Contains(out, tok) {
			out = append(out, tok)
		}
	}
	return out
}

func TestQueryFields(t *testing.T) {
	got := queryFields("# comment with words\nfields @timestamp, msg, record.status\n| filter level = \"ERROR\" or @message like /a b/ and status != 200\n| stats count(*) as n, pct(durationMs, 99) as p99 by handler\n| sort p99 desc | limit 10")
	want := []string{"@timestamp", "msg", "record.status", "level", "@message", "status", "durationMs", "handler"}
	if !slices.Equal(got, want) {
		t.Errorf("queryFields = %v, want %v", got, want)
	}
}

package reconcile_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/reconcile"
	"github.com/hookline/hookline/internal/standin"
)

// These tests run the reconciler against the stand-in Okta (standin) and
// kumo: the real SQS queue and the real ledger table.

const subscribed = "user.lifecycle.create"

// fixture is one reconciler with its own org, queue and ledger table.
type fixture struct {
	org      *standin.Org
	okta     *oktaapi.Client
	queueURL string
	dlqURL   string
	table    string
	marks    *ledger.Marks
	cursors  *ledger.Cursors
	logs     *bytes.Buffer
	now      time.Time // the reconciler's clock; the org's events are stored at real time
	sqs      *sqs.Client
	ddb      *dynamodb.Client
	sm       *secretsmanager.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	s := devstacktest.Start(t, devstacktest.Options{})
	f := &fixture{org: standin.Start(t.Cleanup), logs: &bytes.Buffer{}, now: time.Now(), sqs: s.Clients.SQS, ddb: s.Clients.DynamoDB, sm: s.Clients.SecretsManager}
	f.org.SetAPIToken("ssws-token")
	var err error
	if f.okta, err = oktaapi.New(oktaapi.Credentials{OrgURL: f.org.URL, APIToken: "ssws-token"}, oktaapi.Settings{}); err != nil {
		t.Fatal(err)
	}
	f.queueURL, f.dlqURL, f.table = s.QueueURL("EventsQueue"), s.QueueURL("EventsDLQ"), s.Resources.Tables["LedgerTable"]
	f.marks = &ledger.Marks{Client: f.ddb, Table: f.table}
	f.cursors = &ledger.Cursors{Client: f.ddb, Table: f.table}
	return f
}

func (f *fixture) reconciler(limit int) *reconcile.Reconciler {
	return &reconcile.Reconciler{
		SystemLog: f.okta,
		Marks:     f.marks,
		Cursors:   f.cursors,
		Publisher: &queue.Publisher{Sender: queue.SQSSender{Client: f.sqs, QueueURL: f.queueURL}, Budget: 5 * time.Second},
		Log:       slog.New(slog.NewJSONHandler(f.logs, nil)),
		Types:     []string{subscribed},
		Grace:     10 * time.Minute,
		Lookback:  time.Hour,
		Limit:     limit,
		Now:       func() time.Time { return f.now },
	}
}

// events adds n subscribed events published ago.., one second apart, and
// returns their documents by uuid.
func (f *fixture) events(prefix string, n int, ago time.Duration) map[string][]byte {
	docs := map[string][]byte{}
	var list [][]byte
	for i := range n {
		u := fmt.Sprintf("%s-%03d", prefix, i)
		d := standin.Event(u, subscribed, f.now.Add(-ago+time.Duration(i)*time.Second))
		docs[u] = d
		list = append(list, d)
	}
	f.org.Add(list...)
	return docs
}

// drain receives and deletes until a one-second long poll comes back empty
// (what was sent is visible at once), and
// returns the envelopes by uuid, failing on a uuid seen twice.
func (f *fixture) drain(t *testing.T) map[string]envelope.Message {
	t.Helper()
	got := map[string]envelope.Message{}
	for empty := 0; empty < 1; {
		out, err := f.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: &f.queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
			continue
		}
		empty = 0
		for _, m := range out.Messages {
			env, err := envelope.Decode([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatal(err)
			}
			u := aws.ToString(m.MessageAttributes[envelope.AttrEventUUID].StringValue)
			if _, dup := got[u]; dup {
				t.Fatalf("event %s queued twice", u)
			}
			got[u] = env
			if _, err := f.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &f.queueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return got
}

func run(t *testing.T, r *reconcile.Reconciler) reconcile.Stats {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := r.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestDeliveredEventsAreNotQueuedAgainAndMissedOnesOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	docs := f.events("ev", 40, 30*time.Minute)
	f.org.Add(standin.Event("other-1", "user.session.start", f.now.Add(-30*time.Minute))) // not subscribed
	var marked, missed []string
	for u := range docs {
		if len(missed) < 13 {
			missed = append(missed, u)
		} else {
			marked = append(marked, u)
		}
	}
	if err := f.marks.Mark(t.Context(), envelope.OriginHook, marked); err != nil {
		t.Fatal(err)
	}
	r := f.reconciler(10)
	var emf bytes.Buffer
	r.Metrics = metrics.New("Hookline", "test", &emf)
	st := run(t, r)
	if st.Seen != 40 || st.Marked != 27 || st.Queued != 13 || st.Stopped != reconcile.StopCaughtUp {
		t.Fatalf("stats %+v", st)
	}
	got := f.drain(t)
	if len(got) != len(missed) {
		t.Fatalf("queued %d, want %d", len(got), len(missed))
	}
	for _, u := range missed {
		m, ok := got[u]
		if !ok {
			t.Fatalf("missed event %s not queued", u)
		}
		if m.Origin != envelope.OriginSystemLog || !bytes.Equal(m.Event, docs[u]) {
			t.Fatalf("event %s: origin %q, event changed:\n got %s\nwant %s", u, m.Origin, m.Event, docs[u])
		}
	}
	// The summary line says it all, and a recovered event names itself.
	logs := f.logs.String()
	for _, want := range []string{`"msg":"reconcile run"`, `"recovered":13`, `"alreadyDelivered":27`, `"pages":5`, `"oldestRecoveredPublished":"`,
		`"msg":"event recovered"`, `"eventUuid":"` + missed[0] + `"`} {
		if !strings.Contains(logs, want) {
			t.Fatalf("logs lack %s:\n%s", want, logs)
		}
	}

	if !strings.Contains(emf.String(), `"EventsRecovered":13`) {
		t.Fatalf("no EventsRecovered metric: %s", emf.String())
	}

	// Nothing is recovered twice: not by the next run, nor by a run that
	// lost its cursor and reads everything again.
	if st := run(t, r); st.Queued != 0 {
		t.Fatalf("second run queued %d", st.Queued)
	}
	deleteCursor(t, f)
	if st := run(t, r); st.Queued != 0 || st.Marked != 40 {
		t.Fatalf("run without cursor: %+v", st)
	}
	if got := f.drain(t); len(got) != 0 {
		t.Fatalf("queued again: %v", keys(got))
	}
}

func deleteCursor(t *testing.T, f *fixture) {
	t.Helper()
	_, err := f.ddb.DeleteItem(t.Context(), &dynamodb.DeleteItemInput{TableName: &f.table,
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "cursor#" + reconcile.CursorName}}})
	if err != nil {
		t.Fatal(err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAParkedEventIsNotRecoveredAgain(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.events("parked", 1, 30*time.Minute)
	r := f.reconciler(10)
	if st := run(t, r); st.Queued != 1 {
		t.Fatalf("first run: %+v", st)
	}
	// The worker parks it: off the events queue, into the DLQ.
	for u, m := range f.drain(t) {
		body := string(envelope.Encode(m.DeliveryID, m.Origin, m.ReceivedAt, m.Event))
		if _, err := f.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &f.dlqURL, MessageBody: &body}); err != nil {
			t.Fatal(err)
		}
		t.Logf("parked %s", u)
	}
	// Run after run, even reading the System Log from the start again, the
	// parked event stays parked: redrive is how it comes back.
	for i := range 3 {
		deleteCursor(t, f)
		if st := run(t, r); st.Queued != 0 || st.Marked != 1 {
			t.Fatalf("run %d: %+v", i, st)
		}
	}
	if got := f.drain(t); len(got) != 0 {
		t.Fatalf("recovered again: %v", keys(got))
	}
}

func TestTheCursorSurvivesBetweenRuns(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.events("old", 35, 40*time.Minute)
	r := f.reconciler(10)
	if st := run(t, r); st.Queued != 35 || st.Pages != 5 {
		t.Fatalf("first run: %+v", st)
	}
	f.drain(t)
	f.events("new", 4, 20*time.Minute)
	before := f.org.LogsRequests()
	// A new Reconciler: nothing carried over in memory.
	st := run(t, f.reconciler(10))
	if st.Seen != 4 || st.Queued != 4 {
		t.Fatalf("second run read from the start instead of the cursor: %+v", st)
	}
	if n := f.org.LogsRequests() - before; n != 2 {
		t.Fatalf("second run made %d requests, want 2 (the new page and the empty one)", n)
	}
	if got := f.drain(t); len(got) != 4 {
		t.Fatalf("queued %d", len(got))
	}
}

func TestYoungEventsAreLeftToTheHookUntilTheGraceHasPassed(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.events("ripe", 3, 30*time.Minute)
	f.events("young", 3, 2*time.Minute)
	r := f.reconciler(100)
	st := run(t, r)
	if st.Queued != 3 || st.Stopped != reconcile.StopGrace {
		t.Fatalf("first run: %+v", st)
	}
	// The hook brings one of the young ones in time.
	if err := f.marks.Mark(t.Context(), envelope.OriginHook, []string{"young-001"}); err != nil {
		t.Fatal(err)
	}
	f.now = f.now.Add(10 * time.Minute)
	st = run(t, r)
	if st.Queued != 2 || st.Marked != 4 {
		t.Fatalf("after the grace: %+v", st)
	}
	got := f.drain(t)
	if len(got) != 5 || got["young-001"].Event != nil {
		t.Fatalf("queued %v", keys(got))
	}
}

func TestA429MidRunResumesWithoutLossOrDuplicates(t *testing.T) {
	t.Parallel()
	t.Run("waits for the reset within the run", func(t *testing.T) {
		f := newFixture(t)
		docs := f.events("rl", 50, 30*time.Minute)
		f.org.SetRateLimit(100, 2*time.Second)
		f.org.Fail429(3)
		st := run(t, f.reconciler(10))
		if st.Queued != 50 || st.Stopped != reconcile.StopCaughtUp {
			t.Fatalf("stats %+v", st)
		}
		if got := f.drain(t); len(got) != len(docs) {
			t.Fatalf("queued %d of %d", len(got), len(docs))
		}
	})
	t.Run("the reset is past the deadline: the next run resumes", func(t *testing.T) {
		f := newFixture(t)
		docs := f.events("rl", 50, 30*time.Minute)
		f.org.Fail429(3) // its reset is the end of a one-minute window
		r := f.reconciler(10)
		r.Reserve = time.Second
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		st, err := r.Run(ctx)
		cancel()
		if err != nil || st.Stopped != reconcile.StopRateLimited || st.Queued != 20 {
			t.Fatalf("first run: %+v %v", st, err)
		}
		if !strings.Contains(f.logs.String(), `"stopped":"rate-limited"`) {
			t.Fatalf("summary does not say why it stopped: %s", f.logs)
		}
		// The next scheduled run comes after the reset (the stand-in's
		// window is real time, so a fresh client stands in for it).
		if f.okta, err = oktaapi.New(oktaapi.Credentials{OrgURL: f.org.URL, APIToken: "ssws-token"}, oktaapi.Settings{}); err != nil {
			t.Fatal(err)
		}
		st = run(t, f.reconciler(10))
		if st.Queued != 30 || st.Seen != 30 {
			t.Fatalf("second run did not resume at the cursor: %+v", st)
		}
		got := f.drain(t)
		if len(got) != len(docs) {
			t.Fatalf("queued %d of %d", len(got), len(docs))
		}
	})
}

func TestARunStopsBeforeItsDeadlineAndResumes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.events("dl", 20, 30*time.Minute)
	r := f.reconciler(10)
	r.Reserve = time.Hour // no time for a page
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	st, err := r.Run(ctx)
	if err != nil || st.Stopped != reconcile.StopDeadline || st.Pages != 0 {
		t.Fatalf("stats %+v %v", st, err)
	}
	r.Reserve = 0
	if st := run(t, r); st.Queued != 20 {
		t.Fatalf("next run: %+v", st)
	}
}

func TestChangedEventTypesStartAgainFromTheLookback(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.events("a", 2, 30*time.Minute)
	f.org.Add(standin.Event("b-000", "group.user_membership.add", f.now.Add(-30*time.Minute)))
	r := f.reconciler(10)
	if st := run(t, r); st.Queued != 2 {
		t.Fatalf("first run: %+v", st)
	}
	r.Types = []string{subscribed, "group.user_membership.add"}
	if st := run(t, r); st.Queued != 1 || st.Marked != 2 {
		t.Fatalf("after adding a type: %+v", st)
	}
	if got := f.drain(t); len(got) != 3 {
		t.Fatalf("queued %v", keys(got))
	}
}

func TestACursorOfAnotherOrgStartsAgainFromTheLookback(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.events("o", 3, 30*time.Minute)
	if err := f.cursors.Save(t.Context(), reconcile.CursorName, ledger.Cursor{
		Next: "https://old-org.okta.com/api/v1/logs?after=x", Filter: oktaapi.TypeFilter([]string{subscribed})}); err != nil {
		t.Fatal(err)
	}
	if st := run(t, f.reconciler(10)); st.Queued != 3 {
		t.Fatalf("run: %+v\n%s", st, f.logs)
	}
	if !strings.Contains(f.logs.String(), "the cursor is not for this org") {
		t.Fatalf("no warning: %s", f.logs)
	}
}

func TestReplay(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	docs := f.events("rp", 30, 3*time.Hour)
	var handled []string
	for u := range docs {
		if len(handled) < 10 {
			handled = append(handled, u)
		}
	}
	if err := f.marks.Mark(t.Context(), envelope.OriginHook, handled); err != nil {
		t.Fatal(err)
	}
	r := f.reconciler(7)
	since, until := f.now.Add(-4*time.Hour), f.now

	var progress []reconcile.Stats
	st, err := r.Replay(t.Context(), reconcile.ReplayOptions{Since: since, Until: until, DryRun: true,
		Progress: func(s reconcile.Stats) { progress = append(progress, s) }})
	if err != nil || st.Seen != 30 || st.Queued != 20 || st.Marked != 10 || st.Pages != 5 {
		t.Fatalf("dry run: %+v %v", st, err)
	}
	if len(progress) != 5 || progress[2].Seen != 21 {
		t.Fatalf("progress %+v", progress)
	}
	if got := f.drain(t); len(got) != 0 {
		t.Fatalf("a dry run queued %d", len(got))
	}

	st, err = r.Replay(t.Context(), reconcile.ReplayOptions{Since: since, Until: until})
	if err != nil || st.Queued != 20 || st.Marked != 10 {
		t.Fatalf("replay: %+v %v", st, err)
	}
	got := f.drain(t)
	for _, u := range handled {
		if _, ok := got[u]; ok {
			t.Fatalf("replay queued %s, which the hook marked", u)
		}
	}
	if len(got) != 20 {
		t.Fatalf("replay queued %d", len(got))
	}
	// Again: everything is marked now.
	if st, _ := r.Replay(t.Context(), reconcile.ReplayOptions{Since: since, Until: until}); st.Queued != 0 {
		t.Fatalf("second replay queued %d", st.Queued)
	}

	// --force queues every event in the range, once.
	st, err = r.Replay(t.Context(), reconcile.ReplayOptions{Since: since, Until: until, Force: true})
	if err != nil || st.Queued != 30 {
		t.Fatalf("forced replay: %+v %v", st, err)
	}
	if got := f.drain(t); len(got) != 30 {
		t.Fatalf("forced replay queued %d", len(got))
	}

	// A range and a type select.
	st, _ = r.Replay(t.Context(), reconcile.ReplayOptions{Since: f.now.Add(-3 * time.Hour), Until: f.now.Add(-3*time.Hour + 5*time.Second), DryRun: true, Force: true})
	if st.Seen != 5 {
		t.Fatalf("range: seen %d, want 5", st.Seen)
	}
	st, _ = r.Replay(t.Context(), reconcile.ReplayOptions{Since: since, Until: until, Types: []string{"user.session.start"}, DryRun: true, Force: true})
	if st.Seen != 0 {
		t.Fatalf("type filter: seen %d", st.Seen)
	}
}

func TestAnUnreadableOrBadSecretFailsTheRunSayingSo(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sm := f.sm
	bad, err := sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String("okta-bad"),
		SecretString: aws.String(`{"orgUrl":"http://198.51.100.9","apiToken":"x"}`)})
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{
		"arn:aws:secretsmanager:us-east-1:000000000000:secret:missing": "read secret",
		aws.ToString(bad.ARN): "must use https",
	} {
		f.logs.Reset()
		s := &reconcile.Scheduled{Reconciler: f.reconciler(10), Credentials: func(ctx context.Context) (oktaapi.Credentials, error) {
			return oktaapi.LoadCredentials(ctx, sm, id)
		}}
		_, err := s.Handle(t.Context(), nil)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to say %q", id, err, want)
		}
		if !strings.Contains(f.logs.String(), `"stopped":"error"`) {
			t.Errorf("%s: no summary line: %s", id, f.logs)
		}
	}
}

package reconcile_test

import (
	"context"
	"fmt"
	"github.com/hookline/hookline/internal/envelope"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/hookhealth"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/reconcile"
	"github.com/hookline/hookline/internal/standin"
)

// countingDynamoDB counts the DynamoDB requests of the marks and cursors.
type countingDynamoDB struct {
	c *dynamodb.Client
	n atomic.Int64
}

func (d *countingDynamoDB) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	d.n.Add(1)
	return d.c.BatchWriteItem(ctx, in, o...)
}
func (d *countingDynamoDB) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	d.n.Add(1)
	return d.c.BatchGetItem(ctx, in, o...)
}
func (d *countingDynamoDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	d.n.Add(1)
	return d.c.GetItem(ctx, in, o...)
}
func (d *countingDynamoDB) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	d.n.Add(1)
	return d.c.PutItem(ctx, in, o...)
}

type benchRig struct {
	org    *standin.Org
	client *oktaapi.Client
	ddb    *countingDynamoDB
	r      *reconcile.Reconciler
	table  string
}

func newBenchRig(b *testing.B) *benchRig {
	s := devstacktest.Start(b, devstacktest.Options{})
	org := standin.Start(b.Cleanup)
	org.SetAPIToken("bench")
	org.SetRateLimit(1<<30, time.Minute)
	client, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "bench"}, oktaapi.Settings{})
	if err != nil {
		b.Fatal(err)
	}
	ddb := &countingDynamoDB{c: s.Clients.DynamoDB}
	table := s.Resources.Tables["LedgerTable"]
	return &benchRig{org: org, client: client, ddb: ddb, table: table, r: &reconcile.Reconciler{
		SystemLog: client,
		Marks:     &ledger.Marks{Client: ddb, Table: table},
		Cursors:   &ledger.Cursors{Client: ddb, Table: table},
		Publisher: &queue.Publisher{Sender: queue.SQSSender{Client: s.Clients.SQS, QueueURL: s.QueueURL("EventsQueue")}, Budget: 30 * time.Second},
		Log:       slog.New(slog.NewJSONHandler(io.Discard, nil)),
		Types:     []string{subscribed},
		Grace:     time.Minute,
		Lookback:  24 * time.Hour,
	}}
}

// watch adds the Okta side watch, and the stack's hook to the org.
func (g *benchRig) watch(b *testing.B) {
	g.org.SetAPIToken("bench")
	const uri = "https://bench.example.com/okta/events"
	if _, err := g.client.CreateEventHook(b.Context(), oktaapi.NewEventHook("bench", uri, "Authorization", "x", []string{subscribed})); err != nil {
		b.Fatal(err)
	}
	g.r.Watch = &hookhealth.Watch{
		Want:  hookhealth.Want{URI: uri, Types: []string{subscribed}},
		Store: &ledger.OktaSideStore{Client: g.ddb, Table: g.table},
	}
}

// addEvents stores n subscribed events published in [from, from+n ms).
func (g *benchRig) addEvents(prefix string, n int, from time.Time) []string {
	var raws [][]byte
	var uuids []string
	for i := range n {
		u := fmt.Sprintf("%s-%05d", prefix, i)
		uuids = append(uuids, u)
		raws = append(raws, standin.Event(u, subscribed, from.Add(time.Duration(i)*time.Millisecond)))
	}
	g.org.Add(raws...)
	return uuids
}

// BenchmarkReplayRecovery replays 1,000 events the hook never queued (pages
// of 1,000, the default) into the events queue on kumo, each iteration a
// new range: events recovered per second, and the Okta and DynamoDB
// requests it took.
func BenchmarkReplayRecovery(b *testing.B) {
	g := newBenchRig(b)
	const n = 1000
	base := time.Now().Add(-2 * time.Hour)
	var recovered int
	okta0, ddb0 := g.client.Requests(), g.ddb.n.Load()
	i := 0
	for b.Loop() {
		b.StopTimer()
		from := base.Add(time.Duration(i) * time.Minute)
		g.addEvents(fmt.Sprintf("r%d", i), n, from)
		i++
		b.StartTimer()
		st, err := g.r.Replay(b.Context(), reconcile.ReplayOptions{Since: from, Until: from.Add(time.Minute)})
		if err != nil || st.Queued != n {
			b.Fatalf("%+v %v", st, err)
		}
		recovered += st.Queued
	}
	b.ReportMetric(float64(recovered)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(g.client.Requests()-okta0)*1000/float64(recovered), "okta-req/1000-events")
	b.ReportMetric(float64(g.ddb.n.Load()-ddb0)/float64(recovered), "ddb-req/event")
}

// BenchmarkReconcileRun counts the requests of one scheduled run: when
// nothing is missing (1,000 events, all marked by the hook, read from the
// start) and when nothing is new (from the cursor); "okta-side" runs also
// watch Okta's side of the hook (hookhealth.Watch, with the hook
// registered): what that adds per run.
func BenchmarkReconcileRun(b *testing.B) {
	for _, tc := range []struct {
		name     string
		fromZero bool
		watch    bool
	}{{"nothing-missing-1000-events", true, false}, {"nothing-new", false, false},
		{"nothing-missing-1000-events-okta-side", true, true}, {"nothing-new-okta-side", false, true}} {
		b.Run(tc.name, func(b *testing.B) {
			g := newBenchRig(b)
			if tc.watch {
				g.watch(b)
			}
			uuids := g.addEvents("m", 1000, time.Now().Add(-time.Hour))
			if err := g.r.Marks.Mark(b.Context(), envelope.OriginHook, uuids); err != nil {
				b.Fatal(err)
			}
			if _, err := g.r.Run(b.Context()); err != nil { // leaves the cursor at the end
				b.Fatal(err)
			}
			okta0, ddb0, runs, checked := g.client.Requests(), g.ddb.n.Load(), 0, 0
			for b.Loop() {
				if tc.fromZero {
					b.StopTimer()
					if err := g.r.Cursors.Save(b.Context(), reconcile.CursorName, ledger.Cursor{}); err != nil {
						b.Fatal(err)
					}
					ddb0++ // that Save is not the run's
					b.StartTimer()
				}
				st, err := g.r.Run(b.Context())
				if err != nil || st.Queued != 0 {
					b.Fatalf("%+v %v", st, err)
				}
				runs++
				checked += st.Seen
			}
			b.ReportMetric(float64(g.client.Requests()-okta0)/float64(runs), "okta-req/run")
			b.ReportMetric(float64(g.ddb.n.Load()-ddb0)/float64(runs), "ddb-req/run")
			if checked > 0 {
				b.ReportMetric(float64(g.ddb.n.Load()-ddb0)/float64(checked), "ddb-req/event-checked")
			}
		})
	}
}

// BenchmarkReconcileRunRecovering is a scheduled run that finds 1,000 new
// events the hook never queued (read from the cursor, pages of 1,000).
func BenchmarkReconcileRunRecovering(b *testing.B) {
	g := newBenchRig(b)
	if _, err := g.r.Run(b.Context()); err != nil { // the cursor, at the (empty) end
		b.Fatal(err)
	}
	okta0, ddb0, recovered, i := g.client.Requests(), g.ddb.n.Load(), 0, 0
	for b.Loop() {
		b.StopTimer()
		g.addEvents(fmt.Sprintf("n%d", i), 1000, time.Now().Add(-time.Hour))
		i++
		b.StartTimer()
		st, err := g.r.Run(b.Context())
		if err != nil || st.Queued != 1000 {
			b.Fatalf("%+v %v", st, err)
		}
		recovered += st.Queued
	}
	b.ReportMetric(float64(recovered)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(g.client.Requests()-okta0)*1000/float64(recovered), "okta-req/1000-recovered")
	b.ReportMetric(float64(g.ddb.n.Load()-ddb0)/float64(recovered), "ddb-req/event")
}

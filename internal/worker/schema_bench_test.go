package worker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/schema"
	"github.com/hookline/hookline/internal/worker"
)

// countingSchemas counts the schema store's DynamoDB reads and writes.
type countingSchemas struct {
	ledger.SchemasAPI
	reads, writes atomic.Int64
}

func (c *countingSchemas) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.reads.Add(1)
	return c.SchemasAPI.GetItem(ctx, in, o...)
}

func (c *countingSchemas) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.writes.Add(1)
	return c.SchemasAPI.UpdateItem(ctx, in, o...)
}

// BenchmarkWorkerSchema is the worker's CPU per event with schema learning
// off and on: batches of 10 of the samples in events/okta/ (real Okta
// payloads, 2-3 KB), one no-op handler, no ledger, so the learning is what
// differs. With it on, the shapes are in the ledger table on kumo and known
// before the timer starts: ddb-writes/event must be 0.
func BenchmarkWorkerSchema(b *testing.B) {
	files, _ := filepath.Glob("../../events/okta/*.json")
	if len(files) == 0 {
		b.Fatal("no samples")
	}
	var raws []json.RawMessage
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		raws = append(raws, raw)
	}
	batch := events.SQSEvent{}
	for i := range 10 {
		raw := raws[i%len(raws)]
		batch.Records = append(batch.Records, events.SQSMessage{MessageId: "m" + strconv.Itoa(i), ReceiptHandle: "rh",
			Body: string(envelope.Encode("d", "src", time.Now(), raw)), Attributes: map[string]string{"ApproximateReceiveCount": "1"}})
	}
	for _, mode := range []string{"Off", "On"} {
		b.Run(mode, func(b *testing.B) {
			reg := &handlers.Registry{}
			reg.On("*", func(context.Context, handlers.Event) error { return nil }, handlers.Name("noop"), handlers.Idempotent())
			w := &worker.Worker{Registry: reg, Log: slog.New(slog.DiscardHandler)}
			var counter *countingSchemas
			if mode == "On" {
				s := newStack(b, 30)
				counter = &countingSchemas{SchemasAPI: s.k.Clients.DynamoDB}
				w.Observer = &schema.Learner{Store: &ledger.Schemas{Client: counter, Table: s.k.Resources.Tables["LedgerTable"]}, Log: slog.New(slog.DiscardHandler)}
				if _, err := w.Handle(context.Background(), batch); err != nil { // learn the shapes
					b.Fatal(err)
				}
				counter.reads.Store(0)
				counter.writes.Store(0)
			}
			ctx := context.Background()
			b.ReportAllocs()
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for range b.N {
				resp, err := w.Handle(ctx, batch)
				if err != nil || len(resp.BatchItemFailures) != 0 {
					b.Fatal(resp, err)
				}
			}
			b.StopTimer()
			n := float64(10 * b.N)
			// CPU (user + system, every thread of this process) rather than
			// wall time: the machine is shared, and the worker waits on nothing here.
			b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/n, "cpu-ns/event")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/event")
			if counter != nil {
				b.ReportMetric(float64(counter.writes.Load())/n, "ddb-writes/event")
				b.ReportMetric(float64(counter.reads.Load())/n, "ddb-reads/event")
			}
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

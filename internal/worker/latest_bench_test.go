package worker_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
)

// BenchmarkLatest compares, on kumo, a handlers.Latest handler with a plain
// one (the idempotency ledger) per event: ddb-req/event is the ledger's
// DynamoDB requests, handle-ms/event the worker's time per event (batches
// of 10, handled concurrently). Latest runs events of 10 users a batch;
// LatestOneUser runs batches whose 10 events are all one user's (they take
// turns; the older ones are stale), the worst case.
func BenchmarkLatest(b *testing.B) {
	for _, mode := range []string{"Plain", "Latest", "LatestOneUser"} {
		b.Run(mode, func(b *testing.B) { benchLatest(b, mode) })
	}
}

func benchLatest(b *testing.B, mode string) {
	s := newStack(b, 30)
	s.wait = 0
	reg := &handlers.Registry{}
	opts := []handlers.Option{handlers.Name("sync-user")}
	if mode != "Plain" {
		opts = append(opts, handlers.Latest(nil))
	}
	reg.On("user.lifecycle.*", func(context.Context, handlers.Event) error { return nil }, opts...)
	w := s.worker(reg, nil)
	counter := &countingDDB{DynamoDBAPI: s.ledger.Client}
	s.ledger.Client = counter
	ctx := context.Background()
	at := time.Now().Add(-time.Hour)
	for i := range b.N {
		entries := make([]types.SendMessageBatchRequestEntry, 10)
		for j := range entries {
			user := fmt.Sprintf("00u-%d-%d", i, j)
			if mode == "LatestOneUser" {
				user = fmt.Sprintf("00u-%d", i)
			}
			doc := userDoc(fmt.Sprintf("bench-%d-%d", i, j), "user.lifecycle.activate", user, at.Add(time.Duration(j)*time.Millisecond))
			entries[j] = types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)),
				MessageBody: aws.String(string(envelope.Encode("d", "src", time.Now(), doc)))}
		}
		if _, err := s.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &s.queueURL, Entries: entries}); err != nil {
			b.Fatal(err)
		}
	}
	counter.n.Store(0)
	var inHandle time.Duration
	b.ResetTimer()
	events := 0
	for events < 10*b.N {
		ev, msgs := s.receive(b, 10)
		if len(msgs) == 0 {
			break
		}
		began := time.Now()
		resp, err := w.Handle(ctx, ev)
		inHandle += time.Since(began)
		if err != nil || len(resp.BatchItemFailures) != 0 {
			b.Fatalf("%+v %v", resp, err)
		}
		del := make([]types.DeleteMessageBatchRequestEntry, len(msgs))
		for i, m := range msgs {
			del[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle}
		}
		if out, err := s.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &s.queueURL, Entries: del}); err != nil || len(out.Failed) > 0 {
			b.Fatal(out, err)
		}
		events += len(msgs)
	}
	b.StopTimer()
	if events != 10*b.N {
		b.Fatalf("processed %d events of %d", events, 10*b.N)
	}
	b.ReportMetric(float64(counter.n.Load())/float64(events), "ddb-req/event")
	b.ReportMetric(float64(inHandle.Microseconds())/1000/float64(events), "handle-ms/event")
}

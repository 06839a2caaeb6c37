package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/eventbus"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
)

// countingDDB counts the ledger's DynamoDB requests.
type countingDDB struct {
	ledger.DynamoDBAPI
	n atomic.Int64
}

func (c *countingDDB) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.n.Add(1)
	return c.DynamoDBAPI.GetItem(ctx, in, o...)
}

func (c *countingDDB) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	c.n.Add(1)
	return c.DynamoDBAPI.UpdateItem(ctx, in, o...)
}

// BenchmarkWorker runs batches of 10 real envelopes through a kumo queue:
// receive, the worker (one handler), delete. Each op is one batch; the
// events/s metric is the throughput, ddb-req/event the ledger's cost.
// EventBridge runs the worker's built-in handlers instead, the event log
// (no ledger) and the fan-out to a bus on the same kumo (ledger on), and
// reports putevents-req/event.
func BenchmarkWorker(b *testing.B) {
	for _, mode := range []string{"LedgerOff", "LedgerOn", "LedgerOnDuplicates", "EventBridge"} {
		b.Run(mode, func(b *testing.B) { benchWorker(b, mode) })
	}
}

func benchWorker(b *testing.B, mode string) {
	s := newStack(b, 30)
	s.wait = 0
	reg := &handlers.Registry{}
	var pub *eventbus.Publisher
	if mode == "EventBridge" {
		pub = &eventbus.Publisher{Client: newEventBridge(b, s), Bus: "okta-bench"}
		reg.On("*", handlers.EventLog(slog.New(slog.DiscardHandler)), handlers.Name("event-log"), handlers.Idempotent())
		reg.On("*", pub.Handle, handlers.Name("event-bus"))
	} else {
		reg.On("*", func(context.Context, handlers.Event) error { return nil }, handlers.Name("noop"))
	}
	w := s.worker(reg, nil)
	counter := &countingDDB{DynamoDBAPI: s.ledger.Client}
	s.ledger.Client = counter
	if mode == "LedgerOff" {
		w.Ledger = nil
	}
	ctx := context.Background()
	fill := func() {
		for i := range b.N {
			entries := make([]types.SendMessageBatchRequestEntry, 10)
			for j := range entries {
				uuid := fmt.Sprintf("bench-%d-%d", i, j)
				raw := json.RawMessage(`{"uuid":"` + uuid + `","eventType":"user.session.start","published":"2024-01-01T00:00:00Z","actor":{"alternateId":"jane@example.com"},"outcome":{"result":"SUCCESS"}}`)
				entries[j] = types.SendMessageBatchRequestEntry{
					Id:          aws.String(strconv.Itoa(j)),
					MessageBody: aws.String(string(envelope.Encode("d", "src", time.Now(), raw))),
					MessageAttributes: map[string]types.MessageAttributeValue{
						envelope.AttrEventUUID: {DataType: aws.String("String"), StringValue: aws.String(uuid)},
					},
				}
			}
			if _, err := s.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &s.queueURL, Entries: entries}); err != nil {
				b.Fatal(err)
			}
		}
	}
	process := func() int {
		events := 0
		for events < 10*b.N {
			ev, msgs := s.receive(b, 10)
			if len(msgs) == 0 {
				break
			}
			resp, err := w.Handle(ctx, ev)
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
		return events
	}
	fill()
	if mode == "LedgerOnDuplicates" { // complete every event once, then time the duplicates
		process()
		fill()
	}
	counter.n.Store(0)
	b.ResetTimer()
	events := process()
	b.StopTimer()
	if events != 10*b.N {
		b.Fatalf("processed %d events of %d", events, 10*b.N)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(counter.n.Load())/float64(events), "ddb-req/event")
	if pub != nil {
		b.ReportMetric(float64(pub.Requests())/float64(events), "putevents-req/event")
	}
}

// newEventBridge is an EventBridge client on the stack's kumo, with the bus
// okta-bench created.
func newEventBridge(b *testing.B, s *stack) *eventbridge.Client {
	c := awsenv.Env{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		Getenv: func(k string) string {
			if k == "AWS_ENDPOINT_URL" {
				return s.k.Clients.Endpoint
			}
			return ""
		}}.Service(eventbridge.ServiceID)
	eb := eventbridge.New(eventbridge.Options{Region: c.Region, Credentials: c.Credentials, BaseEndpoint: c.BaseEndpoint, HTTPClient: c.HTTPClient})
	if _, err := eb.CreateEventBus(context.Background(), &eventbridge.CreateEventBusInput{Name: aws.String("okta-bench")}); err != nil {
		b.Fatal(err)
	}
	return eb
}

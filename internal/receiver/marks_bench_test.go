package receiver_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/receiver"
)

type countingWrites struct {
	*dynamodb.Client
	n atomic.Int64
}

func (c *countingWrites) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, o ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	c.n.Add(1)
	return c.Client.BatchWriteItem(ctx, in, o...)
}

// BenchmarkDeliveryMarksOnKumo is what the delivery marks add to the
// receiver: a delivery of 10 events through the handler into the events
// queue on kumo, without and with the marks written to the ledger table.
// kumo on loopback, not DynamoDB over the network: compare the two, and
// count the requests.
func BenchmarkDeliveryMarksOnKumo(b *testing.B) {
	s := devstacktest.Start(b, devstacktest.Options{Secret: "bench-secret-0123456789abcdef0123"})
	verifier := auth.NewVerifier(auth.SecretsManager{Client: s.Clients.SecretsManager, SecretID: s.Resources.SecretARNs["HookSecret"]}, auth.Settings{TTL: 5 * time.Minute})
	pub := &queue.Publisher{Sender: queue.SQSSender{Client: s.Clients.SQS, QueueURL: s.QueueURL("EventsQueue")}, Budget: 2 * time.Second}
	ddb := &countingWrites{Client: s.Clients.DynamoDB}
	marks := &ledger.Marks{Client: ddb, Table: s.Resources.Tables["LedgerTable"]}
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	for _, tc := range []struct {
		name string
		cfg  receiver.Config
	}{
		{"without-marks", receiver.Config{}},
		{"with-marks", receiver.Config{Marks: marks}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := receiver.New(tc.cfg, verifier, pub, log)
			n0, events, i := ddb.n.Load(), 0, 0
			for b.Loop() {
				uuids := make([]string, 10)
				for j := range uuids {
					uuids[j] = fmt.Sprintf("%s-%d-%d", tc.name, i, j)
				}
				i++
				resp, err := h.Handle(context.Background(), post("bench-secret-0123456789abcdef0123", deliveryOf(uuids...)))
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%d %s %v", resp.StatusCode, resp.Body, err)
				}
				events += len(uuids)
			}
			b.ReportMetric(float64(ddb.n.Load()-n0)/float64(events), "ddb-req/event")
		})
	}
}

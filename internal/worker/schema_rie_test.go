package worker_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/schema"
	"github.com/hookline/hookline/internal/standin"
)

// TestWorkerBootstrapLogsSchemaChangedOnce runs the real worker bootstrap
// under rie with the template's environment: the first event of a type is
// learned quietly; a new field, in many events over several invocations, is
// logged as "schema changed" once and counted once in SchemaChanges; the
// shape is in the ledger table under schema#<type>.
func TestWorkerBootstrapLogsSchemaChangedOnce(t *testing.T) {
	s := newStack(t, 30)
	rie := devstacktest.StartRIE(t, s.k, "worker", "", "LOG_LEVEL=info")
	const typ = "user.account.update_profile"
	batch := func(n int, extra map[string]any) []byte {
		var b events.SQSEvent
		for range n {
			uuid, raw := standin.NewEvent(typ)
			// The learned shape starts without a transaction, which the
			// changed events then carry as null only.
			var m map[string]any
			_ = json.Unmarshal(raw, &m)
			delete(m, "transaction")
			for k, v := range extra {
				m[k] = v
			}
			raw, _ = json.Marshal(m)
			b.Records = append(b.Records, events.SQSMessage{MessageId: "m-" + uuid, ReceiptHandle: "rh",
				Body: string(envelope.Encode("d1", "src", time.Now(), raw)), Attributes: map[string]string{"ApproximateReceiveCount": "1"}, EventSource: "aws:sqs"})
		}
		payload, _ := json.Marshal(b)
		return payload
	}
	payloads := [][]byte{
		batch(1, nil),
		batch(5, map[string]any{"request": map[string]any{"ipChain": []any{map[string]any{"ip": "198.51.100.1"}}}, "transaction": nil}),
		batch(5, map[string]any{"request": map[string]any{"ipChain": []any{map[string]any{"ip": "198.51.100.2"}}}, "transaction": nil}),
		batch(3, nil),
	}
	for i, p := range payloads {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := rie.Invoke(ctx, p)
		cancel()
		if err != nil || !strings.Contains(string(out), `"batchItemFailures":[]`) {
			t.Fatalf("invoke %d: %s %v\n%s", i, out, err, rie.Logs())
		}
	}
	var changed, learned []map[string]any
	schemaChanges := 0.0
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		changed, learned, schemaChanges = nil, nil, 0
		batches := 0
		for _, l := range strings.Split(rie.Logs(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) != nil {
				continue
			}
			switch m["msg"] {
			case "schema changed":
				changed = append(changed, m)
			case "schema learned":
				learned = append(learned, m)
			case "batch handled":
				batches++
			}
			if v, ok := m["SchemaChanges"].(float64); ok {
				schemaChanges += v
			}
		}
		if batches == len(payloads) || time.Now().After(deadline) {
			break
		}
	}
	if len(learned) != 1 || learned[0]["eventType"] != typ {
		t.Fatalf("schema learned lines %v, want one for %s", learned, typ)
	}
	if len(changed) != 1 {
		t.Fatalf("%d schema changed lines, want 1:\n%s", len(changed), rie.Logs())
	}
	c := changed[0]
	if c["eventType"] != typ || c["level"] != "WARN" || fmt.Sprint(c["added"]) != "[request: object]" || c["awsRequestId"] == nil {
		t.Errorf("schema changed line %v: want the type, request added (transaction is only null), and the request id", c)
	}
	if schemaChanges != 1 {
		t.Errorf("SchemaChanges = %v in the EMF lines, want 1", schemaChanges)
	}
	store := &ledger.Schemas{Client: s.k.Clients.DynamoDB, Table: s.k.Resources.Tables["LedgerTable"]}
	doc, version, err := store.Load(t.Context(), typ)
	if err != nil {
		t.Fatal(err)
	}
	shape, err := schema.Unmarshal(doc, version)
	if err != nil {
		t.Fatal(err)
	}
	if version != 2 || shape.Paths["request.ipChain[].ip"] == nil || shape.Paths["transaction"].Type() != "null" {
		t.Errorf("stored v%d %v: want v2 (learned, then changed) with request.ipChain[].ip and a null transaction", version, shape.Sorted())
	}
}

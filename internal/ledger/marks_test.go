package ledger_test

import (
	"errors"
	"fmt"
	"github.com/hookline/hookline/internal/envelope"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/ledger"
)

func TestDeliveryMarksAndCursorsOnKumo(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	client, table := s.Clients.DynamoDB, s.Resources.Tables["LedgerTable"]
	now := time.Unix(1_700_000_000, 0)

	t.Run("marks answer exactly the marked uuids, across batches", func(t *testing.T) {
		d := &ledger.Marks{Client: client, Table: table, Retention: 48 * time.Hour, Now: func() time.Time { return now }}
		var marked, asked []string
		for i := range 150 {
			u := fmt.Sprintf("m-%03d", i)
			asked = append(asked, u)
			if i%5 != 0 {
				marked = append(marked, u)
			}
		}
		// 120 marks (5 BatchWriteItem calls), one uuid twice.
		if err := d.Mark(t.Context(), envelope.OriginHook, append(marked, marked[0])); err != nil {
			t.Fatal(err)
		}
		got, err := d.Marked(t.Context(), append(asked, asked[1]))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(marked) {
			t.Fatalf("%d delivered, want %d", len(got), len(marked))
		}
		for _, u := range marked {
			if !got[u] {
				t.Fatalf("%s not found", u)
			}
		}
		out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{TableName: &table,
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "delivered#" + marked[0]}}})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"source": "hook", "eventUuid": marked[0], "expiresAt": strconv.FormatInt(now.Add(48*time.Hour).Unix(), 10)}
		for k, v := range want {
			var s string
			switch a := out.Item[k].(type) {
			case *types.AttributeValueMemberS:
				s = a.Value
			case *types.AttributeValueMemberN:
				s = a.Value
			}
			if s != v {
				t.Errorf("%s = %q, want %q", k, s, v)
			}
		}
	})

	t.Run("a cursor survives and is replaced", func(t *testing.T) {
		c := &ledger.Cursors{Client: client, Table: table}
		if _, err := c.Load(t.Context(), "reconciler"); !errors.Is(err, ledger.ErrNoCursor) {
			t.Fatalf("load before save: %v", err)
		}
		for _, next := range []string{"https://example.okta.com/api/v1/logs?after=a1", "https://example.okta.com/api/v1/logs?after=a2"} {
			if err := c.Save(t.Context(), "reconciler", ledger.Cursor{Next: next, Filter: `eventType eq "x"`, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			got, err := c.Load(t.Context(), "reconciler")
			if err != nil || got.Next != next || got.Filter != `eventType eq "x"` || !got.UpdatedAt.Equal(now) {
				t.Fatalf("load: %+v %v", got, err)
			}
		}
	})
}

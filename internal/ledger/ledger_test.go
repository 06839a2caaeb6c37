package ledger_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
)

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// factory returns a fresh, empty ledger on the given clock.
type factory func(t *testing.T, now func() time.Time) ledger.Ledger

func TestMemory(t *testing.T) {
	suite(t, func(t *testing.T, now func() time.Time) ledger.Ledger { return &ledgertest.Memory{Now: now} })
}

func TestDynamoDBOnKumo(t *testing.T) {
	// Each case gets an empty LedgerTable as template.yaml declares it, on
	// a kumo of its own.
	table := func(t *testing.T) (*dynamodb.Client, string) {
		s := devstacktest.Start(t, devstacktest.Options{})
		return s.Clients.DynamoDB, s.Resources.Tables["LedgerTable"]
	}
	suite(t, func(t *testing.T, now func() time.Time) ledger.Ledger {
		client, name := table(t)
		return &ledger.DynamoDB{Client: client, Table: name, Now: now, Retention: 48 * time.Hour}
	})

	t.Run("record", func(t *testing.T) {
		start := time.Unix(1_700_000_000, 0)
		client, name := table(t)
		l := &ledger.DynamoDB{Client: client, Table: name, Now: func() time.Time { return start }, Retention: 48 * time.Hour}
		key := ledger.Key{EventUUID: "u-rec", Handler: "h"}
		if _, err := l.Claim(t.Context(), key, "o1", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := l.Complete(t.Context(), key, "o1"); err != nil {
			t.Fatal(err)
		}
		out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
			TableName: &l.Table, Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "u-rec#h"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"status": "COMPLETED", "owner": "o1", "eventUuid": "u-rec", "handler": "h",
			"attempts": "1", "expiresAt": strconv.FormatInt(start.Add(48*time.Hour).Unix(), 10)}
		for name, v := range want {
			var got string
			switch a := out.Item[name].(type) {
			case *types.AttributeValueMemberS:
				got = a.Value
			case *types.AttributeValueMemberN:
				got = a.Value
			}
			if got != v {
				t.Errorf("%s = %q, want %q (item %v)", name, got, v, out.Item)
			}
		}
		ttl, err := client.DescribeTimeToLive(t.Context(), &dynamodb.DescribeTimeToLiveInput{TableName: &l.Table})
		if err != nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "expiresAt" {
			t.Errorf("TTL %+v %v", ttl, err)
		}
	})
}

func suite(t *testing.T, newLedger factory) {
	ctx := context.Background()
	key := ledger.Key{EventUUID: "uuid-1", Handler: "audit"}

	claim := func(t *testing.T, l ledger.Ledger, owner string, lease time.Duration, want ledger.Status) ledger.Claim {
		t.Helper()
		c, err := l.Claim(ctx, key, owner, lease)
		if err != nil {
			t.Fatalf("claim by %s: %v", owner, err)
		}
		if c.Status != want {
			t.Fatalf("claim by %s = %v, want %v", owner, c.Status, want)
		}
		return c
	}

	t.Run("claim complete duplicate", func(t *testing.T) {
		clk := &clock{now: time.Unix(1_700_000_000, 0)}
		l := newLedger(t, clk.Now)
		if c := claim(t, l, "a", time.Minute, ledger.Acquired); c.Attempts != 1 {
			t.Errorf("attempts %d, want 1", c.Attempts)
		}
		claim(t, l, "b", time.Minute, ledger.InProgress)
		if err := l.Complete(ctx, key, "a"); err != nil {
			t.Fatal(err)
		}
		claim(t, l, "c", time.Minute, ledger.AlreadyCompleted)
		// Completed stays completed, however long after.
		clk.Advance(24 * time.Hour)
		claim(t, l, "d", time.Minute, ledger.AlreadyCompleted)
		// Another handler of the same event is independent.
		if c, err := l.Claim(ctx, ledger.Key{EventUUID: "uuid-1", Handler: "other"}, "e", time.Minute); err != nil || c.Status != ledger.Acquired {
			t.Fatalf("other handler: %+v %v", c, err)
		}
	})

	t.Run("crashed claim is retaken after its lease", func(t *testing.T) {
		clk := &clock{now: time.Unix(1_700_000_000, 0)}
		l := newLedger(t, clk.Now)
		claim(t, l, "crashed", 30*time.Second, ledger.Acquired)
		clk.Advance(29 * time.Second)
		c := claim(t, l, "early", time.Minute, ledger.InProgress)
		if !c.LeaseUntil.Equal(time.Unix(1_700_000_030, 0)) {
			t.Errorf("lease until %v", c.LeaseUntil)
		}
		clk.Advance(2 * time.Second)
		if c := claim(t, l, "late", time.Minute, ledger.Acquired); c.Attempts != 2 {
			t.Errorf("attempts %d, want 2", c.Attempts)
		}
		// The crashed owner cannot complete what it lost.
		if err := l.Complete(ctx, key, "crashed"); !errors.Is(err, ledger.ErrNotOwner) {
			t.Fatalf("complete by the old owner: %v", err)
		}
		if err := l.Complete(ctx, key, "late"); err != nil {
			t.Fatal(err)
		}
		claim(t, l, "after", time.Minute, ledger.AlreadyCompleted)
	})

	t.Run("release lets a retry claim at once", func(t *testing.T) {
		clk := &clock{now: time.Unix(1_700_000_000, 0)}
		l := newLedger(t, clk.Now)
		claim(t, l, "a", time.Hour, ledger.Acquired)
		if err := l.Release(ctx, key, "b"); !errors.Is(err, ledger.ErrNotOwner) {
			t.Fatalf("release by a stranger: %v", err)
		}
		if err := l.Release(ctx, key, "a"); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Millisecond)
		if c := claim(t, l, "b", time.Hour, ledger.Acquired); c.Attempts != 2 {
			t.Errorf("attempts %d, want 2", c.Attempts)
		}
		if err := l.Complete(ctx, key, "b"); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx, key, "b"); !errors.Is(err, ledger.ErrNotOwner) {
			t.Fatalf("release after complete: %v", err)
		}
		claim(t, l, "c", time.Hour, ledger.AlreadyCompleted)
	})

	t.Run("concurrent claims: exactly one wins", func(t *testing.T) {
		l := newLedger(t, time.Now)
		var wg sync.WaitGroup
		var acquired, inProgress atomic.Int32
		for i := range 8 {
			wg.Go(func() {
				c, err := l.Claim(ctx, ledger.Key{EventUUID: "race", Handler: "h"}, "o"+strconv.Itoa(i), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				switch c.Status {
				case ledger.Acquired:
					acquired.Add(1)
				case ledger.InProgress:
					inProgress.Add(1)
				}
			})
		}
		wg.Wait()
		if acquired.Load() != 1 || inProgress.Load() != 7 {
			t.Fatalf("acquired %d, in progress %d", acquired.Load(), inProgress.Load())
		}
	})
}

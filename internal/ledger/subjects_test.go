package ledger_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
)

type subjectsFactory func(t *testing.T, now func() time.Time) ledger.Subjects

func TestSubjectsMemory(t *testing.T) {
	subjectsSuite(t, func(t *testing.T, now func() time.Time) ledger.Subjects { return &ledgertest.Memory{Now: now} })
}

func TestSubjectsDynamoDBOnKumo(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	client, table := s.Clients.DynamoDB, s.Resources.Tables["LedgerTable"]
	n := 0
	subjectsSuite(t, func(t *testing.T, now func() time.Time) ledger.Subjects {
		// One kumo for every case: each gets its own handler name, so its
		// own records.
		n++
		return &prefixed{ledger.DynamoDB{Client: client, Table: table, Now: now, Retention: 48 * time.Hour}, "case" + strconv.Itoa(n)}
	})

	t.Run("record", func(t *testing.T) {
		start := time.Unix(1_700_000_000, 0)
		l := &ledger.DynamoDB{Client: client, Table: table, Now: func() time.Time { return start }, Retention: 48 * time.Hour}
		key := ledger.SubjectKey{Handler: "sync-user", Subject: "00u1"}
		if _, err := l.AcquireSubject(t.Context(), key, "o1", time.Minute); err != nil {
			t.Fatal(err)
		}
		pos := ledger.Position{Published: time.Date(2026, 1, 2, 3, 4, 5, 678_000_000, time.UTC), UUID: "e-1"}
		if err := l.AdvanceSubject(t.Context(), key, "o1", pos); err != nil {
			t.Fatal(err)
		}
		out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
			TableName: &table, Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "subject#sync-user#00u1"}},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"owner": "o1", "handler": "sync-user", "subject": "00u1", "leaseUntil": "0",
			"watermarkUuid": "e-1", "watermarkPublished": strconv.FormatInt(pos.Published.UnixMicro(), 10),
			"expiresAt": strconv.FormatInt(start.Add(48*time.Hour).Unix(), 10)}
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
	})
}

// prefixed gives each case of the shared suite its own records on one table.
type prefixed struct {
	ledger.DynamoDB
	p string
}

func (p *prefixed) key(k ledger.SubjectKey) ledger.SubjectKey {
	k.Handler = p.p + "-" + k.Handler
	return k
}

func (p *prefixed) AcquireSubject(ctx context.Context, k ledger.SubjectKey, owner string, lease time.Duration) (ledger.Lease, error) {
	return p.DynamoDB.AcquireSubject(ctx, p.key(k), owner, lease)
}

func (p *prefixed) AdvanceSubject(ctx context.Context, k ledger.SubjectKey, owner string, pos ledger.Position) error {
	return p.DynamoDB.AdvanceSubject(ctx, p.key(k), owner, pos)
}

func (p *prefixed) ReleaseSubject(ctx context.Context, k ledger.SubjectKey, owner string) error {
	return p.DynamoDB.ReleaseSubject(ctx, p.key(k), owner)
}

func TestSubjectKeyHasItsOwnPrefix(t *testing.T) {
	id := ledger.SubjectKey{Handler: "sync", Subject: "00u1"}.ID()
	if id != "subject#sync#00u1" || !strings.HasPrefix(id, ledger.PrefixSubject) {
		t.Fatalf("id %q", id)
	}
}

func TestPositionOrdersByPublishedThenUUID(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		a, b ledger.Position
		want int
	}{
		{ledger.Position{t0, "b"}, ledger.Position{t0.Add(time.Millisecond), "a"}, -1},
		{ledger.Position{t0, "a"}, ledger.Position{t0, "b"}, -1},
		{ledger.Position{t0, "b"}, ledger.Position{t0, "a"}, 1},
		{ledger.Position{t0, "a"}, ledger.Position{t0, "a"}, 0},
		{ledger.Position{}, ledger.Position{t0, "a"}, -1},
		{ledger.Position{t0, "a"}, ledger.Position{}, 1},
	}
	for _, c := range cases {
		if got := c.a.Compare(c.b); got != c.want {
			t.Errorf("%v vs %v = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func subjectsSuite(t *testing.T, newSubjects subjectsFactory) {
	ctx := context.Background()
	key := ledger.SubjectKey{Handler: "sync-user", Subject: "00u1"}
	t0 := time.Date(2026, 1, 1, 10, 0, 0, 123_000_000, time.UTC)
	acquire := func(t *testing.T, s ledger.Subjects, owner string, lease time.Duration, want ledger.Status) ledger.Lease {
		t.Helper()
		l, err := s.AcquireSubject(ctx, key, owner, lease)
		if err != nil {
			t.Fatalf("acquire by %s: %v", owner, err)
		}
		if l.Status != want {
			t.Fatalf("acquire by %s = %v, want %v", owner, l.Status, want)
		}
		return l
	}

	t.Run("watermark advances and is read back", func(t *testing.T) {
		clk := &clock{now: time.Unix(1_700_000_000, 0)}
		s := newSubjects(t, clk.Now)
		if l := acquire(t, s, "a", time.Minute, ledger.Acquired); !l.Watermark.IsZero() {
			t.Fatalf("new subject has watermark %v", l.Watermark)
		}
		acquire(t, s, "b", time.Minute, ledger.InProgress)
		pos := ledger.Position{Published: t0, UUID: "e-2"}
		if err := s.AdvanceSubject(ctx, key, "a", pos); err != nil {
			t.Fatal(err)
		}
		l := acquire(t, s, "c", time.Minute, ledger.Acquired)
		if l.Watermark.Compare(pos) != 0 || !l.Watermark.Published.Equal(t0) {
			t.Fatalf("watermark %v, want %v", l.Watermark, pos)
		}
		// Released without running: the watermark stays.
		if err := s.ReleaseSubject(ctx, key, "c"); err != nil {
			t.Fatal(err)
		}
		if l := acquire(t, s, "d", time.Minute, ledger.Acquired); l.Watermark.Compare(pos) != 0 {
			t.Fatalf("watermark after a release %v, want %v", l.Watermark, pos)
		}
		// Another handler's state of the same subject is its own.
		if l, err := s.AcquireSubject(ctx, ledger.SubjectKey{Handler: "other", Subject: "00u1"}, "e", time.Minute); err != nil || l.Status != ledger.Acquired || !l.Watermark.IsZero() {
			t.Fatalf("other handler: %+v %v", l, err)
		}
	})

	t.Run("crashed holder's lease is taken over after it runs out", func(t *testing.T) {
		clk := &clock{now: time.Unix(1_700_000_000, 0)}
		s := newSubjects(t, clk.Now)
		acquire(t, s, "crashed", 30*time.Second, ledger.Acquired)
		clk.Advance(29 * time.Second)
		if l := acquire(t, s, "early", time.Minute, ledger.InProgress); !l.LeaseUntil.Equal(time.Unix(1_700_000_030, 0)) {
			t.Errorf("lease until %v", l.LeaseUntil)
		}
		clk.Advance(2 * time.Second)
		acquire(t, s, "late", time.Minute, ledger.Acquired)
		// The crashed holder cannot advance or release what it lost.
		if err := s.AdvanceSubject(ctx, key, "crashed", ledger.Position{Published: t0, UUID: "x"}); !errors.Is(err, ledger.ErrNotOwner) {
			t.Fatalf("advance by the old holder: %v", err)
		}
		if err := s.ReleaseSubject(ctx, key, "crashed"); !errors.Is(err, ledger.ErrNotOwner) {
			t.Fatalf("release by the old holder: %v", err)
		}
		if err := s.AdvanceSubject(ctx, key, "late", ledger.Position{Published: t0, UUID: "y"}); err != nil {
			t.Fatal(err)
		}
		if l := acquire(t, s, "next", time.Minute, ledger.Acquired); l.Watermark.UUID != "y" {
			t.Fatalf("watermark %v, want y", l.Watermark)
		}
	})

	t.Run("concurrent acquires: exactly one holds the subject", func(t *testing.T) {
		s := newSubjects(t, time.Now)
		var wg sync.WaitGroup
		var acquired, inProgress atomic.Int32
		for i := range 8 {
			wg.Go(func() {
				l, err := s.AcquireSubject(ctx, ledger.SubjectKey{Handler: "h", Subject: "race"}, "o"+strconv.Itoa(i), time.Minute)
				if err != nil {
					t.Error(err)
					return
				}
				switch l.Status {
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

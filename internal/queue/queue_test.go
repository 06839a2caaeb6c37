package queue

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

func msgs(n, size int) []Message {
	out := make([]Message, n)
	for i := range out {
		out[i] = Message{Body: []byte(fmt.Sprintf("%d:%s", i, strings.Repeat("x", size))), Attributes: map[string]string{"eventUuid": fmt.Sprint(i)}}
	}
	return out
}

func noSleep(context.Context, time.Duration) error { return nil }

func TestGroupsRespectLimits(t *testing.T) {
	tests := []struct {
		name       string
		n, size    int
		wantGroups int
	}{
		{"one", 1, 10, 1},
		{"ten fit one batch", 10, 10, 1},
		{"eleven need two", 11, 10, 2},
		{"bytes split", 4, 400 << 10, 2},
		{"each near limit", 3, MaxMessageBytes - 100, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := msgs(tt.n, tt.size)
			idx := make([]int, len(m))
			for i := range idx {
				idx[i] = i
			}
			gs := groups(m, idx)
			if len(gs) != tt.wantGroups {
				t.Fatalf("groups = %d, want %d", len(gs), tt.wantGroups)
			}
			seen := 0
			for _, g := range gs {
				total := 0
				for _, i := range g {
					total += m[i].Size()
				}
				if len(g) > MaxBatchEntries || total > MaxBatchBytes {
					t.Fatalf("group of %d entries, %d bytes breaks SQS limits", len(g), total)
				}
				seen += len(g)
			}
			if seen != tt.n {
				t.Fatalf("grouped %d of %d", seen, tt.n)
			}
		})
	}
}

func TestPublish(t *testing.T) {
	tests := []struct {
		name       string
		n, size    int
		mem        *Memory
		wantSent   int
		wantFailed int
		wantErr    error
	}{
		{name: "all succeed", n: 25, mem: &Memory{}, wantSent: 25},
		{name: "entries fail then succeed", n: 12, mem: &Memory{Fail: func(call int, m Message) bool {
			return call <= 2 && strings.HasPrefix(string(m.Body), "3:")
		}}, wantSent: 12},
		{name: "whole call errors then succeeds", n: 5, mem: &Memory{Err: func(call int) error {
			if call == 1 {
				return errors.New("throttled")
			}
			return nil
		}}, wantSent: 5},
		{name: "entry never succeeds", n: 5, mem: &Memory{Fail: func(_ int, m Message) bool {
			return strings.HasPrefix(string(m.Body), "2:")
		}}, wantSent: 4, wantFailed: 1},
		{name: "all too large are reported", n: 2, size: MaxMessageBytes, mem: &Memory{}, wantSent: 0, wantFailed: 2, wantErr: ErrTooLarge},
		{name: "sender fault is not retried", n: 4, mem: &Memory{Reject: func(_ int, m Message) bool {
			return strings.HasPrefix(string(m.Body), "1:")
		}}, wantSent: 3, wantFailed: 1, wantErr: ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &Publisher{Sender: tt.mem, Budget: 200 * time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}
			res := p.Publish(context.Background(), msgs(tt.n, tt.size))
			if res.Sent != tt.wantSent || len(res.Failed) != tt.wantFailed {
				t.Fatalf("sent %d failed %d (%v); want %d and %d", res.Sent, len(res.Failed), res.Failed, tt.wantSent, tt.wantFailed)
			}
			if got := len(tt.mem.Sent()); got != tt.wantSent {
				t.Fatalf("queue holds %d, want %d", got, tt.wantSent)
			}
			for _, err := range res.Failed {
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("failure %v, want %v", err, tt.wantErr)
				}
			}
		})
	}
}

func TestPublishSendsOthersBesideATooLargeOne(t *testing.T) {
	mem := &Memory{}
	m := msgs(3, 10)
	m[1].Body = make([]byte, MaxMessageBytes+1)
	res := (&Publisher{Sender: mem}).Publish(context.Background(), m)
	if res.Sent != 2 || len(res.Failed) != 1 || !errors.Is(res.Failed[1], ErrTooLarge) || len(mem.Sent()) != 2 {
		t.Fatalf("result %+v, queue %d", res, len(mem.Sent()))
	}
}

// unplaceable answers once with a failure whose id matches no entry.
type unplaceable struct{ Memory }

func (u *unplaceable) SendBatch(ctx context.Context, msgs []Message) ([]Failure, error) {
	if u.Calls == 0 {
		u.Calls++
		return []Failure{{Index: -1, Code: "Odd"}}, nil
	}
	return u.Memory.SendBatch(ctx, msgs)
}

func TestPublishResendsGroupOnUnplaceableFailure(t *testing.T) {
	u := &unplaceable{}
	res := (&Publisher{Sender: u, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}).Publish(context.Background(), msgs(3, 1))
	if res.Sent != 3 || len(res.Failed) != 0 || len(u.Sent()) != 3 {
		t.Fatalf("result %+v, queue %d: the group must be sent again, not counted as sent", res, len(u.Sent()))
	}
}

func TestPublishStopsAtBudget(t *testing.T) {
	mem := &Memory{Err: func(int) error { return errors.New("down") }}
	// The budget's context is what stops the retries: sleeping past it fails.
	var budgetErr error
	sleeps := 0
	p := &Publisher{Sender: mem, Budget: 50 * time.Millisecond, Sleep: func(ctx context.Context, d time.Duration) error {
		sleeps++
		if sleeps == 3 {
			<-ctx.Done() // as if the backoff outlasted the budget
			budgetErr = ctx.Err()
			return budgetErr
		}
		return nil
	}}
	res := p.Publish(context.Background(), msgs(3, 1))
	if len(res.Failed) != 3 || res.Sent != 0 {
		t.Fatalf("result %+v", res)
	}
	if mem.Calls != 3 || !errors.Is(budgetErr, context.DeadlineExceeded) {
		t.Fatalf("calls %d, budget error %v: want 3 attempts, then the budget's deadline", mem.Calls, budgetErr)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	p := &Publisher{BaseDelay: 10 * time.Millisecond, MaxDelay: 80 * time.Millisecond, Sleep: noSleep}
	for attempt := 1; attempt < 40; attempt++ {
		ceiling := min(10*time.Millisecond<<attempt, 80*time.Millisecond)
		for i := 0; i < 50; i++ {
			if d := p.backoff(attempt); d <= 0 || d > ceiling {
				t.Fatalf("attempt %d: delay %v outside (0, %v]", attempt, d, ceiling)
			}
		}
	}
}

func TestPublishLeavesTimeBeforeCallerDeadline(t *testing.T) {
	mem := &Memory{Err: func(int) error { return errors.New("down") }}
	p := &Publisher{Sender: mem, Budget: 10 * time.Second, Reserve: 100 * time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	p.Publish(ctx, msgs(1, 1))
	if ctx.Err() != nil {
		t.Fatal("publish used up the caller's whole deadline; nothing is left to answer with")
	}
}

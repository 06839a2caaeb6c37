package queue_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/queue/queuetest"
)

func msgs(n, size int) []queue.Message {
	out := make([]queue.Message, n)
	for i := range out {
		out[i] = queue.Message{Body: []byte(fmt.Sprintf("%d:%s", i, strings.Repeat("x", size))), Attributes: map[string]string{"eventUuid": fmt.Sprint(i)}}
	}
	return out
}

func TestPublish(t *testing.T) {
	tests := []struct {
		name       string
		n, size    int
		mem        *queuetest.Memory
		wantSent   int
		wantFailed int
		wantErr    error
	}{
		{name: "all succeed", n: 25, mem: &queuetest.Memory{}, wantSent: 25},
		{name: "entries fail then succeed", n: 12, mem: &queuetest.Memory{Fail: func(call int, m queue.Message) bool {
			return call <= 2 && strings.HasPrefix(string(m.Body), "3:")
		}}, wantSent: 12},
		{name: "whole call errors then succeeds", n: 5, mem: &queuetest.Memory{Err: func(call int) error {
			if call == 1 {
				return errors.New("throttled")
			}
			return nil
		}}, wantSent: 5},
		{name: "entry never succeeds", n: 5, mem: &queuetest.Memory{Fail: func(_ int, m queue.Message) bool {
			return strings.HasPrefix(string(m.Body), "2:")
		}}, wantSent: 4, wantFailed: 1},
		{name: "all too large are reported", n: 2, size: queue.MaxMessageBytes, mem: &queuetest.Memory{}, wantSent: 0, wantFailed: 2, wantErr: queue.ErrTooLarge},
		{name: "sender fault is not retried", n: 4, mem: &queuetest.Memory{Reject: func(_ int, m queue.Message) bool {
			return strings.HasPrefix(string(m.Body), "1:")
		}}, wantSent: 3, wantFailed: 1, wantErr: queue.ErrRejected},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				p := &queue.Publisher{Sender: tt.mem, Budget: 200 * time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}
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
		})
	}
}

func TestPublishSendsOthersBesideATooLargeOne(t *testing.T) {
	mem := &queuetest.Memory{}
	m := msgs(3, 10)
	m[1].Body = make([]byte, queue.MaxMessageBytes+1)
	res := (&queue.Publisher{Sender: mem}).Publish(context.Background(), m)
	if res.Sent != 2 || len(res.Failed) != 1 || !errors.Is(res.Failed[1], queue.ErrTooLarge) || len(mem.Sent()) != 2 {
		t.Fatalf("result %+v, queue %d", res, len(mem.Sent()))
	}
}

// unplaceable answers once with a failure whose id matches no entry.
type unplaceable struct {
	queuetest.Memory
	answered bool
}

func (u *unplaceable) SendBatch(ctx context.Context, msgs []queue.Message) ([]queue.Failure, error) {
	if !u.answered {
		u.answered = true
		return []queue.Failure{{Index: -1, Code: "Odd"}}, nil
	}
	return u.Memory.SendBatch(ctx, msgs)
}

func TestPublishResendsGroupOnUnplaceableFailure(t *testing.T) {
	u := &unplaceable{}
	res := (&queue.Publisher{Sender: u, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}).Publish(context.Background(), msgs(3, 1))
	if res.Sent != 3 || len(res.Failed) != 0 || len(u.Sent()) != 3 {
		t.Fatalf("result %+v, queue %d: the group must be sent again, not counted as sent", res, len(u.Sent()))
	}
}

// Batches go out Concurrency at a time: 20 batches of 100 ms each at 5 in
// flight take 4 round trips, not 20.
func TestPublishSendsBatchesConcurrentlyWithABound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := &queuetest.Memory{Latency: 100 * time.Millisecond}
		p := &queue.Publisher{Sender: mem, Budget: 2 * time.Second, Concurrency: 5}
		start := time.Now()
		res := p.Publish(context.Background(), msgs(200, 10))
		took := time.Since(start)
		if res.Sent != 200 || len(res.Failed) != 0 || res.Attempts != 20 {
			t.Fatalf("result sent %d failed %d attempts %d", res.Sent, len(res.Failed), res.Attempts)
		}
		if mem.Peak() != 5 {
			t.Fatalf("%d batches in flight at most, want the bound 5", mem.Peak())
		}
		if took != 400*time.Millisecond {
			t.Fatalf("took %v, want 4 round trips of 100ms", took)
		}
	})
}

// When SQS keeps failing, Publish returns when the budget ends, with every
// message reported.
func TestPublishStopsAtBudget(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := &queuetest.Memory{Err: func(int) error { return errors.New("down") }}
		p := &queue.Publisher{Sender: mem, Budget: 500 * time.Millisecond, BaseDelay: 10 * time.Millisecond, MaxDelay: 40 * time.Millisecond}
		start := time.Now()
		res := p.Publish(context.Background(), msgs(30, 1))
		if took := time.Since(start); took > 500*time.Millisecond {
			t.Fatalf("Publish took %v, past its 500ms budget", took)
		}
		if len(res.Failed) != 30 || res.Sent != 0 || mem.CallCount() <= 3 {
			t.Fatalf("sent %d, failed %d after %d calls: want every message failed after retries", res.Sent, len(res.Failed), mem.CallCount())
		}
		for _, err := range res.Failed {
			if err.Error() != "down" {
				t.Fatalf("failure %v, want the last error seen", err)
			}
		}
	})
}

// A slow SQS stops at the caller's deadline when it comes before the budget,
// and messages that never got a turn say so.
func TestPublishStopsAtCallerDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		mem := &queuetest.Memory{Latency: time.Second}
		p := &queue.Publisher{Sender: mem, Budget: 10 * time.Second, Concurrency: 1}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		res := p.Publish(ctx, msgs(20, 1))
		if took := time.Since(start); took != 300*time.Millisecond {
			t.Fatalf("Publish took %v, want the caller's 300ms deadline", took)
		}
		if len(res.Failed) != 20 {
			t.Fatalf("failed %d, want 20", len(res.Failed))
		}
		cut, never := 0, 0
		for _, err := range res.Failed {
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				cut++
			case errors.Is(err, queue.ErrBudget):
				never++
			}
		}
		if cut != 10 || never != 10 {
			t.Fatalf("%d cut off, %d never sent: want the batch in flight to carry its call's error and the other ErrBudget (%v)", cut, never, res.Failed)
		}
	})
}

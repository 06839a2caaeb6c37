// Package queuetest has test doubles for package queue; the functions never
// import it.
package queuetest

import (
	"context"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/clock"
	"github.com/hookline/hookline/internal/queue"
)

// Memory is an in-memory queue.BatchSender for unit tests and benchmarks.
// Fail, when set, decides per message whether the send fails this time.
type Memory struct {
	mu       sync.Mutex
	Messages []queue.Message
	Calls    int
	Fail     func(call int, m queue.Message) bool
	// Reject fails a message as the sender's fault, as SQS does for
	// invalid content.
	Reject func(call int, m queue.Message) bool
	Err    func(call int) error
	// Latency, when set, is how long each call takes (or until its context
	// is done), as a slow SQS would.
	Latency time.Duration

	inFlight, peak int
}

// SendBatch implements queue.BatchSender.
func (q *Memory) SendBatch(ctx context.Context, msgs []queue.Message) ([]queue.Failure, error) {
	if q.Latency > 0 {
		q.mu.Lock()
		q.inFlight++
		q.peak = max(q.peak, q.inFlight)
		q.mu.Unlock()
		_ = clock.Sleep(ctx, q.Latency)
		q.mu.Lock()
		q.inFlight--
		q.mu.Unlock()
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	q.Calls++
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if q.Err != nil {
		if err := q.Err(q.Calls); err != nil {
			return nil, err
		}
	}
	var failures []queue.Failure
	for i, m := range msgs {
		if q.Reject != nil && q.Reject(q.Calls, m) {
			failures = append(failures, queue.Failure{Index: i, Code: "InvalidMessageContents", Message: "injected", SenderFault: true})
			continue
		}
		if q.Fail != nil && q.Fail(q.Calls, m) {
			failures = append(failures, queue.Failure{Index: i, Code: "InternalError", Message: "injected"})
			continue
		}
		q.Messages = append(q.Messages, m)
	}
	return failures, nil
}

// CallCount returns how many SendBatch calls were made.
func (q *Memory) CallCount() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.Calls
}

// Peak returns the most calls in flight at once (counted with Latency set).
func (q *Memory) Peak() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.peak
}

// Sent returns a copy of the messages accepted so far.
func (q *Memory) Sent() []queue.Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]queue.Message(nil), q.Messages...)
}

// Reset forgets what was sent.
func (q *Memory) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.Messages, q.Calls = nil, 0
}

package queue

import (
	"context"
	"sync"
)

// Memory is an in-memory BatchSender for unit tests and benchmarks.
// Fail, when set, decides per message whether the send fails this time.
type Memory struct {
	mu       sync.Mutex
	Messages []Message
	Calls    int
	Fail     func(call int, m Message) bool
	// Reject fails a message as the sender's fault, as SQS does for
	// invalid content.
	Reject func(call int, m Message) bool
	Err    func(call int) error
}

// SendBatch implements BatchSender.
func (q *Memory) SendBatch(_ context.Context, msgs []Message) ([]Failure, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.Calls++
	if q.Err != nil {
		if err := q.Err(q.Calls); err != nil {
			return nil, err
		}
	}
	var failures []Failure
	for i, m := range msgs {
		if q.Reject != nil && q.Reject(q.Calls, m) {
			failures = append(failures, Failure{Index: i, Code: "InvalidMessageContents", Message: "injected", SenderFault: true})
			continue
		}
		if q.Fail != nil && q.Fail(q.Calls, m) {
			failures = append(failures, Failure{Index: i, Code: "InternalError", Message: "injected"})
			continue
		}
		q.Messages = append(q.Messages, m)
	}
	return failures, nil
}

// Sent returns a copy of the messages accepted so far.
func (q *Memory) Sent() []Message {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]Message(nil), q.Messages...)
}

// Reset forgets what was sent.
func (q *Memory) Reset() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.Messages, q.Calls = nil, 0
}

// Package queue puts messages on SQS in batches, retrying what failed within
// a time budget.
package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"
)

// SQS limits for SendMessageBatch.
const (
	MaxBatchEntries = 10
	MaxBatchBytes   = 1 << 20 // total payload of one batch
	MaxMessageBytes = 1 << 20 // one message, body plus attributes
)

// ErrTooLarge means a message can never fit in SQS.
var ErrTooLarge = errors.New("message exceeds the SQS size limit")

// ErrRejected means SQS refused an entry as the sender's fault (invalid
// content, say): sending it again cannot help.
var ErrRejected = errors.New("SQS rejected the message")

// Message is one message to send. Attributes are String attributes.
type Message struct {
	Body       []byte
	Attributes map[string]string
}

// Size is the message's size as SQS counts it: body plus each attribute's
// name, data type and value.
func (m Message) Size() int {
	n := len(m.Body)
	for k, v := range m.Attributes {
		n += len(k) + len("String") + len(v)
	}
	return n
}

// Failure is one entry a batch send did not accept.
type Failure struct {
	Index       int // into the slice given to SendBatch
	Code        string
	Message     string
	SenderFault bool
}

// BatchSender sends up to MaxBatchEntries messages in one call.
type BatchSender interface {
	SendBatch(ctx context.Context, msgs []Message) ([]Failure, error)
}

// Publisher sends any number of messages, grouped within the SQS limits.
type Publisher struct {
	Sender BatchSender
	// Budget bounds the whole Publish call, retries included.
	Budget time.Duration
	// Reserve is kept back from the caller's deadline, so there is time left
	// to answer after the budget runs out; default 250ms.
	Reserve time.Duration
	// BaseDelay and MaxDelay shape the jittered backoff between retries.
	BaseDelay, MaxDelay time.Duration
	// Sleep waits between retries; tests replace it.
	Sleep func(context.Context, time.Duration) error
}

// Result says what happened to each message given to Publish.
type Result struct {
	Sent     int
	Attempts int // SendBatch calls made
	// Failed holds the indexes of messages that were not enqueued, with the
	// last error seen for each.
	Failed map[int]error
}

// Publish sends msgs and retries failures with jittered backoff until every
// message is sent or the budget runs out. It never drops a message silently:
// whatever is not sent is in Result.Failed.
func (p *Publisher) Publish(ctx context.Context, msgs []Message) Result {
	res := Result{Failed: map[int]error{}}
	budget := p.Budget
	if budget <= 0 {
		budget = 2 * time.Second
	}
	if deadline, ok := ctx.Deadline(); ok {
		reserve := p.Reserve
		if reserve <= 0 {
			reserve = 250 * time.Millisecond
		}
		if left := time.Until(deadline) - reserve; left < budget {
			budget = max(left, 0)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	pending := make([]int, 0, len(msgs))
	for i, m := range msgs {
		if size := m.Size(); size > MaxMessageBytes {
			res.Failed[i] = fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, size, MaxMessageBytes)
			continue
		}
		pending = append(pending, i)
	}

	for attempt := 0; len(pending) > 0; attempt++ {
		if attempt > 0 {
			if err := p.sleep(ctx, p.backoff(attempt)); err != nil {
				break
			}
		}
		var retry []int
		for _, group := range groups(msgs, pending) {
			if ctx.Err() != nil {
				retry = append(retry, group...)
				for _, i := range group {
					res.Failed[i] = fmt.Errorf("not sent before the publish budget ran out: %w", ctx.Err())
				}
				continue
			}
			batch := make([]Message, len(group))
			for j, i := range group {
				batch[j] = msgs[i]
			}
			res.Attempts++
			failures, err := p.Sender.SendBatch(ctx, batch)
			if err != nil {
				retry = append(retry, group...)
				for _, i := range group {
					res.Failed[i] = err
				}
				continue
			}
			failed := map[int]bool{}
			unknown := false
			for _, f := range failures {
				if f.Index < 0 || f.Index >= len(group) {
					unknown = true
					continue
				}
				i := group[f.Index]
				failed[f.Index] = true
				if f.SenderFault {
					res.Failed[i] = fmt.Errorf("%w: %s: %s", ErrRejected, f.Code, f.Message)
					continue
				}
				retry = append(retry, i)
				res.Failed[i] = fmt.Errorf("entry failed: %s: %s", f.Code, f.Message)
			}
			if unknown {
				// A failure we cannot place could be any entry: send the
				// whole group again rather than count a lost one as sent.
				for j, i := range group {
					if !failed[j] {
						retry = append(retry, i)
						res.Failed[i] = errors.New("SendMessageBatch named a failed entry that was not in the batch")
					}
				}
				continue
			}
			for j, i := range group {
				if !failed[j] {
					delete(res.Failed, i)
					res.Sent++
				}
			}
		}
		pending = retry
	}
	return res
}

// groups splits pending indexes into batches within the entry and byte limits.
func groups(msgs []Message, pending []int) [][]int {
	var out [][]int
	var cur []int
	curBytes := 0
	for _, i := range pending {
		size := msgs[i].Size()
		if len(cur) == MaxBatchEntries || (len(cur) > 0 && curBytes+size > MaxBatchBytes) {
			out = append(out, cur)
			cur, curBytes = nil, 0
		}
		cur = append(cur, i)
		curBytes += size
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// backoff is "full jitter": a random delay up to an exponentially growing cap.
func (p *Publisher) backoff(attempt int) time.Duration {
	base, max := p.BaseDelay, p.MaxDelay
	if base <= 0 {
		base = 25 * time.Millisecond
	}
	if max <= 0 {
		max = 400 * time.Millisecond
	}
	ceiling := base << min(attempt, 16)
	if ceiling > max || ceiling <= 0 {
		ceiling = max
	}
	return time.Duration(rand.Int64N(int64(ceiling)) + 1)
}

func (p *Publisher) sleep(ctx context.Context, d time.Duration) error {
	if p.Sleep != nil {
		return p.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// entryID is a batch entry id: unique within the batch, as SQS requires.
func entryID(i int) string { return strconv.Itoa(i) }

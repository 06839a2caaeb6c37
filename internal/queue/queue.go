// Package queue is hookline's one home for SQS: its limits and how it sizes
// a message (MaxMessageBytes, MessageSize, Message.Size), the String
// attributes hookline writes (CleanAttribute), the Publisher that puts
// messages on a queue in batches and retries what failed within a time
// budget (the receiver, the reconciler, replay, redrive), the worker's side
// of the events queue (Consumer: backoff by visibility, parking in the DLQ),
// redrive from the DLQ back to the events queue (Redrive, ListParked, for
// `hookline redrive`), and the events.SQSEvent that Lambda's SQS event
// source hands the worker (LambdaEvent, for the local stack's poller and the
// tests).
package queue

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hookline/hookline/internal/clock"
)

// SQS limits for SendMessageBatch.
const (
	MaxBatchEntries = 10
	MaxBatchBytes   = 1 << 20 // total payload of one batch
	// MaxMessageBytes is the most SQS takes in one message, body and
	// attributes together (each attribute counts its name, data type and
	// value: MessageSize).
	MaxMessageBytes = 1 << 20
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
		n += len(k) + len(dataTypeString) + len(v)
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
	// Budget bounds the whole Publish call, retries included; the caller's
	// deadline, when sooner, bounds it too. Default 2s.
	Budget time.Duration
	// Concurrency bounds the batches in flight at once; default
	// DefaultConcurrency. Batches go out together, so a delivery's time is
	// about its number of batches / Concurrency round trips, not one round
	// trip per batch.
	Concurrency int
	// BaseDelay and MaxDelay shape the jittered backoff between retries.
	BaseDelay, MaxDelay time.Duration
}

// DefaultConcurrency is the default number of batches in flight.
const DefaultConcurrency = 16

// Result says what happened to each message given to Publish.
type Result struct {
	Sent     int
	Attempts int // SendBatch calls made
	// Failed holds the indexes of messages that were not enqueued, with the
	// last error seen for each.
	Failed map[int]error
}

// ErrBudget means a message was not sent before the publish budget (or the
// caller's deadline) ran out.
var ErrBudget = errors.New("not sent before the publish budget ran out")

// Publish sends msgs, Concurrency batches at a time, and retries failures
// with jittered backoff until every message is sent or the budget runs out.
// It returns by the budget's end (plus the time a SendBatch takes to return
// once its context is done). It never drops a message silently: whatever is
// not sent is in Result.Failed.
func (p *Publisher) Publish(ctx context.Context, msgs []Message) Result {
	budget := p.Budget
	if budget <= 0 {
		budget = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()

	// Each message belongs to one group, seen through by one worker, so
	// errs needs no lock; nil after a successful send.
	errs := make([]error, len(msgs))
	pending := make([]int, 0, len(msgs))
	for i, m := range msgs {
		if size := m.Size(); size > MaxMessageBytes {
			errs[i] = fmt.Errorf("%w: %d bytes > %d", ErrTooLarge, size, MaxMessageBytes)
			continue
		}
		pending = append(pending, i)
	}

	// Concurrency workers take groups in order; a worker sees its group
	// through, retries included, before taking the next. Groups no worker
	// reached by the end of the budget keep ErrBudget.
	for _, i := range pending {
		errs[i] = ErrBudget
	}
	conc := p.Concurrency
	if conc <= 0 {
		conc = DefaultConcurrency
	}
	work := make(chan []int)
	var attempts atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for group := range work {
				p.sendGroup(ctx, &attempts, msgs, group, errs)
			}
		}()
	}
feed:
	for _, group := range groups(msgs, pending) {
		select {
		case work <- group:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()

	res := Result{Attempts: int(attempts.Load()), Failed: map[int]error{}}
	for i, err := range errs {
		if err != nil {
			res.Failed[i] = err
		}
	}
	res.Sent = len(msgs) - len(res.Failed)
	return res
}

// sendGroup sends one group (within the batch limits), retrying its failed
// entries, until all are sent, refused for good, or ctx is done. It records
// each message's outcome in errs (nil: sent).
func (p *Publisher) sendGroup(ctx context.Context, attempts *atomic.Int64, msgs []Message, group []int, errs []error) {
	for attempt := 0; len(group) > 0; attempt++ {
		if attempt > 0 && clock.Sleep(ctx, p.backoff(attempt)) != nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
		batch := make([]Message, len(group))
		for j, i := range group {
			batch[j] = msgs[i]
		}
		attempts.Add(1)
		failures, err := p.Sender.SendBatch(ctx, batch)
		if err != nil {
			for _, i := range group {
				errs[i] = err
			}
			continue
		}
		failed := make([]bool, len(group))
		unknown := false
		var retry []int
		for _, f := range failures {
			if f.Index < 0 || f.Index >= len(group) {
				unknown = true
				continue
			}
			i := group[f.Index]
			failed[f.Index] = true
			if f.SenderFault {
				errs[i] = fmt.Errorf("%w: %s: %s", ErrRejected, f.Code, f.Message)
				continue
			}
			retry = append(retry, i)
			errs[i] = fmt.Errorf("entry failed: %s: %s", f.Code, f.Message)
		}
		for j, i := range group {
			switch {
			case failed[j]:
			case unknown:
				// A failure we cannot place could be any entry: send the
				// whole group again rather than count a lost one as sent.
				retry = append(retry, i)
				errs[i] = errors.New("SendMessageBatch named a failed entry that was not in the batch")
			default:
				errs[i] = nil
			}
		}
		group = retry
	}
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

// entryID is a batch entry id: unique within the batch, as SQS requires.
func entryID(i int) string { return strconv.Itoa(i) }

package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/clock"
	"github.com/hookline/hookline/internal/queue"
)

// sqsClient is what the poller needs from SQS.
type sqsClient interface {
	ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(context.Context, *sqs.DeleteMessageBatchInput, ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
}

// invoker is what the poller needs from Lambda.
type invoker interface {
	Invoke(context.Context, *lambda.InvokeInput, ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// sqsPoller is an SQS event source mapping with Lambda's semantics,
// because kumo stores mappings but never runs them. Each of Concurrency
// loops long-polls the queue, gathers up to BatchSize messages within Window, invokes the
// function synchronously with an events.SQSEvent and deletes the records
// that succeeded. Records listed in batchItemFailures are left alone, so they
// come back after the visibility timeout (or whatever visibility the function
// set itself) and reach the DLQ through the queue's redrive policy. A
// function error, an invoke error, a timeout or an unreadable response fails
// the whole batch: nothing is deleted.
type sqsPoller struct {
	SQS            sqsClient
	Lambda         invoker
	QueueURL       string
	QueueARN       string
	Function       string
	BatchSize      int
	Window         time.Duration
	Concurrency    int
	ReportFailures bool          // FunctionResponseTypes: [ReportBatchItemFailures]
	InvokeTimeout  time.Duration // the function's timeout plus a margin
	Log            *slog.Logger
}

// Run polls until ctx is done.
func (p *sqsPoller) Run(ctx context.Context) {
	n := max(p.Concurrency, 1)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { p.loop(ctx) })
	}
	wg.Wait()
}

func (p *sqsPoller) loop(ctx context.Context) {
	for ctx.Err() == nil {
		msgs, err := p.gather(ctx)
		if err != nil {
			if ctx.Err() == nil {
				p.Log.Warn("poller receive failed", "function", p.Function, "error", err.Error())
				_ = clock.Sleep(ctx, time.Second)
			}
			continue
		}
		if len(msgs) == 0 {
			continue
		}
		p.process(ctx, msgs)
	}
}

// longPollSeconds is the poller's WaitTimeSeconds while nothing is waiting.
const longPollSeconds = 2

// gather receives one batch: up to BatchSize messages, waiting at most
// Window after the first one arrives (Lambda's MaximumBatchingWindow).
func (p *sqsPoller) gather(ctx context.Context) ([]sqstypes.Message, error) {
	var batch []sqstypes.Message
	var deadline time.Time
	for len(batch) < p.BatchSize {
		// Long polling, but short: kumo's long poll does not return when a
		// failed message becomes visible again, only when the wait ends, so
		// a 20 s wait would delay every retry by up to 20 s.
		wait := int32(longPollSeconds)
		if len(batch) > 0 {
			left := time.Until(deadline)
			if left <= 0 {
				break
			}
			wait = int32(left / time.Second) // 0 = short poll for what is left
		}
		out, err := p.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(p.QueueURL),
			MaxNumberOfMessages:         int32(min(p.BatchSize-len(batch), 10)),
			WaitTimeSeconds:             wait,
			MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if err != nil {
			if len(batch) > 0 && ctx.Err() == nil {
				break // invoke with what we have; the error will recur if real
			}
			return batch, err
		}
		if len(batch) == 0 && len(out.Messages) > 0 {
			deadline = time.Now().Add(p.Window)
		}
		batch = addReceived(batch, out.Messages)
		if p.Window <= 0 && len(batch) > 0 {
			break
		}
		if len(batch) > 0 && len(out.Messages) == 0 && wait == 0 {
			_ = clock.Sleep(ctx, min(time.Until(deadline), 50*time.Millisecond))
		}
	}
	return batch, nil
}

// addReceived adds messages to a batch being gathered. A message whose
// visibility timeout ran out during the batching window comes back: it
// replaces its first copy (only the newest receipt handle can delete it)
// instead of being handed to the function twice.
func addReceived(batch, received []sqstypes.Message) []sqstypes.Message {
	for _, m := range received {
		i := slices.IndexFunc(batch, func(b sqstypes.Message) bool { return aws.ToString(b.MessageId) == aws.ToString(m.MessageId) })
		if i >= 0 {
			batch[i] = m
			continue
		}
		batch = append(batch, m)
	}
	return batch
}

// process invokes the function on one batch and deletes what succeeded.
func (p *sqsPoller) process(ctx context.Context, msgs []sqstypes.Message) {
	ev := queue.LambdaEvent(p.QueueARN, Region, msgs)
	payload, err := json.Marshal(ev)
	if err != nil {
		p.Log.Error("poller cannot encode batch", "error", err.Error())
		return
	}
	ictx, cancel := context.WithTimeout(ctx, p.InvokeTimeout)
	out, err := p.Lambda.Invoke(ictx, &lambda.InvokeInput{
		FunctionName:   aws.String(p.Function),
		InvocationType: lambdatypes.InvocationTypeRequestResponse,
		Payload:        payload,
	})
	cancel()
	var failed map[string]bool
	switch {
	case err != nil:
		if ctx.Err() != nil {
			return
		}
		p.Log.Warn("worker invoke failed; whole batch will be retried", "function", p.Function, "records", len(msgs), "error", err.Error())
		return
	case out.FunctionError != nil:
		p.Log.Warn("worker function error; whole batch will be retried", "function", p.Function, "records", len(msgs),
			"functionError", *out.FunctionError, "payload", truncate(string(out.Payload), 512))
		return
	default:
		if failed, err = batchFailures(out.Payload, msgs, p.ReportFailures); err != nil {
			p.Log.Warn("worker response rejected; whole batch will be retried", "function", p.Function, "error", err.Error())
			return
		}
	}
	var entries []sqstypes.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if failed[aws.ToString(m.MessageId)] {
			continue
		}
		entries = append(entries, sqstypes.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	for start := 0; start < len(entries); start += 10 {
		chunk := entries[start:min(start+10, len(entries))]
		// Deleting must outlive a Ctrl-C that lands mid-batch, or handled
		// messages would come back on the next run.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		res, err := p.SQS.DeleteMessageBatch(dctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: chunk})
		cancel()
		if err != nil {
			p.Log.Warn("poller delete failed; messages will be redelivered", "error", err.Error())
			continue
		}
		for _, f := range res.Failed {
			p.Log.Warn("poller delete failed for a record", "id", aws.ToString(f.Id), "code", aws.ToString(f.Code))
		}
	}
	if len(failed) > 0 {
		p.Log.Debug("batch partially failed", "function", p.Function, "records", len(msgs), "failed", len(failed))
	}
}

// batchFailures reads a function's SQSEventResponse. It returns the message
// ids to keep. Like Lambda, it fails the whole batch (an error) when the
// response names a record that is not in the batch or has an empty id; with
// reportFailures off, the response is ignored and every record succeeded.
func batchFailures(payload []byte, msgs []sqstypes.Message, reportFailures bool) (map[string]bool, error) {
	if !reportFailures || len(payload) == 0 || string(payload) == "null" {
		return nil, nil
	}
	var resp events.SQSEventResponse
	if err := json.Unmarshal(payload, &resp); err != nil {
		return nil, fmt.Errorf("response is not an SQSEventResponse: %w", err)
	}
	inBatch := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		inBatch[aws.ToString(m.MessageId)] = true
	}
	failed := map[string]bool{}
	for _, f := range resp.BatchItemFailures {
		if f.ItemIdentifier == "" || !inBatch[f.ItemIdentifier] {
			return nil, fmt.Errorf("batchItemFailures names %q, which is not in the batch", f.ItemIdentifier)
		}
		failed[f.ItemIdentifier] = true
	}
	return failed, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

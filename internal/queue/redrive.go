package queue

// Redrive moves parked events from the dead-letter queue back to the events
// queue: the manual retry Okta itself lacks (Redrive, ListParked).
//
// On AWS it starts an SQS message move task (StartMessageMoveTask) and
// reports its progress. Where that API is missing (kumo), or when only some
// event types are to move, it copies messages itself: receive from the DLQ,
// send to the queue, and only then delete from the DLQ. An interruption can
// leave a message in both queues, never in neither; the worker's ledger
// absorbs the duplicate.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/hookline/hookline/internal/clock"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/okta"
)

// RedriveAPI is the part of the SQS client redrive uses.
type RedriveAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, optFns ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
	CancelMessageMoveTask(ctx context.Context, in *sqs.CancelMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.CancelMessageMoveTaskOutput, error)
}

// RedriveOptions say what to move where.
type RedriveOptions struct {
	QueueURL string // destination: the events queue
	DLQURL   string // from: its dead-letter queue
	// Type moves only events of this exact type (forces the copy path).
	Type string
	// Rate caps messages per second (StartMessageMoveTask's
	// MaxNumberOfMessagesPerSecond; the copy path sleeps to keep it).
	// Zero means as fast as SQS goes.
	Rate int
	// ForceCopy skips StartMessageMoveTask.
	ForceCopy bool
	// Out gets progress lines; nil discards them.
	Out io.Writer
	// PollInterval is how often a move task's status is read; default 2 s.
	PollInterval time.Duration
	// Hold is how long a received message stays hidden while it is being
	// moved or listed; default 60 s.
	Hold time.Duration
}

// RedriveResult is what a redrive did.
type RedriveResult struct {
	Method  string // "move-task" or "copy"
	Total   int    // messages in the DLQ at the start (approximate)
	Moved   int
	Skipped int // not of the requested type, left in the DLQ
	TaskARN string
}

// ParkedEntry is one parked message, as --dry-run lists it.
type ParkedEntry struct {
	MessageID string
	UUID      string
	Type      string
	// Tries is how many times the events queue had delivered the event to
	// the worker when the worker parked it (its receiveCount attribute).
	// Zero means unknown: the queue's redrive policy moved it, after
	// maxReceiveCount receives, or an older worker parked it. The DLQ's own
	// ApproximateReceiveCount is not shown: every listing raises it.
	Tries int
	// FirstFailure is the worker's firstFailureAt attribute when it parked
	// the message, else the message's first receive.
	FirstFailure time.Time
	Reason       string
}

func (o RedriveOptions) hold() int32 {
	if o.Hold <= 0 {
		return 60
	}
	return int32(max(o.Hold/time.Second, 1))
}

func (o RedriveOptions) printf(format string, args ...any) {
	if o.Out != nil {
		fmt.Fprintf(o.Out, format+"\n", args...)
	}
}

// ListParked returns the DLQ's messages (of RedriveOptions.Type, when set)
// without moving any: each is hidden while the listing runs, so it is seen
// once, and made visible again at the end. What it reports comes from the message and the
// worker's attributes, so listing again reports the same.
func ListParked(ctx context.Context, api RedriveAPI, o RedriveOptions) ([]ParkedEntry, error) {
	var entries []ParkedEntry
	held := newHeld(api, o.DLQURL)
	defer held.release(ctx)
	seen := map[string]bool{}
	for {
		msgs, err := receive(ctx, api, o.DLQURL, o.hold())
		if err != nil {
			return entries, err
		}
		fresh := 0
		for _, m := range msgs {
			held.add(m)
			id := aws.ToString(m.MessageId)
			if seen[id] {
				continue
			}
			seen[id] = true
			fresh++
			e := entryOf(m)
			if o.Type == "" || e.Type == o.Type {
				entries = append(entries, e)
			}
		}
		if fresh == 0 {
			return entries, nil
		}
	}
}

// Redrive moves the DLQ's messages back to the events queue.
func Redrive(ctx context.Context, api RedriveAPI, o RedriveOptions) (RedriveResult, error) {
	total, err := count(ctx, api, o.DLQURL)
	if err != nil {
		return RedriveResult{}, err
	}
	res := RedriveResult{Total: total}
	if o.Type == "" && !o.ForceCopy {
		res.Method = "move-task"
		err := moveTask(ctx, api, o, &res)
		if !unsupported(err) {
			return res, err
		}
		// Information, not a failure: the copy is as safe (the error's
		// detail would read as one, so it is not printed).
		o.printf("this SQS has no message move tasks (StartMessageMoveTask; AWS has, local emulators do not): copying the messages instead, as safely")
	}
	res.Method = "copy"
	return res, copyMessages(ctx, api, o, &res)
}

// moveTask runs an SQS message move task and reports its progress until it
// ends. On interruption it cancels the task.
func moveTask(ctx context.Context, api RedriveAPI, o RedriveOptions, res *RedriveResult) error {
	src, err := queueARN(ctx, api, o.DLQURL)
	if err != nil {
		return err
	}
	dst, err := queueARN(ctx, api, o.QueueURL)
	if err != nil {
		return err
	}
	in := &sqs.StartMessageMoveTaskInput{SourceArn: &src, DestinationArn: &dst}
	if o.Rate > 0 {
		in.MaxNumberOfMessagesPerSecond = aws.Int32(int32(o.Rate))
	}
	out, err := api.StartMessageMoveTask(ctx, in)
	if err != nil {
		return err
	}
	res.TaskARN = aws.ToString(out.TaskHandle)
	o.printf("move task started: %s", res.TaskARN)
	interval := o.PollInterval
	if interval <= 0 {
		interval = 2 * time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			if _, err := api.CancelMessageMoveTask(cctx, &sqs.CancelMessageMoveTaskInput{TaskHandle: out.TaskHandle}); err != nil {
				o.printf("cancelling the move task failed: %v (it keeps running)", err)
			}
			return ctx.Err()
		case <-tick.C:
		}
		list, err := api.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: &src, MaxResults: aws.Int32(1)})
		if err != nil {
			return fmt.Errorf("sqs ListMessageMoveTasks: %w", err)
		}
		if len(list.Results) == 0 {
			continue
		}
		t := list.Results[0]
		res.Moved = int(t.ApproximateNumberOfMessagesMoved)
		if t.ApproximateNumberOfMessagesToMove != nil {
			res.Total = int(*t.ApproximateNumberOfMessagesToMove)
		}
		o.printf("moved %d/%d (%s)", res.Moved, res.Total, aws.ToString(t.Status))
		switch aws.ToString(t.Status) {
		case "COMPLETED":
			return nil
		case "FAILED", "CANCELLED":
			return fmt.Errorf("move task %s: %s", aws.ToString(t.Status), aws.ToString(t.FailureReason))
		}
	}
}

// copyMessages moves messages by receive → send → delete, 10 at a time.
// Messages of another type are held (hidden) during the run, so they are
// not received again and again, and made visible when it ends.
func copyMessages(ctx context.Context, api RedriveAPI, o RedriveOptions, res *RedriveResult) error {
	held := newHeld(api, o.DLQURL)
	defer held.release(ctx)
	pub := &Publisher{Sender: SQSSender{Client: api, QueueURL: o.QueueURL}, Budget: 10 * time.Second}
	skipped := map[string]bool{}
	start := time.Now()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		// The count at the start bounds the run: a message that fails
		// again and comes back to the DLQ meanwhile is not moved twice.
		if res.Total > 0 && res.Moved+len(skipped) >= res.Total {
			return nil
		}
		msgs, err := receive(ctx, api, o.DLQURL, o.hold())
		if err != nil {
			return err
		}
		var batch []types.Message
		for _, m := range msgs {
			if o.Type != "" && entryOf(m).Type != o.Type {
				held.add(m)
				skipped[aws.ToString(m.MessageId)] = true
				continue
			}
			batch = append(batch, m)
		}
		res.Skipped = len(skipped)
		if len(msgs) == 0 {
			return nil
		}
		if len(batch) == 0 {
			continue
		}
		moved, err := moveBatch(ctx, api, pub, o.DLQURL, batch)
		res.Moved += moved
		o.printf("moved %d/%d", res.Moved, res.Total)
		if err != nil {
			return err
		}
		if o.Rate > 0 { // keep the average under Rate messages per second
			want := time.Duration(float64(res.Moved) / float64(o.Rate) * float64(time.Second))
			if wait := want - time.Since(start); wait > 0 {
				if err := clock.Sleep(ctx, wait); err != nil {
					return err
				}
			}
		}
	}
}

// moveBatch sends msgs to the queue, then deletes from the DLQ those that
// were sent. It returns how many were deleted.
func moveBatch(ctx context.Context, api RedriveAPI, pub *Publisher, dlqURL string, msgs []types.Message) (int, error) {
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		attrs := map[string]string{}
		for k, v := range m.MessageAttributes {
			if v.StringValue != nil { // hookline sets only String attributes
				attrs[k] = *v.StringValue
			}
		}
		out[i] = Message{Body: []byte(aws.ToString(m.Body)), Attributes: attrs}
	}
	sent := pub.Publish(ctx, out)
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if _, failed := sent.Failed[i]; !failed {
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	var errs []error
	for i, err := range sent.Failed {
		errs = append(errs, fmt.Errorf("send %s: %w", aws.ToString(msgs[i].MessageId), err))
	}
	if len(del) == 0 {
		return 0, errors.Join(errs...)
	}
	dout, err := api.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &dlqURL, Entries: del})
	if err != nil {
		// Sent but still in the DLQ: a duplicate, not a loss.
		return 0, errors.Join(append(errs, fmt.Errorf("sqs DeleteMessageBatch (the sent messages stay in the DLQ too): %w", err))...)
	}
	for _, f := range dout.Failed {
		errs = append(errs, fmt.Errorf("delete entry %s: %s: %s", aws.ToString(f.Id), aws.ToString(f.Code), aws.ToString(f.Message)))
	}
	return len(dout.Successful), errors.Join(errs...)
}

func receive(ctx context.Context, api RedriveAPI, url string, hold int32) ([]types.Message, error) {
	out, err := api.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    &url,
		MaxNumberOfMessages:         10,
		WaitTimeSeconds:             1,
		VisibilityTimeout:           hold,
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil {
		return nil, fmt.Errorf("sqs ReceiveMessage: %w", err)
	}
	return out.Messages, nil
}

func count(ctx context.Context, api RedriveAPI, url string) (int, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, fmt.Errorf("sqs GetQueueAttributes: %w", err)
	}
	// In flight counts too: a message held by a dry run is still parked
	// (and kumo keeps counting one made visible again as not visible).
	visible, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	hidden, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible + hidden, nil
}

func queueARN(ctx context.Context, api RedriveAPI, url string) (string, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", fmt.Errorf("sqs GetQueueAttributes: %w", err)
	}
	return out.Attributes[string(types.QueueAttributeNameQueueArn)], nil
}

// unsupported reports whether err says the endpoint lacks the API, as
// emulators answer.
func unsupported(err error) bool {
	if err == nil {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "InvalidAction", "UnknownOperationException", "UnsupportedOperation", "NotImplemented", "AWS.SimpleQueueService.UnsupportedOperation":
			return true
		}
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == 501
}

// entryOf describes a message from its attributes, or its body when the
// attributes are missing.
func entryOf(m types.Message) ParkedEntry {
	attr := func(name string) string { return aws.ToString(m.MessageAttributes[name].StringValue) }
	e := ParkedEntry{
		MessageID: aws.ToString(m.MessageId),
		UUID:      attr(envelope.AttrEventUUID),
		Type:      attr(envelope.AttrEventType),
		Reason:    attr(envelope.AttrFailureReason),
	}
	if e.UUID == "" || e.Type == "" {
		if msg, err := envelope.Decode([]byte(aws.ToString(m.Body))); err == nil {
			f := okta.ParseEvent(msg.Event)
			e.UUID, e.Type = f.UUID, f.EventType
		}
	}
	e.Tries, _ = strconv.Atoi(attr(envelope.AttrReceiveCount))
	if t, err := time.Parse(time.RFC3339, attr(envelope.AttrFirstFailureAt)); err == nil {
		e.FirstFailure = t
	} else if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp)], 10, 64); err == nil {
		e.FirstFailure = time.UnixMilli(ms)
	}
	return e
}

// held tracks received messages to make visible again at the end.
type held struct {
	api     RedriveAPI
	url     string
	handles map[string]string // message id → latest receipt handle
}

func newHeld(api RedriveAPI, url string) *held {
	return &held{api: api, url: url, handles: map[string]string{}}
}

func (h *held) add(m types.Message) {
	h.handles[aws.ToString(m.MessageId)] = aws.ToString(m.ReceiptHandle)
}

// release makes the held messages visible again, even after an
// interruption.
func (h *held) release(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var entries []types.ChangeMessageVisibilityBatchRequestEntry
	for _, rh := range h.handles {
		entries = append(entries, types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(len(entries))), ReceiptHandle: aws.String(rh), VisibilityTimeout: 0,
		})
		if len(entries) == 10 {
			h.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &h.url, Entries: entries})
			entries = nil
		}
	}
	if len(entries) > 0 {
		h.api.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &h.url, Entries: entries})
	}
}

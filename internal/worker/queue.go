package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Message attributes added to a parked message.
const (
	AttrFailureReason  = "failureReason"
	AttrFailedHandler  = "failedHandler"
	AttrFirstFailureAt = "firstFailureAt" // RFC 3339
)

// maxReasonBytes keeps a failure reason (a panic's stack, say) readable.
const maxReasonBytes = 1024

// Delay hides one failed message for its backoff delay.
type Delay struct {
	MessageID     string
	ReceiptHandle string
	Delay         time.Duration
}

// Delayer sets the visibility of failed messages (ChangeMessageVisibility).
type Delayer interface {
	Delay(ctx context.Context, delays []Delay) error
}

// Parked is a message to put on the dead-letter queue.
type Parked struct {
	Record  events.SQSMessage
	Reason  string
	Handler string // empty for a malformed message
	At      time.Time
}

// Parker puts messages on the dead-letter queue. errs[i] is nil when
// parked[i] was sent.
type Parker interface {
	Park(ctx context.Context, parked []Parked) (errs []error)
}

// SQSAPI is the part of the SQS client the worker uses.
type SQSAPI interface {
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// SQS is the Delayer and Parker on real queues.
type SQS struct {
	Client   SQSAPI
	QueueURL string // the events queue
	DLQURL   string // its dead-letter queue
}

// Delay implements Delayer with ChangeMessageVisibilityBatch, 10 at a time.
func (s SQS) Delay(ctx context.Context, delays []Delay) error {
	var errs []error
	for start := 0; start < len(delays); start += 10 {
		group := delays[start:min(start+10, len(delays))]
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(group))
		for i, d := range group {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id:                aws.String(strconv.Itoa(i)),
				ReceiptHandle:     aws.String(d.ReceiptHandle),
				VisibilityTimeout: int32(min(d.Delay, MaxVisibility) / time.Second),
			}
		}
		out, err := s.Client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: &s.QueueURL, Entries: entries})
		if err != nil {
			errs = append(errs, fmt.Errorf("sqs ChangeMessageVisibilityBatch: %w", err))
			continue
		}
		for _, f := range out.Failed {
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			if i >= 0 && i < len(group) {
				errs = append(errs, fmt.Errorf("message %s: %s: %s", group[i].MessageID, aws.ToString(f.Code), aws.ToString(f.Message)))
			}
		}
	}
	return errors.Join(errs...)
}

// Park implements Parker: one SendMessage each (parking is rare, and a batch
// of 1 MiB messages would not fit the 1 MiB batch limit anyway).
func (s SQS) Park(ctx context.Context, parked []Parked) []error {
	errs := make([]error, len(parked))
	for i, p := range parked {
		_, err := s.Client.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:          &s.DLQURL,
			MessageBody:       aws.String(p.Record.Body),
			MessageAttributes: ParkedAttributes(p),
		})
		if err != nil {
			errs[i] = fmt.Errorf("sqs SendMessage to the DLQ: %w", err)
		}
	}
	return errs
}

// ParkedAttributes are the record's own attributes plus why it was parked.
// A message parked before (and redriven) keeps its first failure time.
func ParkedAttributes(p Parked) map[string]types.MessageAttributeValue {
	attrs := make(map[string]types.MessageAttributeValue, len(p.Record.MessageAttributes)+3)
	for k, v := range p.Record.MessageAttributes {
		attrs[k] = types.MessageAttributeValue{DataType: aws.String(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
	}
	first := p.At.UTC().Format(time.RFC3339)
	if old, ok := p.Record.MessageAttributes[AttrFirstFailureAt]; ok && aws.ToString(old.StringValue) != "" {
		first = aws.ToString(old.StringValue)
	}
	attrs[AttrFirstFailureAt] = stringAttr(first)
	reason := p.Reason
	if len(reason) > maxReasonBytes {
		reason = strings.ToValidUTF8(reason[:maxReasonBytes], "")
	}
	if reason == "" {
		reason = "unknown"
	}
	attrs[AttrFailureReason] = stringAttr(reason)
	delete(attrs, AttrFailedHandler)
	if p.Handler != "" {
		attrs[AttrFailedHandler] = stringAttr(p.Handler)
	}
	return attrs
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

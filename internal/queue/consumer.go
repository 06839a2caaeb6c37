package queue

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/envelope"
)

// maxReasonBytes keeps a failure reason (a panic's stack, say) readable.
const maxReasonBytes = 1024

// MaxVisibility is the longest visibility timeout SQS accepts (12 hours).
const MaxVisibility = 12 * time.Hour

// Delay hides one failed message for its backoff delay (at most
// MaxVisibility).
type Delay struct {
	MessageID     string
	ReceiptHandle string
	Delay         time.Duration
}

// Parked is a message to put on the dead-letter queue.
type Parked struct {
	Record  events.SQSMessage
	Reason  string
	Handler string // empty for a malformed message
	At      time.Time
}

// ConsumerAPI is the part of the SQS client a Consumer uses.
type ConsumerAPI interface {
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Consumer is the worker's side of the events queue: it hides failed
// messages for their backoff (Delay) and parks messages in the dead-letter
// queue (Park). It implements the worker's Delayer and Parker.
type Consumer struct {
	Client   ConsumerAPI
	QueueURL string // the events queue
	DLQURL   string // its dead-letter queue
}

// Delay hides each message for its delay with ChangeMessageVisibilityBatch,
// 10 at a time.
func (s Consumer) Delay(ctx context.Context, delays []Delay) error {
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

// Park sends each message to the DLQ: one SendMessage each (parking is rare, and a batch
// of 1 MiB messages would not fit the 1 MiB batch limit anyway).
func (s Consumer) Park(ctx context.Context, parked []Parked) []error {
	errs := make([]error, len(parked))
	for i, p := range parked {
		_, err := s.Client.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl:          &s.DLQURL,
			MessageBody:       aws.String(p.Record.Body),
			MessageAttributes: FittingAttributes(p),
		})
		if err != nil {
			errs[i] = fmt.Errorf("sqs SendMessage to the DLQ: %w", err)
		}
	}
	return errs
}

// FittingAttributes are ParkedAttributes when the message still fits SQS's
// size limit with them. When it does not (a body just under 1 MiB), they are
// the record's own attributes, with which the events queue accepted it, so
// the park cannot fail on size; the worker's "parked in the DLQ" log line
// still carries the reason.
func FittingAttributes(p Parked) map[string]types.MessageAttributeValue {
	if attrs := ParkedAttributes(p); MessageSize(p.Record.Body, attrs) <= MaxMessageBytes {
		return attrs
	}
	return recordAttributes(p.Record)
}

// AttributesFit reports whether FittingAttributes keeps the failure
// attributes.
func AttributesFit(p Parked) bool {
	return MessageSize(p.Record.Body, ParkedAttributes(p)) <= MaxMessageBytes
}

// MessageSize is a message's size as SQS counts it against MaxMessageBytes:
// the body plus each attribute's name, data type and value.
func MessageSize(body string, attrs map[string]types.MessageAttributeValue) int {
	n := len(body)
	for k, v := range attrs {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

func recordAttributes(rec events.SQSMessage) map[string]types.MessageAttributeValue {
	attrs := make(map[string]types.MessageAttributeValue, len(rec.MessageAttributes)+4)
	for k, v := range rec.MessageAttributes {
		attrs[k] = types.MessageAttributeValue{DataType: aws.String(v.DataType), StringValue: v.StringValue, BinaryValue: v.BinaryValue}
	}
	return attrs
}

// ParkedAttributes are the record's own attributes plus why it was parked.
// A message parked before (and redriven) keeps its first failure time.
// Values the worker writes are cleaned to the characters SQS accepts.
func ParkedAttributes(p Parked) map[string]types.MessageAttributeValue {
	attrs := recordAttributes(p.Record)
	first := p.At.UTC().Format(time.RFC3339)
	if old, ok := p.Record.MessageAttributes[envelope.AttrFirstFailureAt]; ok && aws.ToString(old.StringValue) != "" {
		first = aws.ToString(old.StringValue)
	}
	attrs[envelope.AttrFirstFailureAt] = stringAttr(CleanAttribute(first, maxReasonBytes))
	reason := CleanAttribute(p.Reason, maxReasonBytes)
	if reason == "" {
		reason = "unknown"
	}
	attrs[envelope.AttrFailureReason] = stringAttr(reason)
	delete(attrs, envelope.AttrFailedHandler)
	if h := CleanAttribute(p.Handler, maxReasonBytes); h != "" {
		attrs[envelope.AttrFailedHandler] = stringAttr(h)
	}
	attrs[envelope.AttrReceiveCount] = stringAttr(strconv.Itoa(ReceiveCount(p.Record)))
	return attrs
}

// CleanAttribute makes s a valid SQS String attribute value of at most max
// bytes. SQS accepts only #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
// #x10000-#x10FFFF and refuses the whole message otherwise; anything else
// (other control characters, invalid UTF-8, U+FFFE/U+FFFF) becomes '?'. The
// cut falls on a character boundary.
func CleanAttribute(s string, max int) string {
	var b strings.Builder
	b.Grow(min(len(s), max))
	for len(s) > 0 {
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		if (r == utf8.RuneError && size == 1) || !sqsAllowed(r) {
			r = '?'
		}
		if b.Len()+utf8.RuneLen(r) > max {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func sqsAllowed(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
		return true
	case r >= 0x20 && r <= 0xD7FF:
		return true
	case r >= 0xE000 && r <= 0xFFFD:
		return true
	default:
		return r >= 0x10000 && r <= 0x10FFFF
	}
}

// stringAttr is a String message attribute, the only kind hookline writes.
func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String(dataTypeString), StringValue: aws.String(s)}
}

// dataTypeString is the data type of every attribute hookline writes.
const dataTypeString = "String"

// ReceiveCount is how many times SQS has delivered the message (its
// ApproximateReceiveCount): 1 on the first try, and when unknown.
func ReceiveCount(rec events.SQSMessage) int {
	n, _ := strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	return max(n, 1)
}

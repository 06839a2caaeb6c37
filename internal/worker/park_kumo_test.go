package worker_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/queue"
)

// receiveDLQ returns every message in the DLQ with its attributes.
func (s *stack) receiveDLQ(t *testing.T, want int) []types.Message {
	t.Helper()
	var got []types.Message
	for deadline := time.Now().Add(10 * time.Second); len(got) < want && time.Now().Before(deadline); {
		out, err := s.sqs.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: &s.dlqURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Messages...)
	}
	if len(got) != want {
		t.Fatalf("DLQ holds %d messages, want %d", len(got), want)
	}
	return got
}

// sqsValid is SQS's rule for a String attribute value (kumo does not check
// it, so the test does): #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
// #x10000-#x10FFFF.
func sqsValid(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !(r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)) {
			return false
		}
	}
	return true
}

// TestParkFollowsSQSRulesOnKumo parks, through the worker's SQS Parker on
// kumo, a message whose handler error holds control characters and invalid
// UTF-8, and a message of almost 1 MiB. kumo accepts anything, so the test
// checks what real SQS would refuse: every attribute in SQS's character set,
// and every parked message within 1 MiB counting its attributes. The big one
// is parked whole, with the attributes it was queued with and without the
// failure attributes (the reason is in the worker's log).
func TestParkFollowsSQSRulesOnKumo(t *testing.T) {
	s := newStack(t, 30)
	ctx := context.Background()
	s.send(t, "d1", "u-ctl", "app.bad")
	raw := `{"uuid":"u-big","eventType":"app.bad","published":"2024-01-01T00:00:00Z","pad":"`
	attrs := map[string]types.MessageAttributeValue{
		envelope.AttrEventUUID: {DataType: aws.String("String"), StringValue: aws.String("u-big")},
		envelope.AttrEventType: {DataType: aws.String("String"), StringValue: aws.String("app.bad")},
	}
	// One time for both: RFC 3339 drops trailing zeros, so two would differ in length.
	at := time.Now()
	body := string(envelope.Encode("d1", "src", at, json.RawMessage(raw+`"}`)))
	pad := queue.MaxMessageBytes - queue.MessageSize(body, attrs) // exactly full on the events queue
	big := string(envelope.Encode("d1", "src", at, json.RawMessage(raw+strings.Repeat("x", pad)+`"}`)))
	if _, err := s.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &s.queueURL, MessageBody: &big, MessageAttributes: attrs}); err != nil {
		t.Fatal(err)
	}

	var recs []events.SQSMessage
	for deadline := time.Now().Add(10 * time.Second); len(recs) < 2 && time.Now().Before(deadline); {
		ev, _ := s.receive(t, 10)
		recs = append(recs, ev.Records...)
	}
	if len(recs) != 2 {
		t.Fatalf("received %d of 2", len(recs))
	}
	reason := "permanent: upstream said \x00\x1b[31mno\x1b[0m \xff\xfe line\nnext\t" + strings.Repeat("é", 2000)
	q := queue.Consumer{Client: s.sqs, QueueURL: s.queueURL, DLQURL: s.dlqURL}
	var parked []queue.Parked
	for _, r := range recs {
		parked = append(parked, queue.Parked{Record: r, Reason: reason, Handler: "h\x07", At: time.Now()})
	}
	for i, err := range q.Park(ctx, parked) {
		if err != nil {
			t.Fatalf("park %d: %v", i, err)
		}
	}

	for _, m := range s.receiveDLQ(t, 2) {
		uuid := aws.ToString(m.MessageAttributes[envelope.AttrEventUUID].StringValue)
		if size := queue.MessageSize(aws.ToString(m.Body), m.MessageAttributes); size > queue.MaxMessageBytes {
			t.Errorf("%s: parked message is %d bytes with its attributes, over SQS's %d", uuid, size, queue.MaxMessageBytes)
		}
		for k, v := range m.MessageAttributes {
			if !sqsValid(aws.ToString(v.StringValue)) {
				t.Errorf("%s: attribute %s = %q has characters SQS refuses", uuid, k, aws.ToString(v.StringValue))
			}
		}
		got := aws.ToString(m.MessageAttributes[envelope.AttrFailureReason].StringValue)
		switch uuid {
		case "u-ctl":
			if !strings.HasPrefix(got, "permanent: upstream said ?") || !strings.Contains(got, "line\nnext\t") || len(got) > 1024 {
				t.Errorf("reason parked as %q (%d bytes)", got, len(got))
			}
			if rc := aws.ToString(m.MessageAttributes[envelope.AttrReceiveCount].StringValue); rc != "1" {
				t.Errorf("receiveCount attribute %q, want 1", rc)
			}
		case "u-big":
			if got != "" {
				t.Errorf("the full message kept a failure reason: it would be over 1 MiB on SQS")
			}
			if aws.ToString(m.Body) != big {
				t.Errorf("the big message's body changed (%d bytes, want %d)", len(aws.ToString(m.Body)), len(big))
			}
		default:
			t.Errorf("unexpected DLQ message %q", uuid)
		}
	}
}

// TestLastReceiveParkedWithReasonOnKumo: with the worker's MaxReceiveCount
// equal to the queue's maxReceiveCount, an event failing every time reaches
// the DLQ through the worker's park, carrying its reason and the worker's
// receive count, instead of through the redrive policy without them.
func TestLastReceiveParkedWithReasonOnKumo(t *testing.T) {
	const maxReceives = 2
	s := newStackWith(t, 1, maxReceives)
	reg := &handlers.Registry{}
	reg.On("app.flaky", func(context.Context, handlers.Event) error { return errors.New("downstream 503") }, handlers.Name("flaky"))
	w := s.worker(reg, nil)
	w.MaxReceiveCount = maxReceives
	s.send(t, "d1", "u-flaky", "app.flaky")
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); {
		ev, msgs := s.receive(t, 10)
		if len(msgs) == 0 {
			if depth(t, s, s.dlqURL) > 0 {
				break
			}
			continue
		}
		resp, err := w.Handle(context.Background(), ev)
		if err != nil {
			t.Fatal(err)
		}
		deleteSucceeded(t, s.sqs, s.queueURL, msgs, resp)
	}
	m := s.receiveDLQ(t, 1)[0]
	reason := aws.ToString(m.MessageAttributes[envelope.AttrFailureReason].StringValue)
	if !strings.HasPrefix(reason, "gave up after 2 receives: ") || !strings.Contains(reason, "downstream 503") {
		t.Fatalf("DLQ message reason %q, want the worker's give-up reason", reason)
	}
	if rc := aws.ToString(m.MessageAttributes[envelope.AttrReceiveCount].StringValue); rc != "2" {
		t.Fatalf("receiveCount attribute %q, want 2", rc)
	}
	if n := depth(t, s, s.queueURL); n != 0 {
		t.Fatalf("%d messages left on the events queue", n)
	}
}

func depth(t *testing.T, s *stack, url string) int {
	t.Helper()
	out, err := s.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		var x int
		json.Unmarshal([]byte(v), &x)
		n += x
	}
	return n
}

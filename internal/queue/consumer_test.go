package queue

import (
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/envelope"
)

func recordN(id, body string, receives int) events.SQSMessage {
	return events.SQSMessage{MessageId: id, ReceiptHandle: "rh-" + id, Body: body,
		Attributes: map[string]string{"ApproximateReceiveCount": strconv.Itoa(receives)}}
}

func TestCleanAttribute(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", "plain"},
		{"tab\tnl\ncr\r", "tab\tnl\ncr\r"},
		{"nul\x00bel\x07esc\x1bdel\x7f", "nul?bel?esc?del\x7f"},
		{"bad\xffutf8\xc3", "bad?utf8?"},
		{"nonchar\uFFFE\uFFFF", "nonchar??"},
		{"replacement \uFFFD kept", "replacement \uFFFD kept"},
		{"astral 𝄞 ok", "astral 𝄞 ok"},
		{"\ud7ff\ue000", "\ud7ff\ue000"},
	} {
		if got := CleanAttribute(tc.in, 100); got != tc.want {
			t.Errorf("CleanAttribute(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Capped on a character boundary.
	got := CleanAttribute(strings.Repeat("é", 10), 5)
	if got != "éé" {
		t.Errorf("cap: %q", got)
	}
	// Whatever comes in, every character out is one SQS accepts.
	in := make([]byte, 0, 4096)
	for i := range 4096 {
		in = append(in, byte(i*7919))
	}
	out := CleanAttribute(string(in)+"\U0010FFFF", 1<<20)
	if !utf8.ValidString(out) {
		t.Fatal("invalid UTF-8 out")
	}
	for _, r := range out {
		if !(r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)) {
			t.Fatalf("character %U is outside SQS's set", r)
		}
	}
}

// TestTooLargeMessageIsParkedWithoutFailureAttributes: a body that fitted the
// events queue with its own attributes but not with the failure attributes
// is parked with its own attributes only, so SQS's size limit cannot refuse
// the park.
func TestTooLargeMessageIsParkedWithoutFailureAttributes(t *testing.T) {
	uuid := "u-big"
	rec := recordN("m", "", 5)
	rec.MessageAttributes = map[string]events.SQSMessageAttribute{"eventUuid": {DataType: "String", StringValue: &uuid}}
	own := MessageSize("", recordAttributes(rec))
	for _, tc := range []struct {
		name      string
		body      int
		withAttrs bool
	}{
		{"small: all attributes", 1000, true},
		{"at the limit with its own attributes", MaxMessageBytes - own, false},
		{"a little under", MaxMessageBytes - own - 100, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec.Body = strings.Repeat("x", tc.body)
			p := Parked{Record: rec, Reason: strings.Repeat("r", 2000), Handler: "h", At: time.Now()}
			attrs := FittingAttributes(p)
			if size := MessageSize(rec.Body, attrs); size > MaxMessageBytes {
				t.Fatalf("parked message is %d bytes, over SQS's %d", size, MaxMessageBytes)
			}
			_, hasReason := attrs[envelope.AttrFailureReason]
			if hasReason != tc.withAttrs || AttributesFit(p) != tc.withAttrs {
				t.Fatalf("failure attributes kept=%v, want %v", hasReason, tc.withAttrs)
			}
			if aws.ToString(attrs["eventUuid"].StringValue) != uuid {
				t.Fatalf("own attributes lost: %v", attrs)
			}
		})
	}
	if n := MessageSize("ab", map[string]types.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: aws.String("vv")}}); n != 2+1+6+2 {
		t.Fatalf("MessageSize = %d, want body + name + data type + value", n)
	}
}

func TestParkedAttributes(t *testing.T) {
	first := "2024-05-01T00:00:00Z"
	rec := recordN("m", "{}", 1)
	rec.MessageAttributes = map[string]events.SQSMessageAttribute{
		"eventUuid":     {DataType: "String", StringValue: &first},
		"failedHandler": {DataType: "String", StringValue: &first},
	}
	attrs := ParkedAttributes(Parked{Record: rec, Reason: strings.Repeat("é", 600), At: time.Unix(0, 0)})
	if *attrs[envelope.AttrFirstFailureAt].StringValue != "1970-01-01T00:00:00Z" || *attrs["eventUuid"].StringValue != first {
		t.Errorf("attributes %v", attrs)
	}
	if _, stale := attrs[envelope.AttrFailedHandler]; stale {
		t.Error("a stale failedHandler survived")
	}
	if r := *attrs[envelope.AttrFailureReason].StringValue; len(r) > maxReasonBytes || !strings.HasPrefix(r, "éé") || strings.ContainsRune(r, '\uFFFD') {
		t.Errorf("reason %d bytes", len(r))
	}
	rec.MessageAttributes[envelope.AttrFirstFailureAt] = events.SQSMessageAttribute{DataType: "String", StringValue: &first}
	if got := *ParkedAttributes(Parked{Record: rec, At: time.Now()})[envelope.AttrFirstFailureAt].StringValue; got != first {
		t.Errorf("a redriven message's first failure became %s", got)
	}
}

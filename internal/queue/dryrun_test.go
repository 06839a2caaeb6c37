package queue_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/queue"
)

// TestDryRunShowsTheWorkersTriesAndChangesNothing: the worker parks an event
// it tried 4 times (through its SQS Parker on kumo); the dry run shows 4 tries
// (the worker's count, not the DLQ's receive count), a message the redrive
// policy moved shows none, and listing again shows exactly the same: the
// listing changes nothing it reports, and leaves every message visible.
func TestDryRunShowsTheWorkersTriesAndChangesNothing(t *testing.T) {
	k := devstacktest.Start(t, devstacktest.Options{Overrides: devstack.Overrides{VisibilityTimeout: 30}})
	c := k.Clients.SQS
	ctx := context.Background()
	queueURL, dlqURL := k.QueueURL("EventsQueue"), k.QueueURL("EventsDLQ")

	uuid := "u-parked"
	rec := events.SQSMessage{MessageId: "m1", Body: body(uuid, "user.a"), Attributes: map[string]string{"ApproximateReceiveCount": "4"},
		MessageAttributes: map[string]events.SQSMessageAttribute{"eventUuid": {DataType: "String", StringValue: &uuid}}}
	q := queue.Consumer{Client: c, QueueURL: queueURL, DLQURL: dlqURL}
	if errs := q.Park(ctx, []queue.Parked{{Record: rec, Reason: "permanent: schema mismatch", Handler: "provision", At: time.Now()}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	// What the redrive policy moves carries only the receiver's attributes.
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &dlqURL, MessageBody: aws.String(body("u-policy", "user.b")),
		MessageAttributes: attrs("u-policy", "user.b")}); err != nil {
		t.Fatal(err)
	}

	o := queue.RedriveOptions{QueueURL: queueURL, DLQURL: dlqURL, Hold: 30 * time.Second}
	list1, err := queue.ListParked(ctx, c, o)
	if err != nil || len(list1) != 2 {
		t.Fatalf("list: %+v %v", list1, err)
	}
	byUUID := map[string]queue.ParkedEntry{}
	for _, e := range list1 {
		byUUID[e.UUID] = e
	}
	if e := byUUID["u-parked"]; e.Tries != 4 || e.Reason != "permanent: schema mismatch" || e.FirstFailure.IsZero() {
		t.Errorf("parked entry %+v, want 4 tries and its reason", e)
	}
	if e := byUUID["u-policy"]; e.Tries != 0 || e.Reason != "" {
		t.Errorf("policy-moved entry %+v, want no tries and no reason", e)
	}

	list2, err := queue.ListParked(ctx, c, o)
	// SQS returns messages in any order: compare them by id.
	byID := func(l []queue.ParkedEntry) {
		slices.SortFunc(l, func(a, b queue.ParkedEntry) int { return strings.Compare(a.MessageID, b.MessageID) })
	}
	byID(list1)
	byID(list2)
	if err != nil || !reflect.DeepEqual(list1, list2) {
		t.Fatalf("a second dry run lists differently:\n%+v\n%+v (%v)", list1, list2, err)
	}
	// Both are visible again at once (the listing held them for 30 s).
	got := 0
	for deadline := time.Now().Add(5 * time.Second); got < 2 && time.Now().Before(deadline); {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &dlqURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 30})
		if err != nil {
			t.Fatal(err)
		}
		got += len(out.Messages)
	}
	if got != 2 {
		t.Fatalf("%d of 2 messages visible right after the dry runs", got)
	}
}

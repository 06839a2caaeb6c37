package main

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/testenv"
)

// TestRedriveCommand runs `hookline redrive` against kumo: a dry run moves
// nothing, a real run moves everything (through the copy fallback).
func TestRedriveCommand(t *testing.T) {
	k := testenv.StartKumo(t)
	t.Setenv("AWS_REGION", testenv.Region)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_ENDPOINT_URL", "") // the flag sets it
	c := k.SQS()
	queueURL, dlqURL := k.CreateQueues(t, "events", 3, 30)
	for range 3 {
		if _, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &dlqURL, MessageBody: aws.String(`{"v":1}`)}); err != nil {
			t.Fatal(err)
		}
	}
	depth := func(url string) string {
		out, err := c.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &url,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes["ApproximateNumberOfMessages"]
	}
	args := []string{"redrive", "--queue-url", queueURL, "--dlq-url", dlqURL, "--endpoint-url", k.Endpoint}
	if code := run(context.Background(), append(args, "--dry-run")); code != 0 {
		t.Fatalf("dry run exit %d", code)
	}
	if d := depth(queueURL); d != "0" {
		t.Fatalf("a dry run moved messages: queue depth %s", d)
	}
	if code := run(context.Background(), args); code != 0 {
		t.Fatalf("redrive exit %d", code)
	}
	if q, d := depth(queueURL), depth(dlqURL); q != "3" || d != "0" {
		t.Fatalf("queue %s, DLQ %s; want 3 and 0", q, d)
	}
	if code := run(context.Background(), []string{"redrive", "--queue-url", queueURL}); code != 2 {
		t.Fatalf("missing --dlq-url: exit %d, want 2", code)
	}
}

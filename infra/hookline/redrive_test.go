package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

// TestRedriveCommand runs `hookline redrive` against the local stack with
// no AWS configuration at all, as `make redrive` does on a laptop: a dry
// run moves nothing, a real run moves everything (through the copy
// fallback).
func TestRedriveCommand(t *testing.T) {
	k := devstacktest.Start(t, devstacktest.Options{})
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	c := k.Clients.SQS
	queueURL, dlqURL := k.QueueURL("EventsQueue"), k.QueueURL("EventsDLQ")
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
	args := []string{"redrive", "--queue-url", queueURL, "--dlq-url", dlqURL, "--endpoint-url", k.Kumo.Endpoint}
	// The dry run finds the stack as `make redrive ARGS=--local` does: from
	// the state file `hookline dev` writes.
	state := filepath.Join(t.TempDir(), "dev-stack.json")
	if err := writeState(state, State{Endpoint: k.Kumo.Endpoint, Queues: k.Resources.QueueURLs}); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if code := run(context.Background(), []string{"redrive", "--local", "--state", state, "--dry-run"}, &stdout, &stderr); code != 0 {
		t.Fatalf("dry run exit %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stderr.String(), "3 message(s) would move") || strings.Count(stdout.String(), "\n") != 4 {
		t.Errorf("dry run printed:\n%s%s", stdout.String(), stderr.String())
	}
	// The columns: the worker's tries, not the DLQ's receive count; these
	// three carry no worker attributes, as the redrive policy moves them.
	if lines := strings.Split(stdout.String(), "\n"); !strings.Contains(lines[0], "TRIES") || strings.Contains(lines[0], "RECEIVES") ||
		!strings.Contains(lines[1], " - ") || !strings.Contains(lines[1], "moved by the redrive policy") {
		t.Errorf("dry run table:\n%s", stdout.String())
	}
	if d := depth(queueURL); d != "0" {
		t.Fatalf("a dry run moved messages: queue depth %s", d)
	}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("redrive exit %d:\n%s", code, stderr.String())
	}
	if q, d := depth(queueURL), depth(dlqURL); q != "3" || d != "0" {
		t.Fatalf("queue %s, DLQ %s; want 3 and 0", q, d)
	}
	if code := run(context.Background(), []string{"redrive", "--queue-url", queueURL}, io.Discard, io.Discard); code != 2 {
		t.Fatalf("missing --dlq-url: exit %d, want 2", code)
	}
	stderr.Reset()
	if code := run(context.Background(), []string{"redrive", "--local", "--state", filepath.Join(t.TempDir(), "none.json")}, io.Discard, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "make dev") {
		t.Fatalf("--local without a running stack: exit %d, %q; want a failure naming make dev", code, stderr.String())
	}
}

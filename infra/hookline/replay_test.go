package main

import (
	"context"
	"fmt"
	"github.com/hookline/hookline/internal/envelope"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/standin"
)

// TestReplayCommand runs `hookline replay` against the local stack and a
// stand-in Okta org (standin): a dry run counts and queues nothing, a
// replay queues what the hook never queued, a second replay nothing, and
// --force everything in the range, printing progress as it goes.
func TestReplayCommand(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("replay-token")
	now := time.Now()
	var marked []string
	for i := range 25 {
		u := fmt.Sprintf("replay-%02d", i)
		org.Add(standin.Event(u, "user.lifecycle.create", now.Add(-2*time.Hour+time.Duration(i)*time.Minute)))
		if i%5 == 0 {
			marked = append(marked, u)
		}
	}
	org.Add(standin.Event("other", "user.session.start", now.Add(-time.Hour)))
	// The operator's Okta credentials secret (the stack creates none).
	sec, err := s.Clients.SecretsManager.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("okta-credentials"), SecretString: aws.String(`{"orgUrl":"` + org.URL + `","apiToken":"replay-token"}`)})
	if err != nil {
		t.Fatal(err)
	}
	table, queueURL := s.Resources.Tables["LedgerTable"], s.QueueURL("EventsQueue")
	marks := &ledger.Marks{Client: s.Clients.DynamoDB, Table: table}
	if err := marks.Mark(t.Context(), envelope.OriginHook, marked); err != nil {
		t.Fatal(err)
	}
	depth := func() string {
		out, err := s.Clients.SQS.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &queueURL,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		return out.Attributes["ApproximateNumberOfMessages"]
	}
	base := []string{"replay", "--since", "3h", "--type", "user.lifecycle.create", "--queue-url", queueURL,
		"--ledger-table", table, "--secret-id", aws.ToString(sec.ARN), "--endpoint-url", s.Kumo.Endpoint}
	replay := func(extra ...string) (string, string) {
		t.Helper()
		var stdout, stderr strings.Builder
		if code := run(context.Background(), append(append([]string(nil), base...), extra...), &stdout, &stderr); code != 0 {
			t.Fatalf("replay %v: exit %d\n%s%s", extra, code, stdout.String(), stderr.String())
		}
		return stdout.String(), stderr.String()
	}

	out, progress := replay("--dry-run")
	if !strings.Contains(out, "seen 25, would enqueue 20, skipped 5") || depth() != "0" {
		t.Fatalf("dry run: %s / depth %s", out, depth())
	}
	if !strings.Contains(progress, "pages 1, seen 25, would enqueue 20, skipped 5") {
		t.Fatalf("no progress line: %s", progress)
	}
	if out, _ = replay(); !strings.Contains(out, "enqueued 20, skipped 5") || depth() != "20" {
		t.Fatalf("replay: %s / depth %s", out, depth())
	}
	if out, _ = replay(); !strings.Contains(out, "enqueued 0, skipped 25") || depth() != "20" {
		t.Fatalf("second replay: %s / depth %s", out, depth())
	}
	if out, _ = replay("--force", "--until", now.Add(-time.Hour-50*time.Minute).UTC().Format(time.RFC3339)); !strings.Contains(out, "seen 10, enqueued 10") || depth() != "30" {
		t.Fatalf("forced replay of a range: %s / depth %s", out, depth())
	}

	var stderr strings.Builder
	if code := run(context.Background(), []string{"replay", "--since", "yesterday"}, &stderr, &stderr); code != 2 {
		t.Fatalf("bad --since: exit %d", code)
	}
	if code := run(context.Background(), []string{"replay", "--since", "1h"}, &stderr, &stderr); code != 2 {
		t.Fatalf("no target: exit %d", code)
	}
}

func TestReplayTargetFromStackOutputs(t *testing.T) {
	outs := map[string]string{"EventsQueueUrl": "https://q", "LedgerTableName": "ledger", "OktaCredentialsSecretArn": "arn:s",
		"OktaEventTypes": "a, b"}
	r := replayTarget{table: "mine"}
	if err := r.fill("hookline", outs); err != nil || r.queueURL != "https://q" || r.table != "mine" || r.secretID != "arn:s" ||
		strings.Join(r.types, "|") != "a|b" {
		t.Fatalf("%+v %v", r, err)
	}
	outs["OktaCredentialsSecretArn"] = "" // the stack runs no reconciler
	r = replayTarget{}
	if err := r.fill("hookline", outs); err == nil || !strings.Contains(err.Error(), "OktaCredentialsSecretArn") {
		t.Fatalf("error %v", err)
	}
}

// TestReplayStopsOnARepeatingCursorAndAtItsTimeout: `hookline replay`
// against an Okta whose next link names the page just read stops at once
// with a message saying so (it used to read the same page until Okta's
// rate limit), and against an Okta that does not answer it stops at
// --timeout, saying where to go on. Both exit 1.
func TestReplayStopsOnARepeatingCursorAndAtItsTimeout(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("replay-token")
	proxy := org.Proxy(t.Cleanup)
	now := time.Now()
	for i := range 5 {
		org.Add(standin.Event(fmt.Sprintf("rep-%d", i), "user.lifecycle.create", now.Add(-time.Hour+time.Duration(i)*time.Minute)))
	}
	sec, err := s.Clients.SecretsManager.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{
		Name: aws.String("okta-credentials"), SecretString: aws.String(`{"orgUrl":"` + proxy.URL + `","apiToken":"replay-token"}`)})
	if err != nil {
		t.Fatal(err)
	}
	replay := func(extra ...string) (int, string, string, time.Duration) {
		t.Helper()
		args := append([]string{"replay", "--since", "2h", "--type", "user.lifecycle.create", "--queue-url", s.QueueURL("EventsQueue"),
			"--dlq-url", s.QueueURL("EventsDLQ"), "--ledger-table", s.Resources.Tables["LedgerTable"], "--secret-id", aws.ToString(sec.ARN),
			"--endpoint-url", s.Kumo.Endpoint}, extra...)
		// A bound for the test, should the replay not stop by itself.
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		var stdout, stderr strings.Builder
		start := time.Now()
		code := run(ctx, args, &stdout, &stderr)
		return code, stdout.String(), stderr.String(), time.Since(start)
	}

	// Every page names itself as next.
	proxy.SetNext(func(_ int, r *http.Request, _ string) string { return r.URL.String() })
	code, out, errOut, _ := replay()
	if code != 1 || !strings.Contains(errOut, "okta returned the same page again") || !strings.Contains(out, "pages 1, seen 5, enqueued 5") {
		t.Fatalf("repeating cursor: exit %d, %d pages read\n%s%s", code, proxy.LogsRequests(), out, lastLines(errOut, 5))
	}
	if proxy.LogsRequests() != 1 {
		t.Fatalf("%d pages requested, want 1", proxy.LogsRequests())
	}
	// It says where to go on: after the last event it read.
	last := now.Add(-time.Hour + 4*time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
	if !strings.Contains(errOut, "go on with --since "+last) {
		t.Fatalf("no way on in: %s", lastLines(errOut, 2))
	}
	proxy.SetNext(nil)

	// Okta never answers.
	proxy.SetBody(func(_ int, r *http.Request, body []byte) []byte {
		<-r.Context().Done()
		return body
	})
	code, out, errOut, took := replay("--timeout", "2s")
	if code != 1 || !strings.Contains(errOut, "stopped at --timeout 2s") || took > 10*time.Second {
		t.Fatalf("no answer: exit %d after %s\n%s%s", code, took, out, errOut)
	}
	if code, _, errOut, _ := replay("--timeout", "0s"); code != 2 {
		t.Fatalf("--timeout 0s: exit %d\n%s", code, errOut)
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-n, 0):], "\n") + "\n"
}

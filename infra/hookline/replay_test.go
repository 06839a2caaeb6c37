package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/hookline/hookline/internal/envelope"
	"io"
	"net/http"
	"path/filepath"
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

// --since takes days: the README's `--since 30d` is 30 days ago.
func TestReplaySinceTakesDays(t *testing.T) {
	now := time.Date(2026, 3, 31, 12, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"30d":                  now.Add(-30 * 24 * time.Hour),
		"1d12h":                now.Add(-36 * time.Hour),
		"6h":                   now.Add(-6 * time.Hour),
		"90m":                  now.Add(-90 * time.Minute),
		"2026-01-02T00:00:00Z": time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC),
	} {
		if got, err := parseWhen(in, now); err != nil || !got.Equal(want) {
			t.Errorf("parseWhen(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"d", "xd", "30days", "1d-2h", "yesterday", "0d"} {
		if got, err := parseWhen(bad, now); err == nil {
			t.Errorf("parseWhen(%q) = %v, want an error", bad, got)
		}
	}
}

// --type replaces the stack's list for the replay, and each type must be
// one of the stack's OktaEventTypes.
func TestReplayTypeIsCheckedAgainstTheStack(t *testing.T) {
	outs := map[string]string{"EventsQueueUrl": "https://q", "LedgerTableName": "ledger", "OktaCredentialsSecretArn": "arn:s",
		"OktaEventTypes": "user.lifecycle.create,user.lifecycle.deactivate"}
	r := replayTarget{types: []string{"user.lifecycle.deactivate"}}
	if err := r.fill("stack hookline", outs); err != nil || r.checkTypes() != nil || strings.Join(r.types, ",") != "user.lifecycle.deactivate" {
		t.Fatalf("a subscribed type: %+v %v %v", r, err, r.checkTypes())
	}
	r = replayTarget{types: []string{"user.lifecycle.create", "user.lifecycle.activate"}}
	if err := r.fill("stack hookline", outs); err != nil {
		t.Fatal(err)
	}
	if err := r.checkTypes(); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--type user.lifecycle.activate: not in the stack's OktaEventTypes") {
		t.Fatalf("an unsubscribed type: %v", err)
	}
	// No stack: the flags name the types, and there is nothing to check against.
	if err := (&replayTarget{types: []string{"any.type"}}).checkTypes(); err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	if code := run(context.Background(), []string{"replay", "--since", "30d", "--local", "--state", filepath.Join(t.TempDir(), "none.json")}, io.Discard, &stderr); code == 0 ||
		!strings.Contains(stderr.String(), "make dev") {
		t.Fatalf("--local without a running stack: exit %d, %q; want a failure naming make dev", code, stderr.String())
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

// A sample whose auth value is not the samples' dev secret is sent with it
// (events/delivery-wrong-auth.json: 401); the others with the stack's.
func TestSendKeepsASamplesWrongAuth(t *testing.T) {
	root := devstacktest.RepoRoot(t)
	bodies, own, err := readDeliveries(filepath.Join(root, "events", "delivery*.json"), "Authorization", io.Discard)
	if err != nil || len(bodies) != 3 {
		t.Fatalf("%d deliveries, %v", len(bodies), err)
	}
	var wrong []string
	for _, o := range own {
		if o != nil {
			wrong = append(wrong, *o)
		}
	}
	if len(wrong) != 1 || wrong[0] != "wrong-secret" {
		t.Fatalf("own auth values %q, want only delivery-wrong-auth.json's", wrong)
	}
}

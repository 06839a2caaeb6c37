package devstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

// These tests check the emulators themselves, and the runners of
// devstack and devstacktest, on what the other tests rely on.

func TestKumoHealthAndSQS(t *testing.T) {
	t.Parallel()
	// With maxReceiveCount 1, a message received once and not deleted
	// moves to the DLQ once its 1 s visibility runs out.
	s := devstacktest.Start(t, devstacktest.Options{Overrides: devstack.Overrides{VisibilityTimeout: 1, MaxReceiveCount: 1}})

	resp, err := http.Get(s.Kumo.Endpoint + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte("healthy")) {
		t.Fatalf("GET /health: %s %s", resp.Status, body)
	}

	ctx := t.Context()
	c := s.Clients.SQS
	qURL, dlqURL := s.QueueURL("EventsQueue"), s.QueueURL("EventsDLQ")
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       &qURL,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := attrs.Attributes["VisibilityTimeout"]; got != "1" {
		t.Errorf("VisibilityTimeout = %q", got)
	}
	if got := attrs.Attributes["RedrivePolicy"]; !strings.Contains(got, s.Resources.QueueARNs["EventsDLQ"]) {
		t.Errorf("RedrivePolicy = %q", got)
	}

	// Roundtrip with a message attribute.
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    &qURL,
		MessageBody: aws.String(`{"v":1}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			"eventType": {DataType: aws.String("String"), StringValue: aws.String("user.lifecycle.create")},
		},
	}); err != nil {
		t.Fatal(err)
	}
	msg := receiveOne(t, c, qURL)
	if aws.ToString(msg.Body) != `{"v":1}` {
		t.Errorf("body %q", aws.ToString(msg.Body))
	}
	if got := aws.ToString(msg.MessageAttributes["eventType"].StringValue); got != "user.lifecycle.create" {
		t.Errorf("eventType attribute %q", got)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &qURL, ReceiptHandle: msg.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}

	// The redrive policy works.
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &qURL, MessageBody: aws.String("poison")}); err != nil {
		t.Fatal(err)
	}
	receiveOne(t, c, qURL)
	// Once its visibility timeout runs out, the next receive moves it.
	var moved []sqstypes.Message
	for deadline := time.Now().Add(10 * time.Second); len(moved) == 0 && time.Now().Before(deadline); {
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &qURL, WaitTimeSeconds: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) != 0 {
			t.Fatalf("poison message received a second time from the main queue")
		}
		dlq, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &dlqURL})
		if err != nil {
			t.Fatal(err)
		}
		moved = dlq.Messages
	}
	if len(moved) != 1 || aws.ToString(moved[0].Body) != "poison" {
		t.Fatalf("DLQ holds %v, want the poison message", moved)
	}
}

func receiveOne(t *testing.T, c *sqs.Client, url string) sqstypes.Message {
	t.Helper()
	out, err := c.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl:              &url,
		WaitTimeSeconds:       2,
		MessageAttributeNames: []string{"All"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("received %d messages from %s, want 1", len(out.Messages), url)
	}
	return out.Messages[0]
}

func TestKumoSecretsAndDynamoDB(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstacktest.Options{})
	arn := s.Resources.SecretARNs["HookSecret"]
	if !strings.HasPrefix(arn, "arn:aws:secretsmanager:"+devstack.Region+":") {
		t.Errorf("ARN %q", arn)
	}
	for _, id := range []string{devstack.StackName + "-HookSecret", arn} {
		out, err := s.Clients.SecretsManager.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: &id})
		if err != nil {
			t.Fatalf("GetSecretValue(%s): %v", id, err)
		}
		if aws.ToString(out.SecretString) != devstack.DevSecret {
			t.Fatalf("GetSecretValue(%s) = %q", id, aws.ToString(out.SecretString))
		}
	}
	table := s.Resources.Tables["LedgerTable"]
	if _, err := s.Clients.DynamoDB.DescribeTable(t.Context(), &dynamodb.DescribeTableInput{TableName: &table}); err != nil {
		t.Fatalf("DynamoDB DescribeTable(%q): %v", table, err)
	}
	// AWSEnv points at this kumo only.
	want := map[string]string{"AWS_ENDPOINT_URL": s.Kumo.Endpoint, "AWS_REGION": devstack.Region}
	for _, kv := range s.Kumo.AWSEnv() {
		name, v, _ := strings.Cut(kv, "=")
		if w, ok := want[name]; ok && v != w {
			t.Errorf("%s=%s, want %s", name, v, w)
		}
		delete(want, name)
	}
	if len(want) != 0 {
		t.Errorf("AWSEnv() lacks %v", want)
	}
}

// echoBootstrap is testdata/echo: a function that answers its event.
func echoBootstrap(t *testing.T) string {
	t.Helper()
	return devstacktest.Build(t, "./internal/devstack/testdata/echo")
}

func invoke(t *testing.T, r *devstacktest.RIE, event string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := r.Invoke(ctx, []byte(event))
	if err != nil {
		t.Fatalf("Invoke(%s): %v\nlogs:\n%s", event, err, r.Logs())
	}
	return string(out)
}

func TestRIEEcho(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstacktest.Options{})
	start := time.Now()
	r := devstacktest.StartRIE(t, s, "receiver", echoBootstrap(t), "ECHO_VAR=from-test", "LOG_LEVEL=debug")
	listening := time.Since(start)
	event := `{"hello":"world","n":[1,2,3]}`
	if got := invoke(t, r, event); got != event {
		t.Fatalf("echo = %s, want %s", got, event)
	}
	t.Logf("rie: listening after %v, first response after %v", listening.Round(time.Microsecond), time.Since(start).Round(time.Microsecond))

	if got := invoke(t, r, `{"getenv":"ECHO_VAR"}`); got != `{"value":"from-test"}` {
		t.Errorf("getenv ECHO_VAR = %s", got)
	}
	// The function gets the template's variables with local values.
	if got := invoke(t, r, `{"getenv":"QUEUE_URL"}`); got != `{"value":"`+s.QueueURL("EventsQueue")+`"}` {
		t.Errorf("getenv QUEUE_URL = %s", got)
	}
	// Nothing of the test process leaks but PATH, HOME, TMPDIR, TZ, LANG.
	invocations := 3
	for _, kv := range os.Environ() {
		name, v, _ := strings.Cut(kv, "=")
		if v == "" || strings.Contains("PATH HOME TMPDIR TZ LANG", name) || strings.HasPrefix(name, "AWS_") || strings.HasPrefix(name, "_") {
			continue
		}
		if got := invoke(t, r, `{"getenv":"`+name+`"}`); got != `{"value":""}` {
			t.Errorf("%s leaked into the function: %s", name, got)
		}
		invocations++
		break
	}

	// A function error is a 200 with the error JSON, not a Go error.
	var fe struct{ ErrorMessage, ErrorType string }
	if err := json.Unmarshal([]byte(invoke(t, r, `{"error":"boom"}`)), &fe); err != nil {
		t.Fatal(err)
	}
	if fe.ErrorMessage != "boom" || fe.ErrorType == "" {
		t.Errorf("function error = %+v", fe)
	}
	// And the function still serves afterwards.
	if got := invoke(t, r, `{"after":"error"}`); got != `{"after":"error"}` {
		t.Errorf("after error: %s", got)
	}
	invocations += 2

	// The invoke answer can overtake the last log line on its way through the
	// pipe, so wait for the lines instead of reading once.
	logs := waitForLines(r, `"msg":"echo"`, invocations, 5*time.Second)
	if n := strings.Count(logs, `"msg":"echo"`); n != invocations {
		t.Errorf("function logged %d echo lines, want %d:\n%s", n, invocations, logs)
	}
	if !strings.Contains(logs, "START RequestId:") {
		t.Errorf("no START line in logs:\n%s", logs)
	}
	// LOG_LEVEL=debug is for the function; rie itself stays at warn.
	if strings.Contains(logs, "[DEBUG]") || strings.Contains(logs, "[INFO]") {
		t.Errorf("rie logged below warn:\n%s", logs)
	}
}

// waitForLines returns the logs once they hold n lines containing needle, or
// whatever they hold when the timeout runs out.
func waitForLines(r *devstacktest.RIE, needle string, n int, timeout time.Duration) string {
	deadline := time.Now().Add(timeout)
	for {
		logs := r.Logs()
		if strings.Count(logs, needle) >= n || time.Now().After(deadline) {
			return logs
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRIETimeout(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstacktest.Options{})
	r := devstacktest.StartRIE(t, s, "receiver", echoBootstrap(t), "AWS_LAMBDA_FUNCTION_TIMEOUT=1")
	start := time.Now()
	if got := invoke(t, r, `{"sleepMs":3000}`); !strings.Contains(got, "Task timed out after 1.00 seconds") {
		t.Fatalf("timeout payload %q", got)
	}
	t.Logf("timed out after %v", time.Since(start).Round(time.Millisecond))
	// rie re-inits the function on the next call.
	start = time.Now()
	if got := invoke(t, r, `{"x":1}`); got != `{"x":1}` {
		t.Fatalf("after timeout: %s", got)
	}
	t.Logf("next invocation answered after %v", time.Since(start).Round(time.Millisecond))
}

// rie crashes (a nil pointer panic) on overlapping invocations; Invoke
// serializes them, so every concurrent call must come back with its own
// answer.
func TestRIEConcurrentInvokesAllSucceed(t *testing.T) {
	t.Parallel()
	s := devstacktest.Start(t, devstacktest.Options{})
	bs := echoBootstrap(t)
	// Two emulators side by side, each hammered from several goroutines.
	rs := []*devstacktest.RIE{devstacktest.StartRIE(t, s, "receiver", bs), devstacktest.StartRIE(t, s, "worker", bs)}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		r := rs[i%2]
		wg.Go(func() {
			event := fmt.Sprintf(`{"i":%d}`, i)
			out, err := r.Invoke(t.Context(), []byte(event))
			if err == nil && string(out) != event {
				err = fmt.Errorf("got %s, want %s", out, event)
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestCleanupLeavesNoProcess(t *testing.T) {
	t.Parallel()
	bs := echoBootstrap(t)
	var pids []int
	t.Run("start", func(t *testing.T) {
		s := devstacktest.Start(t, devstacktest.Options{Run: []string{"receiver"}})
		r := devstacktest.StartRIE(t, s, "worker", bs)
		invoke(t, r, `{}`) // the bootstrap is running now
		kids := devstack.Descendants(r.PID())
		if len(kids) == 0 {
			t.Fatal("rie has no child process after an invocation")
		}
		pids = append(s.PIDs(), r.PID())
		pids = append(pids, kids...)
		for _, pid := range pids {
			if !devstack.ProcessAlive(pid) {
				t.Fatalf("pid %d not alive while running", pid)
			}
		}
	})
	if len(pids) == 0 {
		t.Fatal("subtest did not start processes")
	}
	// Cleanup has returned; allow only scheduling slack.
	deadline := time.Now().Add(2 * time.Second)
	for _, pid := range pids {
		for devstack.ProcessAlive(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if devstack.ProcessAlive(pid) {
			t.Errorf("pid %d still alive after cleanup", pid)
		}
	}
}

// fatalTB records the first Fatal and ends the goroutine, like testing.T.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// fatalOf runs fn with a fatalTB and returns the Fatal message, if any.
func fatalOf(t *testing.T, fn func(tb testing.TB)) string {
	f := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f.msg
}

func TestToolAndBootstrapOverrides(t *testing.T) {
	if _, err := devstack.Tool(devstacktest.RepoRoot(t), "localstack", nil); err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Errorf("unknown tool: %v", err)
	}
	if testing.Short() {
		t.Skip("Bootstrap skips under -short")
	}

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "receiver"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "receiver", "bootstrap"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("HOOKLINE_BOOTSTRAP_DIR", dir)
	if got := devstacktest.Bootstrap(t, "receiver"); got != filepath.Join(dir, "receiver", "bootstrap") {
		t.Errorf("Bootstrap(receiver) = %q", got)
	}
	if msg := fatalOf(t, func(tb testing.TB) { devstacktest.Bootstrap(tb, "worker") }); !strings.Contains(msg, "HOOKLINE_BOOTSTRAP_DIR") {
		t.Errorf("missing worker bootstrap: %q", msg)
	}
	if msg := fatalOf(t, func(tb testing.TB) { devstacktest.Bootstrap(tb, "../worker") }); !strings.Contains(msg, "bad function name") {
		t.Errorf("bad name: %q", msg)
	}
}

package eventfiles

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

type expectation struct {
	fn          string // receiver, worker or streamer
	status      int    // receiver: HTTP status
	enqueued    int    // receiver: messages that must land on the queue
	bodyHas     string // receiver: substring of the response body
	itemsFailed int    // worker: batchItemFailures
}

// Every file in events/ must be listed here, so a new sample cannot go untested.
var expected = map[string]expectation{
	"verify-get.json":          {fn: "receiver", status: 200, bodyHas: `{"verification":"`},
	"verify-get-noauth.json":   {fn: "receiver", status: 401},
	"delivery.json":            {fn: "receiver", status: 200, enqueued: 4, bodyHas: `"accepted":4`},
	"delivery-base64.json":     {fn: "receiver", status: 200, enqueued: 4, bodyHas: `"accepted":4`},
	"delivery-wrong-auth.json": {fn: "receiver", status: 401},
	"worker-sqs-batch.json":    {fn: "worker"},
	"logstream.json":           {fn: "streamer", enqueued: 1},
}

func TestEveryEventFileUnderRIE(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(devstacktest.RepoRoot(t), "events", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no event files: %v", err)
	}
	sort.Strings(files)

	// The functions under rie with the template's environment, against
	// the template's resources: `sam local invoke -e events/<file>`.
	s := devstacktest.Start(t, devstacktest.Options{})
	queueURL := s.QueueURL("EventsQueue")
	receiver := devstacktest.StartRIE(t, s, "receiver", "", "LOG_LEVEL=info")
	worker := devstacktest.StartRIE(t, s, "worker", "", "LOG_LEVEL=info")
	streamer := devstacktest.StartRIE(t, s, "streamer", "", "LOG_LEVEL=info")

	for _, file := range files {
		name := filepath.Base(file)
		if name == "env.json" {
			continue // sam local invoke --env-vars, not an event; checked by internal/samtemplate
		}
		t.Run(name, func(t *testing.T) {
			want, ok := expected[name]
			if !ok {
				t.Fatalf("events/%s has no expectation in this test", name)
			}
			event, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			switch want.fn {
			case "receiver":
				out, err := receiver.Invoke(ctx, event)
				if err != nil {
					t.Fatal(err)
				}
				var resp events.APIGatewayV2HTTPResponse
				if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode == 0 {
					t.Fatalf("not an HTTP response: %s\nlogs:\n%s", out, receiver.Logs())
				}
				if resp.StatusCode != want.status || !strings.Contains(resp.Body, want.bodyHas) {
					t.Fatalf("status %d body %s; want %d containing %q", resp.StatusCode, resp.Body, want.status, want.bodyHas)
				}
				if got := takeAll(t, s.Clients.SQS, queueURL); got != want.enqueued {
					t.Fatalf("enqueued %d, want %d", got, want.enqueued)
				}
			case "worker":
				out, err := worker.Invoke(ctx, event)
				if err != nil {
					t.Fatal(err)
				}
				var resp events.SQSEventResponse
				if err := json.Unmarshal(out, &resp); err != nil || strings.Contains(string(out), "errorMessage") {
					t.Fatalf("not an SQS response: %s\nlogs:\n%s", out, worker.Logs())
				}
				if len(resp.BatchItemFailures) != want.itemsFailed {
					t.Fatalf("batchItemFailures %v, want %d\nlogs:\n%s", resp.BatchItemFailures, want.itemsFailed, worker.Logs())
				}
			case "streamer":
				out, err := streamer.Invoke(ctx, event)
				if err != nil || strings.Contains(string(out), "errorMessage") {
					t.Fatalf("streamer: %v %s\nlogs:\n%s", err, out, streamer.Logs())
				}
				if got := takeAll(t, s.Clients.SQS, queueURL); got != want.enqueued {
					t.Fatalf("enqueued %d, want %d\nlogs:\n%s", got, want.enqueued, streamer.Logs())
				}
			default:
				t.Fatalf("unknown function %q", want.fn)
			}
		})
	}

	// The last answer can overtake its log lines on their way through the
	// pipe: wait for the worker's event lines before reading the logs.
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Count(worker.Logs(), `"msg":"okta event"`) >= 3 {
			break
		}
	}
	// The functions log JSON only, and never the secret.
	for fn, logs := range map[string]string{"receiver": receiver.Logs(), "worker": worker.Logs()} {
		if strings.Contains(logs, devstack.DevSecret) {
			t.Errorf("%s logged the secret", fn)
		}
		lines := 0
		for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
			if !strings.HasPrefix(line, "{") {
				continue // rie's own lines
			}
			lines++
			if !json.Valid([]byte(line)) {
				t.Errorf("%s: log line is not JSON: %s", fn, line)
			}
		}
		if lines == 0 {
			t.Errorf("%s wrote no JSON log lines", fn)
		}
	}
	if n := strings.Count(worker.Logs(), `"msg":"okta event"`); n != 3 {
		t.Errorf("worker logged %d events, want the batch's 3:\n%s", n, worker.Logs())
	}
}

// takeAll receives and deletes everything on the queue, returning the count.
func takeAll(t *testing.T, c *sqs.Client, url string) int {
	t.Helper()
	ctx := context.Background()
	n := 0
	for {
		attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url,
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages}})
		if err != nil {
			t.Fatal(err)
		}
		if left, _ := strconv.Atoi(attrs.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)]); left == 0 {
			return n
		}
		out, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
}

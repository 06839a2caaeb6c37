package awsenv_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

func TestEmulatorHTTPClientSendsBodyIntact(t *testing.T) {
	var got string
	var gotLen int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, gotLen = string(b), r.ContentLength
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	req, _ := http.NewRequest("POST", srv.URL, strings.NewReader(`{"QueueUrl":"q"}`))
	resp, err := awsenv.EmulatorHTTPClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != `{"QueueUrl":"q"}` || gotLen != int64(len(got)) {
		t.Fatalf("server got %q (Content-Length %d)", got, gotLen)
	}
}

// Large ReceiveMessage answers from kumo used to fail now and then with
// "use of closed network connection" (see EmulatorHTTPClient). Receive many
// of them through the clients the functions build and expect no error.
func TestLargeReceivesFromKumo(t *testing.T) {
	k := devstacktest.Start(t, devstacktest.Options{})
	devstacktest.Setenv(t, k)
	env, err := awsenv.FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	queueURL := k.QueueURL("EventsQueue")
	svc := env.Service(sqs.ServiceID)
	client := sqs.New(sqs.Options{Region: svc.Region, Credentials: svc.Credentials, BaseEndpoint: svc.BaseEndpoint, HTTPClient: svc.HTTPClient}, func(o *sqs.Options) { o.RetryMaxAttempts = 1 }) // an error must surface, not be retried away
	ctx := context.Background()
	body := strings.Repeat("x", 600)
	for round := 0; round < 20; round++ {
		for batch := 0; batch < 3; batch++ {
			entries := make([]types.SendMessageBatchRequestEntry, 10)
			for i := range entries {
				entries[i] = types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), MessageBody: aws.String(body),
					MessageAttributes: map[string]types.MessageAttributeValue{"eventUuid": {DataType: aws.String("String"), StringValue: aws.String("u")}}}
			}
			if _, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &queueURL, Entries: entries}); err != nil {
				t.Fatal(err)
			}
		}
		for got := 0; got < 30; {
			out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
			if err != nil {
				t.Fatalf("round %d, after %d messages: %v", round, got, err)
			}
			if len(out.Messages) == 0 {
				t.Fatalf("round %d: queue looks empty after %d of 30 messages", round, got)
			}
			for _, m := range out.Messages {
				if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &queueURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
					t.Fatal(err)
				}
			}
			got += len(out.Messages)
		}
	}
}

// TestConfigReachesKumo: a client a handler builds from Services.AWS (the
// environment's Config) with a service's NewFromConfig talks to the
// emulator the environment names, as the worker's own clients do.
func TestConfigReachesKumo(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	devstacktest.Setenv(t, s)
	env, err := awsenv.FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	client := sqs.NewFromConfig(env.Config())
	out, err := client.GetQueueUrl(context.Background(), &sqs.GetQueueUrlInput{QueueName: aws.String("hookline-EventsQueue")})
	if err != nil {
		names, _ := client.ListQueues(context.Background(), &sqs.ListQueuesInput{})
		t.Fatalf("%v (queues: %v)", err, names)
	}
	if !strings.HasSuffix(aws.ToString(out.QueueUrl), "/hookline-EventsQueue") {
		t.Fatalf("queue URL %s", aws.ToString(out.QueueUrl))
	}
}

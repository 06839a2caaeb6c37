package receiver_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/receiver"
)

// These tests run the receiver with real SDK clients against kumo.

// startKumo starts the template's resources on kumo with the hook secret
// set to secret, and points the test's AWS environment at it.
func startKumo(t *testing.T, secret string) (*devstack.Stack, awsenv.Env) {
	t.Helper()
	s := devstacktest.Start(t, devstacktest.Options{Secret: secret})
	devstacktest.Setenv(t, s)
	env, err := awsenv.FromEnvironment()
	if err != nil {
		t.Fatal(err)
	}
	return s, env
}

func newReceiver(env awsenv.Env, secretID, queueURL string) *receiver.Handler {
	smSvc, sqsSvc := env.Service(secretsmanager.ServiceID), env.Service(sqs.ServiceID)
	sm := secretsmanager.New(secretsmanager.Options{Region: smSvc.Region, Credentials: smSvc.Credentials, BaseEndpoint: smSvc.BaseEndpoint, HTTPClient: smSvc.HTTPClient})
	verifier := auth.NewVerifier(auth.SecretsManager{Client: sm, SecretID: secretID}, auth.Settings{TTL: 5 * time.Minute})
	pub := &queue.Publisher{Sender: queue.SQSSender{Client: sqs.New(sqs.Options{Region: sqsSvc.Region, Credentials: sqsSvc.Credentials, BaseEndpoint: sqsSvc.BaseEndpoint, HTTPClient: sqsSvc.HTTPClient}), QueueURL: queueURL}, Budget: 2 * time.Second}
	return receiver.New(receiver.Config{}, verifier, pub, slog.New(slog.NewJSONHandler(io.Discard, nil)))
}

func post(auth, body string) events.APIGatewayV2HTTPRequest {
	req := events.APIGatewayV2HTTPRequest{Headers: map[string]string{"authorization": auth, "content-type": "application/json"}, Body: body}
	req.RequestContext.HTTP.Method = "POST"
	req.RequestContext.HTTP.SourceIP = "198.51.100.23"
	return req
}

func deliveryOf(uuids ...string) string {
	evs := make([]string, len(uuids))
	for i, u := range uuids {
		evs[i] = `{"uuid":"` + u + `","published":"2024-01-01T00:00:0` + string(rune('0'+i%10)) + `Z","eventType":"user.lifecycle.create","displayMessage":"Create Okta user"}`
	}
	return `{"eventType":"com.okta.event_hook","eventId":"d-kumo","source":"https://example.okta.com/hook","data":{"events":[` + strings.Join(evs, ",") + `]}}`
}

func drain(t *testing.T, c *sqs.Client, url string, want int) map[string]envelope.Message {
	t.Helper()
	got := map[string]envelope.Message{}
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < want && time.Now().Before(deadline) {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: &url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			env, err := envelope.Decode([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatalf("queue holds a bad envelope: %v", err)
			}
			uuid := aws.ToString(m.MessageAttributes[envelope.AttrEventUUID].StringValue)
			if aws.ToString(m.MessageAttributes[envelope.AttrEventType].StringValue) != "user.lifecycle.create" ||
				aws.ToString(m.MessageAttributes[envelope.AttrPublished].StringValue) == "" {
				t.Fatalf("attributes %v", m.MessageAttributes)
			}
			got[uuid] = env
			if _, err := c.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return got
}

// depth counts visible and in-flight messages.
func depth(t *testing.T, c *sqs.Client, url string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       &url,
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages, types.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		i, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("attribute %q: %v", v, err)
		}
		n += i
	}
	return n
}

func TestReceiverEnqueuesToKumo(t *testing.T) {
	k, env := startKumo(t, "kumo-secret-0123456789abcdef0123")
	queueURL := k.QueueURL("EventsQueue")
	h := newReceiver(env, k.Resources.SecretARNs["HookSecret"], queueURL)

	uuids := make([]string, 23) // three batches
	for i := range uuids {
		uuids[i] = "uuid-" + string(rune('a'+i))
	}
	resp, err := h.Handle(context.Background(), post("kumo-secret-0123456789abcdef0123", deliveryOf(uuids...)))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d %s %v", resp.StatusCode, resp.Body, err)
	}
	got := drain(t, k.Clients.SQS, queueURL, len(uuids))
	if len(got) != len(uuids) {
		t.Fatalf("queue has %d events, want %d", len(got), len(uuids))
	}
	for _, u := range uuids {
		if m, ok := got[u]; !ok || m.DeliveryID != "d-kumo" || !strings.Contains(string(m.Event), `"uuid":"`+u+`"`) {
			t.Fatalf("event %s missing or wrong: %+v", u, m)
		}
	}

	// A wrong secret enqueues nothing.
	resp, _ = h.Handle(context.Background(), post("wrong", deliveryOf("never")))
	if resp.StatusCode != 401 {
		t.Fatalf("wrong secret: status %d", resp.StatusCode)
	}
	if n := depth(t, k.Clients.SQS, queueURL); n != 0 {
		t.Fatalf("wrong secret enqueued %d messages", n)
	}
}

func TestReceiverSecretRotationOnKumo(t *testing.T) {
	const oldSecret, newSecret = "old-secret-0123456789abcdef012345", "new-secret-0123456789abcdef012345"
	k, env := startKumo(t, oldSecret)
	queueURL := k.QueueURL("EventsQueue")
	secretARN := k.Resources.SecretARNs["HookSecret"]
	h := newReceiver(env, secretARN, queueURL)
	ctx := context.Background()

	if resp, _ := h.Handle(ctx, post(oldSecret, deliveryOf("u1"))); resp.StatusCode != 200 {
		t.Fatalf("before rotation: %d", resp.StatusCode)
	}
	// A wrong value just before the rotation (a scanner, or Okta switched a
	// moment early) must not lock the new value out: Okta never retries a 401.
	if resp, _ := h.Handle(ctx, post("scanner-guess-0123456789abcdef0123", deliveryOf("x"))); resp.StatusCode != 401 {
		t.Fatalf("wrong value before rotation: %d", resp.StatusCode)
	}
	if _, err := k.Clients.SecretsManager.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: &secretARN, SecretString: aws.String(newSecret)}); err != nil {
		t.Fatal(err)
	}
	// The cached value is stale; the new one is accepted by the very next
	// request, and the old one still works while Okta is being switched over.
	for _, s := range []string{newSecret, oldSecret} {
		if resp, _ := h.Handle(ctx, post(s, deliveryOf("u-"+s[:3]))); resp.StatusCode != 200 {
			t.Fatalf("after rotation, %s: status %d", s[:3], resp.StatusCode)
		}
	}
	if resp, _ := h.Handle(ctx, post("neither-0123456789abcdef0123456789", deliveryOf("x"))); resp.StatusCode != 401 {
		t.Fatalf("unknown secret: status %d", resp.StatusCode)
	}
	if got := drain(t, k.Clients.SQS, queueURL, 3); len(got) != 3 {
		t.Fatalf("enqueued %d, want 3", len(got))
	}
}

func TestReceiverFailsClosedWithoutSecretsManager(t *testing.T) {
	k, env := startKumo(t, "")
	queueURL := k.QueueURL("EventsQueue")
	oneTry := func(o *secretsmanager.Options) { o.RetryMaxAttempts = 1 }
	svc := env.Service(secretsmanager.ServiceID)
	reachable := secretsmanager.New(secretsmanager.Options{Region: svc.Region, Credentials: svc.Credentials, BaseEndpoint: svc.BaseEndpoint, HTTPClient: svc.HTTPClient}, oneTry)

	// Secrets Manager unreachable: nothing listens on this port.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := l.Addr().String()
	l.Close()
	t.Setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", "http://"+deadAddr)
	svc = env.Service(secretsmanager.ServiceID)
	unreachable := secretsmanager.New(secretsmanager.Options{Region: svc.Region, Credentials: svc.Credentials, BaseEndpoint: svc.BaseEndpoint, HTTPClient: svc.HTTPClient}, oneTry)

	tests := []struct {
		name     string
		client   *secretsmanager.Client
		secretID string
	}{
		{"endpoint unreachable", unreachable, k.Resources.SecretARNs["HookSecret"]},
		{"secret does not exist", reachable, "no-such-secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			verifier := auth.NewVerifier(auth.SecretsManager{Client: tt.client, SecretID: tt.secretID}, auth.Settings{TTL: time.Minute})
			pub := &queue.Publisher{Sender: queue.SQSSender{Client: k.Clients.SQS, QueueURL: queueURL}}
			h := receiver.New(receiver.Config{}, verifier, pub, slog.New(slog.NewJSONHandler(io.Discard, nil)))
			resp, _ := h.Handle(context.Background(), post("anything-at-all", deliveryOf("u1")))
			if resp.StatusCode != 503 {
				t.Fatalf("status %d, want 503", resp.StatusCode)
			}
			if n := depth(t, k.Clients.SQS, queueURL); n != 0 {
				t.Fatalf("enqueued %d while failing closed", n)
			}
		})
	}
}

// TestEventsWithoutAUsableUUIDReachTheQueueOnKumo: on kumo's SQS, events
// whose uuids differ only in lone surrogates, or hold a control character
// (which SQS refuses in a message attribute), are all queued, each on its
// own and as sent, next to a well-formed one.
func TestEventsWithoutAUsableUUIDReachTheQueueOnKumo(t *testing.T) {
	k, env := startKumo(t, "kumo-secret-0123456789abcdef0123")
	queueURL := k.QueueURL("EventsQueue")
	h := newReceiver(env, k.Resources.SecretARNs["HookSecret"], queueURL)
	events := []string{`{"uuid":"\ud800","eventType":"user.lifecycle.create"}`, `{"uuid":"\ud801","eventType":"user.lifecycle.create"}`,
		`{"uuid":"a\u0001","eventType":"user.lifecycle.create"}`, `{"uuid":"u-ok","eventType":"user.lifecycle.create"}`}
	body := `{"eventType":"com.okta.event_hook","eventId":"d-keys","data":{"events":[` + strings.Join(events, ",") + `]}}`
	resp, err := h.Handle(context.Background(), post("kumo-secret-0123456789abcdef0123", body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d %s %v", resp.StatusCode, resp.Body, err)
	}
	got := map[string]string{} // raw event → uuid attribute
	deadline := time.Now().Add(10 * time.Second)
	for len(got) < len(events) && time.Now().Before(deadline) {
		out, err := k.Clients.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: &queueURL, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			msg, err := envelope.Decode([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatal(err)
			}
			got[string(msg.Event)] = aws.ToString(m.MessageAttributes[envelope.AttrEventUUID].StringValue)
		}
	}
	for _, ev := range events {
		attr, ok := got[ev]
		want := ""
		if strings.Contains(ev, "u-ok") {
			want = "u-ok"
		}
		if !ok || attr != want {
			t.Errorf("%s: queued %v with uuid attribute %q, want %q", ev, ok, attr, want)
		}
	}
}

package testenv

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/devstack"
)

// Region is the AWS region of every local resource.
const Region = devstack.Region

const apiTimeout = 10 * time.Second

// Kumo is a running kumo AWS emulator private to one test.
type Kumo struct {
	Endpoint string // http://127.0.0.1:<Port>
	Port     int

	kumo    *devstack.Kumo
	clients *devstack.Clients
	logs    *logBuffer
}

// StartKumo starts kumo on a free 127.0.0.1 port (in memory, log level warn),
// waits until GET /health answers, and kills it in t.Cleanup.
func StartKumo(t testing.TB) *Kumo {
	t.Helper()
	if testing.Short() {
		t.Skip("needs kumo: run without -short (make test)")
	}
	bin := Binary(t, "kumo")
	logs := new(logBuffer)
	start := time.Now()
	dk, err := devstack.StartKumo(t.Context(), bin, 0, logs.line)
	if err != nil {
		t.Fatalf("testenv: %v\n%s", err, tail(logs.String(), 4<<10))
	}
	t.Cleanup(func() { stop(t, "kumo", dk.PID(), dk.Stop, logs) })
	t.Logf("testenv: kumo healthy on %s after %v", dk.Endpoint, time.Since(start).Round(time.Millisecond))
	return &Kumo{Endpoint: dk.Endpoint, Port: dk.Port, kumo: dk, clients: devstack.NewClients(dk.Endpoint), logs: logs}
}

// Logs returns what kumo has written to stdout and stderr so far.
func (k *Kumo) Logs() string { return k.logs.String() }

// Env returns the variables that point an AWS SDK (and so a function under
// StartRIE) at this kumo: AWS_ENDPOINT_URL, AWS_REGION and static
// credentials.
func (k *Kumo) Env() []string { return devstack.AWSEnv(k.Endpoint) }

// Setenv points the test process's AWS environment at kumo (t.Setenv), so
// code that reads the standard variables, such as awsenv, talks to it.
func (k *Kumo) Setenv(t testing.TB) {
	t.Helper()
	for _, kv := range k.Env() {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
}

// SQS returns an SQS client pointed at kumo.
func (k *Kumo) SQS() *sqs.Client { return k.clients.SQS }

// SecretsManager returns a Secrets Manager client pointed at kumo.
func (k *Kumo) SecretsManager() *secretsmanager.Client { return k.clients.SecretsManager }

// DynamoDB returns a DynamoDB client pointed at kumo (response CRC32
// validation off: kumo sends no CRC32 header).
func (k *Kumo) DynamoDB() *dynamodb.Client { return k.clients.DynamoDB }

func apiContext(t testing.TB) (context.Context, context.CancelFunc) {
	return context.WithTimeout(t.Context(), apiTimeout)
}

// CreateQueues creates the standard queue name and its dead-letter queue
// name+"-dlq": messages move to the DLQ after maxReceiveCount receives, and
// visibilityTimeout (seconds) applies to the main queue. The URLs are kumo's,
// which always say localhost:4566; SDK clients built from Env or SQS work
// with them anyway. It calls t.Fatal on any error.
func (k *Kumo) CreateQueues(t testing.TB, name string, maxReceiveCount int, visibilityTimeout int) (queueURL, dlqURL string) {
	t.Helper()
	ctx, cancel := apiContext(t)
	defer cancel()
	c := k.SQS()

	dlq, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-dlq")})
	if err != nil {
		t.Fatalf("testenv: create queue %s-dlq: %v", name, err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       dlq.QueueUrl,
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn},
	})
	if err != nil || attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)] == "" {
		t.Fatalf("testenv: DLQ ARN of %s: %v %v", *dlq.QueueUrl, attrs, err)
	}
	policy, _ := json.Marshal(map[string]string{
		"deadLetterTargetArn": attrs.Attributes[string(sqstypes.QueueAttributeNameQueueArn)],
		"maxReceiveCount":     strconv.Itoa(maxReceiveCount),
	})
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{
		QueueName: aws.String(name),
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameVisibilityTimeout): strconv.Itoa(visibilityTimeout),
			string(sqstypes.QueueAttributeNameRedrivePolicy):     string(policy),
		},
	})
	if err != nil {
		t.Fatalf("testenv: create queue %s: %v", name, err)
	}
	return *q.QueueUrl, *dlq.QueueUrl
}

// CreateSecret creates a Secrets Manager secret with a string value and
// returns its ARN. It calls t.Fatal on any error.
func (k *Kumo) CreateSecret(t testing.TB, name, value string) (arn string) {
	t.Helper()
	ctx, cancel := apiContext(t)
	defer cancel()
	out, err := k.SecretsManager().CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:         aws.String(name),
		SecretString: aws.String(value),
	})
	if err != nil {
		t.Fatalf("testenv: create secret %s: %v", name, err)
	}
	return aws.ToString(out.ARN)
}

package devstack

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/clock"
)

// Local AWS identity: kumo checks no signature, but the SDK wants something.
const (
	Region          = "us-east-1"
	accessKeyID     = "hookline-local"
	secretAccessKey = "hookline-local"
)

// Kumo is a running kumo emulator.
type Kumo struct {
	Port     int
	Endpoint string // http://127.0.0.1:<Port>
	p        *proc
}

// StartKumo starts the kumo binary on 127.0.0.1:port (0 picks a free port)
// in its own process group and waits for GET /health.
func StartKumo(ctx context.Context, bin string, port int, onLine LineFunc) (*Kumo, error) {
	pick := port == 0
	var lastErr error
	for range 3 { // another process may grab a port we picked
		if pick {
			var err error
			if port, err = FreePort(); err != nil {
				return nil, err
			}
		} else if err := portFree(port); err != nil {
			// Else our kumo would exit and /health could answer from the
			// other process (a stack left running in another terminal?).
			return nil, fmt.Errorf("port %d is taken (another `make dev`? try PORT=...): %w", port, err)
		}
		// kumo's own internal calls (API Gateway → Lambda) read only
		// KUMO_HOST/KUMO_PORT: with --port they would still go to 4566.
		env := append(baseEnv(), "KUMO_HOST=127.0.0.1", "KUMO_PORT="+strconv.Itoa(port), "KUMO_LOG_LEVEL=warn")
		p, err := startProc("kumo", bin, nil, env, "", onLine)
		if err != nil {
			return nil, err
		}
		k := &Kumo{Port: port, Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), p: p}
		if lastErr = k.waitHealthy(ctx, 15*time.Second); lastErr == nil {
			return k, nil
		}
		p.stop(time.Second)
		if !pick {
			break
		}
	}
	return nil, fmt.Errorf("kumo did not start: %w", lastErr)
}

func (k *Kumo) waitHealthy(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	for {
		if k.p.exited() {
			return fmt.Errorf("kumo exited: %v", k.p.err)
		}
		if healthy(ctx, client, k.Endpoint) {
			return nil
		}
		if err := clock.Sleep(ctx, 10*time.Millisecond); err != nil {
			return fmt.Errorf("not healthy on %s: %w", k.Endpoint, err)
		}
	}
}

// healthy reports whether a kumo answers GET /health at endpoint.
func healthy(ctx context.Context, client *http.Client, endpoint string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/health", nil)
	if err != nil {
		return false
	}
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// PID is the kumo process id.
func (k *Kumo) PID() int { return k.p.pid() }

// Stop kills kumo and waits for it.
func (k *Kumo) Stop() { k.p.stop(2 * time.Second) }

// AWSEnv returns the variables that point an AWS SDK at this kumo.
func (k *Kumo) AWSEnv() []string { return AWSEnv(k.Endpoint) }

// AWSEnv returns the variables that point an AWS SDK at endpoint.
func AWSEnv(endpoint string) []string {
	return []string{
		"AWS_ENDPOINT_URL=" + endpoint,
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
		"AWS_ACCESS_KEY_ID=" + accessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + secretAccessKey,
		"AWS_SESSION_TOKEN=",
	}
}

// Clients are SDK clients pointed at one kumo.
type Clients struct {
	Endpoint       string // the kumo's
	SQS            *sqs.Client
	SecretsManager *secretsmanager.Client
	DynamoDB       *dynamodb.Client
	Lambda         *lambda.Client
	APIGateway     *apigatewayv2.Client
	EventBridge    *eventbridge.Client
}

// NewClients returns clients for the kumo at endpoint.
func NewClients(endpoint string) *Clients {
	creds := Credentials
	ep := aws.String(endpoint)
	hc := awsenv.EmulatorHTTPClient() // see its doc: kumo and smithy-go race on request bodies
	// A worker invocation may take its whole timeout; the default client's
	// lack of timeout is fine since every call carries a context.
	return &Clients{
		Endpoint:       endpoint,
		SQS:            sqs.New(sqs.Options{Region: Region, Credentials: creds, BaseEndpoint: ep, HTTPClient: hc}),
		SecretsManager: secretsmanager.New(secretsmanager.Options{Region: Region, Credentials: creds, BaseEndpoint: ep, HTTPClient: hc}),
		DynamoDB: dynamodb.New(dynamodb.Options{Region: Region, Credentials: creds, BaseEndpoint: ep, HTTPClient: hc,
			// kumo sends no CRC32 header, and the SDK would warn on every call.
			DisableValidateResponseChecksum: true}),
		Lambda: lambda.New(lambda.Options{Region: Region, Credentials: creds, BaseEndpoint: ep, HTTPClient: hc,
			// The poller must see a function error, not have the SDK retry it.
			RetryMaxAttempts: 1}),
		APIGateway:  apigatewayv2.New(apigatewayv2.Options{Region: Region, Credentials: creds, BaseEndpoint: ep, HTTPClient: hc}),
		EventBridge: eventbridge.New(eventbridge.Options{Region: Region, Credentials: creds, BaseEndpoint: ep, HTTPClient: hc}),
	}
}

func portFree(port int) error {
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return err
	}
	return l.Close()
}

// Credentials are the static credentials of every local client: kumo checks
// no signature, but an SDK wants some.
var Credentials = credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, "")

// IsLocal reports whether endpoint is an address on this machine (a kumo),
// where the local Credentials and Region are the right ones.
func IsLocal(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return false
	}
	h := u.Hostname()
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

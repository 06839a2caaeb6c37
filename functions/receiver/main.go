// Command receiver is the Lambda behind the HTTP API: it authenticates Okta's
// calls and puts each event on SQS.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/receiver"
)

func main() {
	var env config.Env
	queueURL := env.Required("QUEUE_URL")
	secretID := env.Required("SECRET_ID")
	authHeader := env.Optional("AUTH_HEADER", "Authorization")
	cidrs := env.Optional("ALLOWED_SOURCE_CIDRS", "")
	maxBody := env.Bytes("MAX_BODY_BYTES", 1<<20)
	secretTTL := env.Duration("SECRET_CACHE_TTL", 5*time.Minute)
	budget := env.Duration("PUBLISH_BUDGET", 2*time.Second)
	table := env.Optional("LEDGER_TABLE", "")
	retention := env.Duration("LEDGER_RETENTION", ledger.DefaultRetention)
	log := logging.New(env.Optional("LOG_LEVEL", "info"))
	// Metrics go to stdout as EMF lines, in the template's namespace, by stack.
	recorder := metrics.New(env.Optional("METRICS_NAMESPACE", metrics.DefaultNamespace), env.Optional("STACK_NAME", "local"), logging.Stdout)

	allowed, err := receiver.ParseCIDRs(cidrs)
	if err != nil {
		fail(log, err)
	}
	if err := env.Err(); err != nil {
		fail(log, err)
	}
	aws, err := awsenv.FromEnvironment()
	if err != nil {
		fail(log, err)
	}

	verifier := auth.NewVerifier(auth.SecretsManager{Client: aws.SecretsManager(), SecretID: secretID}, secretTTL)
	// Bounded by the verifier's fetch timeout: under aws-lambda-rie (and so
	// sam local) init counts against the function's timeout.
	if err := verifier.Refresh(context.Background()); err != nil {
		// Not fatal: requests answer 503 until the secret can be read.
		log.Error("hook secret not readable at init", "error", err.Error())
	}

	sqsClient := aws.SQS(func(o *sqs.Options) {
		// The publisher keeps queue.DefaultConcurrency batches in flight;
		// the SDK's default client keeps only 10 idle connections a host,
		// and each new one to SQS costs a TLS handshake.
		if bc, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
			o.HTTPClient = bc.WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = queue.DefaultConcurrency })
		}
	})
	publisher := &queue.Publisher{Sender: queue.SQSSender{Client: sqsClient, QueueURL: queueURL}, Budget: budget}
	var opts []receiver.Option
	if table != "" {
		// Marks the events the hook brought, so the reconciler skips them.
		opts = append(opts, receiver.WithDeliveryMarks(&ledger.Deliveries{Client: aws.DynamoDB(), Table: table, Retention: retention}, 0))
	}
	h := receiver.New(receiver.Config{AuthHeader: authHeader, MaxBodyBytes: maxBody, AllowedCIDRs: allowed, Metrics: recorder}, verifier, publisher, log, opts...)
	lambda.Start(h.Handle)
}

func fail(log *slog.Logger, err error) {
	log.Error("receiver cannot start", "error", err.Error())
	os.Exit(1)
}

// Command receiver is the Lambda behind the HTTP API: it authenticates Okta's
// calls and puts each event on SQS.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/orgs"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/receiver"
)

// settings is the receiver's configuration, from the variables template.yaml
// sets (and the README's Configuration table lists).
type settings struct {
	LogLevel         string
	MetricsNamespace string
	StackName        string
	QueueURL         string
	SecretID         string // the default org's hook secret; other orgs' are named by orgs.SecretName
	SecretTTL        time.Duration
	PublishBudget    time.Duration
	LedgerTable      string // "": no delivery marks
	LedgerRetention  time.Duration
	Receiver         receiver.Config
}

// loadSettings reads the receiver's settings through getenv, reporting every
// missing or bad variable at once.
func loadSettings(getenv func(string) string) (settings, error) {
	env := config.Env{Getenv: getenv}
	s := settings{
		LogLevel:         env.Optional("LOG_LEVEL", "info"),
		MetricsNamespace: env.Optional("METRICS_NAMESPACE", metrics.DefaultNamespace),
		StackName:        env.Optional("STACK_NAME", "local"),
		QueueURL:         env.Required("QUEUE_URL"),
		SecretID:         env.Required("SECRET_ID"),
		SecretTTL:        env.Duration("SECRET_CACHE_TTL", 5*time.Minute),
		PublishBudget:    env.Duration("PUBLISH_BUDGET", 2*time.Second),
		LedgerTable:      env.Optional("LEDGER_TABLE", ""),
		LedgerRetention:  env.Duration("LEDGER_RETENTION", ledger.DefaultRetention),
		Receiver: receiver.Config{
			AuthHeader:   env.Optional("AUTH_HEADER", "Authorization"),
			MaxBodyBytes: env.Bytes("MAX_BODY_BYTES", 1<<20),
		},
	}
	list, orgErr := orgs.Parse(env.Optional("OKTA_ORGS", ""))
	s.Receiver.Orgs = list
	allowed, err := receiver.ParseCIDRs(env.Optional("ALLOWED_SOURCE_CIDRS", ""))
	if err != nil {
		err = fmt.Errorf("ALLOWED_SOURCE_CIDRS: %w", err)
	}
	s.Receiver.AllowedCIDRs = allowed
	return s, errors.Join(env.Err(), err, orgErr)
}

func main() {
	s, err := loadSettings(os.Getenv)
	log := logging.New(s.LogLevel)
	if err != nil {
		fail(log, err)
	}
	cloud, err := awsenv.FromEnvironment()
	if err != nil {
		fail(log, err)
	}
	// Metrics go to stdout as EMF lines, in the template's namespace, by stack.
	s.Receiver.Metrics = metrics.New(s.MetricsNamespace, s.StackName, logging.Stdout)

	sm := cloud.Service(secretsmanager.ServiceID)
	secrets := secretsmanager.New(secretsmanager.Options{Region: sm.Region, Credentials: sm.Credentials, BaseEndpoint: sm.BaseEndpoint, HTTPClient: sm.HTTPClient})
	// One verifier per org, each with its own secret and cache.
	verifier := auth.NewOrgs(s.Receiver.Orgs, func(org string) auth.Secrets {
		return auth.SecretsManager{Client: secrets, SecretID: s.Receiver.Orgs.SecretID(s.StackName, org, orgs.KindHook, s.SecretID)}
	}, auth.Settings{TTL: s.SecretTTL})
	// Bounded by the verifier's fetch timeout (all orgs are read at once):
	// under aws-lambda-rie (and so sam local) init counts against the
	// function's timeout.
	if err := verifier.Refresh(context.Background()); err != nil {
		// Not fatal: that org's requests answer 503 until its secret can be read.
		log.Error("hook secret not readable at init", "error", err.Error())
	}

	queueClient := queue.NewClient(cloud,
		func(o *sqs.Options) {
			// The publisher keeps queue.DefaultConcurrency batches in flight;
			// the SDK's default client keeps only 10 idle connections a host,
			// and each new one to SQS costs a TLS handshake.
			if bc, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
				o.HTTPClient = bc.WithTransportOptions(func(t *http.Transport) { t.MaxIdleConnsPerHost = queue.DefaultConcurrency })
			}
		})
	publisher := &queue.Publisher{Sender: queue.SQSSender{Client: queueClient, QueueURL: s.QueueURL}, Budget: s.PublishBudget}
	if s.LedgerTable != "" {
		// Marks the events the hook queued, so the reconciler skips them.
		s.Receiver.Marks = &ledger.Marks{Client: ledger.NewClient(cloud), Table: s.LedgerTable, Retention: s.LedgerRetention}
	}
	h := receiver.NewForOrgs(s.Receiver, verifier, publisher, log)
	lambda.Start(h.Handle)
}

func fail(log *slog.Logger, err error) {
	log.Error("receiver cannot start", "error", err.Error())
	os.Exit(1)
}

// Command reconciler is the scheduled Lambda that recovers, from the Okta
// System Log, the subscribed events the event hook did not bring, and puts
// them on the events queue (see internal/reconcile).
package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/reconcile"
)

func main() {
	var env config.Env
	log := logging.New(env.Optional("LOG_LEVEL", "info"))
	secretID := env.Required("OKTA_CREDENTIALS_SECRET_ID")
	types := env.Required("OKTA_EVENT_TYPES")
	queueURL := env.Required("QUEUE_URL")
	table := env.Required("LEDGER_TABLE")
	retention := env.Duration("LEDGER_RETENTION", ledger.DefaultRetention)
	grace := env.Duration("RECONCILE_GRACE", reconcile.DefaultGrace)
	lookback := env.Duration("RECONCILE_LOOKBACK", reconcile.DefaultLookback)
	// Metrics go to stdout as EMF lines, in the template's namespace, by stack.
	recorder := metrics.New(env.Optional("METRICS_NAMESPACE", metrics.DefaultNamespace), env.Optional("STACK_NAME", "local"), logging.Stdout)
	if err := env.Err(); err != nil {
		fail(log, err)
	}
	cloud, err := awsenv.FromEnvironment()
	if err != nil {
		fail(log, err)
	}
	sm, ddb := cloud.SecretsManager(), cloud.DynamoDB()

	s := &reconcile.Scheduled{
		Reconciler: &reconcile.Reconciler{
			Marks:     &ledger.Deliveries{Client: ddb, Table: table, Retention: retention},
			Cursors:   &ledger.Cursors{Client: ddb, Table: table},
			Publisher: &queue.Publisher{Sender: queue.SQSSender{Client: cloud.SQS(), QueueURL: queueURL}, Budget: 10 * time.Second},
			Log:       log,
			Types:     reconcile.ParseTypes(types),
			Grace:     grace,
			Lookback:  lookback,
			Metrics:   recorder,
		},
		Credentials: func(ctx context.Context) (oktaapi.Credentials, error) {
			return oktaapi.LoadCredentials(ctx, sm, secretID)
		},
	}
	lambda.Start(s.Handle)
}

func fail(log *slog.Logger, err error) {
	log.Error("reconciler cannot start", "error", err.Error())
	os.Exit(1)
}

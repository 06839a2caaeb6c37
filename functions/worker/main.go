// Command worker is the Lambda that drains the events queue and runs the
// registered handlers (see handlers.go).
package main

import (
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/worker"
)

func main() {
	var env config.Env
	log := logging.New(env.Optional("LOG_LEVEL", "info"))
	queueURL := env.Required("QUEUE_URL")
	dlqURL := env.Optional("DLQ_URL", "")
	table := env.Optional("LEDGER_TABLE", "")
	retention := env.Duration("LEDGER_RETENTION", ledger.DefaultRetention)
	// Metrics go to stdout as EMF lines, in the template's namespace, by stack.
	recorder := metrics.New(env.Optional("METRICS_NAMESPACE", metrics.DefaultNamespace), env.Optional("STACK_NAME", "local"), logging.Stdout)
	// The events queue's redrive policy maxReceiveCount: a record failing on
	// that receive is parked with its reason. 0 leaves it to the policy.
	maxReceives := env.Count("MAX_RECEIVE_COUNT", 0)
	eventLog, fieldsErr := handlers.ParseEventLogFields(env.Optional("EVENT_LOG_FIELDS", "all"))
	if err := errors.Join(env.Err(), fieldsErr); err != nil {
		fail(log, err)
	}
	cloud, err := awsenv.FromEnvironment()
	if err != nil {
		fail(log, err)
	}

	registry := &handlers.Registry{}
	registry.On("*", handlers.LogEventsWith(log, eventLog), handlers.Name("event-log"))
	register(registry, log)

	q := worker.SQS{Client: cloud.SQS(), QueueURL: queueURL, DLQURL: dlqURL}
	w := &worker.Worker{Registry: registry, Log: log, Delayer: q, Metrics: recorder, MaxReceiveCount: maxReceives}
	if dlqURL != "" {
		w.Parker = q
	} else {
		log.Warn("DLQ_URL is not set: permanent failures are retried with the maximum delay until the redrive policy moves them")
	}
	if table != "" {
		w.Ledger = &ledger.DynamoDB{
			Client:    cloud.DynamoDB(),
			Table:     table,
			Retention: retention,
		}
		log.Info("idempotency ledger on", "table", table, "retention", retention.String(), "retentionDays", int(retention/(24*time.Hour)))
	} else {
		log.Warn("idempotency ledger off: LEDGER_TABLE is not set, duplicates run handlers again")
	}
	lambda.Start(w.Handle)
}

func fail(log *slog.Logger, err error) {
	log.Error("worker cannot start", "error", err.Error())
	os.Exit(1)
}

// Command worker is the Lambda that drains the events queue and runs the
// registered handlers (see handlers.go).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/eventbus"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/orgs"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/schema"
	"github.com/hookline/hookline/internal/worker"
)

// settings is the worker's configuration, from the variables template.yaml
// sets (and the README's Configuration table lists).
type settings struct {
	LogLevel         string
	MetricsNamespace string
	StackName        string
	QueueURL         string
	DLQURL           string        // "": permanent failures wait for the redrive policy
	LedgerTable      string        // "": ledger off
	LedgerRetention  time.Duration // how long ledger records live
	// MaxReceiveCount is the events queue's redrive policy maxReceiveCount:
	// a record failing on that receive is parked with its reason. 0 leaves
	// it to the policy.
	MaxReceiveCount int
	EventLog        handlers.EventLogFields // what the built-in event log writes
	// OwnActors are the Okta actor and OAuth client ids whose events reach
	// no handler (the loop guard).
	OwnActors []string
	// EventBus is the EventBridge bus every event is put on; "": no fan-out.
	EventBus    string
	EventSource string // the Source of those entries
	// OktaSecret is the Okta credentials secret handlers' Okta client signs
	// in with; "": no client.
	OktaSecret string
	// Orgs are the stack's orgs: the other orgs' Okta clients sign in with
	// their own secrets, and handlers.Orgs takes an event without an org as
	// the default org's.
	Orgs orgs.List
}

// loadSettings reads the worker's settings through getenv, reporting every
// missing or bad variable at once.
func loadSettings(getenv func(string) string) (settings, error) {
	env := config.Env{Getenv: getenv}
	s := settings{
		LogLevel:         env.Optional("LOG_LEVEL", "info"),
		MetricsNamespace: env.Optional("METRICS_NAMESPACE", metrics.DefaultNamespace),
		StackName:        env.Optional("STACK_NAME", "local"),
		QueueURL:         env.Required("QUEUE_URL"),
		DLQURL:           env.Optional("DLQ_URL", ""),
		LedgerTable:      env.Optional("LEDGER_TABLE", ""),
		LedgerRetention:  env.Duration("LEDGER_RETENTION", ledger.DefaultRetention),
		MaxReceiveCount:  env.Count("MAX_RECEIVE_COUNT", 0),
		OwnActors:        env.List("OWN_ACTOR_IDS"),
		EventBus:         env.Optional("EVENT_BUS_NAME", ""),
		EventSource:      env.Optional("EVENT_SOURCE", eventbus.DefaultSource),
		OktaSecret:       env.Optional("OKTA_CREDENTIALS_SECRET_ID", ""),
	}
	fields, err := handlers.ParseEventLogFields(env.Optional("EVENT_LOG_FIELDS", "all"))
	if err != nil {
		err = fmt.Errorf("EVENT_LOG_FIELDS: %w", err)
	}
	s.EventLog = fields
	list, orgErr := orgs.Parse(env.Optional("OKTA_ORGS", ""))
	s.Orgs = list
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

	services := handlers.Services{Log: log, AWS: cloud.Config(), DefaultOrg: s.Orgs.Default()}
	if s.OktaSecret != "" {
		// Read at start (a secret that cannot be read or used stops the
		// start; the events wait in the queue until it is fixed) and again
		// when Okta refuses the credentials, through Reload.
		c := cloud.Service(secretsmanager.ServiceID)
		sm := secretsmanager.New(secretsmanager.Options{Region: c.Region, Credentials: c.Credentials, BaseEndpoint: c.BaseEndpoint, HTTPClient: c.HTTPClient})
		for _, org := range s.Orgs.Names() {
			secretID := s.Orgs.SecretID(s.StackName, org, orgs.KindOkta, s.OktaSecret)
			load := func(ctx context.Context) (oktaapi.Credentials, error) {
				return oktaapi.LoadCredentials(ctx, sm, secretID)
			}
			creds, err := load(context.Background())
			var client *oktaapi.Client
			if err == nil {
				// A rotated token or key is read again when Okta refuses the old one.
				client, err = oktaapi.New(creds, oktaapi.Settings{Reload: load})
			}
			if err != nil {
				fail(log, fmt.Errorf("org %s: %w", org, err))
			}
			if s.Orgs.IsDefault(org) {
				services.Okta = client
				continue
			}
			if services.OrgOkta == nil {
				services.OrgOkta = map[string]*oktaapi.Client{}
			}
			services.OrgOkta[org] = client
		}
	}

	registry := &handlers.Registry{}
	// A second log line for a redelivered event does no harm: no ledger.
	registry.On("*", handlers.EventLogWith(log, s.EventLog), handlers.Name("event-log"), handlers.Idempotent())
	if s.EventBus != "" {
		c := cloud.Service(eventbridge.ServiceID)
		eb := eventbridge.New(eventbridge.Options{Region: c.Region, Credentials: c.Credentials, BaseEndpoint: c.BaseEndpoint, HTTPClient: c.HTTPClient})
		pub := &eventbus.Publisher{Client: eb, Bus: s.EventBus, Source: s.EventSource}
		registry.On("*", pub.Handle, handlers.Name("event-bus"))
		log.Info("EventBridge fan-out on", "eventBus", s.EventBus, "source", s.EventSource)
	}
	register(registry, services)

	queueClient := queue.NewClient(cloud)
	q := queue.Consumer{Client: queueClient, QueueURL: s.QueueURL, DLQURL: s.DLQURL}
	// Metrics go to stdout as EMF lines, in the template's namespace, by stack.
	recorder := metrics.New(s.MetricsNamespace, s.StackName, logging.Stdout)
	w := &worker.Worker{Registry: registry, Log: log, Delayer: q, Metrics: recorder, MaxReceiveCount: s.MaxReceiveCount, OwnActors: s.OwnActors, Orgs: s.Orgs}
	if s.DLQURL != "" {
		w.Parker = q
	} else {
		log.Warn("DLQ_URL is not set: permanent failures are retried with the maximum delay until the redrive policy moves them")
	}
	if s.LedgerTable != "" {
		db := ledger.NewClient(cloud)
		w.Ledger = &ledger.DynamoDB{Client: db, Table: s.LedgerTable, Retention: s.LedgerRetention}
		// Payload drift: each type's shape is read once and written only when it changes.
		w.Observer = &schema.Learner{Store: &ledger.Schemas{Client: db, Table: s.LedgerTable}, Log: log, Metrics: recorder}
		log.Info("idempotency ledger on", "table", s.LedgerTable, "retention", s.LedgerRetention.String(),
			"retentionDays", int(s.LedgerRetention/(24*time.Hour)))
	} else {
		log.Warn("idempotency ledger off: LEDGER_TABLE is not set, duplicates run handlers again")
	}
	lambda.Start(w.Handle)
}

func fail(log *slog.Logger, err error) {
	log.Error("worker cannot start", "error", err.Error())
	os.Exit(1)
}

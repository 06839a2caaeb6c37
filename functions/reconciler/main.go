// Command reconciler is the scheduled Lambda that recovers, from the Okta
// System Log, the subscribed events the event hook did not bring, and puts
// them on the events queue (see internal/reconcile).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/hookhealth"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/orgs"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/reconcile"
)

// settings is the reconciler's configuration, from the variables
// template.yaml sets (and the README's Configuration table lists).
type settings struct {
	LogLevel         string
	MetricsNamespace string
	StackName        string
	CredentialsID    string // the secret holding the default org's Okta API credentials
	Orgs             orgs.List
	EventTypes       string // the event types the hook subscribes to
	QueueURL         string
	DLQURL           string // where System Log events that cannot be keyed are parked
	LedgerTable      string
	LedgerRetention  time.Duration
	Grace            time.Duration
	Lookback         time.Duration
	EndpointURL      string // the stack's EndpointUrl: its hook points there
	HookName         string // names the hook instead, when set
}

// loadSettings reads the reconciler's settings through getenv, reporting
// every missing or bad variable at once.
func loadSettings(getenv func(string) string) (settings, error) {
	env := config.Env{Getenv: getenv}
	s := settings{
		LogLevel:         env.Optional("LOG_LEVEL", "info"),
		MetricsNamespace: env.Optional("METRICS_NAMESPACE", metrics.DefaultNamespace),
		StackName:        env.Optional("STACK_NAME", "local"),
		CredentialsID:    env.Required("OKTA_CREDENTIALS_SECRET_ID"),
		EventTypes:       env.Required("OKTA_EVENT_TYPES"),
		QueueURL:         env.Required("QUEUE_URL"),
		DLQURL:           env.Required("DLQ_URL"),
		LedgerTable:      env.Required("LEDGER_TABLE"),
		LedgerRetention:  env.Duration("LEDGER_RETENTION", ledger.DefaultRetention),
		Grace:            env.Duration("RECONCILE_GRACE", reconcile.DefaultGrace),
		Lookback:         env.Duration("RECONCILE_LOOKBACK", reconcile.DefaultLookback),
		EndpointURL:      env.Optional("ENDPOINT_URL", ""),
		HookName:         env.Optional("OKTA_HOOK_NAME", ""),
	}
	list, err := orgs.Parse(env.Optional("OKTA_ORGS", ""))
	s.Orgs = list
	return s, errors.Join(env.Err(), err)
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
	c := cloud.Service(secretsmanager.ServiceID)
	sm := secretsmanager.New(secretsmanager.Options{Region: c.Region, Credentials: c.Credentials, BaseEndpoint: c.BaseEndpoint, HTTPClient: c.HTTPClient})
	queueClient := queue.NewClient(cloud)
	ddb := ledger.NewClient(cloud)
	types := reconcile.ParseTypes(s.EventTypes)

	r := &reconcile.Scheduled{
		Reconciler: &reconcile.Reconciler{
			Marks:     &ledger.Marks{Client: ddb, Table: s.LedgerTable, Retention: s.LedgerRetention},
			Cursors:   &ledger.Cursors{Client: ddb, Table: s.LedgerTable},
			Publisher: &queue.Publisher{Sender: queue.SQSSender{Client: queueClient, QueueURL: s.QueueURL}, Budget: 10 * time.Second},
			DLQ:       &queue.Publisher{Sender: queue.SQSSender{Client: queueClient, QueueURL: s.DLQURL}, Budget: 10 * time.Second},
			Log:       log,
			Types:     types,
			Grace:     s.Grace,
			Lookback:  s.Lookback,
			// Metrics go to stdout as EMF lines, in the template's namespace, by stack.
			Metrics: metrics.New(s.MetricsNamespace, s.StackName, logging.Stdout),
			// Okta's side: hook health, Okta's delivery failures, the daily
			// cap and rate-limit headroom (one Okta request a run).
			Watch: &hookhealth.Watch{
				Want:  hookhealth.Want{Name: s.HookName, URI: s.EndpointURL, Types: types, Stack: s.StackName},
				Store: &ledger.OktaSideStore{Client: ddb, Table: s.LedgerTable},
				Log:   log,
			},
		},
		Credentials: func(ctx context.Context) (oktaapi.Credentials, error) {
			return oktaapi.LoadCredentials(ctx, sm, s.CredentialsID)
		},
	}
	if s.Orgs.Len() == 1 {
		lambda.Start(r.Handle)
		return
	}
	// Several orgs: each read at every run, all at once, with its own
	// credentials, cursor and hook check.
	var runs []*reconcile.Org
	for _, org := range s.Orgs.Names() {
		run := &reconcile.Org{Name: org, Stamp: org}
		secretID := s.Orgs.SecretID(s.StackName, org, orgs.KindOkta, s.CredentialsID)
		run.Credentials = func(ctx context.Context) (oktaapi.Credentials, error) {
			return oktaapi.LoadCredentials(ctx, sm, secretID)
		}
		want := hookhealth.Want{Name: s.HookName, URI: s.EndpointURL, Types: types, Stack: s.StackName}
		watch := &hookhealth.Watch{Want: want, Store: &ledger.OktaSideStore{Client: ddb, Table: s.LedgerTable}, Log: log.With("org", org)}
		if !s.Orgs.IsDefault(org) {
			run.Cursor = reconcile.OrgCursorName(org)
			watch.State = hookhealth.OrgStateName(org)
			// OKTA_HOOK_NAME names the default org's hook; the others' are
			// found by their own hook URL.
			watch.Want.Name = ""
			if s.EndpointURL != "" {
				watch.Want.URI = strings.TrimSuffix(s.EndpointURL, "/") + "/" + org
			}
		}
		run.Watch = watch
		runs = append(runs, run)
	}
	lambda.Start(func(ctx context.Context, _ json.RawMessage) (reconcile.Stats, error) {
		return r.HandleOrgs(ctx, runs)
	})
}

func fail(log *slog.Logger, err error) {
	log.Error("reconciler cannot start", "error", err.Error())
	os.Exit(1)
}

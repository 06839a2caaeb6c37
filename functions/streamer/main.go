// Command streamer is the target of the Okta Log Streaming rule: it takes
// each System Log event Okta streams to the partner event bus into the events
// queue through the intake (internal/intake Stream), once, with its org.
package main

import (
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/intake"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/queue"
)

// settings is the streamer's configuration, from the variables template.yaml
// sets (and the README's Configuration table lists).
type settings struct {
	LogLevel         string
	MetricsNamespace string
	StackName        string
	EventTypes       []string
	QueueURL         string
	LedgerTable      string
	LedgerRetention  time.Duration
	PublishBudget    time.Duration
}

// loadSettings reads the streamer's settings through getenv, reporting every
// missing or bad variable at once.
func loadSettings(getenv func(string) string) (settings, error) {
	env := config.Env{Getenv: getenv}
	s := settings{
		LogLevel:         env.Optional("LOG_LEVEL", "info"),
		MetricsNamespace: env.Optional("METRICS_NAMESPACE", metrics.DefaultNamespace),
		StackName:        env.Optional("STACK_NAME", "local"),
		EventTypes:       env.List("OKTA_EVENT_TYPES"),
		QueueURL:         env.Required("QUEUE_URL"),
		LedgerTable:      env.Required("LEDGER_TABLE"), // marks are read first: never without them
		LedgerRetention:  env.Duration("LEDGER_RETENTION", ledger.DefaultRetention),
		PublishBudget:    env.Duration("PUBLISH_BUDGET", 5*time.Second),
	}
	err := env.Err()
	if len(s.EventTypes) == 0 {
		err = errors.Join(err, errors.New("OKTA_EVENT_TYPES: no event types: the stream would queue none"))
	}
	return s, err
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
	queueClient := queue.NewClient(cloud)
	st := &intake.Stream{
		Publisher: &queue.Publisher{Sender: queue.SQSSender{Client: queueClient, QueueURL: s.QueueURL}, Budget: s.PublishBudget},
		Marks:     &ledger.Marks{Client: ledger.NewClient(cloud), Table: s.LedgerTable, Retention: s.LedgerRetention},
		Types:     s.EventTypes,
		Log:       log,
		Metrics:   metrics.New(s.MetricsNamespace, s.StackName, logging.Stdout),
	}
	lambda.Start(st.Handle)
}

func fail(log *slog.Logger, err error) {
	log.Error("streamer cannot start", "error", err.Error())
	os.Exit(1)
}

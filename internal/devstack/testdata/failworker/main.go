// Command failworker is a test-only worker bootstrap: the built-in event log
// handler plus one that always fails for events of type "test.always.fail",
// so the dev stack test can watch a message reach the DLQ through the
// poller and the queue's redrive policy. It sets no Delayer, so failed
// records come back after the queue's visibility timeout.
package main

import (
	"context"
	"errors"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/worker"
)

func main() {
	log := logging.New(os.Getenv("LOG_LEVEL"))
	registry := &handlers.Registry{}
	registry.On("*", handlers.EventLog(log), handlers.Name("event-log"))
	registry.On("test.always.fail", func(context.Context, handlers.Event) error {
		return errors.New("this handler always fails")
	}, handlers.Name("always-fail"))
	w := &worker.Worker{Registry: registry, Log: log}
	lambda.Start(w.Handle)
}

// Command worker is the Lambda that drains the events queue and runs the
// registered handlers (see handlers.go).
package main

import (
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/worker"
)

func main() {
	var env config.Env
	log := logging.New(env.Optional("LOG_LEVEL", "info"))
	if err := env.Err(); err != nil {
		fail(log, err)
	}

	registry := &handlers.Registry{}
	registry.On("*", handlers.LogEvents(log), handlers.Name("event-log"))
	register(registry, log)

	w := &worker.Worker{Registry: registry, Log: log}
	lambda.Start(w.Handle)
}

func fail(log *slog.Logger, err error) {
	log.Error("worker cannot start", "error", err.Error())
	os.Exit(1)
}

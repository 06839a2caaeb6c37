// Command handlerlog is a test-only worker bootstrap whose handlers write
// their own lines with handlers.Logger(ctx), as the README tells users to:
// "provisioned" from a plain handler and "synced" from a handlers.Latest
// one, on user.lifecycle.* events, with the ledger of LEDGER_TABLE.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/worker"
)

func main() {
	log := logging.New(os.Getenv("LOG_LEVEL"))
	cloud, err := awsenv.FromEnvironment()
	if err != nil {
		log.Error("worker cannot start", "error", err.Error())
		os.Exit(1)
	}
	registry := &handlers.Registry{}
	registry.On("user.lifecycle.*", func(ctx context.Context, ev handlers.Event) error {
		handlers.Logger(ctx).InfoContext(ctx, "provisioned", "system", "hr")
		return nil
	}, handlers.Name("provision"))
	registry.On("user.lifecycle.*", func(ctx context.Context, ev handlers.Event) error {
		handlers.Logger(ctx).InfoContext(ctx, "synced", "status", ev.Type)
		return nil
	}, handlers.Name("sync-user"), handlers.Latest(nil))
	w := &worker.Worker{Registry: registry, Log: log,
		Ledger: &ledger.DynamoDB{Client: ledger.NewClient(cloud), Table: os.Getenv("LEDGER_TABLE")}}
	lambda.Start(w.Handle)
}

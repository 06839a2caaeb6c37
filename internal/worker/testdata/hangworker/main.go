// Command hangworker is a test-only worker bootstrap: the real worker wiring
// (SQS backoff and parking from the environment, as functions/worker does)
// with one extra handler that hangs, ignoring its context, for events of
// type "test.hang". The rie test in internal/worker runs it to show that one
// hung handler fails its own record only.
package main

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/logging"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/worker"
)

func main() {
	log := logging.New(os.Getenv("LOG_LEVEL"))
	cloud, err := awsenv.FromEnvironment()
	if err != nil {
		log.Error("hangworker cannot start", "error", err.Error())
		os.Exit(1)
	}
	registry := &handlers.Registry{}
	registry.On("*", handlers.EventLog(log), handlers.Name("event-log"))
	registry.On("test.hang", func(context.Context, handlers.Event) error {
		select {} // never returns, whatever its context says
	}, handlers.Name("hang"))
	c := cloud.Service(sqs.ServiceID)
	client := sqs.New(sqs.Options{Region: c.Region, Credentials: c.Credentials, BaseEndpoint: c.BaseEndpoint, HTTPClient: c.HTTPClient})
	q := queue.Consumer{Client: client, QueueURL: os.Getenv("QUEUE_URL"), DLQURL: os.Getenv("DLQ_URL")}
	w := &worker.Worker{Registry: registry, Log: log, Delayer: q, Parker: q}
	lambda.Start(w.Handle)
}

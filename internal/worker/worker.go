// Package worker runs the registered handlers on the events SQS delivers,
// and reports the records that failed so only those are retried.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/okta"
)

// Worker handles SQS batches.
type Worker struct {
	Registry *handlers.Registry
	Log      *slog.Logger
	// Concurrency is how many records run at once; default 10.
	Concurrency int
}

// ErrPanic wraps a recovered handler panic.
var ErrPanic = errors.New("handler panicked")

// Handle is the Lambda handler. It never returns an error for a record's
// failure, only lists it in BatchItemFailures.
func (w *Worker) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	failed := make([]bool, len(batch.Records))
	limit := w.Concurrency
	if limit <= 0 {
		limit = 10
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range batch.Records {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			failed[i] = w.handleRecord(ctx, batch.Records[i]) != nil
		}(i)
	}
	wg.Wait()

	var resp events.SQSEventResponse
	for i, f := range failed {
		if f {
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: batch.Records[i].MessageId})
		}
	}
	w.Log.InfoContext(ctx, "batch handled", "records", len(batch.Records), "failed", len(resp.BatchItemFailures), requestID(ctx))
	return resp, nil
}

// handleRecord runs every matching handler on one record.
func (w *Worker) handleRecord(ctx context.Context, rec events.SQSMessage) error {
	start := time.Now()
	log := w.Log.With("messageId", rec.MessageId, requestID(ctx))
	ev, err := decode(rec)
	if err != nil {
		log.ErrorContext(ctx, "malformed message", "error", err.Error(), "receiveCount", rec.Attributes["ApproximateReceiveCount"])
		return err
	}
	log = log.With("eventUuid", ev.UUID, "eventType", ev.Type)
	routes := w.Registry.Match(ev.Type)
	if len(routes) == 0 {
		log.InfoContext(ctx, "no handler for event type")
		return nil
	}
	var errs []error
	for _, route := range routes {
		if err := run(ctx, route, ev); err != nil {
			log.ErrorContext(ctx, "handler failed", "handler", route.Name, "error", err.Error(),
				"permanent", handlers.IsPermanent(err), "receiveCount", ev.ReceiveCount)
			errs = append(errs, fmt.Errorf("%s: %w", route.Name, err))
		}
	}
	log.DebugContext(ctx, "record handled", "handlers", len(routes), "failed", len(errs), "durationMs", time.Since(start).Milliseconds())
	return errors.Join(errs...)
}

// run calls one handler, turning a panic into an error.
func run(ctx context.Context, route handlers.Route, ev handlers.Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%w: %v\n%s", ErrPanic, p, debug.Stack())
		}
	}()
	if route.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, route.Timeout)
		defer cancel()
	}
	return route.Handler(ctx, ev)
}

// decode turns an SQS record into a handler Event.
func decode(rec events.SQSMessage) (handlers.Event, error) {
	msg, err := envelope.Decode([]byte(rec.Body))
	if err != nil {
		return handlers.Event{}, err
	}
	fields := okta.ParseEvent(msg.Event)
	ev := handlers.Event{
		UUID:       fields.UUID,
		Type:       fields.EventType,
		Raw:        msg.Event,
		DeliveryID: msg.DeliveryID,
		Source:     msg.Source,
		ReceivedAt: msg.ReceivedAt,
		MessageID:  rec.MessageId,
	}
	if ev.UUID == "" {
		return handlers.Event{}, fmt.Errorf("%w: event has no uuid", envelope.ErrInvalid)
	}
	if t, err := time.Parse(time.RFC3339Nano, fields.Published); err == nil {
		ev.Published = t
	}
	ev.ReceiveCount, _ = strconv.Atoi(rec.Attributes["ApproximateReceiveCount"])
	return ev, nil
}

func requestID(ctx context.Context) slog.Attr {
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		return slog.String("awsRequestId", lc.AwsRequestID)
	}
	return slog.Attr{}
}

package handlers

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// LogEvent is the part of an Okta System Log LogEvent most handlers need.
// Decode into it with Event.Decode; fields Okta did not send stay empty.
type LogEvent struct {
	UUID           string  `json:"uuid"`
	Published      string  `json:"published"`
	EventType      string  `json:"eventType"`
	Version        string  `json:"version"`
	Severity       string  `json:"severity"`
	DisplayMessage string  `json:"displayMessage"`
	Actor          Actor   `json:"actor"`
	Outcome        Outcome `json:"outcome"`
	Target         []Actor `json:"target"`
	Client         struct {
		IPAddress string `json:"ipAddress"`
		UserAgent struct {
			RawUserAgent string `json:"rawUserAgent"`
		} `json:"userAgent"`
	} `json:"client"`
	Transaction struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"transaction"`
}

// Actor is an actor or a target of a LogEvent.
type Actor struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

// Outcome is a LogEvent's result.
type Outcome struct {
	Result string `json:"result"`
	Reason string `json:"reason"`
}

// LogEvents returns the built-in handler that writes every event as one JSON
// line. In CloudWatch those lines are the browsable event log, e.g.
// `filter msg = "okta event" | stats count() by eventType`.
func LogEvents(log *slog.Logger) Handler {
	return func(ctx context.Context, ev Event) error {
		var le LogEvent
		// A LogEvent with odd field types is still logged with what we know.
		_ = ev.Decode(&le)
		l := log
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			l = l.With("awsRequestId", lc.AwsRequestID)
		}
		l.InfoContext(ctx, "okta event",
			"eventUuid", ev.UUID,
			"eventType", ev.Type,
			"published", le.Published,
			"actor", le.Actor.AlternateID,
			"outcome", le.Outcome.Result,
			"displayMessage", le.DisplayMessage,
			"deliveryId", ev.DeliveryID,
		)
		return nil
	}
}

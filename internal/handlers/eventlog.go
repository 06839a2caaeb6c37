package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hookline/hookline/internal/okta"
)

// EventLogFields picks which fields of an event the built-in event log
// writes besides eventUuid, eventType and deliveryId, which it always
// writes (and org, on a stack of several orgs). Actor e-mail addresses and display messages are personal data
// some operators keep out of their logs.
type EventLogFields struct {
	Published      bool // Okta's published time
	Actor          bool // the actor's alternateId, usually an e-mail address
	Outcome        bool // outcome.result
	DisplayMessage bool // Okta's human-readable message
}

// AllEventLogFields is every field: the default.
var AllEventLogFields = EventLogFields{Published: true, Actor: true, Outcome: true, DisplayMessage: true}

// ParseEventLogFields reads a comma-separated list of field names
// (published, actor, outcome, displayMessage, any case), "all" (also "" ) or
// "none".
func ParseEventLogFields(s string) (EventLogFields, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "all":
		return AllEventLogFields, nil
	case "none":
		return EventLogFields{}, nil
	}
	var f EventLogFields
	for _, name := range strings.Split(s, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "published":
			f.Published = true
		case "actor":
			f.Actor = true
		case "outcome":
			f.Outcome = true
		case "displaymessage":
			f.DisplayMessage = true
		default:
			return f, fmt.Errorf("event log field %q: want published, actor, outcome, displayMessage, all or none", strings.TrimSpace(name))
		}
	}
	return f, nil
}

// EventLog returns the built-in handler that writes every event as one JSON
// line with all of AllEventLogFields. In CloudWatch those lines are the
// browsable event log, e.g. `filter msg = "okta event" | stats count() by
// eventType`.
func EventLog(log *slog.Logger) Handler { return EventLogWith(log, AllEventLogFields) }

// EventLogWith is EventLog writing only the chosen fields.
func EventLogWith(log *slog.Logger, fields EventLogFields) Handler {
	return func(ctx context.Context, ev Event) error {
		// Only the logged fields, not the whole okta.LogEvent (its maps
		// cost allocations on every event). A LogEvent with odd field
		// types is still logged with what we know.
		var le struct {
			Published      string `json:"published"`
			DisplayMessage string `json:"displayMessage"`
			Actor          struct {
				AlternateID string `json:"alternateId"`
			} `json:"actor"`
			Outcome struct {
				Result okta.Result `json:"result"`
			} `json:"outcome"`
		}
		_ = ev.Decode(&le)
		l := log
		if lc, ok := lambdacontext.FromContext(ctx); ok {
			l = l.With("awsRequestId", lc.AwsRequestID)
		}
		attrs := []any{"eventUuid", ev.UUID, "eventType", ev.Type}
		if fields.Published {
			attrs = append(attrs, "published", le.Published)
		}
		if fields.Actor {
			attrs = append(attrs, "actor", le.Actor.AlternateID)
		}
		if fields.Outcome {
			attrs = append(attrs, "outcome", le.Outcome.Result)
		}
		if fields.DisplayMessage {
			attrs = append(attrs, "displayMessage", le.DisplayMessage)
		}
		attrs = append(attrs, "deliveryId", ev.DeliveryID)
		if ev.Org != "" {
			attrs = append(attrs, "org", ev.Org) // on stacks of several orgs
		}
		l.InfoContext(ctx, "okta event", attrs...)
		return nil
	}
}

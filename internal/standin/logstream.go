package standin

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// PutEventsAPI is the part of the EventBridge client the log stream uses.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// LogStream stands in for Okta Log Streaming to Amazon EventBridge: every
// System Log event, of every type (the stream has no filter), one LogEvent
// per EventBridge event in detail, detail-type SystemLog, source and bus the
// partner event source aws.partner/okta.com/<org subdomain>/<name>.
type LogStream struct {
	Client PutEventsAPI
	Source string
}

// Send streams the events (LogEvent documents, as NewEvent and Event make
// them), ten to a PutEvents call. It fails on an entry EventBridge refuses:
// Okta deactivates a stream after two failed attempts, so a test sees it.
func (l LogStream) Send(ctx context.Context, events ...[]byte) error {
	for start := 0; start < len(events); start += 10 {
		var entries []ebtypes.PutEventsRequestEntry
		for _, ev := range events[start:min(start+10, len(events))] {
			if !json.Valid(ev) {
				return fmt.Errorf("standin: log stream: event is not JSON")
			}
			entries = append(entries, ebtypes.PutEventsRequestEntry{EventBusName: aws.String(l.Source), Source: aws.String(l.Source),
				DetailType: aws.String("SystemLog"), Detail: aws.String(string(ev))})
		}
		out, err := l.Client.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			return fmt.Errorf("standin: log stream: %w", err)
		}
		if out.FailedEntryCount > 0 {
			return fmt.Errorf("standin: log stream: %d of %d events refused", out.FailedEntryCount, len(entries))
		}
	}
	return nil
}

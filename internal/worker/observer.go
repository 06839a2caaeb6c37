package worker

import (
	"context"
	"encoding/json"
)

// Observer sees each decoded event once, on its first receive, before its
// handlers run, whether or not a handler matches its type (a
// *schema.Learner learns its shape). It cannot fail the record: whatever
// goes wrong is its own to log.
type Observer interface {
	Observe(ctx context.Context, eventType string, raw json.RawMessage)
}

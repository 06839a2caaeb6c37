package worker

import (
	"context"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
)

// TestRenamedHandlerRunsOldEventsAgain: the ledger records (event uuid,
// handler name), so a handler keeps its "already done" memory across deploys
// only under the same handlers.Name. Renamed, it runs again for an event its
// old name completed, as the README warns; the default name is the pattern,
// so changing the pattern renames it too.
func TestRenamedHandlerRunsOldEventsAgain(t *testing.T) {
	led := &ledgertest.Memory{}
	h := &counter{}
	deploy := func(opts ...handlers.Option) *Worker {
		reg := &handlers.Registry{}
		reg.On("user.lifecycle.*", h.handle, opts...)
		return &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: led}
	}
	batch := events.SQSEvent{Records: []events.SQSMessage{recordN("m", eventBody("u-old", "user.lifecycle.create"), 1)}}
	for _, step := range []struct {
		name string
		w    *Worker
		runs int
	}{
		{"first deploy, named provision", deploy(handlers.Name("provision")), 1},
		{"same name: skipped", deploy(handlers.Name("provision")), 1},
		{"renamed provision-v2: runs again", deploy(handlers.Name("provision-v2")), 2},
		{"unnamed: named by its pattern, runs again", deploy(), 3},
		{"unnamed again: skipped", deploy(), 3},
	} {
		if resp, err := step.w.Handle(context.Background(), batch); err != nil || len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%s: %+v %v", step.name, resp, err)
		}
		if got := h.count("u-old"); got != step.runs {
			t.Fatalf("%s: handler ran %d times in all, want %d", step.name, got, step.runs)
		}
	}
}

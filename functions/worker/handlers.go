package main

import (
	"log/slog"

	"github.com/hookline/hookline/internal/handlers"
)

// register is where your handlers go. Each one runs for every event whose
// type matches its pattern; return an error to have the event retried, or
// handlers.Permanent(err) to park it in the dead-letter queue. See README.md.
func register(r *handlers.Registry, log *slog.Logger) {
	// Example:
	//
	//	r.On("user.lifecycle.deactivate", func(ctx context.Context, ev handlers.Event) error {
	//		var e okta.LogEvent
	//		if err := ev.Decode(&e); err != nil {
	//			return handlers.Permanent(err)
	//		}
	//		return revokeSessions(ctx, e.Target)
	//	}, handlers.Name("revoke-sessions"))
	_ = r
	_ = log
}

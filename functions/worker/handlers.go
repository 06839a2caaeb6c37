package main

import (
	"github.com/hookline/hookline/internal/handlers"
)

// register is where your handlers go. Each one runs for every event whose
// type matches its pattern; return an error to have the event retried, or
// handlers.Permanent(err) to park it in the dead-letter queue. s carries
// what handlers call out with: the logger, the AWS configuration and, when
// Okta credentials are configured, an Okta API client. See README.md.
func register(r *handlers.Registry, s handlers.Services) {
	// Example (README.md, "Write a handler"):
	//
	//	r.On("user.lifecycle.deactivate", func(ctx context.Context, ev handlers.Event) error {
	//		var e okta.LogEvent
	//		if err := ev.Decode(&e); err != nil {
	//			return handlers.Permanent(err)
	//		}
	//		for _, t := range e.Target {
	//			if err := s.Okta.Call(ctx, http.MethodDelete, "/api/v1/users/"+url.PathEscape(t.ID)+"/sessions", nil, nil); err != nil {
	//				return err
	//			}
	//		}
	//		return nil
	//	}, handlers.Name("revoke-sessions"))
	_ = r
	_ = s
}

package main

import (
	"github.com/hookline/hookline/internal/handlers"
)

// register is where your handlers go. Each one runs for every event whose
// type matches its pattern; return an error to have the event retried, or
// handlers.Permanent(err) to park it in the dead-letter queue. s carries
// what handlers call out with: the logger, the AWS configuration and, when
// Okta credentials are configured, an Okta API client. README.md ("Write a
// handler") has a whole handlers.go to start from: it revokes a deactivated
// user's sessions through s.Okta.
func register(r *handlers.Registry, s handlers.Services) {
	_ = r
	_ = s
}

package worker

import (
	"encoding/json"
	"slices"

	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/okta"
)

// who is the identity an event was caused by: actor.id, and client.id,
// which for a call made with an OAuth service app is its client id.
type who struct{ actorID, clientID string }

// actorOf reads actor.id and client.id leniently (okta.ParseLogEvent): a
// field of another type leaves that id empty, it never fails the event.
func actorOf(raw json.RawMessage) *who {
	e, _ := okta.ParseLogEvent(raw)
	return &who{actorID: e.Actor.ID, clientID: e.Client.ID}
}

// ownActor reports whether the event was caused by an identity the route
// (or every route, OwnActors) must not see, and which one.
func (w *Worker) ownActor(route handlers.Route, ev *who) (string, bool) {
	if ev == nil {
		return "", false
	}
	for _, id := range []string{ev.actorID, ev.clientID} {
		if id != "" && (slices.Contains(w.OwnActors, id) || slices.Contains(route.SkipActors, id)) {
			return id, true
		}
	}
	return "", false
}

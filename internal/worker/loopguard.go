package worker

import (
	"encoding/json"
	"slices"

	"github.com/hookline/hookline/internal/handlers"
)

// who is the identity an event was caused by: actor.id, and client.id,
// which for a call made with an OAuth service app is its client id.
type who struct{ actorID, clientID string }

// actorOf reads actor.id and client.id leniently: a field of another type
// leaves that id empty, it never fails the event.
func actorOf(raw json.RawMessage) who {
	var f struct {
		Actor struct {
			ID any `json:"id"`
		} `json:"actor"`
		Client struct {
			ID any `json:"id"`
		} `json:"client"`
	}
	_ = json.Unmarshal(raw, &f)
	s := func(v any) string { str, _ := v.(string); return str }
	return who{actorID: s(f.Actor.ID), clientID: s(f.Client.ID)}
}

// ownActor reports whether the event was caused by an identity the route
// (or every route, OwnActors) must not see, and which one.
func (w *Worker) ownActor(route handlers.Route, ev who) (string, bool) {
	for _, id := range []string{ev.actorID, ev.clientID} {
		if id != "" && (slices.Contains(w.OwnActors, id) || slices.Contains(route.SkipActors, id)) {
			return id, true
		}
	}
	return "", false
}

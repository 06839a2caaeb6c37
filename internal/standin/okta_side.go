package standin

// Okta's side of a hook, as the reconciler's hook health watch reads it:
//
//   - GET /api/v1/eventHooks and /api/v1/eventHooks/{id} take an access
//     token with okta.eventHooks.read (or okta.eventHooks.manage, which
//     includes it); the other methods need okta.eventHooks.manage.
//   - DeliverAsOkta delivers as Okta does (one retry after a timeout, a
//     transport error or a 5xx; none after a 4xx) and, when the delivery
//     fails, writes an event_hook.delivery event to the System Log, as Okta
//     does for the deliveries it detects failing. Okta documents the event
//     type ("triggered when an event hook delivery fails") but not its
//     debugData; the stand-in writes outcome FAILURE with the reason, the
//     hook as an EventHook target, and in debugData the delivery URL, the
//     HTTP status and the uuids of the events delivered (eventUuids).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// DeliveryEventType is the System Log event type of a failed delivery.
const DeliveryEventType = "event_hook.delivery"

// authorizedHooks checks the credentials of a request to /api/v1/eventHooks:
// a GET needs okta.eventHooks.read or okta.eventHooks.manage, any other
// method okta.eventHooks.manage. o.mu is held.
func (o *Org) authorizedHooks(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet {
		return o.authorizedFor(w, r, "okta.eventHooks.manage")
	}
	_, cred, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if scopes, ok := o.tokens[cred]; ok && strings.Contains(" "+scopes+" ", " okta.eventHooks.manage ") {
		return o.authorizedFor(w, r, "okta.eventHooks.manage")
	}
	return o.authorizedFor(w, r, "okta.eventHooks.read")
}

// UpdateHook changes hook id as an admin would in the Admin Console
// (status, verification, URI, types); false when there is no such hook.
func (o *Org) UpdateHook(id string, change func(h *Hook)) bool {
	o.hooks.mu.Lock()
	defer o.hooks.mu.Unlock()
	h, ok := o.hooks.byID[id]
	if ok {
		change(h)
		h.Updated = time.Now()
	}
	return ok
}

// DeliverAsOkta delivers events (LogEvent documents) to hook id as Okta
// does, retrying once after a timeout, a transport error or a 5xx, and
// writes an event_hook.delivery failure to the System Log when the delivery
// fails. It returns the endpoint's last status (0 when it never answered)
// and whether the delivery succeeded (2xx).
func (o *Org) DeliverAsOkta(ctx context.Context, id string, events ...[]byte) (int, bool) {
	raws := make([]json.RawMessage, len(events))
	for i, e := range events {
		raws[i] = e
	}
	body := Delivery(o.URL+"/api/v1/eventHooks/"+id, raws...)
	status, err := o.Deliver(ctx, id, body)
	if err != nil || status >= 500 {
		status, err = o.Deliver(ctx, id, body) // Okta retries once
	}
	if err == nil && status >= 200 && status < 300 {
		return status, true
	}
	reason := fmt.Sprintf("Event hook delivery failed: the endpoint answered HTTP %d", status)
	if err != nil {
		reason = "Event hook delivery failed: " + err.Error()
	}
	var uuids []string
	for _, ev := range events {
		var f struct {
			UUID string `json:"uuid"`
		}
		if json.Unmarshal(ev, &f) == nil && f.UUID != "" {
			uuids = append(uuids, f.UUID)
		}
	}
	o.RecordDeliveryFailure(id, uuids, reason, status)
	return status, false
}

// RecordDeliveryFailure writes the event_hook.delivery event Okta logs for
// a failed delivery of these events to hook id (see the file comment).
func (o *Org) RecordDeliveryFailure(id string, uuids []string, reason string, status int) {
	o.hooks.mu.Lock()
	var hook Hook
	if h, ok := o.hooks.byID[id]; ok {
		hook = *h
	}
	o.hooks.mu.Unlock()
	o.Add(DeliveryFailureEvent(id, hook.Name, hook.URI, uuids, reason, status))
}

// DeliveryFailureEvent is the event_hook.delivery event the stand-in writes
// for a failed delivery of these events to hook id (name, uri): for a
// process that writes it through POST /api/v1/logs, as `hookline send
// --lose` does for the deliveries it drops.
func DeliveryFailureEvent(id, name, uri string, uuids []string, reason string, status int) []byte {
	debug := map[string]any{"eventUuids": strings.Join(uuids, ","), "deliveryUrl": uri}
	if status != 0 {
		debug["httpStatus"] = strconv.Itoa(status)
	}
	ev, _ := json.Marshal(map[string]any{
		"uuid":            NewUUID(),
		"published":       time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		"eventType":       DeliveryEventType,
		"version":         "0",
		"severity":        "WARN",
		"displayMessage":  "Event hook delivery failed",
		"legacyEventType": "event_hook.delivery",
		"actor":           map[string]string{"id": "0oaokta", "type": "SystemPrincipal", "alternateId": "system@okta.com", "displayName": "Okta System"},
		"client":          map[string]any{"ipAddress": nil},
		"outcome":         map[string]string{"result": "FAILURE", "reason": reason},
		"target":          []map[string]string{{"id": id, "type": "EventHook", "alternateId": name, "displayName": name}},
		"debugContext":    map[string]any{"debugData": debug},
	})
	return ev
}

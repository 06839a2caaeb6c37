package oktaapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
)

// EventHooksReadScope is the OAuth scope a service app needs to read event
// hooks, as the reconciler's hook health check does. A service app lists it
// in its credentials' scopes (with LogsScope); okta.eventHooks.manage
// includes it.
const EventHooksReadScope = "okta.eventHooks.read"

var hooksReadOp = operation{scope: EventHooksReadScope, what: "read event hooks",
	role: "an admin role that may view event hooks"}

// ReadEventHooks lists the org's event hooks, as EventHooks does, with
// errors that name the read scope: for callers that only look.
func (c *Client) ReadEventHooks(ctx context.Context) ([]EventHook, error) {
	var hooks []EventHook
	return hooks, c.hooksRead(ctx, "", &hooks)
}

// ReadEventHook reads hook id (GET /api/v1/eventHooks/{id}); an unknown id
// wraps ErrNotFound.
func (c *Client) ReadEventHook(ctx context.Context, id string) (EventHook, error) {
	var h EventHook
	return h, c.hooksRead(ctx, "/"+url.PathEscape(id), &h)
}

func (c *Client) hooksRead(ctx context.Context, path string, out any) error {
	_, body, err := c.roundTrip(ctx, http.MethodGet, c.org.String()+"/api/v1/eventHooks"+path, nil, hooksReadOp)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("%w: GET %s answered 2xx with no event hook JSON: is orgUrl your Okta org?", ErrOrgURL, "/api/v1/eventHooks"+path)
	}
	return nil
}

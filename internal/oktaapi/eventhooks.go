package oktaapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// EventHooksScope is the OAuth scope a service app needs to manage event
// hooks (New with Settings{Scope: EventHooksScope}).
const EventHooksScope = "okta.eventHooks.manage"

// Okta's limits on event hooks.
const (
	// MaxEventTypes is the most event types one hook may subscribe to.
	MaxEventTypes = 300
	// MaxEventHooks is the most event hooks one org may have.
	MaxEventHooks = 25
)

// Values of EventHook.Status and EventHook.VerificationStatus.
const (
	StatusActive     = "ACTIVE"
	StatusInactive   = "INACTIVE"
	StatusVerified   = "VERIFIED"
	StatusUnverified = "UNVERIFIED"
)

var hooksOp = operation{scope: EventHooksScope, what: "manage event hooks",
	role: "an admin role that may manage event hooks (Super Administrator)"}

// ErrVerification means Okta tried the hook's one-time verification
// request and the endpoint's answer was not the challenge (400 E0000001):
// the error carries Okta's text.
var ErrVerification = errors.New("okta could not verify the event hook")

// EventHook is an event hook as /api/v1/eventHooks reads and writes it.
type EventHook struct {
	ID                 string             `json:"id,omitempty"`
	Name               string             `json:"name"`
	Description        *string            `json:"description"` // null clears it
	Status             string             `json:"status,omitempty"`
	VerificationStatus string             `json:"verificationStatus,omitempty"`
	Events             EventSubscriptions `json:"events"`
	Channel            Channel            `json:"channel"`
}

// EventSubscriptions are the event types a hook is subscribed to.
type EventSubscriptions struct {
	Type  string   `json:"type"` // EVENT_TYPE
	Items []string `json:"items"`
}

// Channel is where and how Okta delivers: type HTTP, version 1.0.0.
type Channel struct {
	Type    string        `json:"type"`
	Version string        `json:"version"`
	Config  ChannelConfig `json:"config"`
}

// ChannelConfig is the endpoint and its authentication.
type ChannelConfig struct {
	URI        string      `json:"uri"`
	Headers    []Header    `json:"headers,omitempty"`
	AuthScheme *AuthScheme `json:"authScheme,omitempty"`
}

// Header is an extra header Okta sends with each request.
type Header struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// AuthScheme is the header Okta authenticates with: type HEADER, the
// header's name as Key and its value. Okta never returns the value.
type AuthScheme struct {
	Type  string `json:"type"`
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
}

// String never shows the value: it is the hook secret.
func (a AuthScheme) String() string { return a.Type + " " + a.Key + ": <redacted>" }

// NewEventHook returns the hook hookline registers: HTTP 1.0.0 to uri,
// authenticated by header: secret, subscribed to types.
func NewEventHook(name, uri, header, secret string, types []string) EventHook {
	return EventHook{
		Name:   name,
		Events: EventSubscriptions{Type: "EVENT_TYPE", Items: types},
		Channel: Channel{Type: "HTTP", Version: "1.0.0", Config: ChannelConfig{
			URI: uri, AuthScheme: &AuthScheme{Type: "HEADER", Key: header, Value: secret}}},
	}
}

// EventHooks lists the org's event hooks.
func (c *Client) EventHooks(ctx context.Context) ([]EventHook, error) {
	var hooks []EventHook
	return hooks, c.hooksCall(ctx, http.MethodGet, "", nil, &hooks)
}

// CreateEventHook creates a hook; Okta makes it ACTIVE and UNVERIFIED.
func (c *Client) CreateEventHook(ctx context.Context, h EventHook) (EventHook, error) {
	var out EventHook
	return out, c.hooksCall(ctx, http.MethodPost, "", h, &out)
}

// ReplaceEventHook replaces hook id's name, description, subscriptions and
// channel (PUT: every field is written).
func (c *Client) ReplaceEventHook(ctx context.Context, id string, h EventHook) (EventHook, error) {
	var out EventHook
	return out, c.hooksCall(ctx, http.MethodPut, "/"+url.PathEscape(id), h, &out)
}

// VerifyEventHook has Okta send the one-time verification request to the
// hook's URI. A wrong or missing answer is an error wrapping
// ErrVerification with Okta's text.
func (c *Client) VerifyEventHook(ctx context.Context, id string) (EventHook, error) {
	var out EventHook
	err := c.hooksCall(ctx, http.MethodPost, "/"+url.PathEscape(id)+"/lifecycle/verify", nil, &out)
	var apiErr *APIError
	if errors.As(err, &apiErr) && apiErr.Status == http.StatusBadRequest {
		return out, fmt.Errorf("%w: %s", ErrVerification, apiErr.Summary)
	}
	return out, err
}

// ActivateEventHook makes hook id ACTIVE.
func (c *Client) ActivateEventHook(ctx context.Context, id string) (EventHook, error) {
	var out EventHook
	return out, c.hooksCall(ctx, http.MethodPost, "/"+url.PathEscape(id)+"/lifecycle/activate", nil, &out)
}

// DeactivateEventHook makes hook id INACTIVE: Okta stops delivering.
func (c *Client) DeactivateEventHook(ctx context.Context, id string) (EventHook, error) {
	var out EventHook
	return out, c.hooksCall(ctx, http.MethodPost, "/"+url.PathEscape(id)+"/lifecycle/deactivate", nil, &out)
}

// DeleteEventHook deletes hook id, which Okta wants INACTIVE first.
func (c *Client) DeleteEventHook(ctx context.Context, id string) error {
	return c.hooksCall(ctx, http.MethodDelete, "/"+url.PathEscape(id), nil, nil)
}

func (c *Client) hooksCall(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = b
	}
	target := c.org.String() + "/api/v1/eventHooks" + path
	_, respBody, err := c.roundTrip(ctx, method, target, body, hooksOp)
	if err != nil || out == nil {
		return err
	}
	if err := json.Unmarshal(respBody, out); err != nil {
		return fmt.Errorf("%w: %s %s answered 2xx with no event hook JSON: is orgUrl your Okta org?", ErrOrgURL, method, "/api/v1/eventHooks"+path)
	}
	return nil
}

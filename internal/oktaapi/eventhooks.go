package oktaapi

import (
	"bytes"
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

// EventHook is an event hook as /api/v1/eventHooks reads it. Of its fields
// ID, Status and VerificationStatus are read-only: Create and Replace
// never send them (nor any other read-only field of Okta's EventHook).
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
	// Filter is Okta's event hook filter (Expression Language conditions
	// per event type) as Okta returned it; hookline never sets one, and
	// writes back the one an admin set.
	Filter json.RawMessage `json:"filter,omitempty"`
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
	return out, c.hooksCall(ctx, http.MethodPost, "", &h, &out)
}

// ErrNotVerified means a replace was done but the verification that must
// follow it was not (a verification failure wraps ErrVerification instead).
var ErrNotVerified = errors.New("okta: the event hook was replaced but not verified again")

// ReplaceEventHook replaces hook id's name, description, subscriptions
// (with their filter) and channel with h's (PUT: every writable field is
// written, so h should be the hook as read, changed where the caller owns
// it), then has Okta verify the hook. Every PUT carries channel, which Okta
// requires, and Okta's reference says "Updating the channel property
// requires you to verify the hook again": without the verification Okta
// delivers nothing. It returns the hook as the verification answered it.
// When the PUT succeeded and the verification failed, it returns the PUT's
// answer with an error wrapping ErrVerification (Okta refused the
// endpoint's answer) or ErrNotVerified (the verify request itself failed).
func (c *Client) ReplaceEventHook(ctx context.Context, id string, h EventHook) (EventHook, error) {
	var out EventHook
	if err := c.hooksCall(ctx, http.MethodPut, "/"+url.PathEscape(id), &h, &out); err != nil {
		return out, err
	}
	v, err := c.VerifyEventHook(ctx, id)
	switch {
	case err == nil:
		return v, nil
	case errors.Is(err, ErrVerification):
		return out, err
	}
	return out, fmt.Errorf("%w: %w", ErrNotVerified, err)
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

// eventHookWrite is what a create or a replace sends: the writable fields
// of Okta's EventHook and nothing else (no id, status, verificationStatus,
// created, createdBy, lastUpdated, channel.config.method or _links, which
// are read-only).
type eventHookWrite struct {
	Name        string  `json:"name"`
	Description *string `json:"description"` // null clears it
	Events      struct {
		Type   string          `json:"type"`
		Items  []string        `json:"items"`
		Filter json.RawMessage `json:"filter,omitempty"`
	} `json:"events"`
	Channel struct {
		Type    string `json:"type"`
		Version string `json:"version"`
		Config  struct {
			URI        string      `json:"uri"`
			Headers    []Header    `json:"headers,omitempty"`
			AuthScheme *AuthScheme `json:"authScheme,omitempty"`
		} `json:"config"`
	} `json:"channel"`
}

func writeBody(h EventHook) ([]byte, error) {
	var w eventHookWrite
	w.Name, w.Description = h.Name, h.Description
	w.Events.Type, w.Events.Items = h.Events.Type, h.Events.Items
	filter, err := writableFilter(h.Events.Filter)
	if err != nil {
		return nil, err
	}
	w.Events.Filter = filter
	w.Channel.Type, w.Channel.Version = h.Channel.Type, h.Channel.Version
	w.Channel.Config.URI, w.Channel.Config.AuthScheme = h.Channel.Config.URI, h.Channel.Config.AuthScheme
	for _, hd := range h.Channel.Config.Headers {
		if hd.Key != "" { // the spec lets Okta return a null header: not one to send back
			w.Channel.Config.Headers = append(w.Channel.Config.Headers, hd)
		}
	}
	return json.Marshal(w)
}

// writableFilter is the filter to send back: as Okta returned it, less
// each condition's read-only version ("Internal field"). The filter's
// type, read-only too, is kept: Okta's own request examples send it.
func writableFilter(raw json.RawMessage) (json.RawMessage, error) {
	if t := bytes.TrimSpace(raw); len(t) == 0 || bytes.Equal(t, []byte("null")) {
		return nil, nil
	}
	var f map[string]json.RawMessage
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("okta: the event hook's events.filter is not a JSON object: %w", err)
	}
	var entries []map[string]json.RawMessage
	changed := false
	if m, ok := f["eventFilterMap"]; ok && json.Unmarshal(m, &entries) == nil {
		for _, e := range entries {
			var cond map[string]json.RawMessage
			if json.Unmarshal(e["condition"], &cond) == nil && cond != nil {
				if _, ok := cond["version"]; ok {
					delete(cond, "version")
					e["condition"], _ = json.Marshal(cond)
					changed = true
				}
			}
		}
	}
	if !changed {
		return raw, nil // as Okta returned it, byte for byte
	}
	f["eventFilterMap"], _ = json.Marshal(entries)
	return json.Marshal(f)
}

func (c *Client) hooksCall(ctx context.Context, method, path string, in *EventHook, out any) error {
	var body []byte
	if in != nil {
		b, err := writeBody(*in)
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

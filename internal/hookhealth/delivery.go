package hookhealth

import (
	"regexp"
	"sort"
	"strings"

	"github.com/hookline/hookline/internal/okta"
)

// DeliveryEventType is the System Log event Okta writes for an event hook
// delivery that timed out or failed otherwise (Okta's event hooks concept
// page; the event types catalog: "Triggered when an event hook delivery
// fails"). Okta writes none for a delivery that succeeded.
const DeliveryEventType = "event_hook.delivery"

// DeliveryFailure is one event_hook.delivery event, read leniently: Okta
// documents the event type but not its debugData, so the hook and the
// failed events are looked for wherever they may be.
type DeliveryFailure struct {
	// UUID and Published are the failure event's own.
	UUID      string
	Published string
	// HookIDs are the ids of the EventHook targets (and any hook id in
	// debugData).
	HookIDs []string
	// Result and Reason are outcome.result and outcome.reason.
	Result, Reason string
	// Message is displayMessage.
	Message string
	// Debug is debugContext.debugData, for the log.
	Debug map[string]any
	// Events are the uuids of the events whose delivery failed, where Okta
	// names them (debugData keys eventUuids, eventIds or events, or any
	// UUID in debugData); nil when it does not.
	Events []string
	// URIs are the URLs debugData names (where Okta tried to deliver).
	URIs []string
}

// uuidPattern is the form of Okta's event uuids.
var uuidPattern = regexp.MustCompile(`[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)

// ParseDeliveryFailure reads an event_hook.delivery event.
func ParseDeliveryFailure(ev okta.Event) DeliveryFailure {
	le, _ := okta.ParseLogEvent(ev.Raw)
	d := DeliveryFailure{UUID: ev.UUID, Published: ev.Published, Result: string(le.Outcome.Result.Upper()),
		Reason: le.Outcome.Reason, Message: le.DisplayMessage, Debug: le.DebugContext.DebugData}
	for _, t := range le.Target {
		if strings.EqualFold(t.Type, "EventHook") || strings.HasPrefix(t.ID, "who") {
			d.HookIDs = append(d.HookIDs, t.ID)
		}
	}
	events := map[string]bool{}
	for k, v := range le.DebugContext.DebugData {
		for _, s := range stringsIn(v) {
			lk := strings.ToLower(k)
			switch {
			case lk == "eventuuids" || lk == "eventids" || lk == "events":
				for _, p := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' }) {
					events[p] = true
				}
			case strings.Contains(lk, "hookid"):
				d.HookIDs = append(d.HookIDs, s)
			case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
				d.URIs = append(d.URIs, s)
			default:
				for _, u := range uuidPattern.FindAllString(s, -1) {
					events[u] = true
				}
			}
		}
	}
	delete(events, ev.UUID)
	for u := range events {
		d.Events = append(d.Events, u)
	}
	sort.Strings(d.Events)
	return d
}

// stringsIn returns the strings of a JSON value: itself, or an array's
// (a number or an object names no event).
func stringsIn(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// For reports whether the failure is of the hook with this id (when known)
// or, without one, of a hook delivering to uri.
func (d DeliveryFailure) For(hookID, uri string) bool {
	for _, id := range d.HookIDs {
		if hookID != "" && id == hookID {
			return true
		}
	}
	for _, u := range d.URIs {
		if uri != "" && u == uri {
			return true
		}
	}
	return false
}

// Why is the failure's reason in one line: outcome.reason, else
// displayMessage, else the result.
func (d DeliveryFailure) Why() string {
	switch {
	case d.Reason != "":
		return d.Reason
	case d.Message != "":
		return d.Message
	case d.Result != "":
		return d.Result
	}
	return "no reason given"
}

package okta

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
)

// LogEvent is an Okta System Log event (the LogEvent object of Okta's System
// Log API), which is what each event of a hook delivery is. Field names and
// JSON keys are Okta's.
//
// Read one with ParseLogEvent: decoding is lenient, and Raw keeps the event
// exactly as Okta sent it, unknown fields included. The typed fields are a
// view of Raw, never re-encoded into it.
type LogEvent struct {
	UUID            string  `json:"uuid"`
	Published       string  `json:"published"` // RFC 3339, e.g. 2024-05-01T10:00:00.123Z
	EventType       string  `json:"eventType"`
	Version         string  `json:"version"`
	Severity        string  `json:"severity"` // DEBUG, INFO, WARN or ERROR
	DisplayMessage  string  `json:"displayMessage"`
	LegacyEventType string  `json:"legacyEventType"`
	Actor           Actor   `json:"actor"` // zero when Okta sent null (Actor.IsZero)
	Client          Client  `json:"client"`
	Outcome         Outcome `json:"outcome"`
	// Target lists what the event acted on; nil when Okta sent null or
	// none. TargetsOfType picks them by type.
	Target                []Target              `json:"target"`
	Transaction           Transaction           `json:"transaction"`
	AuthenticationContext AuthenticationContext `json:"authenticationContext"`
	SecurityContext       SecurityContext       `json:"securityContext"`
	DebugContext          DebugContext          `json:"debugContext"`
	Request               Request               `json:"request"`

	// Raw is the event as Okta sent it: the source of truth.
	Raw json.RawMessage `json:"-"`
}

// Actor is who performed the action: a User, a PublicClientApp (an OAuth
// service app; its id is the client id), SystemPrincipal, ...
type Actor struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	AlternateID string         `json:"alternateId"` // a user's login, usually an e-mail address
	DisplayName string         `json:"displayName"`
	DetailEntry map[string]any `json:"detailEntry"`
}

// IsZero reports whether the actor is absent (null in the event).
func (a Actor) IsZero() bool {
	return a.ID == "" && a.Type == "" && a.AlternateID == "" && a.DisplayName == "" && len(a.DetailEntry) == 0
}

// Target is what the event acted on: a user, a group, an app, a policy...
type Target struct {
	ID          string         `json:"id"`
	Type        string         `json:"type"`
	AlternateID string         `json:"alternateId"`
	DisplayName string         `json:"displayName"`
	DetailEntry map[string]any `json:"detailEntry"`
}

// Common Target.Type values.
const (
	TypeUser       = "User"
	TypeGroup      = "UserGroup"
	TypeApp        = "AppInstance"
	TypeAppUser    = "AppUser"
	TypePolicy     = "PolicyEntity"
	TypePolicyRule = "PolicyRule"
)

// TargetsOfType returns the event's targets of type typ (compared without
// regard to case, as in TypeUser, TypeGroup, TypeApp), in Okta's order.
func (e LogEvent) TargetsOfType(typ string) []Target {
	var out []Target
	for _, t := range e.Target {
		if strings.EqualFold(t.Type, typ) {
			out = append(out, t)
		}
	}
	return out
}

// Result is an outcome's result. Okta writes it in capitals (SUCCESS), but
// deliveries also carry "Success": compare with Is, or read Upper.
type Result string

// Outcome results Okta documents.
const (
	ResultSuccess   Result = "SUCCESS"
	ResultFailure   Result = "FAILURE"
	ResultSkipped   Result = "SKIPPED"
	ResultAllow     Result = "ALLOW"
	ResultDeny      Result = "DENY"
	ResultChallenge Result = "CHALLENGE"
	ResultUnknown   Result = "UNKNOWN"
)

// Is reports whether r is want, without regard to case.
func (r Result) Is(want Result) bool { return strings.EqualFold(string(r), string(want)) }

// Upper is r in capitals, the way Okta documents results.
func (r Result) Upper() Result { return Result(strings.ToUpper(string(r))) }

// Outcome is the event's result and, for a failure, why.
type Outcome struct {
	Result Result `json:"result"`
	Reason string `json:"reason"`
}

// Client is where the request came from.
type Client struct {
	// ID is, for a request made with an OAuth client, its client id.
	ID                  string              `json:"id"`
	UserAgent           UserAgent           `json:"userAgent"`
	Zone                string              `json:"zone"`
	Device              string              `json:"device"` // e.g. Computer, Mobile
	IPAddress           string              `json:"ipAddress"`
	GeographicalContext GeographicalContext `json:"geographicalContext"`
}

// UserAgent is the client's browser or program.
type UserAgent struct {
	RawUserAgent string `json:"rawUserAgent"`
	OS           string `json:"os"`
	Browser      string `json:"browser"`
}

// GeographicalContext is where an IP address is, as far as Okta knows.
type GeographicalContext struct {
	City        string      `json:"city"`
	State       string      `json:"state"`
	Country     string      `json:"country"`
	PostalCode  string      `json:"postalCode"`
	Geolocation Geolocation `json:"geolocation"`
}

// Geolocation is a latitude and longitude.
type Geolocation struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// AuthenticationContext is how the actor signed in.
type AuthenticationContext struct {
	AuthenticationProvider string `json:"authenticationProvider"` // e.g. OKTA_AUTHENTICATION_PROVIDER
	CredentialProvider     string `json:"credentialProvider"`
	CredentialType         string `json:"credentialType"`
	Issuer                 struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	} `json:"issuer"`
	ExternalSessionID  string `json:"externalSessionId"`
	Interface          string `json:"interface"`
	AuthenticationStep int    `json:"authenticationStep"`
	RootSessionID      string `json:"rootSessionId"`
}

// SecurityContext is what Okta knows of the client's network.
type SecurityContext struct {
	AsNumber int    `json:"asNumber"`
	AsOrg    string `json:"asOrg"`
	ISP      string `json:"isp"`
	Domain   string `json:"domain"`
	IsProxy  bool   `json:"isProxy"`
}

// DebugContext carries event-type specific details.
type DebugContext struct {
	DebugData map[string]any `json:"debugData"`
}

// String returns debugData[key] when it is a string.
func (d DebugContext) String(key string) string {
	s, _ := d.DebugData[key].(string)
	return s
}

// Transaction is the request (or job) the event was part of.
type Transaction struct {
	ID     string         `json:"id"`
	Type   string         `json:"type"` // WEB or JOB
	Detail map[string]any `json:"detail"`
}

// Request is the HTTP request behind the event.
type Request struct {
	IPChain []IPAddress `json:"ipChain"`
}

// IPAddress is one address the request passed through.
type IPAddress struct {
	IP                  string              `json:"ip"`
	GeographicalContext GeographicalContext `json:"geographicalContext"`
	Version             string              `json:"version"` // V4 or V6
	Source              string              `json:"source"`
}

// ChangedAttributes returns the profile attributes a profile update
// changed, from debugData.changedAttributes (Okta writes a comma-separated
// list; a JSON array is read too). Empty when the event has none.
func (e LogEvent) ChangedAttributes() []string {
	var out []string
	add := func(s string) {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	switch v := e.DebugContext.DebugData["changedAttributes"].(type) {
	case string:
		for _, s := range strings.Split(v, ",") {
			add(s)
		}
	case []any:
		for _, s := range v {
			if str, ok := s.(string); ok {
				add(str)
			}
		}
	}
	return out
}

// ErrNotLogEvent means the raw JSON is not an object, so there is no event
// to read at all.
var ErrNotLogEvent = errors.New("okta: event is not a JSON object")

// ParseLogEvent reads an event leniently: a field whose value has a type
// other than Okta documents (a number for a string, an object for a list)
// is left zero and the rest is read, so one odd field never loses the
// event; Raw is always set. The error is ErrNotLogEvent, only when raw is
// not a JSON object.
//
// It reads the event as the rest of hookline does: UUID, EventType and
// Published are ParseEvent's (empty where ParseEvent finds none, such as
// for {"uuid":"A","UUID":"B"}), and every other key is matched exactly, as
// Okta writes it: "Actor" is not "actor", and a key that appears twice in
// one object leaves its field zero, where encoding/json alone would fold
// case and take the last copy.
func ParseLogEvent(raw json.RawMessage) (LogEvent, error) {
	e := LogEvent{Raw: raw}
	trimmed := strings.TrimSpace(string(raw))
	if !strings.HasPrefix(trimmed, "{") || !json.Valid(raw) {
		return e, ErrNotLogEvent
	}
	// encoding/json skips a value of the wrong type, keeps decoding the
	// rest and reports only the first such skip: that is the leniency.
	var typeErr *json.UnmarshalTypeError
	src := []byte(raw)
	if !alreadyExact(raw, logEventType) {
		src = exactKeys(raw, logEventType)
	}
	if err := json.Unmarshal(src, &e); err != nil && !errors.As(err, &typeErr) {
		return LogEvent{Raw: raw}, ErrNotLogEvent
	}
	ev := parseEvent(raw)
	e.UUID, e.EventType, e.Published = ev.UUID, ev.EventType, ev.Published
	e.Raw = raw
	return e, nil
}

var logEventType = reflect.TypeFor[LogEvent]()

// jsonFields maps a struct type's JSON keys to their field types.
var jsonFields sync.Map // reflect.Type → map[string]reflect.Type

func fieldsOf(t reflect.Type) map[string]reflect.Type {
	if m, ok := jsonFields.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		m[name] = f.Type
	}
	jsonFields.Store(t, m)
	return m
}

// alreadyExact reports, without allocating, whether encoding/json reads
// raw (valid JSON) into a value of type t exactly as exactKeys would have
// it: in every object that fills a struct, no key is escaped, none appears
// twice, and none that is not a field's JSON name folds to one (keys that
// match no field either way are ignored by both). It is the usual case,
// which then needs no rewrite.
func alreadyExact(raw []byte, t reflect.Type) bool {
	i := skipSpace(raw, 0)
	if i >= len(raw) {
		return true
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && raw[i] == '{':
		fields := fieldsOf(t)
		var seen [32][]byte
		n := 0
		for i = skipSpace(raw, i+1); i < len(raw) && raw[i] != '}'; {
			end, escaped := stringEnd(raw, i)
			if escaped || n == len(seen) {
				return false
			}
			key := raw[i+1 : end-1]
			i = skipSpace(raw, skipSpace(raw, end)+1) // past the colon
			vend := valueEnd(raw, i)
			if ft, ok := fields[string(key)]; ok {
				for _, k := range seen[:n] {
					if bytes.Equal(k, key) {
						return false
					}
				}
				seen[n] = key
				n++
				if !alreadyExact(raw[i:vend], ft) {
					return false
				}
			} else {
				for name := range fields {
					if bytes.EqualFold(key, []byte(name)) {
						return false
					}
				}
			}
			if i = skipSpace(raw, vend); i < len(raw) && raw[i] == ',' {
				i = skipSpace(raw, i+1)
			}
		}
		return true
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && raw[i] == '[':
		for i = skipSpace(raw, i+1); i < len(raw) && raw[i] != ']'; {
			end := valueEnd(raw, i)
			if !alreadyExact(raw[i:end], t.Elem()) {
				return false
			}
			if i = skipSpace(raw, end); i < len(raw) && raw[i] == ',' {
				i = skipSpace(raw, i+1)
			}
		}
	}
	return true
}

// exactKeys returns raw (valid JSON) rewritten for decoding into a value of
// type t with exact key matching: in every object that fills a struct, only
// the members whose key is exactly one of its fields' JSON names, and
// appears once, are kept. Maps (debugData, detailEntry) keep every key. When
// nothing is dropped, raw itself is returned (the usual case: no copy).
func exactKeys(raw []byte, t reflect.Type) []byte {
	i := skipSpace(raw, 0)
	if i >= len(raw) {
		return raw
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Struct && raw[i] == '{':
		fields := fieldsOf(t)
		type member struct {
			key      string
			val, out []byte
		}
		var ms []member
		changed := false
		_ = eachMember(raw, func(key string, val []byte) error {
			m := member{key: key, val: val}
			if ft, ok := fields[key]; ok {
				m.out = exactKeys(val, ft)
				changed = changed || !same(m.out, val)
			} else {
				changed = true // dropped
			}
			ms = append(ms, m)
			return nil
		})
		for a := range ms {
			for b := a + 1; b < len(ms); b++ {
				if ms[a].key == ms[b].key {
					ms[a].out, ms[b].out, changed = nil, nil, true
				}
			}
		}
		if !changed {
			return raw
		}
		out := make([]byte, 0, len(raw))
		out = append(out, '{')
		for _, m := range ms {
			if m.out == nil {
				continue
			}
			if len(out) > 1 {
				out = append(out, ',')
			}
			// A kept key is a field's JSON name: plain ASCII, no escaping.
			out = append(append(append(append(out, '"'), m.key...), '"', ':'), m.out...)
		}
		return append(out, '}')
	case (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) && raw[i] == '[':
		var elems [][]byte
		changed := false
		eachElement(raw, func(val []byte) {
			e := exactKeys(val, t.Elem())
			changed = changed || !same(e, val)
			elems = append(elems, e)
		})
		if !changed {
			return raw
		}
		out := make([]byte, 0, len(raw))
		out = append(out, '[')
		for j, e := range elems {
			if j > 0 {
				out = append(out, ',')
			}
			out = append(out, e...)
		}
		return append(out, ']')
	}
	return raw
}

// same reports whether a and b are the same bytes in memory.
func same(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

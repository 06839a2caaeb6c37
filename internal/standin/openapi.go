package standin

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// The shapes of Okta's EventHook bodies, derived by hand from Okta's
// published OpenAPI spec, release 2026.06.3
// (github.com/okta/okta-management-openapi-spec,
// dist/2026.06.3/management-oneOfInheritance.yaml, commit fdda229:
// components.schemas.EventHook and the schemas it references, and the
// operations under /api/v1/eventHooks). Only the field lists are kept here,
// not the spec. CheckEventHook checks a body against them: the stand-in
// checks every request it gets, and its tests check every answer it gives.

type jsonKind int

const (
	jsonString jsonKind = iota
	jsonArray
	jsonObject
)

// specField is one property of a schema.
type specField struct {
	kind      jsonKind
	schema    string   // an object's schema, or an array's item schema ("" for strings, or an opaque object)
	enum      []string // allowed string values
	required  bool
	nullable  bool
	readOnly  bool
	writeOnly bool
}

var eventHookSpec = map[string]map[string]specField{
	"EventHook": {
		"channel":            {kind: jsonObject, schema: "EventHookChannel", required: true},
		"created":            {kind: jsonString, readOnly: true}, // date-time
		"createdBy":          {kind: jsonString, readOnly: true},
		"description":        {kind: jsonString, nullable: true},
		"events":             {kind: jsonObject, schema: "EventSubscriptions", required: true},
		"id":                 {kind: jsonString, readOnly: true},
		"lastUpdated":        {kind: jsonString, readOnly: true}, // date-time
		"name":               {kind: jsonString, required: true},
		"status":             {kind: jsonString, enum: []string{"ACTIVE", "INACTIVE"}, readOnly: true},
		"verificationStatus": {kind: jsonString, enum: []string{"UNVERIFIED", "VERIFIED"}, readOnly: true}, // EventHookVerificationStatus
		"_links":             {kind: jsonObject, readOnly: true},                                           // LinksSelf (readOnly) with deactivate, verify: HrefObjects
	},
	"EventHookChannel": {
		"config":  {kind: jsonObject, schema: "EventHookChannelConfig", required: true},
		"type":    {kind: jsonString, enum: []string{"HTTP"}, required: true},
		"version": {kind: jsonString, required: true}, // "Currently the only supported version is 1.0.0"
	},
	"EventHookChannelConfig": {
		"authScheme": {kind: jsonObject, schema: "EventHookChannelConfigAuthScheme"},
		"headers":    {kind: jsonArray, schema: "EventHookChannelConfigHeader"},
		"method":     {kind: jsonString, readOnly: true},
		"uri":        {kind: jsonString, required: true},
	},
	"EventHookChannelConfigAuthScheme": {
		"key":   {kind: jsonString},
		"type":  {kind: jsonString, enum: []string{"HEADER"}},
		"value": {kind: jsonString, writeOnly: true}, // "This property is not returned in the response."
	},
	"EventHookChannelConfigHeader": { // nullable
		"key":   {kind: jsonString},
		"value": {kind: jsonString},
	},
	"EventSubscriptions": {
		"filter": {kind: jsonObject, schema: "EventHookFilters", nullable: true},
		"items":  {kind: jsonArray, required: true}, // EventHookSubscribedEventTypes: strings
		"type":   {kind: jsonString, enum: []string{"EVENT_TYPE"}, required: true},
	},
	"EventHookFilters": {
		"eventFilterMap": {kind: jsonArray, schema: "EventHookFilterMapObject"},
		"type":           {kind: jsonString, readOnly: true}, // "Currently only supports EXPRESSION_LANGUAGE"
	},
	"EventHookFilterMapObject": {
		"condition": {kind: jsonObject, schema: "EventHookFilterMapObjectCondition"},
		"event":     {kind: jsonString},
	},
	"EventHookFilterMapObjectCondition": {
		"expression": {kind: jsonString},
		"version":    {kind: jsonString, nullable: true, readOnly: true}, // "Internal field"
	},
}

// sentInOktasRequestExamples are read-only fields that the spec's own
// request examples send (ReplaceAnEventHookWithFilter and
// CreateAnEventHookWithFilter carry events.filter.type): a client that
// passes an admin's filter through unchanged may send them.
var sentInOktasRequestExamples = []string{"events.filter.type"}

// Direction says which way a body goes.
type Direction int

const (
	// Request is a body sent to Okta: no read-only field.
	Request Direction = iota
	// Response is a body Okta answers with: no write-only field.
	Response
)

// CheckEventHook checks an EventHook JSON document against the spec's
// shape and returns its problems (none: nil): a field the spec does not
// have, a wrong JSON type or enum value, a required field missing, a
// read-only field in a request, a write-only field in a response.
func CheckEventHook(doc []byte, dir Direction) []string {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var problems []string
	checkObject("EventHook", "", v, dir, &problems)
	sort.Strings(problems)
	return problems
}

func checkObject(schema, path string, v any, dir Direction, problems *[]string) {
	obj, ok := v.(map[string]any)
	if !ok {
		*problems = append(*problems, fmt.Sprintf("%s: want an object (%s), have %T", orRoot(path), schema, v))
		return
	}
	fields := eventHookSpec[schema]
	for name, f := range fields {
		if _, ok := obj[name]; f.required && !ok {
			*problems = append(*problems, join(path, name)+": required, missing")
		}
	}
	for name, val := range obj {
		p := join(path, name)
		f, ok := fields[name]
		switch {
		case !ok:
			*problems = append(*problems, p+": not in the spec's "+schema)
			continue
		case dir == Request && f.readOnly && !slices.Contains(sentInOktasRequestExamples, p):
			*problems = append(*problems, p+": read-only, sent in a request")
		case dir == Response && f.writeOnly:
			*problems = append(*problems, p+": write-only, returned in a response")
		}
		if val == nil {
			if !f.nullable {
				*problems = append(*problems, p+": null, not nullable")
			}
			continue
		}
		switch f.kind {
		case jsonString:
			s, ok := val.(string)
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s: want a string, have %T", p, val))
			} else if len(f.enum) > 0 && !slices.Contains(f.enum, s) {
				*problems = append(*problems, fmt.Sprintf("%s: %q is not one of %s", p, s, strings.Join(f.enum, ", ")))
			}
		case jsonObject:
			if f.schema == "" {
				if _, ok := val.(map[string]any); !ok {
					*problems = append(*problems, fmt.Sprintf("%s: want an object, have %T", p, val))
				}
				continue
			}
			checkObject(f.schema, p, val, dir, problems)
		case jsonArray:
			items, ok := val.([]any)
			if !ok {
				*problems = append(*problems, fmt.Sprintf("%s: want an array, have %T", p, val))
				continue
			}
			for i, it := range items {
				ip := fmt.Sprintf("%s[%d]", p, i)
				if f.schema == "" {
					if _, ok := it.(string); !ok {
						*problems = append(*problems, fmt.Sprintf("%s: want a string, have %T", ip, it))
					}
					continue
				}
				if it == nil && f.schema == "EventHookChannelConfigHeader" { // the header schema is nullable
					continue
				}
				checkObject(f.schema, stripIndex(ip), it, dir, problems)
			}
		}
	}
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func orRoot(path string) string {
	if path == "" {
		return "(body)"
	}
	return path
}

// stripIndex drops the last [i], so that nested paths read like the
// spec's (events.filter.eventFilterMap.condition.version).
func stripIndex(p string) string {
	if i := strings.LastIndex(p, "["); i >= 0 {
		return p[:i]
	}
	return p
}

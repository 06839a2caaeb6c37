package samtemplate

import (
	"fmt"
	"math"
	"strings"
	"testing"
)

// HTTP API: Okta's two calls (GET verification, POST delivery) reach the
// receiver through the stack's own HttpApi, which throttles floods and never
// logs headers; the access log format is one API Gateway accepts.
func TestPolicyAPI(t *testing.T) {
	testPolicy(t, checkAPI, []breakCase{
		{name: "no GET route", edit: func(t *Template) {
			delete(props(t, receiverID)["Events"].(map[string]any), "Verify")
		}, want: "no HttpApi event routes GET /okta/events"},
		{name: "route on another path", old: "Method: POST\n            Path: /okta/events", new: "Method: POST\n            Path: /okta/event",
			want: "no HttpApi event routes POST /okta/events"},
		{name: "route on the implicit API", edit: func(t *Template) { delete(event(t, receiverID, "Verify"), "ApiId") },
			want: "Events.Verify: ApiId <nil>, want !Ref HttpApi"},
		{name: "no stage throttling", edit: func(t *Template) { delete(props(t, apiID), "DefaultRouteSettings") },
			want: "ThrottlingBurstLimit: missing"},
		{name: "throttling may be 0", edit: func(t *Template) { t.Parameters["ThrottlingRateLimit"]["MinValue"] = 0 },
			want: "ThrottlingRateLimit: allows 0..+inf"},
		{name: "access log format without request id", old: `"requestId":"$context.requestId",`, new: "",
			want: "Format must contain $context.requestId"},
		{name: "access log with the auth header", old: `"ip":"$context.identity.sourceIp",`, new: `"auth":"$request.header.Authorization",`,
			want: "Format logs a request header"},
	})
}

func checkAPI(t *Template) problems {
	var p problems
	api, ok := t.Resources[apiID]
	if !ok || api.Type != TypeHttpApi {
		p.addf("Resources.%s: missing, or not an %s", apiID, TypeHttpApi)
		return p
	}
	// A flood answers 429 before it reaches Lambda.
	rs, _ := api.Properties["DefaultRouteSettings"].(map[string]any)
	for _, k := range []string{"ThrottlingBurstLimit", "ThrottlingRateLimit"} {
		v, ok := rs[k]
		if !ok {
			p.addf("Resources.HttpApi.DefaultRouteSettings.%s: missing (stage throttling)", k)
			continue
		}
		inRange(&p, t, "Resources.HttpApi.DefaultRouteSettings."+k, v, 1, math.MaxInt)
	}
	// AccessLogSettings may sit in an Fn::If; check every non-NoValue branch.
	for _, als := range ifBranches(api.Properties["AccessLogSettings"]) {
		m, ok := als.(map[string]any)
		if !ok {
			p.addf("Resources.HttpApi.AccessLogSettings: %v is not a mapping", als)
			continue
		}
		f, _ := m["Format"].(string)
		// API Gateway refuses an access log format without the request ID.
		if !strings.Contains(f, "$context.requestId") && !strings.Contains(f, "$context.extendedRequestId") {
			p.addf("Resources.HttpApi.AccessLogSettings.Format must contain $context.requestId")
		}
		// The Authorization header carries the hook secret.
		if strings.Contains(f, "$request.header") {
			p.addf("Resources.HttpApi.AccessLogSettings.Format logs a request header; the secret would be logged")
		}
	}

	type route struct{ method, path string }
	seen := map[route]string{}
	for _, fn := range t.ResourcesOfType(TypeFunction) {
		events := t.FunctionEvents(fn, "HttpApi")
		for _, name := range SortedKeys(events) {
			e := events[name]
			at := fmt.Sprintf("Resources.%s.Events.%s", fn, name)
			seen[route{strings.ToUpper(fmt.Sprint(e["Method"])), fmt.Sprint(e["Path"])}] = at
			if !isRef(e["ApiId"], apiID) {
				p.addf("%s: ApiId %v, want !Ref HttpApi (else SAM creates a second, implicit API)", at, e["ApiId"])
			}
		}
	}
	for _, want := range []route{{"GET", "/okta/events"}, {"POST", "/okta/events"}} {
		at, ok := seen[want]
		if !ok {
			p.addf("no HttpApi event routes %s %s", want.method, want.path)
		} else if !strings.HasPrefix(at, "Resources."+receiverID+".") {
			p.addf("%s %s is routed by %s, want ReceiverFunction", want.method, want.path, at)
		}
	}
	return p
}

// ifBranches returns the possible values of v: both branches of an Fn::If
// (recursively) minus AWS::NoValue; nil v gives none.
func ifBranches(v any) []any {
	if v == nil {
		return nil
	}
	if fn, arg, ok := Intrinsic(v); ok {
		switch fn {
		case "Fn::If":
			if l, ok := arg.([]any); ok && len(l) == 3 {
				return append(ifBranches(l[1]), ifBranches(l[2])...)
			}
		case "Ref":
			if arg == "AWS::NoValue" {
				return nil
			}
		}
	}
	return []any{v}
}

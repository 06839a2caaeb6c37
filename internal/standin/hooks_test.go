package standin

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// call sends one request to the org's Event Hooks API with an API token.
func call(t *testing.T, o *Org, method, path, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, o.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "SSWS tok")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// answersChallenge is a hook endpoint answering Okta's verification.
func answersChallenge(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"verification": r.Header.Get("x-okta-verification-challenge")})
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestStandInAnswersMatchOktasOpenAPISpec: every answer of the stand-in's
// Event Hooks API (create, list, read, replace, verify, activate,
// deactivate) has the shape of Okta's EventHook (spec 2026.06.3, see
// openapi.go): no field the spec lacks, the required ones, no write-only
// authScheme value; the spec's own request examples pass as requests.
func TestStandInAnswersMatchOktasOpenAPISpec(t *testing.T) {
	o := Start(t.Cleanup)
	o.SetAPIToken("tok")
	uri := answersChallenge(t)
	// CreateAnEventHookWithFilter from the spec's examples, with the header
	// of CreateAnEventHook and a local URI.
	create := `{"name":"Event Hook with Filter","description":"An event hook using an Okta Expression Language filter",
	 "events":{"type":"EVENT_TYPE","items":["group.user_membership.add"],"filter":{"type":"EXPRESSION_LANGUAGE","eventFilterMap":[{"event":"group.user_membership.add","condition":{"expression":"event.target.?[type eq 'UserGroup'].size()>0"}}]}},
	 "channel":{"type":"HTTP","version":"1.0.0","config":{"uri":"` + uri + `","headers":[{"key":"X-Other-Header","value":"my-header-value"}],"authScheme":{"type":"HEADER","key":"Authorization","value":"my-shared-secret"}}}}`
	if p := CheckEventHook([]byte(create), Request); len(p) > 0 {
		t.Fatalf("the spec's request example fails the check: %v", p)
	}
	st, body := call(t, o, "POST", "/api/v1/eventHooks", create)
	if st != 200 {
		t.Fatalf("create: %d %s", st, body)
	}
	var h struct{ ID string }
	json.Unmarshal(body, &h)
	answers := map[string][]byte{"create": body}
	for _, c := range []struct{ name, method, path, body string }{
		{"read", "GET", "/api/v1/eventHooks/" + h.ID, ""},
		{"verify", "POST", "/api/v1/eventHooks/" + h.ID + "/lifecycle/verify", ""},
		{"replace", "PUT", "/api/v1/eventHooks/" + h.ID, create},
		{"deactivate", "POST", "/api/v1/eventHooks/" + h.ID + "/lifecycle/deactivate", ""},
		{"activate", "POST", "/api/v1/eventHooks/" + h.ID + "/lifecycle/activate", ""},
	} {
		st, b := call(t, o, c.method, c.path, c.body)
		if st != 200 {
			t.Fatalf("%s: %d %s", c.name, st, b)
		}
		answers[c.name] = b
	}
	st, body = call(t, o, "GET", "/api/v1/eventHooks", "")
	var list []json.RawMessage
	if st != 200 || json.Unmarshal(body, &list) != nil || len(list) != 1 {
		t.Fatalf("list: %d %s", st, body)
	}
	answers["list"] = list[0]
	for name, b := range answers {
		if p := CheckEventHook(b, Response); len(p) > 0 {
			t.Errorf("%s answer against Okta's spec: %v\n%s", name, p, b)
		}
		if bytes.Contains(b, []byte("my-shared-secret")) {
			t.Errorf("%s answer carries the authScheme value", name)
		}
	}
	// Filter and headers are stored and returned.
	var got struct {
		Events struct {
			Filter struct {
				EventFilterMap []struct{ Event string }
			}
		}
		Channel struct{ Config struct{ Headers []Header } }
	}
	json.Unmarshal(answers["read"], &got)
	if len(got.Events.Filter.EventFilterMap) != 1 || len(got.Channel.Config.Headers) != 1 || got.Channel.Config.Headers[0].Value != "my-header-value" {
		t.Fatalf("filter or headers not returned: %s", answers["read"])
	}
}

// TestCheckEventHookFindsWhatTheSpecForbids: the check is not empty: a
// request with read-only and unknown fields, a wrong enum and a missing
// channel, and an answer with the authScheme value, each fail it.
func TestCheckEventHookFindsWhatTheSpecForbids(t *testing.T) {
	req := `{"id":"who1","status":"ACTIVE","verificationStatus":"VERIFIED","created":"x","lastUpdated":"x","createdBy":"u","_links":{},"name":"n","secret":"x",
	  "events":{"type":"ALL","items":["a"]}}`
	p := strings.Join(CheckEventHook([]byte(req), Request), "\n")
	for _, want := range []string{"id: read-only", "status: read-only", "verificationStatus: read-only", "created: read-only", "lastUpdated: read-only",
		"createdBy: read-only", "_links: read-only", "secret: not in the spec", "events.type: \"ALL\"", "channel: required"} {
		if !strings.Contains(p, want) {
			t.Errorf("missing %q in:\n%s", want, p)
		}
	}
	resp := `{"name":"n","events":{"type":"EVENT_TYPE","items":["a"]},"channel":{"type":"HTTP","version":"1.0.0","config":{"uri":"https://x","method":"POST","authScheme":{"type":"HEADER","key":"Authorization","value":"s"}}}}`
	if p := CheckEventHook([]byte(resp), Response); len(p) != 1 || !strings.Contains(p[0], "channel.config.authScheme.value: write-only") {
		t.Errorf("response with the value: %v", p)
	}
	if p := CheckEventHook([]byte(resp), Request); len(p) != 1 || !strings.Contains(p[0], "channel.config.method: read-only") {
		t.Errorf("request with method: %v", p)
	}
}

// TestPutUnverifiesAndIgnoresReadOnlyFields: any PUT (it carries channel)
// makes a VERIFIED hook UNVERIFIED, even with the same URI, as Okta's
// reference says; read-only fields in it are ignored and recorded, and a
// writable field left out (the filter) is cleared, as a PUT does.
func TestPutUnverifiesAndIgnoresReadOnlyFields(t *testing.T) {
	o := Start(t.Cleanup)
	o.SetAPIToken("tok")
	uri := answersChallenge(t)
	doc := func(extra, filter string) string {
		return `{` + extra + `"name":"n","events":{"type":"EVENT_TYPE","items":["a.b"]` + filter + `},"channel":{"type":"HTTP","version":"1.0.0","config":{"uri":"` + uri + `","authScheme":{"type":"HEADER","key":"Authorization","value":"s"}}}}`
	}
	_, body := call(t, o, "POST", "/api/v1/eventHooks", doc("", `,"filter":{"type":"EXPRESSION_LANGUAGE","eventFilterMap":[]}`))
	var h struct{ ID string }
	json.Unmarshal(body, &h)
	if st, b := call(t, o, "POST", "/api/v1/eventHooks/"+h.ID+"/lifecycle/verify", ""); st != 200 {
		t.Fatalf("verify: %d %s", st, b)
	}
	if len(o.HookRequestProblems()) != 0 || o.Hooks()[0].Filter == nil {
		t.Fatalf("a clean create: problems %v, filter %s", o.HookRequestProblems(), o.Hooks()[0].Filter)
	}
	st, b := call(t, o, "PUT", "/api/v1/eventHooks/"+h.ID, doc(`"id":"other","status":"INACTIVE","verificationStatus":"VERIFIED",`, ""))
	if st != 200 {
		t.Fatalf("put: %d %s", st, b)
	}
	hk := o.Hooks()[0]
	if hk.ID != h.ID || hk.Status != "ACTIVE" || hk.VerificationStatus != "UNVERIFIED" || hk.Filter != nil {
		t.Fatalf("after a PUT with the same URI and read-only fields: %+v", hk)
	}
	if _, err := o.Deliver(t.Context(), h.ID, []byte(`{}`)); err == nil {
		t.Fatal("Okta delivered to an UNVERIFIED hook")
	}
	if p := strings.Join(o.HookRequestProblems(), "\n"); !strings.Contains(p, "id: read-only") || !strings.Contains(p, "verificationStatus: read-only") {
		t.Fatalf("read-only fields not recorded: %s", p)
	}
}

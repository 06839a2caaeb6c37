package hookhealth_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/hookhealth"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

func TestEvaluateNamesEachFailedCheckAndItsFix(t *testing.T) {
	want := hookhealth.Want{URI: endpoint, Types: []string{"a", "b"}, Stack: "prod"}
	good := oktaapi.NewEventHook("hl", endpoint, "Authorization", "", []string{"b", "a"})
	good.ID, good.Status, good.VerificationStatus = "who1", oktaapi.StatusActive, oktaapi.StatusVerified
	if r := hookhealth.Evaluate(&good, want); !r.Healthy() || len(r.Findings) != len(hookhealth.Checks) {
		t.Fatalf("a healthy hook (types in another order): %+v", r)
	}
	bad := good
	bad.Status, bad.VerificationStatus = oktaapi.StatusInactive, oktaapi.StatusUnverified
	bad.Events.Items = []string{"a", "c"}
	bad.Channel.Config.URI = "https://other/"
	r := hookhealth.Evaluate(&bad, want)
	if got := strings.Join(r.FailedChecks(), ","); got != "active,verified,types,uri" {
		t.Fatalf("failed checks %s", got)
	}
	for _, f := range r.Failed() {
		wantFix := "hookline okta register --stack prod"
		if f.Check == hookhealth.CheckActive {
			wantFix = "hookline okta activate hl"
		}
		if f.Fix != wantFix || f.Problem == "" {
			t.Errorf("%s: problem %q fix %q, want fix %q", f.Check, f.Problem, f.Fix, wantFix)
		}
	}
	if f := r.Failed()[2]; !strings.Contains(f.Problem, "not subscribed to b") || !strings.Contains(f.Problem, "also subscribed to c") {
		t.Errorf("types problem %q", f.Problem)
	}
	r = hookhealth.Evaluate(nil, hookhealth.Want{Name: "mine", Stack: "prod"})
	if r.Healthy() || len(r.Findings) != 1 || r.Findings[0].Check != hookhealth.CheckFound ||
		r.Findings[0].Fix != "hookline okta register --stack prod --name mine" {
		t.Fatalf("not found: %+v", r)
	}
}

func TestFindByNameOrURI(t *testing.T) {
	hooks := []oktaapi.EventHook{{ID: "who1", Name: "x"}, {ID: "who2", Name: "y"}}
	hooks[0].Channel.Config.URI = "https://a/"
	hooks[1].Channel.Config.URI = endpoint
	if h := hookhealth.Find(hooks, hookhealth.Want{URI: endpoint}); h == nil || h.ID != "who2" {
		t.Fatalf("by URI: %+v", h)
	}
	if h := hookhealth.Find(hooks, hookhealth.Want{Name: "x", URI: endpoint}); h == nil || h.ID != "who1" {
		t.Fatalf("by name: %+v", h)
	}
	if h := hookhealth.Find(hooks, hookhealth.Want{Name: "who2"}); h == nil || h.Name != "y" {
		t.Fatalf("by id: %+v", h)
	}
	if h := hookhealth.Find(hooks, hookhealth.Want{Name: "z", URI: endpoint}); h != nil {
		t.Fatalf("a name no hook has matched %+v", h)
	}
}

// Okta documents event_hook.delivery but not its debugData: the hook and the
// failed events are read wherever they appear, and odd values lose nothing.
func TestParseDeliveryFailureIsLenient(t *testing.T) {
	for _, tc := range []struct {
		name, raw  string
		hook, uri  string
		wantEvents string
		wantWhy    string
	}{
		{"the stand-in's shape", `{"uuid":"f1","published":"2026-01-01T00:00:00.000Z","eventType":"event_hook.delivery",
			"outcome":{"result":"FAILURE","reason":"timeout"},"target":[{"id":"who9","type":"EventHook"}],
			"debugContext":{"debugData":{"eventUuids":"11111111-1111-1111-1111-111111111111,22222222-2222-2222-2222-222222222222"}}}`,
			"who9", "", "11111111-1111-1111-1111-111111111111,22222222-2222-2222-2222-222222222222", "timeout"},
		{"uuids in another key, hook id in debugData, no reason", `{"uuid":"f2","eventType":"event_hook.delivery",
			"displayMessage":"Event hook delivery failed","outcome":{"result":"failure"},"target":null,
			"debugContext":{"debugData":{"eventHookId":"who9","requestUri":"https://h/okta/events","detail":"events [33333333-3333-3333-3333-333333333333] not delivered"}}}`,
			"who9", "https://h/okta/events", "33333333-3333-3333-3333-333333333333", "Event hook delivery failed"},
		{"nothing but the type", `{"uuid":"f3","eventType":"event_hook.delivery","outcome":null,"debugContext":{"debugData":{"eventUuids":42}}}`,
			"", "", "", "no reason given"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := hookhealth.ParseDeliveryFailure(okta.ParseEvent([]byte(tc.raw)))
			if got := strings.Join(d.Events, ","); got != tc.wantEvents {
				t.Errorf("events %q, want %q", got, tc.wantEvents)
			}
			if d.Why() != tc.wantWhy {
				t.Errorf("why %q, want %q", d.Why(), tc.wantWhy)
			}
			if tc.hook != "" && !d.For(tc.hook, "") {
				t.Errorf("not for hook %s: %+v", tc.hook, d)
			}
			if tc.uri != "" && !d.For("", tc.uri) {
				t.Errorf("not for uri %s: %+v", tc.uri, d)
			}
			if d.For("who-other", "https://other/") {
				t.Errorf("for another hook: %+v", d)
			}
		})
	}
}

// memStore is an in-memory Store, for the Watch's logic alone.
type memStore struct{ s *ledger.OktaSide }

func (m *memStore) Load(context.Context, string) (ledger.OktaSide, error) {
	if m.s == nil {
		return ledger.OktaSide{}, ledger.ErrNoOktaSide
	}
	return *m.s, nil
}
func (m *memStore) Save(_ context.Context, _ string, s ledger.OktaSide) error { m.s = &s; return nil }

type recorder map[string]float64

func (r recorder) Add(name string, v float64, dims ...metrics.Dim) {
	for _, d := range dims {
		name += "|" + d.Value
	}
	r[name] += v
}

// A Watch told neither the endpoint nor a hook name gives no verdict (and
// makes no request), rather than an alarm on a hook nobody named.
func TestWatchWithoutAHookToLookForGivesNoVerdict(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("t")
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "t"}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	w := &hookhealth.Watch{Want: hookhealth.Want{Types: []string{"a"}}, Store: &memStore{}, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	w.Begin(t.Context(), c)
	m := recorder{}
	w.End(t.Context(), m)
	for k := range m {
		if strings.HasPrefix(k, metrics.OktaHookUnhealthy) {
			t.Fatalf("a verdict: %v", m)
		}
	}
	if org.HooksRequests() != 0 || !strings.Contains(logs.String(), "neither ENDPOINT_URL nor OKTA_HOOK_NAME") {
		t.Fatalf("%d requests; log %s", org.HooksRequests(), logs.String())
	}
}

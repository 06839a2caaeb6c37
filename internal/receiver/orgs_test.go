package receiver

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/auth/authtest"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/orgs"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/queue/queuetest"
)

const previewSecret = "preview-test-secret-abcdef0123456789"

type orgsFixture struct {
	h      *Handler
	mem    *queuetest.Memory
	stores map[string]*authtest.Static
	logs   *bytes.Buffer
}

// newOrgsFixture serves prod (the default org, secret) and preview
// (previewSecret), each with its own store, read once at init as main does.
func newOrgsFixture(t *testing.T) *orgsFixture {
	t.Helper()
	list, err := orgs.Parse("prod,preview")
	if err != nil {
		t.Fatal(err)
	}
	f := &orgsFixture{mem: &queuetest.Memory{}, logs: &bytes.Buffer{}, stores: map[string]*authtest.Static{
		"prod":    authtest.NewStatic(secret, ""),
		"preview": authtest.NewStatic(previewSecret, ""),
	}}
	verifiers := auth.NewOrgs(list, func(org string) auth.Secrets { return f.stores[org] }, auth.Settings{TTL: time.Minute})
	if err := verifiers.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	pub := &queue.Publisher{Sender: f.mem, Budget: 100 * time.Millisecond, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}
	f.h = NewForOrgs(Config{Orgs: list}, verifiers, pub, slog.New(slog.NewJSONHandler(f.logs, nil)))
	return f
}

func (f *orgsFixture) reads() int { return f.stores["prod"].Calls() + f.stores["preview"].Calls() }

func (f *orgsFixture) post(t *testing.T, path, presented string) int {
	t.Helper()
	req := request(http.MethodPost, map[string]string{"authorization": presented, "content-type": "application/json"}, delivery(1, "user.lifecycle.create"))
	req.RawPath = path
	resp, err := f.h.Handle(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

func TestEachOrgAcceptsOnlyItsOwnSecretAtItsOwnURL(t *testing.T) {
	f := newOrgsFixture(t)
	for _, c := range []struct {
		path, secret string
		want         int
	}{
		{"/okta/events", secret, 200},
		{"/okta/events/prod", secret, 200},
		{"/okta/events/preview", previewSecret, 200},
		{"/okta/events/preview", secret, 401},
		{"/okta/events", previewSecret, 401},
		{"/okta/events/prod", previewSecret, 401},
	} {
		if got := f.post(t, c.path, c.secret); got != c.want {
			t.Errorf("POST %s with the %s secret: %d, want %d", c.path, map[string]string{secret: "prod", previewSecret: "preview"}[c.secret], got, c.want)
		}
	}
}

func TestAnotherOrgsSecretIsRefusedWithoutASecretRead(t *testing.T) {
	f := newOrgsFixture(t)
	before := f.reads()
	for range 50 {
		if got := f.post(t, "/okta/events/preview", secret); got != http.StatusUnauthorized {
			t.Fatalf("prod's secret on preview's URL: %d, want 401", got)
		}
	}
	if n := f.reads() - before; n != 0 {
		t.Fatalf("50 requests with another org's secret read the secrets %d times, want 0", n)
	}
}

func TestUnknownOrgIsRefused404WithoutASecretRead(t *testing.T) {
	f := newOrgsFixture(t)
	before := f.reads()
	for _, path := range []string{"/okta/events/other", "/okta/events/preview/x", "/okta/events/" + strings.Repeat("a", 200)} {
		if got := f.post(t, path, secret); got != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, got)
		}
	}
	if n := f.reads() - before; n != 0 {
		t.Fatalf("unknown orgs read the secrets %d times, want 0", n)
	}
	if n := f.mem.CallCount(); n != 0 {
		t.Fatalf("%d sends for unknown orgs", n)
	}
}

func TestRequestLogNamesTheOrg(t *testing.T) {
	f := newOrgsFixture(t)
	f.post(t, "/okta/events/preview", previewSecret)
	f.post(t, "/okta/events/nope", previewSecret)
	var orgsSeen []string
	for _, line := range strings.Split(strings.TrimSpace(f.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec["msg"] == "okta hook request" {
			o, _ := rec["org"].(string)
			orgsSeen = append(orgsSeen, o)
		}
	}
	if strings.Join(orgsSeen, ",") != "preview,"+orgs.Unknown {
		t.Fatalf("request lines name orgs %q, want preview then %q (never the raw path)", orgsSeen, orgs.Unknown)
	}
}

func TestEveryQueuedEventCarriesTheOrgOfItsURL(t *testing.T) {
	f := newOrgsFixture(t)
	if f.post(t, "/okta/events/preview", previewSecret) != 200 || f.post(t, "/okta/events", secret) != 200 {
		t.Fatal("deliveries refused")
	}
	var got []string
	for _, m := range f.mem.Messages {
		env, err := envelope.Decode(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, env.Org+"/"+m.Attributes[envelope.AttrOrg])
	}
	if strings.Join(got, ",") != "preview/preview,prod/prod" {
		t.Fatalf("queued events carry orgs (envelope/attribute) %q, want preview then prod", got)
	}
}

package worker

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/metrics/emftest"
	"github.com/hookline/hookline/internal/orgs"
)

func TestHandlersSeeTheEventsOrg(t *testing.T) {
	raw := []byte(`{"uuid":"u1","eventType":"user.lifecycle.create","published":"2024-01-01T00:00:00Z"}`)
	for org, body := range map[string][]byte{
		"":        envelope.Encode("d", envelope.OriginSystemLog, time.Now(), raw),
		"preview": envelope.EncodeOrg("preview", "d", envelope.OriginLogStream, time.Now(), raw),
	} {
		ev, err := decode(events.SQSMessage{MessageId: "m", Body: string(body)})
		if err != nil {
			t.Fatal(err)
		}
		if ev.Org != org {
			t.Errorf("ev.Org = %q, want %q", ev.Org, org)
		}
	}
}

// A handler registered with handlers.Orgs runs only on its orgs' events; an
// event without an org is the default org's. Every handler sees ev.Org, and
// the event's log lines carry it.
func TestHandlersRegisteredForSomeOrgsRunOnlyOnTheirEvents(t *testing.T) {
	raw := func(u string) []byte {
		return []byte(`{"uuid":"` + u + `","eventType":"user.lifecycle.create","published":"2024-01-01T00:00:00Z"}`)
	}
	body := func(org, u string) string {
		return string(envelope.EncodeOrg(org, "d", envelope.OriginHook, time.Now(), raw(u)))
	}
	var mu sync.Mutex // records run concurrently
	ran := map[string][]string{}
	reg := &handlers.Registry{}
	for _, name := range []string{"preview-only", "prod-only", "every-org"} {
		var opts []handlers.Option
		switch name {
		case "preview-only":
			opts = append(opts, handlers.Orgs("preview"))
		case "prod-only":
			opts = append(opts, handlers.Orgs("prod"))
		}
		reg.On("user.*", func(_ context.Context, ev handlers.Event) error {
			mu.Lock()
			ran[name] = append(ran[name], ev.UUID+"@"+ev.Org)
			mu.Unlock()
			return nil
		}, append(opts, handlers.Name(name), handlers.Idempotent())...)
	}
	var logs bytes.Buffer
	list, err := orgs.Parse("prod,preview")
	if err != nil {
		t.Fatal(err)
	}
	var emf bytes.Buffer
	w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Ledger: &ledgertest.Memory{}, Orgs: list,
		Metrics: metrics.New("Hookline", "test", &emf)}
	resp, _ := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		{MessageId: "m1", Body: body("preview", "u1")},
		{MessageId: "m2", Body: body("prod", "u2")},
		{MessageId: "m3", Body: body("", "u3")},     // no org: the default org's
		{MessageId: "m4", Body: body("acme", "u4")}, // an org not configured (a stream's subdomain)
	}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("failures %+v", resp.BatchItemFailures)
	}
	want := map[string]string{"preview-only": "u1@preview", "prod-only": "u2@prod,u3@", "every-org": "u1@preview,u2@prod,u3@,u4@acme"}
	for name, w := range want {
		slices.Sort(ran[name])
		if got := strings.Join(ran[name], ","); got != w {
			t.Errorf("%s ran on %q, want %q", name, got, w)
		}
	}
	if !strings.Contains(logs.String(), `"org":"preview"`) {
		t.Errorf("no log line names the org: %s", logs.String())
	}
	// OrgEventsHandled: only configured names (and "-") as the dimension.
	sums, err := emftest.Sums(emf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for key, n := range map[string]float64{"OrgEventsHandled Org=prod": 2, "OrgEventsHandled Org=preview": 1, "OrgEventsHandled Org=" + orgs.Unknown: 1} {
		if sums[key] != n {
			t.Errorf("%s = %v, want %v (all %v)", key, sums[key], n, sums)
		}
	}
	if _, raw := sums["OrgEventsHandled Org=acme"]; raw {
		t.Errorf("a raw org from a message became a dimension value: %v", sums)
	}
}

// On a stack of one org every event is its org's, whatever it carries: a
// streamed event carries its source's subdomain, which names no configured
// org, and must still reach a handler registered for the stack's org.
func TestOnAStackOfOneOrgEveryEventIsItsOrgs(t *testing.T) {
	var ran []string
	reg := &handlers.Registry{}
	reg.On("user.*", func(_ context.Context, ev handlers.Event) error { ran = append(ran, ev.UUID); return nil },
		handlers.Name("default-only"), handlers.Orgs(orgs.DefaultName), handlers.Idempotent())
	w := &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: &ledgertest.Memory{}}
	raw := []byte(`{"uuid":"s1","eventType":"user.lifecycle.create","published":"2024-01-01T00:00:00Z"}`)
	body := string(envelope.EncodeOrg("acme", "d", envelope.OriginLogStream, time.Now(), raw))
	w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{{MessageId: "m1", Body: body}}})
	if strings.Join(ran, ",") != "s1" {
		t.Fatalf("ran on %v, want the streamed event", ran)
	}
}

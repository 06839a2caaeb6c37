package worker

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/ledger/ledgertest"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

// countingLedger counts the ledger writes the worker makes.
type countingLedger struct {
	ledgertest.Memory
	claims, completes atomic.Int64
}

func (l *countingLedger) Claim(ctx context.Context, key ledger.Key, owner string, lease time.Duration) (ledger.Claim, error) {
	l.claims.Add(1)
	return l.Memory.Claim(ctx, key, owner, lease)
}

func (l *countingLedger) Complete(ctx context.Context, key ledger.Key, owner string) error {
	l.completes.Add(1)
	return l.Memory.Complete(ctx, key, owner)
}

// TestIdempotentHandlerSkipsTheLedger: a handler marked Idempotent costs no
// ledger write and runs again on a duplicate; the others still claim and
// complete, and run once.
func TestIdempotentHandlerSkipsTheLedger(t *testing.T) {
	cheap, guarded := &counter{}, &counter{}
	reg := &handlers.Registry{}
	reg.On("*", cheap.handle, handlers.Name("log"), handlers.Idempotent())
	reg.On("*", guarded.handle, handlers.Name("guarded"))
	l := &countingLedger{}
	w := &Worker{Registry: reg, Log: slog.New(slog.DiscardHandler), Ledger: l}
	for _, rec := range []events.SQSMessage{recordN("m1", eventBody("u1", "user.x"), 1), recordN("m1", eventBody("u1", "user.x"), 2)} {
		if resp, _ := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{rec}}); len(resp.BatchItemFailures) != 0 {
			t.Fatalf("%+v", resp)
		}
	}
	if cheap.count("u1") != 2 || guarded.count("u1") != 1 {
		t.Fatalf("idempotent ran %d times (want 2), guarded %d (want 1)", cheap.count("u1"), guarded.count("u1"))
	}
	// guarded: two claims (one found it completed), one complete; log: none.
	if l.claims.Load() != 2 || l.completes.Load() != 1 {
		t.Fatalf("ledger claims %d, completes %d; want 2 and 1 (guarded's only)", l.claims.Load(), l.completes.Load())
	}
}

// eventBy is an envelope of an event caused by actor (and OAuth client).
func eventBy(uuid, eventType, actorID, clientID string) string {
	raw := `{"uuid":"` + uuid + `","eventType":"` + eventType + `","published":"2024-01-01T00:00:00Z","actor":{"id":"` + actorID + `","type":"User"},"client":{"id":"` + clientID + `"}}`
	return string(envelope.Encode("d1", "src", time.Unix(0, 0), json.RawMessage(raw)))
}

// TestOwnActorsAreSkippedAndCounted: the worker-wide list and a handler's
// SkipActors skip events by actor.id or client.id, each skip logged and
// counted in the batch line; odd actor fields never fail the event.
func TestOwnActorsAreSkippedAndCounted(t *testing.T) {
	all, mine := &counter{}, &counter{}
	reg := &handlers.Registry{}
	reg.On("*", all.handle, handlers.Name("all"))
	reg.On("*", mine.handle, handlers.Name("mine"), handlers.SkipActors("0oa-mine"))
	var logs bytes.Buffer
	w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), OwnActors: []string{"00u-global"}}
	odd := string(envelope.Encode("d1", "src", time.Unix(0, 0), json.RawMessage(`{"uuid":"u4","eventType":"x","actor":"not an object","client":{"id":7}}`)))
	resp, _ := w.Handle(context.Background(), events.SQSEvent{Records: []events.SQSMessage{
		recordN("m1", eventBy("u1", "x", "00u-admin", ""), 1),
		recordN("m2", eventBy("u2", "x", "00u-global", ""), 1),
		recordN("m3", eventBy("u3", "x", "0oa-mine", "0oa-mine"), 1),
		recordN("m4", odd, 1),
	}})
	if len(resp.BatchItemFailures) != 0 {
		t.Fatalf("%+v", resp)
	}
	for uuid, want := range map[string][2]int{"u1": {1, 1}, "u2": {0, 0}, "u3": {1, 0}, "u4": {1, 1}} {
		if all.count(uuid) != want[0] || mine.count(uuid) != want[1] {
			t.Errorf("%s: all ran %d, mine %d; want %v", uuid, all.count(uuid), mine.count(uuid), want)
		}
	}
	if n := strings.Count(logs.String(), `"msg":"skipped: own actor"`); n != 3 {
		t.Errorf("%d skip lines, want 3:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), `"ownActorSkipped":3`) {
		t.Errorf("batch line lacks ownActorSkipped 3:\n%s", logs.String())
	}
}

// TestHandlerWritingToOktaDoesNotLoop: a handler that mirrors every group
// membership into another group (through the Okta API client, as the
// service app 0oa-hookline) causes a new group.user_membership.add event
// with each write. The events the stand-in org records are fed back to the
// worker as the hook would bring them. With the app's client id in
// SkipActors the handler writes once and its own event is skipped; without
// it, it writes again on every round.
func TestHandlerWritingToOktaDoesNotLoop(t *testing.T) {
	for _, guarded := range []bool{true, false} {
		org := standin.Start(t.Cleanup)
		k, pemText := rsaPEM(t)
		org.AddServiceApp("0oa-hookline", &k.PublicKey, oktaapi.LogsScope, "okta.groups.manage")
		client, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, ClientID: "0oa-hookline", PrivateKey: pemText, Scopes: "okta.groups.manage"}, oktaapi.Settings{})
		if err != nil {
			t.Fatal(err)
		}
		mirror := func(ctx context.Context, ev handlers.Event) error {
			var e struct{ Target []struct{ ID, Type string } }
			_ = ev.Decode(&e)
			for _, tg := range e.Target {
				if tg.Type == "User" {
					return client.Call(ctx, http.MethodPut, "/api/v1/groups/00g-mirror/users/"+tg.ID, nil, nil)
				}
			}
			return nil
		}
		var opts []handlers.Option
		if guarded {
			opts = append(opts, handlers.SkipActors("0oa-hookline"))
		}
		reg := &handlers.Registry{}
		reg.On("group.user_membership.add", mirror, append(opts, handlers.Name("mirror"))...)
		var logs bytes.Buffer
		w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Ledger: &ledgertest.Memory{}}

		// An admin adds a user to a group in the console.
		seed := `{"uuid":"e0","eventType":"group.user_membership.add","published":"2024-01-01T00:00:00Z","actor":{"id":"00u-admin","type":"User"},` +
			`"target":[{"id":"00u-ann","type":"User"},{"id":"00g-eng","type":"UserGroup"}]}`
		next := []string{string(envelope.Encode("d0", "src", time.Now(), json.RawMessage(seed)))}
		for round := 0; round < 4 && len(next) > 0; round++ {
			var batch events.SQSEvent
			for i, body := range next {
				batch.Records = append(batch.Records, recordN("m"+string(rune('a'+round))+string(rune('0'+i)), body, 1))
			}
			seen := len(org.Events())
			if resp, _ := w.Handle(t.Context(), batch); len(resp.BatchItemFailures) != 0 {
				t.Fatalf("round %d: %+v\n%s", round, resp, logs.String())
			}
			next = nil
			for _, raw := range org.Events()[seen:] {
				next = append(next, string(envelope.Encode("d", "src", time.Now(), raw)))
			}
		}
		switch {
		case guarded && (org.WriteRequests() != 1 || !strings.Contains(logs.String(), `"ownActorSkipped":1`)):
			t.Fatalf("guarded: %d writes (want 1), logs:\n%s", org.WriteRequests(), logs.String())
		case !guarded && org.WriteRequests() != 4:
			t.Fatalf("unguarded: %d writes, want one per round (4): the test would not see a loop", org.WriteRequests())
		}
	}
}

func rsaPEM(t *testing.T) (*rsa.PrivateKey, string) {
	t.Helper()
	k, p, err := standin.RSAKey()
	if err != nil {
		t.Fatal(err)
	}
	return k, p
}

package handlertest_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/handlers/handlertest"
	"github.com/hookline/hookline/internal/okta"
)

func sample(name string) string { return filepath.Join("..", "..", "..", "events", "okta", name) }

func user(uuid, eventType, published string) okta.LogEvent {
	return okta.LogEvent{UUID: uuid, EventType: eventType, Published: published,
		Actor:  okta.Actor{ID: "00uadmin", Type: okta.TypeUser},
		Target: []okta.Target{{ID: "00u1", Type: okta.TypeUser}}}
}

// Every outcome the worker can give a handler is reported, by handler.
func TestRunReportsEachHandlersOutcome(t *testing.T) {
	reg := &handlers.Registry{}
	var status string
	reg.On("user.lifecycle.*", func(_ context.Context, ev handlers.Event) error {
		status = ev.Type
		return nil
	}, handlers.Name("sync-user"), handlers.Latest(nil))
	reg.On("user.lifecycle.*", func(context.Context, handlers.Event) error { return errors.New("503 from the HR system") }, handlers.Name("flaky"))
	reg.On("user.lifecycle.*", func(context.Context, handlers.Event) error { return handlers.Permanent(errors.New("no such employee")) }, handlers.Name("strict"))
	reg.On("user.*", func(context.Context, handlers.Event) error { return nil }, handlers.Name("suspends-only"),
		handlers.Where(func(e okta.LogEvent) bool { return e.EventType == "user.lifecycle.suspend" }))
	r := handlertest.New(reg)

	got := r.RunLogEvent(t, user("e-new", "user.lifecycle.activate", "2026-01-01T10:00:02.000Z"))
	want := handlertest.Results{
		{Handler: "sync-user", Outcome: handlertest.Ran},
		{Handler: "flaky", Outcome: handlertest.Failed, Err: "503 from the HR system"},
		{Handler: "strict", Outcome: handlertest.Permanent, Err: "permanent: no such employee"},
		{Handler: "suspends-only", Outcome: handlertest.Filtered},
	}
	if got.String() != want.String() {
		t.Fatalf("got  %v\nwant %v", got, want)
	}
	// An older event of the same user, late: skipped as stale.
	got = r.RunLogEvent(t, user("e-old", "user.lifecycle.deactivate", "2026-01-01T10:00:01.000Z"))
	if o := got.Of("sync-user").Outcome; o != handlertest.SkippedStale || status != "user.lifecycle.activate" {
		t.Fatalf("sync-user %s, status %s: %v", o, status, got)
	}
	// The newest again: a duplicate.
	if o := r.RunLogEvent(t, user("e-new", "user.lifecycle.activate", "2026-01-01T10:00:02.000Z")).Of("sync-user").Outcome; o != handlertest.Duplicate {
		t.Fatalf("redelivery: %s", o)
	}
}

// The events/okta samples run as they are, and a handler that calls Okta
// reaches the stand-in org, which records what Okta would.
func TestRunFileOnTheSamplesWithTheStandInOrg(t *testing.T) {
	reg := &handlers.Registry{}
	s, org := handlertest.Services(t, nil)
	reg.On("user.lifecycle.deactivate", func(ctx context.Context, ev handlers.Event) error {
		for _, u := range ev.LogEvent().TargetsOfType(okta.TypeUser) {
			if err := s.Okta.Call(ctx, http.MethodDelete, "/api/v1/users/"+u.ID+"/sessions", nil, nil); err != nil {
				return err
			}
		}
		return nil
	}, handlers.Name("revoke-sessions"))
	reg.On("user.session.start", func(context.Context, handlers.Event) error { return nil }, handlers.Name("audit"))
	r := handlertest.New(reg)
	if got := r.RunFile(t, sample("user.lifecycle.deactivate.json")); got.Of("revoke-sessions").Outcome != handlertest.Ran {
		t.Fatalf("%v", got)
	}
	var ev struct{ EventType string }
	if evs := org.Events(); len(evs) != 1 || json.Unmarshal(evs[0], &ev) != nil || ev.EventType != "user.session.clear" {
		t.Fatalf("Okta recorded %s", evs)
	}
	if got := r.RunFile(t, sample("user.session.start.json")); len(got) != 1 || got[0].Outcome != handlertest.Ran {
		t.Fatalf("%v", got)
	}
	// A type no handler takes: no result.
	if got := r.RunFile(t, sample("policy.lifecycle.update.json")); len(got) != 0 {
		t.Fatalf("%v", got)
	}
	// A whole delivery runs each of its events.
	if got := r.RunFile(t, filepath.Join("..", "..", "..", "events", "delivery.json")); len(got) == 0 {
		t.Fatalf("delivery.json: no handler ran")
	}
}

// A handler's own lines carry the event's fields.
func TestRunLogsTheHandlersOwnLinesWithTheEvent(t *testing.T) {
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.activate", func(ctx context.Context, ev handlers.Event) error {
		handlers.Logger(ctx).InfoContext(ctx, "welcome mail sent")
		return nil
	}, handlers.Name("welcome"))
	r := handlertest.New(reg)
	r.Log = new(strings.Builder)
	r.RunLogEvent(t, user("e-1", "user.lifecycle.activate", ""))
	for _, want := range []string{`"msg":"welcome mail sent"`, `"eventUuid":"e-1"`, `"handler":"welcome"`, `"awsRequestId":"handlertest-1"`} {
		if !strings.Contains(r.Log.String(), want) {
			t.Errorf("log has no %s:\n%s", want, r.Log)
		}
	}
}

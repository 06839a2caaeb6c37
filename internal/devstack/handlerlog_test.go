package devstack_test

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/samtemplate"
	"github.com/hookline/hookline/internal/standin"
)

// TestEventByUUIDFindsTheHandlersOwnLines runs a worker bootstrap whose
// handlers log with handlers.Logger(ctx) on the dev stack, delivers a user's
// activate and then its older deactivate, and applies the template's saved
// query "event by uuid" (its filter) to what the running functions printed:
// for each event it finds the handler's own lines, with eventUuid,
// eventType, handler and awsRequestId, and the stale skip of the late one.
func TestEventByUUIDFindsTheHandlersOwnLines(t *testing.T) {
	t.Parallel()
	worker := devstacktest.Build(t, "./internal/devstack/testdata/handlerlog")
	s, l := startStack(t, worker, devstack.Overrides{})

	tpl, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	query, _ := tpl.Resources["EventByUuidQuery"].Properties["QueryString"].(string)
	match := eventByUUIDFilter(t, query)

	newer, activate := standin.NewEvent("user.lifecycle.activate")
	time.Sleep(5 * time.Millisecond)
	older, deactivate := standin.NewEvent("user.lifecycle.deactivate")
	// Published before the activate, delivered after it.
	var d map[string]any
	_ = json.Unmarshal(deactivate, &d)
	d["published"] = time.Now().Add(-time.Minute).UTC().Format(time.RFC3339Nano)
	deactivate, _ = json.Marshal(d)
	for i, ev := range []json.RawMessage{activate, deactivate} {
		if status, body := devstacktest.Call(t, s, "POST", s.Secret, standin.Delivery(standin.DevHookURL, ev)); status != 200 {
			t.Fatalf("deliver = %d %s", status, body)
		}
		id := []string{newer, older}[i]
		waitFor(t, "the event handled", 20*time.Second, func() bool { return l.count("provisioned")[id] == 1 })
	}
	waitFor(t, "both events handled", 20*time.Second, func() bool {
		return l.count("provisioned")[older] == 1 && l.count("stale skipped")[older] == 1
	})

	found := func(uuid string) map[string]map[string]any {
		l.mu.Lock()
		defer l.mu.Unlock()
		out := map[string]map[string]any{}
		for _, r := range l.raw {
			_, line, _ := strings.Cut(r, " | ")
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				m = map[string]any{}
			}
			if match(m, line, uuid) {
				msg, _ := m["msg"].(string)
				out[msg] = m
			}
		}
		return out
	}
	for uuid, want := range map[string][]string{newer: {"provisioned", "synced"}, older: {"provisioned", "stale skipped"}} {
		got := found(uuid)
		for _, msg := range want {
			line, ok := got[msg]
			if !ok {
				var msgs []string
				for k := range got {
					msgs = append(msgs, k)
				}
				t.Errorf("event by uuid %s: no %q line among %q", uuid, msg, msgs)
				continue
			}
			for _, field := range []string{"eventUuid", "eventType", "handler", "awsRequestId"} {
				if v, _ := line[field].(string); v == "" {
					t.Errorf("%q line of %s has no %s: %v", msg, uuid, field, line)
				}
			}
		}
		if _, ok := got["synced"]; ok && uuid == older {
			t.Errorf("the older deactivate ran the Latest handler after the newer activate")
		}
	}
	if line := found(older)["stale skipped"]; line["newerEventUuid"] != newer {
		t.Errorf("stale skipped line %v, want newerEventUuid %s", line, newer)
	}
}

// eventByUUIDFilter reads the filter of the "event by uuid" query: field
// comparisons (`f = "PASTE-EVENT-UUID"`) and @message matches (`@message like
// "PASTE-EVENT-UUID"`) joined by or, and returns it as a predicate on a
// printed line (parsed and raw).
func eventByUUIDFilter(t *testing.T, query string) func(m map[string]any, raw, uuid string) bool {
	t.Helper()
	filter := regexp.MustCompile(`(?m)^\s*\|\s*filter\s+(.+)$`).FindStringSubmatch(query)
	if filter == nil {
		t.Fatalf("event by uuid has no filter:\n%s", query)
	}
	type term struct {
		field string
		like  bool
	}
	var terms []term
	for _, part := range strings.Split(filter[1], " or ") {
		if m := regexp.MustCompile(`^\s*([\w.@]+)\s*=\s*"PASTE-EVENT-UUID"\s*$`).FindStringSubmatch(part); m != nil {
			terms = append(terms, term{field: m[1]})
		} else if m := regexp.MustCompile(`^\s*@message\s+like\s+"PASTE-EVENT-UUID"\s*$`).FindStringSubmatch(part); m != nil {
			terms = append(terms, term{like: true})
		} else {
			t.Fatalf("event by uuid: filter term %q is not one this test reads", part)
		}
	}
	return func(m map[string]any, raw, uuid string) bool {
		for _, tm := range terms {
			if tm.like && strings.Contains(raw, uuid) {
				return true
			}
			if !tm.like && m[tm.field] == uuid {
				return true
			}
		}
		return false
	}
}

package worker_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/standin"
)

// workerLines runs the real worker bootstrap under aws-lambda-rie with the
// template's environment for the stack plus env, invokes it with the same
// one-event batch twice, and returns its JSON log lines.
func workerLines(t *testing.T, s *stack, env ...string) []map[string]any {
	t.Helper()
	rie := devstacktest.StartRIE(t, s.k, "worker", "", env...)
	uuid, raw := standin.NewEvent("user.lifecycle.create")
	batch := events.SQSEvent{Records: []events.SQSMessage{{
		MessageId: "m-" + uuid, ReceiptHandle: "rh", Body: string(envelope.Encode("d1", "src", time.Now(), raw)),
		Attributes: map[string]string{"ApproximateReceiveCount": "1"}, EventSource: "aws:sqs",
	}}}
	payload, _ := json.Marshal(batch)
	for range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		out, err := rie.Invoke(ctx, payload)
		cancel()
		if err != nil || !strings.Contains(string(out), `"batchItemFailures":[]`) {
			t.Fatalf("invoke: %s %v\n%s", out, err, rie.Logs())
		}
	}
	var lines []map[string]any
	// An answer can come before the function's last line: wait for both batch lines.
	for deadline := time.Now().Add(5 * time.Second); ; {
		lines = lines[:0]
		batches := 0
		for _, l := range strings.Split(rie.Logs(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(l), &m) == nil && m["msg"] != nil {
				lines = append(lines, m)
				if m["msg"] == "batch handled" {
					batches++
				}
			}
		}
		if batches == 2 || time.Now().After(deadline) || strings.Contains(strings.Join(env, " "), "LOG_LEVEL=warn") {
			return lines
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func count(lines []map[string]any, msg string) int {
	n := 0
	for _, l := range lines {
		if l["msg"] == msg {
			n++
		}
	}
	return n
}

func find(lines []map[string]any, msg string) map[string]any {
	for _, l := range lines {
		if l["msg"] == msg {
			return l
		}
	}
	return nil
}

// TestWorkerBootstrapSettings checks, on the real worker bootstrap under
// rie, what the README promises of its settings: the ledger is off without
// LEDGER_TABLE (a duplicate runs the handlers again) and on with it (a
// duplicate is skipped); LEDGER_RETENTION defaults to 120 days; LOG_LEVEL
// filters the lines; the event log writes every field unless
// EVENT_LOG_FIELDS says otherwise; without DLQ_URL it warns.
func TestWorkerBootstrapSettings(t *testing.T) {
	s := newStack(t, 30)

	t.Run("template environment: ledger on, retention from the template, all event log fields", func(t *testing.T) {
		// With the EventBridge fan-out on: its handler goes through the
		// ledger, the event log (idempotent) does not.
		lines := workerLines(t, s, "LOG_LEVEL=info", "EVENT_BUS_NAME=okta-events")
		on := find(lines, "idempotency ledger on")
		if on == nil || on["retentionDays"] != 120.0 {
			t.Fatalf("ledger line %v, want on with 120 days", on)
		}
		if fanout := find(lines, "EventBridge fan-out on"); fanout == nil || fanout["eventBus"] != "okta-events" || fanout["source"] != "hookline.okta" {
			t.Fatalf("fan-out line %v", fanout)
		}
		if count(lines, "okta event") != 2 || count(lines, "duplicate skipped") != 1 || find(lines, "duplicate skipped")["handler"] != "event-bus" {
			t.Fatalf("event logged %d times, duplicates skipped %d: want 2 (the event log needs no ledger) and 1 (event-bus)", count(lines, "okta event"), count(lines, "duplicate skipped"))
		}
		ev := find(lines, "okta event")
		for _, k := range []string{"published", "actor", "outcome", "displayMessage", "deliveryId"} {
			if _, ok := ev[k]; !ok {
				t.Errorf("event log line lacks %s by default: %v", k, ev)
			}
		}
	})
	t.Run("LEDGER_RETENTION unset: 120 days", func(t *testing.T) {
		lines := workerLines(t, s, "LOG_LEVEL=info", "LEDGER_RETENTION=")
		if on := find(lines, "idempotency ledger on"); on == nil || on["retentionDays"] != 120.0 {
			t.Fatalf("ledger line %v, want the 120-day default", on)
		}
	})
	t.Run("no LEDGER_TABLE: ledger off, a duplicate runs again", func(t *testing.T) {
		lines := workerLines(t, s, "LOG_LEVEL=info", "LEDGER_TABLE=", "DLQ_URL=", "EVENT_BUS_NAME=okta-events")
		if find(lines, "idempotency ledger off: LEDGER_TABLE is not set, duplicates run handlers again") == nil {
			t.Fatal("no ledger-off warning")
		}
		if find(lines, "DLQ_URL is not set: permanent failures are retried with the maximum delay until the redrive policy moves them") == nil {
			t.Fatal("no DLQ_URL warning")
		}
		busRuns := 0
		for _, l := range lines {
			if l["msg"] == "handler ran" && l["handler"] == "event-bus" && l["result"] == "ok" {
				busRuns++
			}
		}
		if count(lines, "okta event") != 2 || count(lines, "duplicate skipped") != 0 || busRuns != 2 {
			t.Fatalf("event logged %d times, event-bus ran %d times, duplicates skipped %d: want 2, 2 and 0", count(lines, "okta event"), busRuns, count(lines, "duplicate skipped"))
		}
	})
	t.Run("EVENT_LOG_FIELDS=none", func(t *testing.T) {
		ev := find(workerLines(t, s, "LOG_LEVEL=info", "EVENT_LOG_FIELDS=none"), "okta event")
		if ev == nil || ev["eventUuid"] == nil || ev["actor"] != nil || ev["displayMessage"] != nil || ev["published"] != nil {
			t.Fatalf("event log line %v, want eventUuid without actor, displayMessage, published", ev)
		}
	})
	t.Run("OWN_ACTOR_IDS: the loop guard skips every handler on the event's actor", func(t *testing.T) {
		lines := workerLines(t, s, "LOG_LEVEL=info", "OWN_ACTOR_IDS=0oa-other, 00u1hooklinedev", "EVENT_BUS_NAME=okta-events")
		if count(lines, "okta event") != 0 || count(lines, "skipped: own actor") != 4 || find(lines, "skipped: own actor")["actorOrClientId"] != "00u1hooklinedev" {
			t.Fatalf("event logged %d times, %d skip lines: want 0 and 4 (event-log and event-bus, two invocations)", count(lines, "okta event"), count(lines, "skipped: own actor"))
		}
		if b := find(lines, "batch handled"); b == nil || b["ownActorSkipped"] != 2.0 {
			t.Fatalf("batch line %v, want ownActorSkipped 2", b)
		}
	})
	t.Run("LOG_LEVEL=warn: warnings only", func(t *testing.T) {
		lines := workerLines(t, s, "LOG_LEVEL=warn", "LEDGER_TABLE=")
		for _, l := range lines {
			// EMF metric lines (msg "metrics") carry no level: LOG_LEVEL is for log lines.
			if _, leveled := l["level"]; leveled && l["level"] != "WARN" && l["level"] != "ERROR" {
				t.Errorf("line at %v with LOG_LEVEL=warn: %v", l["level"], l)
			}
		}
		if find(lines, "idempotency ledger off: LEDGER_TABLE is not set, duplicates run handlers again") == nil {
			t.Error("the ledger-off warning is missing at warn")
		}
		if find(lines, "okta event") != nil {
			t.Error("the INFO event log line is written at warn")
		}
	})
	t.Run("LOG_LEVEL=debug: debug lines", func(t *testing.T) {
		if find(workerLines(t, s, "LOG_LEVEL=debug"), "record handled") == nil {
			t.Fatal("no debug line with LOG_LEVEL=debug")
		}
	})
}

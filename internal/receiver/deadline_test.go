package receiver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/hookline/hookline/internal/auth"
	"github.com/hookline/hookline/internal/auth/authtest"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/queue/queuetest"
)

// notEnqueuedLines returns the "events not enqueued" log lines.
func notEnqueuedLines(t *testing.T, logs []byte) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range bytes.Split(bytes.TrimSpace(logs), []byte("\n")) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", line)
		}
		if rec["msg"] == "events not enqueued" {
			out = append(out, rec)
		}
	}
	return out
}

// With SQS down, a delivery of many events is named in a few lines, each
// uuid exactly once, instead of one line per event.
func TestEventsLeftBehindAreNamedInBoundedLines(t *testing.T) {
	f := newFixture(Config{})
	f.mem.Err = func(int) error { return errors.New("sqs down") }
	const n = 2500
	resp, _ := f.h.Handle(context.Background(), request("POST", authed(nil), delivery(n, "user.lifecycle.create")))
	if resp.StatusCode != 503 {
		t.Fatalf("status %d, want 503", resp.StatusCode)
	}
	lines := notEnqueuedLines(t, f.logs.Bytes())
	if len(lines) != 3 {
		t.Fatalf("%d lines for %d events, want 3 of at most %d uuids", len(lines), n, UUIDsPerLogLine)
	}
	seen := map[string]int{}
	sqsErr := false
	for _, l := range lines {
		uuids := strings.Fields(l["eventUuids"].(string))
		if l["count"] != float64(len(uuids)) || l["cause"] != causeNotSent || l["deliveryId"] != "delivery-1" {
			t.Fatalf("line %v", l)
		}
		// Each line shows the error of its first event: SQS's, or the
		// budget's for batches never sent.
		sqsErr = sqsErr || strings.Contains(l["error"].(string), "sqs down")
		for _, u := range uuids {
			seen[u]++
		}
	}
	if !sqsErr {
		t.Fatal("no line shows the error SQS gave")
	}
	for i := range n {
		if u := "uuid-" + itoa(i); seen[u] != 1 {
			t.Fatalf("%s named %d times", u, seen[u])
		}
	}
}

// Each cause gets its own lines, so a permanent failure stands out.
func TestEventsLeftBehindAreGroupedByCause(t *testing.T) {
	f := newFixture(Config{})
	f.mem.Reject = func(_ int, m queue.Message) bool { return m.Attributes["eventUuid"] == "uuid-2" }
	f.mem.Fail = func(_ int, m queue.Message) bool { return m.Attributes["eventUuid"] == "uuid-4" }
	resp, _ := f.h.Handle(context.Background(), request("POST", authed(nil), delivery(6, "x")))
	if resp.StatusCode != 500 {
		t.Fatalf("status %d, want 500", resp.StatusCode)
	}
	got := map[string]string{}
	for _, l := range notEnqueuedLines(t, f.logs.Bytes()) {
		got[l["cause"].(string)] = l["eventUuids"].(string)
	}
	if len(got) != 2 || got[causeRejected] != "uuid-2" || got[causeNotSent] != "uuid-4" {
		t.Fatalf("lines by cause %v", got)
	}
}

// An event without a uuid is still counted on its line, as (no-uuid).
func TestEventWithoutUUIDLeftBehindIsShown(t *testing.T) {
	f := newFixture(Config{})
	f.mem.Err = func(int) error { return errors.New("sqs down") }
	resp, _ := f.h.Handle(context.Background(), request("POST", authed(nil), `{"eventType":"com.okta.event_hook","data":{"events":[{"uuid":"a"},{"eventType":"x"}]}}`))
	lines := notEnqueuedLines(t, f.logs.Bytes())
	if resp.StatusCode != 503 || len(lines) != 1 || lines[0]["count"] != float64(2) || !strings.Contains(lines[0]["eventUuids"].(string), "(no-uuid)") {
		t.Fatalf("status %d, lines %v", resp.StatusCode, lines)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// invokeWithDeadline runs Handle with a 2 s deadline, as Lambda gives the
// template's receiver, and returns the status and how long it took.
func invokeWithDeadline(t *testing.T, h *Handler, body string) (int, time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	resp, err := h.Handle(ctx, request("POST", authed(nil), body))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, time.Since(start)
}

// SQS that never answers: the delivery is answered 503 when the time up to
// the deadline minus the reserve is used up, not killed by the timeout.
func TestHangingSQSAnswers503BeforeTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(Config{})
		f.mem.Latency = time.Hour
		f.h.pub = &queue.Publisher{Sender: f.mem, Budget: 10 * time.Second}
		status, took := invokeWithDeadline(t, f.h, delivery(30, "x"))
		if status != 503 || took != 2*time.Second-DefaultReserve {
			t.Fatalf("status %d after %v, want 503 after %v", status, took, 2*time.Second-DefaultReserve)
		}
		if len(notEnqueuedLines(t, f.logs.Bytes())) != 1 {
			t.Fatalf("want the 30 events named in one line:\n%s", f.logs)
		}
	})
}

// Secrets Manager that never answers, once the cached values have expired:
// 503 within the fetch timeout.
func TestHangingSecretsManagerAnswers503BeforeTheDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := authtest.NewStatic(secret, "")
		v := auth.NewVerifier(store, auth.Settings{TTL: time.Minute})
		h := New(Config{}, v, &queue.Publisher{Sender: &queuetest.Memory{}}, slog.New(slog.NewJSONHandler(io.Discard, nil)))
		if status, _ := invokeWithDeadline(t, h, delivery(1, "x")); status != 200 {
			t.Fatalf("status %d", status)
		}
		time.Sleep(time.Minute)
		store.SetHang(true)
		status, took := invokeWithDeadline(t, h, delivery(1, "x"))
		if status != 503 || took != auth.DefaultFetchTimeout {
			t.Fatalf("status %d after %v, want 503 after the %v fetch timeout", status, took, auth.DefaultFetchTimeout)
		}
	})
}

// An unknown value that cannot be checked against a fresh read gets 503, so
// that Okta retries if it was a just-rotated secret.
func TestUnconfirmableValueGets503(t *testing.T) {
	f := newFixture(Config{})
	if resp, _ := f.h.Handle(context.Background(), request("POST", authed(nil), delivery(1, "x"))); resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	f.store.SetErr(errors.New("ThrottlingException"))
	resp, _ := f.h.Handle(context.Background(), request("POST", authed(map[string]string{"authorization": "maybe-rotated"}), delivery(1, "x")))
	if resp.StatusCode != 503 || !strings.Contains(f.logs.String(), `"reason":"auth value unconfirmed"`) {
		t.Fatalf("status %d, logs %s", resp.StatusCode, f.logs)
	}
}

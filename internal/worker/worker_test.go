package worker

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/handlers"
)

func record(id, body string) events.SQSMessage {
	return events.SQSMessage{MessageId: id, Body: body, Attributes: map[string]string{"ApproximateReceiveCount": "2"}}
}

func eventBody(uuid, eventType string) string {
	return string(envelope.Encode("d1", "src", time.Unix(0, 0), json.RawMessage(`{"uuid":"`+uuid+`","eventType":"`+eventType+`","published":"2024-01-01T00:00:00Z"}`)))
}

func TestHandle(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	reg := &handlers.Registry{}
	reg.On("user.lifecycle.*", func(_ context.Context, ev handlers.Event) error {
		mu.Lock()
		ran = append(ran, ev.UUID)
		mu.Unlock()
		if ev.ReceiveCount != 2 || ev.DeliveryID != "d1" || ev.Published.IsZero() {
			return errors.New("event fields not decoded")
		}
		return nil
	})
	reg.On("app.fail", func(context.Context, handlers.Event) error { return errors.New("downstream 500") })
	reg.On("app.permanent", func(context.Context, handlers.Event) error { return handlers.Permanent(errors.New("bad")) })
	reg.On("app.panic", func(context.Context, handlers.Event) error { panic("boom") })
	reg.On("app.mixed", func(context.Context, handlers.Event) error { return nil }, handlers.Name("ok"))
	reg.On("app.mixed", func(context.Context, handlers.Event) error { return errors.New("second fails") }, handlers.Name("bad"))
	reg.On("app.slow", func(ctx context.Context, _ handlers.Event) error {
		<-ctx.Done()
		return ctx.Err()
	}, handlers.Timeout(10*time.Millisecond))

	batch := events.SQSEvent{Records: []events.SQSMessage{
		record("m-ok-1", eventBody("u1", "user.lifecycle.create")),
		record("m-ok-2", eventBody("u2", "user.lifecycle.deactivate")),
		record("m-nohandler", eventBody("u3", "group.user_membership.add")),
		record("m-fail", eventBody("u4", "app.fail")),
		record("m-permanent", eventBody("u5", "app.permanent")),
		record("m-panic", eventBody("u6", "app.panic")),
		record("m-mixed", eventBody("u7", "app.mixed")),
		record("m-slow", eventBody("u8", "app.slow")),
		record("m-notjson", "{"),
		record("m-noversion", `{"event":{"uuid":"x"}}`),
		record("m-nouuid", eventBody("", "user.lifecycle.create")),
	}}
	var logs bytes.Buffer
	w := &Worker{Registry: reg, Log: slog.New(slog.NewJSONHandler(&logs, nil)), Concurrency: 3}
	resp, err := w.Handle(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range resp.BatchItemFailures {
		failed = append(failed, f.ItemIdentifier)
	}
	sort.Strings(failed)
	want := []string{"m-fail", "m-mixed", "m-notjson", "m-nouuid", "m-noversion", "m-panic", "m-permanent", "m-slow"}
	if strings.Join(failed, ",") != strings.Join(want, ",") {
		t.Fatalf("failures = %v, want %v", failed, want)
	}
	sort.Strings(ran)
	if strings.Join(ran, ",") != "u1,u2" {
		t.Fatalf("handler ran for %v", ran)
	}
	out := logs.String()
	for _, needle := range []string{`"msg":"no handler for event type"`, `"msg":"malformed message"`, `handler panicked: boom`, `"eventUuid":"u4"`} {
		if !strings.Contains(out, needle) {
			t.Errorf("logs lack %s", needle)
		}
	}
}

func TestEmptyBatch(t *testing.T) {
	w := &Worker{Registry: &handlers.Registry{}, Log: slog.New(slog.DiscardHandler)}
	resp, err := w.Handle(context.Background(), events.SQSEvent{})
	if err != nil || len(resp.BatchItemFailures) != 0 {
		t.Fatalf("resp %+v err %v", resp, err)
	}
}

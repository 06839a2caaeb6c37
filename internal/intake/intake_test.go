package intake

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/queue"
)

func ev(uuid, typ string) okta.Event {
	raw := `{"uuid":"` + uuid + `","eventType":"` + typ + `","published":"2024-01-01T00:00:00.000Z", "x": "<&>"}`
	if uuid == "" {
		raw = `{"eventType":"` + typ + `"}`
	}
	return okta.ParseEvent([]byte(raw))
}

var at = time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)

func TestSingleOrgMessagesAreByteIdenticalToBefore(t *testing.T) {
	e := ev("u1", "user.lifecycle.create")
	for _, c := range []struct {
		b          Batch
		wantOrigin string
	}{
		{Batch{Origin: envelope.OriginHook, HookURL: "https://x.okta.com/api/v1/eventHooks/h", DeliveryID: "d"}, "https://x.okta.com/api/v1/eventHooks/h"},
		{Batch{Origin: envelope.OriginSystemLog, DeliveryID: "reconcile/t"}, envelope.OriginSystemLog},
		{Batch{Origin: envelope.OriginReplay, DeliveryID: "replay/t"}, envelope.OriginSystemLog},
	} {
		c.b.ReceivedAt, c.b.Events = at, []okta.Event{e}
		msgs := c.b.Messages()
		if want := string(envelope.Encode(c.b.DeliveryID, c.wantOrigin, at, e.Raw)); string(msgs[0].Body) != want {
			t.Errorf("%s: body\n got %s\nwant %s", c.b.Origin, msgs[0].Body, want)
		}
		if _, ok := msgs[0].Attributes[envelope.AttrOrg]; ok || len(msgs[0].Attributes) != 3 {
			t.Errorf("%s: attributes %v, want uuid, type and published only", c.b.Origin, msgs[0].Attributes)
		}
	}
}

func TestEveryMessageCarriesItsOrg(t *testing.T) {
	b := Batch{Origin: envelope.OriginLogStream, DeliveryID: "eb-1", Org: "acme-preview", ReceivedAt: at,
		Events: []okta.Event{ev("u1", "a"), ev("u2", "b")}}
	for i, m := range b.Messages() {
		got, err := envelope.Decode(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		if got.Org != "acme-preview" || got.Origin != envelope.OriginLogStream || string(got.Event) != string(b.Events[i].Raw) {
			t.Errorf("message %d = %+v", i, got)
		}
		if m.Attributes[envelope.AttrOrg] != "acme-preview" || m.Attributes[envelope.AttrEventUUID] != b.Events[i].UUID {
			t.Errorf("message %d attributes = %v", i, m.Attributes)
		}
	}
}

type marks struct {
	marked  map[string]bool
	origin  string
	written []string
	err     error
}

func (m *marks) Mark(_ context.Context, origin string, uuids []string) error {
	m.origin, m.written = origin, append(m.written, uuids...)
	return m.err
}

func (m *marks) Marked(_ context.Context, uuids []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, u := range uuids {
		if m.marked[u] {
			out[u] = true
		}
	}
	return out, m.err
}

func TestMarkOnlyWhatIsOnTheQueueWithTheBatchOrigin(t *testing.T) {
	b := Batch{Origin: envelope.OriginLogStream, Events: []okta.Event{ev("u1", "a"), ev("u2", "a"), ev("", "a"), ev("u4", "a")}}
	m := &marks{}
	n, err := Mark(context.Background(), m, b, queue.Result{Sent: 3, Failed: map[int]error{1: errors.New("x")}})
	if err != nil || n != 2 {
		t.Fatalf("Mark = %d, %v; want 2 (the failed and the uuid-less event are not marked)", n, err)
	}
	if m.origin != envelope.OriginLogStream || len(m.written) != 2 || m.written[0] != "u1" || m.written[1] != "u4" {
		t.Errorf("marked %q with %v", m.origin, m.written)
	}
}

func TestUnmarkedSkipsMarkedAndRepeatedEvents(t *testing.T) {
	b := Batch{Origin: envelope.OriginLogStream, Org: "o", Events: []okta.Event{ev("u1", "a"), ev("u2", "a"), ev("u1", "a"), ev("", "a")}}
	out, skipped, err := Unmarked(context.Background(), &marks{marked: map[string]bool{"u2": true}}, b)
	if err != nil {
		t.Fatal(err)
	}
	if skipped != 2 || len(out.Events) != 2 || out.Events[0].UUID != "u1" || out.Events[1].UUID != "" || out.Org != "o" {
		t.Errorf("Unmarked = %+v, skipped %d", out, skipped)
	}
	if _, _, err := Unmarked(context.Background(), &marks{err: errors.New("down")}, b); err == nil {
		t.Error("a mark read that fails must fail the intake, not pass events unchecked")
	}
}

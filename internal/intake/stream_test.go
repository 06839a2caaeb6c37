package intake

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/queue"
)

type publisher struct {
	msgs []queue.Message
	err  error
}

func (p *publisher) Publish(_ context.Context, msgs []queue.Message) queue.Result {
	if p.err != nil {
		return queue.Result{Failed: map[int]error{0: p.err}}
	}
	p.msgs = append(p.msgs, msgs...)
	return queue.Result{Sent: len(msgs)}
}

const source = "aws.partner/okta.com/acme-preview/hookline"

func streamed(uuid, typ string) events.EventBridgeEvent {
	return events.EventBridgeEvent{ID: "eb-" + uuid, Source: source, DetailType: StreamDetailType,
		Detail: json.RawMessage(`{"uuid":"` + uuid + `","eventType":"` + typ + `","published":"2024-01-01T00:00:00.000Z"}`)}
}

func TestStreamOrgIsTheSourcesSubdomain(t *testing.T) {
	if org, err := StreamOrg(source); err != nil || org != "acme-preview" {
		t.Errorf("StreamOrg = %q, %v", org, err)
	}
	for _, bad := range []string{"", "aws.partner/okta.com/", "aws.partner/okta.com/acme", "aws.partner/other.com/acme/x", "hookline.okta"} {
		if _, err := StreamOrg(bad); !errors.Is(err, ErrNotOktaStream) {
			t.Errorf("StreamOrg(%q) err = %v, want ErrNotOktaStream", bad, err)
		}
	}
}

func TestStreamQueuesOnlySubscribedUnmarkedEventsAndMarksThem(t *testing.T) {
	p, m := &publisher{}, &marks{marked: map[string]bool{"hooked": true}}
	s := &Stream{Publisher: p, Marks: m, Types: []string{"user.lifecycle.create"}}
	ctx := context.Background()

	if r, err := s.Take(ctx, streamed("other", "user.session.start")); err != nil || r.Skipped != "unsubscribed" {
		t.Errorf("unsubscribed: %+v, %v", r, err)
	}
	if r, err := s.Take(ctx, streamed("hooked", "user.lifecycle.create")); err != nil || r.Skipped != "marked" {
		t.Errorf("marked by the hook: %+v, %v", r, err)
	}
	if r, err := s.Take(ctx, streamed("new", "user.lifecycle.create")); err != nil || !r.Queued || !r.Marked {
		t.Errorf("new: %+v, %v", r, err)
	}
	if len(p.msgs) != 1 {
		t.Fatalf("queued %d messages, want only the new event", len(p.msgs))
	}
	got, _ := envelope.Decode(p.msgs[0].Body)
	if got.Org != "acme-preview" || got.Origin != envelope.OriginLogStream || got.DeliveryID != "eb-new" {
		t.Errorf("envelope = %+v", got)
	}
	if m.origin != envelope.OriginLogStream || len(m.written) != 1 || m.written[0] != "new" {
		t.Errorf("marked %v with %q", m.written, m.origin)
	}
}

func TestStreamEventNotQueuedIsRetried(t *testing.T) {
	var logs strings.Builder
	s := &Stream{Publisher: &publisher{err: queue.ErrRejected}, Marks: &marks{}, Types: []string{"a"}, Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	if err := s.Handle(context.Background(), streamed("u", "a")); err == nil {
		t.Error("an event not queued must fail the invocation, so that EventBridge sends it again")
	}
	if !strings.Contains(logs.String(), `"msg":"stream event not queued","eventUuid":"u"`) {
		t.Errorf("the failure is not logged with the event's uuid:\n%s", logs.String())
	}
	s = &Stream{Publisher: &publisher{}, Marks: &marks{err: errors.New("dynamodb down")}, Types: []string{"a"}}
	if err := s.Handle(context.Background(), streamed("u", "a")); err == nil {
		t.Error("marks unread: the event must not be queued unchecked, and the invocation must fail")
	}
}

func TestStreamDropsWhatIsNotOktasWithoutRetry(t *testing.T) {
	p := &publisher{}
	s := &Stream{Publisher: p, Marks: &marks{}, Types: []string{"a"}}
	for name, ev := range map[string]events.EventBridgeEvent{
		"source":      {Source: "hookline.okta", DetailType: StreamDetailType, Detail: json.RawMessage(`{"uuid":"u","eventType":"a"}`)},
		"detail-type": {Source: source, DetailType: "Other", Detail: json.RawMessage(`{"uuid":"u","eventType":"a"}`)},
		"detail":      {Source: source, DetailType: StreamDetailType, Detail: json.RawMessage(`"x"`)},
	} {
		if _, err := s.Take(context.Background(), ev); !errors.Is(err, ErrNotOktaStream) {
			t.Errorf("%s: Take err = %v, want ErrNotOktaStream", name, err)
		}
		if err := s.Handle(context.Background(), ev); err != nil {
			t.Errorf("%s: Handle err = %v, want nil (retrying cannot help)", name, err)
		}
	}
	if len(p.msgs) != 0 {
		t.Errorf("queued %d", len(p.msgs))
	}
}

package reconcile_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/envelope"
	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/reconcile"
)

// drainDLQ receives and deletes every message of the DLQ.
func (f *fixture) drainDLQ(t *testing.T) []struct {
	env   envelope.Message
	attrs map[string]string
} {
	t.Helper()
	var out []struct {
		env   envelope.Message
		attrs map[string]string
	}
	for {
		res, err := f.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &f.dlqURL, MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Messages) == 0 {
			return out
		}
		for _, m := range res.Messages {
			// Not envelope.Decode: it refuses an event that is not an object,
			// which is what some of these are.
			env, err := decodeLoose([]byte(aws.ToString(m.Body)))
			if err != nil {
				t.Fatalf("DLQ body %s: %v", aws.ToString(m.Body), err)
			}
			attrs := map[string]string{}
			for k, v := range m.MessageAttributes {
				attrs[k] = aws.ToString(v.StringValue)
			}
			out = append(out, struct {
				env   envelope.Message
				attrs map[string]string
			}{env, attrs})
			if _, err := f.sqs.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &f.dlqURL, ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestEventsThatCannotBeKeyedAreParkedWithTheirReason: whatever the System
// Log returns that has no usable uuid (not an object, null, a numeric,
// missing, duplicated or upper-case UUID key, one no key can hold) is
// parked in the DLQ, raw in an envelope, with its reason in failureReason,
// counted in EventsUnkeyable, and the cursor moves on. Read again, it is
// not parked twice.
func TestEventsThatCannotBeKeyedAreParkedWithTheirReason(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	proxy := f.proxied(t)
	f.events("ok", 3, 30*time.Minute)
	pub := f.now.Add(-30 * time.Minute).UTC().Format("2006-01-02T15:04:05.000Z")
	tail := `"eventType":"` + subscribed + `","published":"` + pub + `"}`
	unkeyed := []string{
		`null`, `42`, `"a string"`, `[{"uuid":"in-an-array"}]`,
		`{"UUID":"upper-case",` + tail,
		`{"uuid":12345,` + tail,
		`{"uuid":"dup-a","uuid":"dup-b",` + tail,
		`{` + tail[:len(tail)-1] + `}`, // no uuid
		`{"uuid":"ctl\u0001x",` + tail,
		`{"uuid":"\ud800",` + tail,
	}
	proxy.SetBody(func(n int, r *http.Request, body []byte) []byte {
		if r.URL.Query().Get("after") != "" {
			return body
		}
		// The first page of a read from the lookback.
		return append([]byte("["+strings.Join(unkeyed, ",")+","), bytes.TrimPrefix(body, []byte("["))...)
	})
	r := f.reconciler(100)
	r.DLQ = &queue.Publisher{Sender: queue.SQSSender{Client: f.sqs, QueueURL: f.dlqURL}, Budget: 5 * time.Second}
	var emf bytes.Buffer
	r.Metrics = metrics.New("Hookline", "test", &emf)
	st := run(t, r)
	if st.Queued != 3 || st.Parked != len(unkeyed) || st.Stopped != reconcile.StopCaughtUp {
		t.Fatalf("stats %+v: want 3 queued, %d parked", st, len(unkeyed))
	}
	if !strings.Contains(emf.String(), `"EventsUnkeyable":10`) {
		t.Fatalf("no EventsUnkeyable metric: %s", emf.String())
	}
	if !strings.Contains(f.logs.String(), `"parked":10`) || !strings.Contains(f.logs.String(), `"msg":"unkeyable event parked in the DLQ"`) {
		t.Fatalf("logs do not say what was parked:\n%s", f.logs)
	}
	parked := f.drainDLQ(t)
	if len(parked) != len(unkeyed) {
		t.Fatalf("%d messages in the DLQ, want %d", len(parked), len(unkeyed))
	}
	want := map[string]bool{}
	for _, u := range unkeyed {
		want[u] = true
	}
	for _, p := range parked {
		if !want[string(p.env.Event)] || p.env.Origin != envelope.OriginSystemLog {
			t.Errorf("parked %s (origin %q): not one of the events, or changed", p.env.Event, p.env.Origin)
		}
		delete(want, string(p.env.Event))
		reason := p.attrs[envelope.AttrFailureReason]
		if !strings.HasPrefix(reason, reconcile.UnkeyableReason) || p.attrs[envelope.AttrFirstFailureAt] == "" {
			t.Errorf("%s: attributes %v", p.env.Event, p.attrs)
		}
		if ev := okta.ParseEvent(p.env.Event); ev.EventType != "" && p.attrs[envelope.AttrEventType] != ev.EventType {
			t.Errorf("%s: eventType attribute %q", p.env.Event, p.attrs[envelope.AttrEventType])
		}
		t.Logf("%s: %s", p.env.Event, reason)
	}
	if got := f.drain(t); len(got) != 3 {
		t.Fatalf("queued %d", len(got))
	}

	// The cursor moved on: the next run reads only the empty page.
	if st := run(t, r); st.Seen != 0 || st.Parked != 0 {
		t.Fatalf("second run: %+v", st)
	}
	// Read again from the lookback: nothing is parked or queued twice.
	deleteCursor(t, f)
	if st := run(t, r); st.Parked != 0 || st.Queued != 0 || st.Marked != 3+len(unkeyed) {
		t.Fatalf("run without cursor: %+v", st)
	}
	if p := f.drainDLQ(t); len(p) != 0 {
		t.Fatalf("parked again: %d", len(p))
	}
}

// TestWithoutADLQAnUnkeyableEventStopsTheRunBeforeIt: no DLQ to park in
// (a replay given none) is an error, and the cursor does not pass the
// event.
func TestWithoutADLQAnUnkeyableEventStopsTheRunBeforeIt(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	proxy := f.proxied(t)
	f.events("ok", 3, 30*time.Minute)
	proxy.SetBody(func(n int, r *http.Request, body []byte) []byte {
		return append([]byte("[null,"), bytes.TrimPrefix(body, []byte("["))...)
	})
	st, err := runErr(t, f.reconciler(100), time.Minute)
	if err == nil || !strings.Contains(err.Error(), "no DLQ is set") || st.Parked != 0 {
		t.Fatalf("run: %+v %v", st, err)
	}
	if _, err := f.cursors.Load(t.Context(), reconcile.CursorName); err == nil {
		t.Fatal("a cursor was saved past the event")
	}
}

func decodeLoose(body []byte) (envelope.Message, error) {
	var m envelope.Message
	err := json.Unmarshal(body, &m)
	return m, err
}

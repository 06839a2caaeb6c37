package worker

import (
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/envelope"
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

package intake_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/envelope"
)

// TestStreamerUnderRIEQueuesOnceWithTheSourcesOrg runs the real streamer
// bootstrap under aws-lambda-rie (as `sam local invoke` does) on the events
// EventBridge hands it: a streamed event is queued once, stamped with the
// source's org and origin logstream; the same event again is not; an event
// of another source is dropped without an error (no retry).
func TestStreamerUnderRIEQueuesOnceWithTheSourcesOrg(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	rie := devstacktest.StartRIE(t, s, "streamer", "")
	u, ev := newEvent(subscribed)
	invoke := func(source string) {
		t.Helper()
		src, _ := json.Marshal(source)
		// Written out, not marshalled: json.Marshal would escape the
		// event's < and &, and the detail must reach the function as sent.
		payload := []byte(`{"version":"0","id":"eb-` + u + `","detail-type":"SystemLog","source":` + string(src) +
			`,"account":"000000000000","region":"` + devstack.Region + `","resources":[],"detail":` + string(ev) + `}`)
		out, err := rie.Invoke(t.Context(), payload)
		if err != nil || strings.Contains(string(out), "errorMessage") {
			t.Fatalf("invoke: %v %s\n%s", err, out, rie.Logs())
		}
	}
	invoke(devstack.DevLogStreamSource)
	invoke(devstack.DevLogStreamSource)
	invoke("hookline.okta")

	queueURL := s.QueueURL("EventsQueue")
	out, err := s.Clients.SQS.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10,
		WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) != 1 {
		t.Fatalf("queued %d messages, want 1\n%s", len(out.Messages), rie.Logs())
	}
	m := out.Messages[0]
	env, err := envelope.Decode([]byte(aws.ToString(m.Body)))
	if err != nil {
		t.Fatal(err)
	}
	if env.Org != "dev-00000000" || env.Origin != envelope.OriginLogStream || string(env.Event) != string(ev) {
		t.Errorf("envelope = %+v", env)
	}
	if got := aws.ToString(m.MessageAttributes[envelope.AttrOrg].StringValue); got != "dev-00000000" {
		t.Errorf("org attribute = %q", got)
	}
	if !strings.Contains(rie.Logs(), `"msg":"stream event dropped"`) {
		t.Errorf("the other source's event was not logged as dropped:\n%s", rie.Logs())
	}
}

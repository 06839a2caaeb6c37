package eventfiles

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

// The events/ files are `sam local invoke -e` inputs; check that they are
// what they claim to be.

func eventsDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(devstacktest.RepoRoot(t), "events")
}

// decodeStrict unmarshals a file into v, rejecting fields v does not know.
func decodeStrict(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(eventsDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

type oktaDelivery struct {
	EventType          string `json:"eventType"`
	EventTypeVersion   string `json:"eventTypeVersion"`
	CloudEventsVersion string `json:"cloudEventsVersion"`
	Source             string `json:"source"`
	EventID            string `json:"eventId"`
	EventTime          string `json:"eventTime"`
	ContentType        string `json:"contentType"`
	Data               struct {
		Events []logEvent `json:"events"`
	} `json:"data"`
}

type logEvent struct {
	UUID            string          `json:"uuid"`
	Published       string          `json:"published"`
	EventType       string          `json:"eventType"`
	Version         string          `json:"version"`
	DisplayMessage  string          `json:"displayMessage"`
	Severity        string          `json:"severity"`
	LegacyEventType string          `json:"legacyEventType"`
	Client          json.RawMessage `json:"client"`
	Actor           struct {
		ID, Type, AlternateID, DisplayName string
	} `json:"actor"`
	Outcome struct {
		Result string `json:"result"`
	} `json:"outcome"`
	Target                []json.RawMessage `json:"target"`
	Transaction           json.RawMessage   `json:"transaction"`
	DebugContext          json.RawMessage   `json:"debugContext"`
	AuthenticationContext json.RawMessage   `json:"authenticationContext"`
	SecurityContext       json.RawMessage   `json:"securityContext"`
}

func TestEventFilesAPIGateway(t *testing.T) {
	cases := []struct {
		file, method, auth string
		challenge, body    bool
		base64             bool
	}{
		{"verify-get.json", "GET", devstack.DevSecret, true, false, false},
		{"verify-get-noauth.json", "GET", "", true, false, false},
		{"delivery.json", "POST", devstack.DevSecret, false, true, false},
		{"delivery-base64.json", "POST", devstack.DevSecret, false, true, true},
		{"delivery-wrong-auth.json", "POST", "wrong-secret", false, true, false},
	}
	var plainBody string
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			var req events.APIGatewayV2HTTPRequest
			decodeStrict(t, c.file, &req)
			rc := req.RequestContext
			if req.Version != "2.0" || req.RouteKey != c.method+" /okta/events" || rc.RouteKey != req.RouteKey ||
				req.RawPath != "/okta/events" || rc.HTTP.Path != req.RawPath || rc.HTTP.Method != c.method ||
				rc.Stage != "$default" || rc.AccountID == "" || rc.APIID == "" || rc.DomainName == "" ||
				rc.RequestID == "" || rc.Time == "" || rc.TimeEpoch == 0 || rc.HTTP.SourceIP == "" || rc.HTTP.Protocol == "" ||
				rc.HTTP.UserAgent == "" {
				t.Errorf("not a complete payload 2.0 %s event: %+v", c.method, req)
			}
			for k := range req.Headers {
				if k != strings.ToLower(k) {
					t.Errorf("header %q is not lower-case", k)
				}
			}
			if got := req.Headers["authorization"]; got != c.auth {
				t.Errorf("authorization = %q, want %q", got, c.auth)
			}
			if _, ok := req.Headers["x-okta-verification-challenge"]; ok != c.challenge {
				t.Errorf("x-okta-verification-challenge present = %v", ok)
			}
			if req.IsBase64Encoded != c.base64 {
				t.Errorf("isBase64Encoded = %v", req.IsBase64Encoded)
			}
			if !c.body {
				if req.Body != "" {
					t.Errorf("GET with a body")
				}
				return
			}
			body := req.Body
			if c.base64 {
				b, err := base64.StdEncoding.DecodeString(body)
				if err != nil {
					t.Fatalf("body: %v", err)
				}
				body = string(b)
			}
			if cl := req.Headers["content-length"]; cl != strconv.Itoa(len(body)) {
				t.Errorf("content-length %s, body is %d bytes", cl, len(body))
			}
			if ct := req.Headers["content-type"]; ct != "application/json" {
				t.Errorf("content-type %q", ct)
			}
			checkDelivery(t, body)
			if c.file == "delivery.json" {
				plainBody = body
			} else if plainBody != "" && body != plainBody {
				t.Errorf("body differs from delivery.json's")
			}
		})
	}
}

func checkDelivery(t *testing.T, body string) oktaDelivery {
	t.Helper()
	var d oktaDelivery
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatalf("delivery body is not JSON: %v", err)
	}
	if d.EventType != "com.okta.event_hook" || d.EventTypeVersion != "1.0" || d.CloudEventsVersion != "0.1" ||
		d.ContentType != "application/json" || d.EventID == "" || d.EventTime == "" ||
		!strings.HasPrefix(d.Source, "https://") || !strings.Contains(d.Source, "/api/v1/eventHooks/") {
		t.Errorf("not an Okta event hook delivery: %+v", d)
	}
	types, uuids := map[string]bool{}, map[string]bool{}
	for _, e := range d.Data.Events {
		types[e.EventType] = true
		if e.UUID == "" || uuids[e.UUID] {
			t.Errorf("missing or duplicate uuid %q", e.UUID)
		}
		uuids[e.UUID] = true
		if e.Published == "" || e.Version != "0" || e.DisplayMessage == "" || e.Severity == "" || e.LegacyEventType == "" ||
			e.Outcome.Result != "SUCCESS" || e.Actor.ID == "" || len(e.Target) == 0 || e.Client == nil ||
			e.Transaction == nil || e.DebugContext == nil || e.AuthenticationContext == nil || e.SecurityContext == nil {
			t.Errorf("incomplete LogEvent %s (%s)", e.UUID, e.EventType)
		}
	}
	if len(d.Data.Events) < 4 || len(types) < 3 {
		t.Errorf("%d events of %d types, want >= 4 of >= 3", len(d.Data.Events), len(types))
	}
	return d
}

func TestEventFileWorkerBatch(t *testing.T) {
	var ev events.SQSEvent
	decodeStrict(t, "worker-sqs-batch.json", &ev)
	if len(ev.Records) != 3 {
		t.Fatalf("%d records, want 3", len(ev.Records))
	}
	types, ids := map[string]bool{}, map[string]bool{}
	for _, r := range ev.Records {
		if r.EventSource != "aws:sqs" || r.EventSourceARN != "arn:aws:sqs:us-east-1:123456789012:hookline-events" ||
			r.AWSRegion != "us-east-1" || r.MessageId == "" || r.ReceiptHandle == "" || ids[r.MessageId] {
			t.Errorf("bad record metadata: %+v", r)
		}
		ids[r.MessageId] = true
		for _, a := range []string{"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} {
			if r.Attributes[a] == "" {
				t.Errorf("%s: attribute %s missing", r.MessageId, a)
			}
		}
		sum := md5.Sum([]byte(r.Body))
		if r.Md5OfBody != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: md5OfBody does not match the body", r.MessageId)
		}
		var env struct {
			V          int             `json:"v"`
			DeliveryID string          `json:"deliveryId"`
			Source     string          `json:"source"`
			ReceivedAt string          `json:"receivedAt"`
			Event      json.RawMessage `json:"event"`
		}
		dec := json.NewDecoder(strings.NewReader(r.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&env); err != nil {
			t.Fatalf("%s: body is not an envelope: %v", r.MessageId, err)
		}
		var le logEvent
		if err := json.Unmarshal(env.Event, &le); err != nil {
			t.Fatal(err)
		}
		if env.V != 1 || env.DeliveryID == "" || env.Source == "" || env.ReceivedAt == "" || le.UUID == "" {
			t.Errorf("%s: incomplete envelope: %+v", r.MessageId, env)
		}
		for name, want := range map[string]string{"eventUuid": le.UUID, "eventType": le.EventType, "published": le.Published} {
			a := r.MessageAttributes[name]
			if a.DataType != "String" || a.StringValue == nil || *a.StringValue != want {
				t.Errorf("%s: message attribute %s = %+v, want %q", r.MessageId, name, a, want)
			}
		}
		types[le.EventType] = true
	}
	if len(types) != 3 {
		t.Errorf("%d event types, want 3", len(types))
	}
}

func TestEventFilesREADME(t *testing.T) {
	dir := eventsDir(t)
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 6 {
		t.Errorf("only %d event files", len(files))
	}
	for _, f := range files {
		if !bytes.Contains(readme, []byte("`"+filepath.Base(f)+"`")) {
			t.Errorf("README.md does not describe %s", filepath.Base(f))
		}
	}
}

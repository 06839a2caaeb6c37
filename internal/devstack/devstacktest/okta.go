package devstacktest

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/devstack"
)

// Event returns a minimal Okta System Log event of eventType with a fresh
// uuid, as a delivery carries it.
func Event(eventType string) (uuid string, raw json.RawMessage) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	uuid = fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	raw, _ = json.Marshal(map[string]any{
		"uuid": uuid, "eventType": eventType, "version": "0", "severity": "INFO",
		"published":      time.Now().UTC().Format(time.RFC3339Nano),
		"displayMessage": "devstacktest " + eventType,
		"actor":          map[string]any{"id": "00u1devstacktest", "type": "User", "alternateId": "dev@example.com"},
		"outcome":        map[string]any{"result": "SUCCESS"},
	})
	return uuid, raw
}

// Delivery is an Okta event hook delivery (a POST body) of events.
func Delivery(events ...json.RawMessage) []byte {
	b, _ := json.Marshal(map[string]any{
		"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
		"source":    "https://dev-00000000.okta.com/api/v1/eventHooks/devstacktest",
		"eventId":   fmt.Sprintf("devstacktest-%d", time.Now().UnixNano()),
		"eventTime": time.Now().UTC().Format(time.RFC3339), "contentType": "application/json",
		"data": map[string]any{"events": events},
	})
	return b
}

// Call sends a request to the stack's hook endpoint through its HTTP API, as
// Okta does: Authorization is secret, a body is sent as JSON, and a GET
// carries the verification challenge "challenge". It returns the status
// and body of the answer.
func Call(t testing.TB, s *devstack.Stack, method, secret string, body []byte) (int, string) {
	t.Helper()
	// Go does not resolve *.localhost as curl does: dial kumo and keep the
	// API's host name, which kumo routes by.
	req, err := http.NewRequestWithContext(t.Context(), method, s.Kumo.Endpoint+"/okta/events", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = s.APIHost()
	req.Header.Set("Authorization", secret)
	req.Header.Set("User-Agent", "Okta-Integrations")
	if method == http.MethodGet {
		req.Header.Set("x-okta-verification-challenge", "challenge")
	} else {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("devstacktest: %s %s: %v", method, s.URL(), err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

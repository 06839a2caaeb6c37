package devstacktest

import (
	"net/http"
	"testing"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/standin"
)

// Call sends a request to the stack's hook endpoint through its HTTP API, as
// Okta does: Authorization is secret, a body is sent as JSON, and a GET
// carries the verification challenge "challenge". It returns the status
// and body of the answer.
func Call(t testing.TB, s *devstack.Stack, method, secret string, body []byte) (int, string) {
	t.Helper()
	// Go does not resolve *.localhost as curl does: dial kumo and keep the
	// API's host name, which kumo routes by.
	ep := &standin.Endpoint{URL: s.Kumo.Endpoint + "/okta/events", Host: s.APIHost(), Secret: secret}
	var resp standin.Answer
	var err error
	if method == http.MethodGet {
		resp, err = ep.Verify(t.Context(), "challenge")
	} else {
		resp, err = ep.Deliver(t.Context(), body)
	}
	if err != nil {
		t.Fatalf("devstacktest: %s %s: %v", method, s.URL(), err)
	}
	return resp.Status, resp.Body
}

package receiver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/orgs"
)

// TestTwoOrgsOnTheRealBootstrap: the receiver bootstrap under
// aws-lambda-rie, with OKTA_ORGS=prod,preview and preview's hook secret in
// kumo under its granted name. Each org's deliveries are accepted at its own
// URL only and queued stamped with that org; each org's secret on the
// other's URL is refused 401 and an unknown org 404, all without a single
// GetSecretValue after init.
func TestTwoOrgsOnTheRealBootstrap(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	const previewSecret = "preview-hook-secret-0123456789abcdef0123"
	name := orgs.SecretName(devstack.StackName, "preview", orgs.KindHook)
	if _, err := s.Clients.SecretsManager.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(previewSecret)}); err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(s.Kumo.Endpoint)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	proxy := httputil.NewSingleHostReverseProxy(target)
	counter := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasSuffix(req.Header.Get("X-Amz-Target"), ".GetSecretValue") {
			calls.Add(1)
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(counter.Close)
	fn := devstacktest.StartRIE(t, s, "receiver", "", "AWS_ENDPOINT_URL_SECRETS_MANAGER="+counter.URL, "OKTA_ORGS=prod,preview")

	post := func(path, secret, uuid string) int {
		t.Helper()
		req := events.APIGatewayV2HTTPRequest{Version: "2.0", RouteKey: "POST /okta/events/{org}", RawPath: path,
			Headers: map[string]string{"authorization": secret, "content-type": "application/json"},
			Body:    `{"eventType":"com.okta.event_hook","eventId":"d-` + uuid + `","source":"https://x.okta.com/api/v1/eventHooks/h","data":{"events":[{"uuid":"` + uuid + `","eventType":"user.lifecycle.create","published":"2026-01-01T00:00:00Z"}]}}`}
		req.RequestContext.HTTP.Method = "POST"
		req.RequestContext.HTTP.SourceIP = "198.51.100.23"
		payload, _ := json.Marshal(req)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := fn.Invoke(ctx, payload)
		if err != nil {
			t.Fatal(err)
		}
		var resp events.APIGatewayV2HTTPResponse
		if json.Unmarshal(out, &resp) != nil || resp.StatusCode == 0 {
			t.Fatalf("no answer: %s", out)
		}
		return resp.StatusCode
	}
	// Init read both orgs' secrets; the first requests may still join it.
	if post("/okta/events", devstack.DevSecret, "warm-prod") != 200 || post("/okta/events/preview", previewSecret, "warm-preview") != 200 {
		t.Fatal("warm-up deliveries refused")
	}
	before := calls.Load()
	for i, c := range []struct {
		path, secret string
		want         int
	}{
		{"/okta/events/prod", devstack.DevSecret, 200},
		{"/okta/events/preview", previewSecret, 200},
		{"/okta/events/preview", devstack.DevSecret, 401},
		{"/okta/events", previewSecret, 401},
		{"/okta/events/acquired", devstack.DevSecret, 404},
	} {
		if got := post(c.path, c.secret, fmt.Sprintf("e%d", i)); got != c.want {
			t.Errorf("POST %s: %d, want %d", c.path, got, c.want)
		}
	}
	if n := calls.Load() - before; n != 0 {
		t.Errorf("%d GetSecretValue calls for 5 requests after init, want 0", n)
	}
	got := drain(t, s.Clients.SQS, s.QueueURL("EventsQueue"), 4)
	want := map[string]string{"warm-prod": "prod", "warm-preview": "preview", "e0": "prod", "e1": "preview"}
	if len(got) != len(want) {
		t.Fatalf("queued %d events, want %d", len(got), len(want))
	}
	for u, org := range want {
		if got[u].Org != org {
			t.Errorf("event %s stamped %q, want %q", u, got[u].Org, org)
		}
	}
}

package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/reconcile"
	"github.com/hookline/hookline/internal/standin"
)

// devHookName names the dev stack's hook in its stand-in org.
const devHookName = "hookline-dev"

// devHookEnv points the dev reconciler's hook health check at the dev hook
// by name: the template's EndpointUrl is an AWS one.
var devHookEnv = []string{"OKTA_HOOK_NAME=" + devHookName, "ENDPOINT_URL="}

// devHook registers the dev stack's hook in the stand-in org, as `hookline
// okta register` does in a real one, and has the stand-in verify it through
// kumo's HTTP API and the receiver. It returns the hook's id ("" when it
// could not be created: the reconciler's health line then says so).
func devHook(ctx context.Context, org *standin.Org, token string, s *devstack.Stack, log *slog.Logger) string {
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: token}, oktaapi.Settings{})
	if err != nil {
		log.Warn("dev okta hook not registered", "error", err.Error())
		return ""
	}
	types := devEventTypes(s)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	h, err := c.CreateEventHook(ctx, oktaapi.NewEventHook(devHookName, s.URL(), cmp.Or(envValue(s.Env["receiver"], "AUTH_HEADER"), defaultAuthHeader), s.Secret, types))
	if err != nil {
		log.Warn("dev okta hook not registered", "error", err.Error())
		return ""
	}
	if _, err := c.VerifyEventHook(ctx, h.ID); err != nil {
		log.Warn("dev okta hook not verified", "error", err.Error())
	}
	return h.ID
}

// devEventTypes is the dev reconciler's OKTA_EVENT_TYPES: the template's
// OktaEventTypes.
func devEventTypes(s *devstack.Stack) []string {
	var types []string
	for _, kv := range s.Env["reconciler"] {
		if v, ok := strings.CutPrefix(kv, "OKTA_EVENT_TYPES="); ok {
			types = reconcile.ParseTypes(v)
		}
	}
	return types
}

// writeDeliveryFailures writes to the dev stack's stand-in System Log the
// event_hook.delivery failure Okta would log for each delivery `hookline
// send --lose` dropped, naming its events.
func writeDeliveryFailures(ctx context.Context, st State, lost [][]byte) error {
	if st.OktaHookID == "" || len(lost) == 0 {
		return nil
	}
	var failures []json.RawMessage
	for _, body := range lost {
		var d struct {
			Data struct {
				Events []struct {
					UUID string `json:"uuid"`
				} `json:"events"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &d)
		var uuids []string
		for _, e := range d.Data.Events {
			uuids = append(uuids, e.UUID)
		}
		failures = append(failures, standin.DeliveryFailureEvent(st.OktaHookID, devHookName, st.URL, uuids,
			"Event hook delivery failed: no answer within 3 seconds, retried once (dropped by hookline send --lose)", 0))
	}
	doc, _ := json.Marshal(failures)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.OktaURL+"/api/v1/logs", bytes.NewReader(doc))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "SSWS "+st.OktaToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirects(10 * time.Second).Do(req) // it carries the stand-in org's API token
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST /api/v1/logs answered %d", resp.StatusCode)
	}
	return nil
}

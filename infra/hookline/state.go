package main

import (
	"cmp"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/hookline/hookline/internal/devstack"
)

// State is what `hookline dev` leaves in .bin/dev-stack.json for `hookline
// send` (and humans): where the stack is and how to authenticate to it.
type State struct {
	PID      int    `json:"pid"` // the `hookline dev` process
	Endpoint string `json:"endpoint"`
	URL      string `json:"url"`
	Host     string `json:"host"`
	APIID    string `json:"apiId"`
	Secret   string `json:"secret"`
	// AuthHeader is the header the receiver reads Secret from (AUTH_HEADER).
	AuthHeader string            `json:"authHeader,omitempty"`
	Queues     map[string]string `json:"queues"` // logical ID → URL
	Public     string            `json:"publicUrl,omitempty"`
	// The stand-in Okta org whose System Log the reconciler reads.
	OktaURL   string `json:"oktaUrl,omitempty"`
	OktaToken string `json:"oktaToken,omitempty"`
	// OktaSecretID is the dev stack's Okta credentials secret (on kumo),
	// and OktaEventTypes the reconciler's list: `hookline replay --local`.
	OktaSecretID   string   `json:"oktaSecretId,omitempty"`
	OktaEventTypes []string `json:"oktaEventTypes,omitempty"`
	ReconcileEvery string   `json:"reconcileEvery,omitempty"`
	ReconcileGrace string   `json:"reconcileGrace,omitempty"`
	// OktaHookID is the dev hook in the stand-in org (dev_okta.go).
	OktaHookID string `json:"oktaHookId,omitempty"`
	// The tables by logical ID: `hookline schema --local` reads the ledger.
	Tables map[string]string `json:"tables,omitempty"`
	// LogStreamSource is the stand-in Okta Log Streaming source (and bus)
	// when the streamer runs: `hookline send --channel stream`.
	LogStreamSource string `json:"logStreamSource,omitempty"`
	// Orgs are the dev stack's orgs when it serves several (make dev
	// ORGS=prod,preview), by name: `hookline send --org`.
	Orgs map[string]DevOrg `json:"orgs,omitempty"`
}

// DevOrg is one org of the dev stack: its hook URL and secret, and its
// stand-in Okta org.
type DevOrg struct {
	URL       string `json:"url"`
	Secret    string `json:"secret"`
	OktaURL   string `json:"oktaUrl"`
	OktaToken string `json:"oktaToken"`
}

// stateOf returns a running stack's state for the state file.
func stateOf(s *devstack.Stack) State {
	return State{PID: os.Getpid(), Endpoint: s.Kumo.Endpoint, URL: s.URL(), Host: s.APIHost(),
		APIID: s.Resources.APIID, Secret: s.Secret, AuthHeader: cmp.Or(envValue(s.Env["receiver"], "AUTH_HEADER"), defaultAuthHeader),
		Queues: s.Resources.QueueURLs, Tables: s.Resources.Tables}
}

// writeState writes st to path (mode 0600: it holds the secret).
func writeState(path string, st State) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// readState reads a state file.
func readState(path string) (State, error) {
	var st State
	b, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal(b, &st)
}

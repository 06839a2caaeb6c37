package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/deploycheck"
)

func TestBuildsForLambda(t *testing.T) {
	deploycheck.CheckBuild(t, "WorkerFunction", "functions/worker")
}

// TestLinksOnlyTheServicesItCalls: every AWS service the worker links is one
// WorkerRole grants (derived from template.yaml, so a handler's new client
// needs only its role statement); a link without a grant fails naming
// WorkerRole.
func TestLinksOnlyTheServicesItCalls(t *testing.T) {
	deploycheck.CheckServicesGranted(t, "./functions/worker", "WorkerRole")
}

func load(getenv func(string) string) error {
	_, err := loadSettings(getenv)
	return err
}

func TestReadsTheEnvironmentTheTemplateSets(t *testing.T) {
	deploycheck.CheckEnvironment(t, "WorkerFunction", load)
}

func TestReadmeListsWhatTheTemplateLeavesOrFixes(t *testing.T) {
	deploycheck.CheckReadme(t, "WorkerFunction", load)
}

func TestLoadSettings(t *testing.T) {
	env := map[string]string{"QUEUE_URL": "q", "DLQ_URL": "d", "LEDGER_TABLE": "ledger", "LEDGER_RETENTION": "100d", "MAX_RECEIVE_COUNT": "5"}
	s, err := loadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.QueueURL != "q" || s.DLQURL != "d" || s.LedgerTable != "ledger" || s.LedgerRetention != 100*24*time.Hour || s.LogLevel != "info" || s.MaxReceiveCount != 5 {
		t.Errorf("settings = %+v", s)
	}
	if len(s.OwnActors) != 0 || s.EventBus != "" || s.EventSource != "hookline.okta" || s.OktaSecret != "" {
		t.Errorf("defaults: loop guard, fan-out and Okta client off, got %+v", s)
	}
	env = map[string]string{"QUEUE_URL": "q", "OWN_ACTOR_IDS": "00u1, 0oa2", "EVENT_BUS_NAME": "okta-events", "EVENT_SOURCE": "acme.okta", "OKTA_CREDENTIALS_SECRET_ID": "arn:secret"}
	s, err = loadSettings(func(k string) string { return env[k] })
	if err != nil || strings.Join(s.OwnActors, "|") != "00u1|0oa2" || s.EventBus != "okta-events" || s.EventSource != "acme.okta" || s.OktaSecret != "arn:secret" {
		t.Errorf("settings = %+v %v", s, err)
	}
	env = map[string]string{"LEDGER_RETENTION": "forever"}
	_, err = loadSettings(func(k string) string { return env[k] })
	for _, name := range []string{"QUEUE_URL", "LEDGER_RETENTION"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

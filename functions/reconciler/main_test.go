package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/deploycheck"
)

func TestBuildsForLambda(t *testing.T) {
	deploycheck.CheckBuild(t, "ReconcilerFunction", "functions/reconciler")
}

func TestLinksOnlyTheServicesItCalls(t *testing.T) {
	deploycheck.CheckServices(t, "./functions/reconciler", "dynamodb", "secretsmanager", "sqs")
}

func load(getenv func(string) string) error {
	_, err := loadSettings(getenv)
	return err
}

func TestReadsTheEnvironmentTheTemplateSets(t *testing.T) {
	deploycheck.CheckEnvironment(t, "ReconcilerFunction", load)
}

func TestReadmeListsWhatTheTemplateLeavesOrFixes(t *testing.T) {
	deploycheck.CheckReadme(t, "ReconcilerFunction", load)
}

func TestLoadSettings(t *testing.T) {
	env := map[string]string{"OKTA_CREDENTIALS_SECRET_ID": "arn:creds", "OKTA_EVENT_TYPES": "user.lifecycle.create",
		"QUEUE_URL": "q", "DLQ_URL": "dlq", "LEDGER_TABLE": "ledger", "RECONCILE_GRACE": "10m", "RECONCILE_LOOKBACK": "2h"}
	s, err := loadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.CredentialsID != "arn:creds" || s.EventTypes != "user.lifecycle.create" || s.QueueURL != "q" || s.DLQURL != "dlq" || s.LedgerTable != "ledger" ||
		s.Grace != 10*time.Minute || s.Lookback != 2*time.Hour || s.StackName != "local" {
		t.Errorf("settings = %+v", s)
	}
	_, err = loadSettings(func(string) string { return "" })
	for _, name := range []string{"OKTA_CREDENTIALS_SECRET_ID", "OKTA_EVENT_TYPES", "QUEUE_URL", "DLQ_URL", "LEDGER_TABLE"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

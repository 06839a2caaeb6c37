package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/deploycheck"
)

func TestBuildsForLambda(t *testing.T) {
	deploycheck.CheckBuild(t, "StreamerFunction", "functions/streamer")
}

func TestLinksOnlyTheServicesItCalls(t *testing.T) {
	// DynamoDB for the delivery marks, SQS for the events queue.
	deploycheck.CheckServices(t, "./functions/streamer", "dynamodb", "sqs")
}

func TestLinksOnlyServicesItsRoleGrants(t *testing.T) {
	deploycheck.CheckServicesGranted(t, "./functions/streamer", "StreamerRole")
}

func load(getenv func(string) string) error {
	_, err := loadSettings(getenv)
	return err
}

func TestReadsTheEnvironmentTheTemplateSets(t *testing.T) {
	deploycheck.CheckEnvironment(t, "StreamerFunction", load)
}

func TestReadmeListsWhatTheTemplateLeavesOrFixes(t *testing.T) {
	deploycheck.CheckReadme(t, "StreamerFunction", load)
}

func TestLoadSettings(t *testing.T) {
	env := map[string]string{"OKTA_EVENT_TYPES": "user.lifecycle.create", "QUEUE_URL": "q", "LEDGER_TABLE": "ledger", "PUBLISH_BUDGET": "3s"}
	s, err := loadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if len(s.EventTypes) != 1 || s.EventTypes[0] != "user.lifecycle.create" || s.QueueURL != "q" || s.LedgerTable != "ledger" || s.PublishBudget != 3*time.Second || s.LogLevel != "info" {
		t.Errorf("settings = %+v", s)
	}
	// Without the ledger the marks cannot be read first: it refuses to start.
	_, err = loadSettings(func(string) string { return "" })
	for _, name := range []string{"OKTA_EVENT_TYPES", "QUEUE_URL", "LEDGER_TABLE"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

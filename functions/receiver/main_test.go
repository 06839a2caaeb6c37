package main

import (
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/deploycheck"
)

func TestBuildsForLambda(t *testing.T) {
	deploycheck.CheckBuild(t, "ReceiverFunction", "functions/receiver")
}

func TestLinksOnlyTheServicesItCalls(t *testing.T) {
	// DynamoDB for the delivery marks (LEDGER_TABLE).
	deploycheck.CheckServices(t, "./functions/receiver", "dynamodb", "secretsmanager", "sqs")
}

func load(getenv func(string) string) error {
	_, err := loadSettings(getenv)
	return err
}

func TestReadsTheEnvironmentTheTemplateSets(t *testing.T) {
	deploycheck.CheckEnvironment(t, "ReceiverFunction", load)
}

func TestReadmeListsWhatTheTemplateLeavesOrFixes(t *testing.T) {
	deploycheck.CheckReadme(t, "ReceiverFunction", load)
}

func TestLoadSettings(t *testing.T) {
	env := map[string]string{
		"QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/events", "SECRET_ID": "arn:secret",
		"AUTH_HEADER": "X-Okta-Secret", "ALLOWED_SOURCE_CIDRS": "198.51.100.0/24, 203.0.113.7",
		"MAX_BODY_BYTES": "2048", "SECRET_CACHE_TTL": "1m", "PUBLISH_BUDGET": "1500ms", "LOG_LEVEL": "debug",
	}
	s, err := loadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.QueueURL != env["QUEUE_URL"] || s.SecretID != "arn:secret" || s.Receiver.AuthHeader != "X-Okta-Secret" ||
		len(s.Receiver.AllowedCIDRs) != 2 || s.Receiver.MaxBodyBytes != 2048 || s.SecretTTL.String() != "1m0s" ||
		s.PublishBudget.String() != "1.5s" || s.LogLevel != "debug" {
		t.Errorf("settings = %+v", s)
	}

	// Every bad variable is reported at once.
	env = map[string]string{"ALLOWED_SOURCE_CIDRS": "okta", "MAX_BODY_BYTES": "-1"}
	_, err = loadSettings(func(k string) string { return env[k] })
	for _, name := range []string{"QUEUE_URL", "SECRET_ID", "ALLOWED_SOURCE_CIDRS", "MAX_BODY_BYTES"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("error %v does not name %s", err, name)
		}
	}
}

// TestDefaults: what the README's Configuration table promises for the
// variables left unset (the template leaves SECRET_CACHE_TTL and
// PUBLISH_BUDGET unset, so these are what runs on AWS).
func TestDefaults(t *testing.T) {
	env := map[string]string{"QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/events", "SECRET_ID": "arn:secret"}
	s, err := loadSettings(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if s.Receiver.AuthHeader != "Authorization" || s.Receiver.MaxBodyBytes != 1048576 || s.SecretTTL != 5*time.Minute ||
		s.PublishBudget != 2*time.Second || s.LogLevel != "info" || len(s.Receiver.AllowedCIDRs) != 0 || s.LedgerTable != "" {
		t.Errorf("defaults = %+v, want Authorization, 1048576 bytes, 5m, 2s, info, any source, no delivery marks", s)
	}
}

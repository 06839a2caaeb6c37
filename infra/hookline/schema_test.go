package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/schema"
)

// TestSchemaCommand runs `hookline schema --local` against the local stack
// with no AWS configuration, as `make schema ARGS=--local` does: --seed
// learns the samples in events/okta/ (their nulls report no change), then
// every type, or one, is printed with its paths, types, counts and first
// seen; a change the worker learned since shows in the next print.
func TestSchemaCommand(t *testing.T) {
	k := devstacktest.Start(t, devstacktest.Options{})
	for _, name := range []string{"AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
		"AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Chdir(devstacktest.RepoRoot(t))
	state := filepath.Join(t.TempDir(), "dev-stack.json")
	if err := writeState(state, State{Endpoint: k.Kumo.Endpoint, Queues: k.Resources.QueueURLs, Tables: k.Resources.Tables}); err != nil {
		t.Fatal(err)
	}
	schemaCmd := func(args ...string) (string, string, int) {
		var stdout, stderr strings.Builder
		code := run(context.Background(), append([]string{"schema", "--local", "--state", state}, args...), &stdout, &stderr)
		return stdout.String(), stderr.String(), code
	}

	out, errOut, code := schemaCmd()
	if code != 0 || !strings.Contains(errOut, "no shape learned yet") {
		t.Fatalf("empty table: exit %d\n%s%s", code, out, errOut)
	}
	out, errOut, code = schemaCmd("--seed")
	samples, _ := filepath.Glob("events/okta/*.json")
	if code != 0 || !strings.Contains(errOut, "learned 7 sample event(s) from events/okta") || len(samples) != 7 {
		t.Fatalf("--seed: exit %d\n%s%s", code, out, errOut)
	}
	if strings.Count(errOut, "schema learned") != 7 || strings.Contains(errOut, "schema changed") {
		t.Errorf("--seed logged:\n%s", errOut)
	}
	for _, f := range samples {
		typ := strings.TrimSuffix(filepath.Base(f), ".json")
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(typ) + `: 1 event\(s\) since \S+Z, version 1$`).MatchString(out) {
			t.Errorf("no heading for %s:\n%s", typ, out)
		}
	}
	// A path per line: type, seen (share of events), nulls, first seen.
	for _, re := range []string{
		`(?m)^  PATH +TYPE +SEEN +NULL +FIRST SEEN +NOTE$`,
		`(?m)^  target\[\]\.id +string +1 \(100%\) +0 +\d{4}-\d\d-\d\dT\S+Z *$`,
		`(?m)^  device +null +1 \(100%\) +1 +`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}

	// Seeding again teaches nothing new: no change, nothing written but counts.
	_, errOut, code = schemaCmd("--seed")
	if code != 0 || strings.Contains(errOut, "schema changed") || strings.Contains(errOut, "schema learned") {
		t.Errorf("second --seed: exit %d\n%s", code, errOut)
	}

	// The worker learns a new field; the type alone, flags after it.
	store := &ledger.Schemas{Client: k.Clients.DynamoDB, Table: k.Resources.Tables["LedgerTable"]}
	raw, _ := os.ReadFile("events/okta/user.session.start.json")
	l := &schema.Learner{Store: store}
	l.Observe(t.Context(), "user.session.start", []byte(strings.Replace(string(raw), `"severity"`, `"riskLevel": "HIGH", "severity"`, 1)))
	var stdout, stderr strings.Builder
	code = run(context.Background(), []string{"schema", "user.session.start", "--local", "--state", state}, &stdout, &stderr)
	out = stdout.String()
	if code != 0 || strings.Count(out, " event(s) since ") != 1 || !strings.HasPrefix(out, "user.session.start: 3 event(s)") {
		t.Fatalf("one type: exit %d\n%s%s", code, out, stderr.String())
	}
	if !regexp.MustCompile(`(?m)^  riskLevel +string +1 \(33%\) +0 `).MatchString(out) {
		t.Errorf("the new field is not listed:\n%s", out)
	}

	_, errOut, code = schemaCmd("no.such.type")
	if code != 1 || !strings.Contains(errOut, "no shape learned for no.such.type") {
		t.Errorf("unknown type: exit %d %s", code, errOut)
	}
	if _, errOut, code = schemaCmd("a.type", "another.type"); code != 2 {
		t.Errorf("two types: exit %d %s", code, errOut)
	}
}

// --stack reads the table from the stack's LedgerTableName output.
func TestSchemaStackTable(t *testing.T) {
	table, err := stackTable(context.Background(), stackOutputs{"LedgerTableName": "hookline-LedgerTable-1A2B", "EventsQueueUrl": "q"}, "hookline")
	if err != nil || table != "hookline-LedgerTable-1A2B" {
		t.Fatalf("table %q %v", table, err)
	}
	if _, err := stackTable(context.Background(), stackOutputs{"EventsQueueUrl": "q"}, "hookline"); err == nil || !strings.Contains(err.Error(), "lacks the LedgerTableName output") {
		t.Fatalf("no output: %v", err)
	}
}

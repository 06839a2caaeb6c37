package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/orgs"
	"github.com/hookline/hookline/internal/reconcile"
	"github.com/hookline/hookline/internal/standin"
)

// orgSecret stores an org's Okta credentials in kumo's Secrets Manager
// under its name (orgs.SecretName) and returns how the reconciler reads it.
func orgSecret(t *testing.T, f *fixture, org string, creds oktaapi.Credentials) func(context.Context) (oktaapi.Credentials, error) {
	t.Helper()
	raw, _ := json.Marshal(creds)
	name := orgs.SecretName("orgtest", org, orgs.KindOkta)
	if _, err := f.sm.CreateSecret(t.Context(), &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(raw))}); err != nil {
		t.Fatal(err)
	}
	return func(ctx context.Context) (oktaapi.Credentials, error) {
		return oktaapi.LoadCredentials(ctx, f.sm, name)
	}
}

// TestOneOrgsRateLimitAndBadTokenNeverStopAnothersRecovery: three orgs in
// one run, on kumo's queue, ledger and Secrets Manager. prod lost 25 events;
// preview's Okta answers 429 to every System Log request; acquired's token
// is refused. prod's events are all recovered, each stamped prod, its cursor
// saved under its own name; the others fail with their org named, and their
// cursors are not touched. The next run goes on from prod's cursor.
func TestOneOrgsRateLimitAndBadTokenNeverStopAnothersRecovery(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	lost := f.events("prod", 25, 30*time.Minute)

	preview := standin.Start(t.Cleanup)
	preview.SetAPIToken("preview-token")
	preview.Add(standin.Event("preview-1", subscribed, f.now.Add(-30*time.Minute)))
	preview.SetRateLimit(0, time.Minute) // every request: 429 E0000047

	acquired := standin.Start(t.Cleanup)
	acquired.SetAPIToken("the-real-token")
	acquired.Add(standin.Event("acquired-1", subscribed, f.now.Add(-30*time.Minute)))

	runs := []*reconcile.Org{
		{Name: "prod", Stamp: "prod", Credentials: orgSecret(t, f, "prod", oktaapi.Credentials{OrgURL: f.org.URL, APIToken: "ssws-token"})},
		{Name: "preview", Stamp: "preview", Cursor: reconcile.OrgCursorName("preview"),
			Credentials: orgSecret(t, f, "preview", oktaapi.Credentials{OrgURL: preview.URL, APIToken: "preview-token"})},
		{Name: "acquired", Stamp: "acquired", Cursor: reconcile.OrgCursorName("acquired"),
			Credentials: orgSecret(t, f, "acquired", oktaapi.Credentials{OrgURL: acquired.URL, APIToken: "a-revoked-token"})},
	}
	s := &reconcile.Scheduled{Reconciler: f.reconciler(10)}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	start := time.Now()
	st, err := s.HandleOrgs(ctx, runs)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "org acquired") || strings.Contains(err.Error(), "org prod") {
		t.Fatalf("run error %v: want acquired's refused token named, and nothing of prod", err)
	}
	if st.Queued != len(lost) {
		t.Fatalf("queued %d, want prod's %d lost events (stats %+v, after %v)", st.Queued, len(lost), st, took)
	}
	got := f.drain(t)
	for u, env := range got {
		if _, ok := lost[u]; !ok || env.Org != "prod" {
			t.Fatalf("queued %s stamped %q: want only prod's events, stamped prod", u, env.Org)
		}
	}
	if len(got) != len(lost) {
		t.Fatalf("drained %d of prod's %d", len(got), len(lost))
	}
	if _, err := f.cursors.Load(t.Context(), reconcile.CursorName); err != nil {
		t.Fatalf("prod's cursor (the default org's, %q): %v", reconcile.CursorName, err)
	}
	for _, org := range []string{"preview", "acquired"} {
		if _, err := f.cursors.Load(t.Context(), reconcile.OrgCursorName(org)); err != ledger.ErrNoCursor {
			t.Errorf("%s's cursor: %v, want none saved (nothing read)", org, err)
		}
	}
	if preview.LogsRequests() == 0 {
		t.Fatal("preview's System Log was never asked: the 429 path is not exercised")
	}
	logs := f.logs.String()
	for _, org := range []string{"prod", "preview", "acquired"} {
		if !strings.Contains(logs, `"msg":"reconcile run"`) || !strings.Contains(logs, `"org":"`+org+`"`) {
			t.Errorf("no reconcile run line names org %s: %s", org, logs)
		}
	}

	// The next run: prod resumes at its cursor and finds nothing new.
	f.logs = &bytes.Buffer{}
	s.Reconciler.Log = slog.New(slog.NewJSONHandler(f.logs, nil))
	st, _ = s.HandleOrgs(ctx, runs[:1])
	if st.Queued != 0 || st.Stopped != reconcile.StopCaughtUp {
		t.Fatalf("second run of prod: %+v, want caught up at its cursor with nothing queued", st)
	}
}

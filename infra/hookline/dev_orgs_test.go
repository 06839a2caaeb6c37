package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

// TestDevWithTwoOrgsAndSendPerOrg runs `make dev ORGS=prod,preview` and
// `make send ORG=…` on kumo with the real bootstraps: each org has its own
// stand-in Okta org, hook URL and secret; events sent as each org are
// handled, each stamped with its org; each org's secret is refused 401 on
// the other's URL, and an unknown org's URL is 404.
func TestDevWithTwoOrgsAndSendPerOrg(t *testing.T) {
	root := devstacktest.RepoRoot(t)
	bin := t.TempDir()
	for _, fn := range []string{"receiver", "worker", "streamer", "reconciler"} {
		if err := os.MkdirAll(filepath.Join(bin, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(devstacktest.Bootstrap(t, fn), filepath.Join(bin, fn, "bootstrap")); err != nil {
			t.Fatal(err)
		}
	}
	devstacktest.Tool(t, "kumo")
	t.Chdir(root)
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(bin, "dev-stack.json")
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"dev", "--port", fmt.Sprint(port), "--bin", bin, "--state", state, "--log-file", "",
			"--reconcile-every", "1s", "--reconcile-grace", "1s", "--orgs", "prod,preview"}, &stdout, &stderr)
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("hookline dev exit %d:\n%s", code, stderr.String())
		}
	}()
	waitFor(t, "the banner", func() bool { return strings.Contains(stdout.String(), "Ctrl-C stops everything") })
	st, err := readState(state)
	if err != nil || len(st.Orgs) != 2 || st.Orgs["prod"].Secret == st.Orgs["preview"].Secret ||
		!strings.HasSuffix(st.Orgs["preview"].URL, "/okta/events/preview") || st.Orgs["prod"].URL != st.URL {
		t.Fatalf("state orgs %+v, %v: want prod at the stack's URL and preview at /okta/events/preview, with different secrets", st.Orgs, err)
	}

	sendWith := func(state string, args ...string) (int, string) {
		var out, errOut strings.Builder
		code := run(ctx, append([]string{"send", "--state", state, "--verify=false"}, args...), &out, &errOut)
		return code, out.String() + errOut.String()
	}
	send := func(args ...string) (int, string) { return sendWith(state, args...) }
	for _, org := range []string{"prod", "preview"} {
		if code, out := send("--org", org, "--count", "2", "--per-delivery", "2"); code != 0 || !strings.Contains(out, `{"accepted":2}`) {
			t.Fatalf("make send ORG=%s: exit %d\n%s", org, code, out)
		}
	}
	// Each org's secret on the other's URL, and an org the stack does not serve.
	for _, c := range []struct{ url, secret, want string }{
		{st.Orgs["preview"].URL, st.Orgs["prod"].Secret, " 401 "},
		{st.Orgs["prod"].URL, st.Orgs["preview"].Secret, " 401 "},
		{st.URL + "/acquired", st.Orgs["prod"].Secret, " 404 "},
	} {
		// No state: these refused events go to no stand-in System Log,
		// so the reconciler has nothing of them to recover.
		code, out := sendWith(filepath.Join(bin, "none.json"), "--url", c.url, "--secret", c.secret, "--count", "1")
		if code == 0 || !strings.Contains(out, c.want) {
			t.Errorf("POST %s with another org's secret: exit %d, want%s:\n%s", c.url, code, c.want, out)
		}
	}
	waitFor(t, "4 handled events", func() bool { return strings.Count(stdout.String(), `"msg":"okta event"`) >= 4 })
	lines := regexp.MustCompile(`"msg":"okta event"[^\n]*`).FindAllString(stdout.String(), -1)
	byOrg := map[string]int{}
	for _, l := range lines {
		m := regexp.MustCompile(`"org":"([a-z-]+)"`).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("an event line without its org: %s", l)
		}
		byOrg[m[1]]++
	}
	if byOrg["prod"] != 2 || byOrg["preview"] != 2 || len(lines) != 4 {
		t.Fatalf("handled by org %v (%d lines), want 2 of each:\n%s", byOrg, len(lines), strings.Join(lines, "\n"))
	}

	// make okta ARGS='preview --org preview': a sample delivery at that
	// org's URL with its secret; an org the dev stack does not serve is a
	// usage error.
	var out, errOut strings.Builder
	if code := run(ctx, []string{"okta", "preview", "--org", "preview", "--type", "user.lifecycle.create", "--state", state}, &out, &errOut); code != 0 ||
		!strings.Contains(out.String(), "answer: 200") || !strings.Contains(out.String(), "/okta/events/preview") {
		t.Errorf("okta preview --org preview: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if code := run(ctx, []string{"okta", "preview", "--org", "nope", "--type", "user.lifecycle.create", "--state", state}, &out, &errOut); code != 2 {
		t.Errorf("okta preview --org nope: exit %d, want 2 (usage)", code)
	}
	previewEvents := regexp.MustCompile(`"msg":"okta event"[^\n]*"org":"preview"`)
	waitFor(t, "the previewed event, handled as preview's", func() bool { return len(previewEvents.FindAllString(stdout.String(), -1)) >= 3 })

	// make send ORG=preview LOSE=100%: the events are only in preview's
	// stand-in System Log; the reconciler recovers them from there with
	// preview's credentials, stamped preview.
	if code, out := send("--org", "preview", "--count", "2", "--per-delivery", "2", "--lose", "100%"); code != 0 {
		t.Fatalf("make send ORG=preview LOSE=100%%: exit %d\n%s", code, out)
	}
	recovered := regexp.MustCompile(`"msg":"event recovered"[^\n]*"org":"preview"`)
	waitFor(t, "preview's lost events recovered by the reconciler", func() bool { return len(recovered.FindAllString(stdout.String(), -1)) >= 2 })
	waitFor(t, "the recovered events handled as preview's", func() bool { return len(previewEvents.FindAllString(stdout.String(), -1)) >= 5 })
}

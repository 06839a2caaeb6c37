package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/deploycheck"
	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

// syncBuffer is an io.Writer that tests can read while others write.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// TestDevAndSend runs `make dev` and `make send EVENTS='events/*.json'` as
// the README describes them, on a port other than 4566: the banner names
// that port, send sends every delivery in events/ and names the files it
// skips, and the functions' log lines are `worker | {...}` on the terminal
// and in the log file. With a public port, the API answers there whatever
// the Host header, as behind a tunnel.
func TestDevAndSend(t *testing.T) {
	root := devstacktest.RepoRoot(t)
	bin := t.TempDir()
	for _, fn := range []string{"receiver", "worker", "reconciler", "streamer"} {
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
	public, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	state, logFile := filepath.Join(bin, "dev-stack.json"), filepath.Join(bin, "dev.log")

	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"dev", "--port", fmt.Sprint(port), "--bin", bin, "--state", state, "--log-file", logFile,
			"--reconcile-every", "1s", "--reconcile-grace", "1s", "--public-port", fmt.Sprint(public)}, &stdout, &stderr)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("hookline dev exit %d:\n%s", code, stderr.String())
			}
		}
	}
	defer stop()
	waitFor(t, "the banner", func() bool { return strings.Contains(stdout.String(), "Ctrl-C stops everything") })

	banner := stdout.String()
	for _, name := range []string{"queue", "DLQ"} {
		m := regexp.MustCompile(`(?m)^  ` + name + ` +(\S+)$`).FindStringSubmatch(banner)
		if m == nil || !strings.HasPrefix(m[1], fmt.Sprintf("http://127.0.0.1:%d/", port)) {
			t.Errorf("banner %s URL %v is not on port %d:\n%s", name, m, port, banner)
		}
	}

	// make dev seeds the payload shapes with the samples: make schema ARGS=--local.
	var shapesOut, shapesErr strings.Builder
	if code := run(ctx, []string{"schema", "--local", "--state", state}, &shapesOut, &shapesErr); code != 0 ||
		!strings.Contains(shapesOut.String(), "\nuser.session.start: 1 event(s) since ") {
		t.Errorf("make schema ARGS=--local after make dev: exit %d\n%s%s", code, shapesOut.String(), shapesErr.String())
	}

	var tunnelOut, tunnelErr strings.Builder
	tunnel := fmt.Sprintf("http://127.0.0.1:%d/okta/events", public)
	if code := run(ctx, []string{"send", "--url", tunnel, "--host", "tunnel.example.com", "--state", state, "--events", "events/delivery.json"},
		&tunnelOut, &tunnelErr); code != 0 || !strings.Contains(tunnelOut.String(), `{"accepted":4}`) {
		t.Errorf("through the public port with Host tunnel.example.com: exit %d\n%s%s", code, tunnelOut.String(), tunnelErr.String())
	}

	var sendOut, sendErr strings.Builder
	if code := run(ctx, []string{"send", "--events", "events/*.json", "--state", state}, &sendOut, &sendErr); code != 0 {
		t.Fatalf("hookline send exit %d:\n%s%s", code, sendOut.String(), sendErr.String())
	}
	if n := strings.Count(sendOut.String(), "POST delivery"); n != 3 {
		t.Errorf("sent %d deliveries, want the 3 in events/:\n%s", n, sendOut.String())
	}
	// events/delivery-wrong-auth.json is sent with its own wrong value and
	// refused, as events/README.md says; the others with the stack's secret.
	if !regexp.MustCompile(`POST delivery \d +401 .*refused, as the file intends`).MatchString(sendOut.String()) ||
		!strings.Contains(sendOut.String(), "2 accepted, 0 failed, 1 refused 401 as their files intend") {
		t.Errorf("the wrong-auth sample was not refused:\n%s", sendOut.String())
	}
	for _, skipped := range []string{"verify-get.json", "verify-get-noauth.json", "worker-sqs-batch.json"} {
		if !strings.Contains(sendErr.String(), "skipping events/"+skipped+": ") {
			t.Errorf("send did not name %s as skipped:\n%s", skipped, sendErr.String())
		}
	}
	// The files (and the delivery sent through the public port) carry the
	// same 4 events: the worker handles each once.
	waitFor(t, "the worker's event lines", func() bool { return strings.Count(stdout.String(), `"msg":"okta event"`) >= 4 })

	// make send COUNT=1 CHANNEL=both: one event through the hook, then the
	// stand-in log stream; the streamer finds its mark, the worker handles it once.
	sendOut.Reset()
	if code := run(ctx, []string{"send", "--count", "1", "--channel", "both", "--state", state}, &sendOut, &sendErr); code != 0 ||
		!strings.Contains(sendOut.String(), "STREAM 1 events on "+devstack.DevLogStreamSource) {
		t.Fatalf("hookline send --channel both exit %d:\n%s%s", code, sendOut.String(), sendErr.String())
	}
	waitFor(t, "the streamer to find the hook's mark", func() bool { return strings.Contains(stdout.String(), `"msg":"stream event already queued"`) })
	waitFor(t, "the event handled", func() bool { return strings.Count(stdout.String(), `"msg":"okta event"`) >= 5 })
	// make send COUNT=1 CHANNEL=stream: through the stream alone.
	sendOut.Reset()
	if code := run(ctx, []string{"send", "--count", "1", "--channel", "stream", "--state", state}, &sendOut, &sendErr); code != 0 {
		t.Fatalf("hookline send --channel stream exit %d:\n%s%s", code, sendOut.String(), sendErr.String())
	}
	waitFor(t, "the streamed event queued and handled", func() bool {
		return strings.Contains(stdout.String(), `"msg":"stream event queued"`) && strings.Count(stdout.String(), `"msg":"okta event"`) >= 6
	})

	// make send COUNT=20 LOSE=50%: half the deliveries never reach the hook;
	// the reconciler brings their events from the stand-in System Log.
	sendOut.Reset()
	if code := run(ctx, []string{"send", "--count", "20", "--per-delivery", "2", "--lose", "50%", "--state", state}, &sendOut, &sendErr); code != 0 {
		t.Fatalf("hookline send --lose exit %d:\n%s%s", code, sendOut.String(), sendErr.String())
	}
	if !strings.Contains(sendOut.String(), "5 deliveries (10 events) lost on purpose") {
		t.Errorf("send --lose printed:\n%s", sendOut.String())
	}
	waitFor(t, "the lost events recovered and handled", func() bool {
		return strings.Count(stdout.String(), `"msg":"event recovered"`) >= 10 && strings.Count(stdout.String(), `"msg":"okta event"`) >= 26
	})
	// make replay ARGS='--local --since 1h': the dev stack's queues, ledger
	// table, Okta credentials secret and event types come from the state
	// file (the banner names the secret); every event is marked by now, so
	// a dry run finds them all already brought. A type the stack does not
	// subscribe to is refused.
	if !strings.Contains(banner, "okta secret:     "+devOktaSecret) || !strings.Contains(banner, "make replay ARGS='--local --since 1h'") {
		t.Errorf("the banner does not say how to replay locally:\n%s", banner)
	}
	var replayOut, replayErr strings.Builder
	if code := run(ctx, []string{"replay", "--local", "--state", state, "--since", "1d", "--dry-run"}, &replayOut, &replayErr); code != 0 ||
		!regexp.MustCompile(`seen \d+, would enqueue 0, skipped \d+`).MatchString(replayOut.String()) || strings.Contains(replayOut.String(), "seen 0,") {
		t.Errorf("make replay ARGS='--local --since 1d --dry-run': exit %d\n%s%s", code, replayOut.String(), replayErr.String())
	}
	replayErr.Reset()
	if code := run(ctx, []string{"replay", "--local", "--state", state, "--since", "1h", "--type", "user.session.start"}, &replayOut, &replayErr); code != 2 ||
		!strings.Contains(replayErr.String(), "not in the stack's OktaEventTypes (user.lifecycle.create,user.lifecycle.deactivate)") {
		t.Errorf("replay --local --type user.session.start: exit %d, want 2 naming the stack's types\n%s", code, replayErr.String())
	}
	// Okta's side: the stand-in logged each lost delivery as failed; the
	// reconciler reports each failure, and the recovered events say why.
	waitFor(t, "Okta's delivery failures reported", func() bool {
		return strings.Count(stdout.String(), `"msg":"okta delivery failed"`) >= 5 && strings.Contains(stdout.String(), `"oktaReportedFailure":true`)
	})
	// The dev hook's health line goes bad when it is deactivated, good again
	// when it is activated.
	waitFor(t, "a healthy okta side line", func() bool {
		return strings.Contains(stdout.String(), `"msg":"okta side"`) && strings.Contains(stdout.String(), `"healthy":true`)
	})
	dev, err := readState(state)
	if err != nil || dev.OktaHookID == "" {
		t.Fatalf("state %+v %v: want the dev hook's id", dev, err)
	}
	t.Setenv("OKTA_ORG_URL", dev.OktaURL)
	t.Setenv("OKTA_API_TOKEN", dev.OktaToken)
	for _, step := range []struct{ action, want string }{{"deactivate", `"failedChecks":["active"]`}, {"activate", `"healthy":true`}} {
		mark := len(stdout.String())
		var o, e strings.Builder
		if code := run(ctx, []string{"okta", step.action, "hookline-dev"}, &o, &e); code != 0 {
			t.Fatalf("hookline okta %s hookline-dev: exit %d\n%s%s", step.action, code, o.String(), e.String())
		}
		waitFor(t, "the okta side line after "+step.action, func() bool { return strings.Contains(stdout.String()[mark:], step.want) })
	}
	stop()
	fileLog, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	for where, text := range map[string]string{"terminal": stdout.String(), "log file": string(fileLog)} {
		for _, prefix := range []string{"receiver | {", "worker | {", "reconciler | {"} {
			if !strings.Contains(text, "\n"+prefix) {
				t.Errorf("%s has no line starting %q", where, prefix)
			}
		}
	}
	// Every line of all three functions, the reconciler's too, has only
	// fields the README's log-field table lists for its msg.
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	table, err := deploycheck.LogFieldTable(string(readme))
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for _, line := range strings.Split(string(fileLog), "\n") {
		if _, rest, ok := strings.Cut(line, " | "); ok {
			lines = append(lines, []byte(rest))
		}
	}
	for _, p := range deploycheck.LogFieldProblems(table, lines, nil) {
		t.Error(p)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file left after Ctrl-C: %v", err)
	}
	if !strings.Contains(stderr.String(), "no process left behind") {
		t.Errorf("hookline dev did not check for leftover processes:\n%s", stderr.String())
	}
}

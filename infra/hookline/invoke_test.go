package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

// TestInvokeCommand runs `hookline invoke` as `make invoke` does: from the
// repository root, with a real kumo and aws-lambda-rie.
func TestInvokeCommand(t *testing.T) {
	root := devstacktest.RepoRoot(t)
	bin := t.TempDir()
	if err := os.MkdirAll(filepath.Join(bin, "receiver"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(devstacktest.Bootstrap(t, "receiver"), filepath.Join(bin, "receiver", "bootstrap")); err != nil {
		t.Fatal(err)
	}
	devstacktest.Tool(t, "kumo") // built once, under the tests' lock
	devstacktest.Tool(t, "aws-lambda-rie")
	t.Chdir(root)
	var stdout, stderr strings.Builder
	args := []string{"invoke", "--fn", "receiver", "--event", "events/verify-get.json", "--bin", bin}
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("hookline invoke exit %d:\n%s", code, stderr.String())
	}
	out := stdout.String()
	if !strings.Contains(out, `"statusCode": 200`) || !strings.Contains(out, `\"verification\":\"dWWcKv4GMPvlAPw4r8w4VaHmaHvsJ5Os9hvv5ZJu\"`) {
		t.Fatalf("invoke printed:\n%s", out)
	}
	if !strings.Contains(stderr.String(), "receiver | {") {
		t.Errorf("the function's log lines are not prefixed `receiver | `:\n%s", stderr.String())
	}
	// Stopping rie after a clean run is not reported as the function failing.
	if strings.Contains(stderr.String(), "fatal error") {
		t.Errorf("a clean invocation printed a fatal error:\n%s", stderr.String())
	}
}

package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/testenv"
)

// TestInvokeCommand runs `hookline invoke` as `make invoke` does: relative
// paths from the repository root, a real kumo and aws-lambda-rie.
func TestInvokeCommand(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	for name, path := range map[string]string{
		"kumo":               testenv.Binary(t, "kumo"),
		"aws-lambda-rie":     testenv.Binary(t, "aws-lambda-rie"),
		"receiver/bootstrap": testenv.Bootstrap(t, "receiver"),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(bin, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(path, filepath.Join(bin, name)); err != nil {
			t.Fatal(err)
		}
	}
	rel, err := filepath.Rel(root, bin)
	if err != nil {
		t.Skipf("temp dir not reachable relative to the repository: %v", err)
	}
	t.Chdir(root)
	args := []string{"invoke", "--fn", "receiver", "--event", "events/verify-get.json", "--bin", rel}
	out := captureStdout(t, func() {
		if code := run(context.Background(), args); code != 0 {
			t.Fatalf("hookline invoke exit %d", code)
		}
	})
	if !strings.Contains(out, `"statusCode": 200`) || !strings.Contains(out, `\"verification\":\"dWWcKv4GMPvlAPw4r8w4VaHmaHvsJ5Os9hvv5ZJu\"`) {
		t.Fatalf("invoke printed:\n%s", out)
	}
}

// captureStdout returns what fn wrote to os.Stdout.
func captureStdout(t *testing.T, fn func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	defer func() { os.Stdout = saved }()
	fn()
	w.Close()
	return string(<-done)
}

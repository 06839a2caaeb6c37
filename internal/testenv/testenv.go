// Package testenv runs the real local components that hookline's integration
// tests need: kumo (an AWS emulator, see StartKumo) and aws-lambda-rie running
// the real function bootstraps (see StartRIE and Bootstrap). It never stubs AWS.
//
// Binaries come from, in order: the HOOKLINE_KUMO_BIN / HOOKLINE_RIE_BIN /
// HOOKLINE_BOOTSTRAP_DIR environment variables (the Makefile sets them), the
// repository's .bin directory, or a fresh `go build`. Every missing piece is a
// test failure, never a skip.
//
// Processes run in their own process group on 127.0.0.1 ephemeral ports and
// are killed (with everything they started) by t.Cleanup.
package testenv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// modulePath is the module whose go.mod marks the repository root.
const modulePath = "github.com/hookline/hookline"

// tool describes a binary pinned as a `tool` in infra/tools/go.mod.
type tool struct {
	envVar string
	pkg    string
}

var tools = map[string]tool{
	"kumo":           {"HOOKLINE_KUMO_BIN", "github.com/sivchari/kumo/cmd/kumo"},
	"aws-lambda-rie": {"HOOKLINE_RIE_BIN", "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"},
}

var repoRoot = sync.OnceValues(func() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if data, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && moduleOf(data) == modulePath {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testenv: no go.mod for module %s above the working directory", modulePath)
		}
		dir = parent
	}
})

// moduleOf returns the module path declared in a go.mod file.
func moduleOf(gomod []byte) string {
	sc := bufio.NewScanner(bytes.NewReader(gomod))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "module" {
			return strings.Trim(f[1], `"`)
		}
	}
	return ""
}

// RepoRoot returns the directory of the go.mod declaring module
// github.com/hookline/hookline, walking up from the working directory.
func RepoRoot() (string, error) { return repoRoot() }

func mustRoot(t testing.TB) string {
	t.Helper()
	root, err := RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var (
	binMu    sync.Mutex
	binPaths = map[string]string{}
)

// Binary returns the path of a tool binary: "kumo" or "aws-lambda-rie".
//
// It uses $HOOKLINE_KUMO_BIN / $HOOKLINE_RIE_BIN when set, else
// <root>/.bin/<name> when it is newer than infra/tools/go.sum, else it builds
// it there (`go build -trimpath -ldflags '-s -w'` inside infra/tools; a cold
// kumo build takes minutes). Builds are serialized across test processes with
// a flock on <root>/.bin/.lock. It calls t.Fatal when no binary can be had.
func Binary(t testing.TB, name string) string {
	t.Helper()
	spec, ok := tools[name]
	if !ok {
		t.Fatalf("testenv: unknown tool %q (want kumo or aws-lambda-rie)", name)
	}
	if p := os.Getenv(spec.envVar); p != "" {
		abs, err := filepath.Abs(p)
		if err == nil {
			err = checkExecutable(abs)
		}
		if err != nil {
			t.Fatalf("testenv: %s=%s: %v", spec.envVar, p, err)
		}
		return abs
	}

	binMu.Lock()
	defer binMu.Unlock()
	if p, ok := binPaths[name]; ok {
		return p
	}
	root := mustRoot(t)
	p, err := ensureTool(t, root, name, spec.pkg)
	if err != nil {
		t.Fatalf("testenv: no %s binary: %v", name, err)
	}
	binPaths[name] = p
	return p
}

func ensureTool(t testing.TB, root, name, pkg string) (string, error) {
	t.Helper()
	binDir := filepath.Join(root, ".bin")
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(binDir, ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	out := filepath.Join(binDir, name)
	toolsDir := filepath.Join(root, "infra", "tools")
	sum, err := os.Stat(filepath.Join(toolsDir, "go.sum"))
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(out); err == nil && fi.Mode().IsRegular() && fi.ModTime().After(sum.ModTime()) {
		return out, nil
	}

	t.Logf("testenv: building %s into %s (a cold build of kumo takes a few minutes)", pkg, out)
	tmp := fmt.Sprintf("%s.tmp-%d", out, os.Getpid())
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w", "-o", tmp, pkg)
	cmd.Dir = toolsDir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
	if outb, err := cmd.CombinedOutput(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("go build %s (in %s): %v\n%s", pkg, toolsDir, err, outb)
	}
	// Rename so that nobody ever runs a half-written binary.
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return out, nil
}

func checkExecutable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("not an executable file")
	}
	return nil
}

type buildResult struct {
	once sync.Once
	path string
	err  error
}

var (
	buildMu sync.Mutex
	builds  = map[string]*buildResult{}
)

// Bootstrap returns the path of a host-architecture bootstrap for the Lambda
// function fn ("receiver" or "worker"): $HOOKLINE_BOOTSTRAP_DIR/<fn>/bootstrap
// when that variable is set, else a build of ./functions/<fn>
// (CGO_ENABLED=0, -tags lambda.norpc, -trimpath) made once per test process
// into a private temporary directory. It calls t.Fatal when that fails.
func Bootstrap(t testing.TB, fn string) string {
	if testing.Short() {
		t.Skip("builds a function bootstrap: run without -short (make test)")
	}
	t.Helper()
	if fn == "" || strings.ContainsAny(fn, `/\.`) {
		t.Fatalf("testenv: bad function name %q", fn)
	}
	if dir := os.Getenv("HOOKLINE_BOOTSTRAP_DIR"); dir != "" {
		p, err := filepath.Abs(filepath.Join(dir, fn, "bootstrap"))
		if err == nil {
			err = checkExecutable(p)
		}
		if err != nil {
			t.Fatalf("testenv: HOOKLINE_BOOTSTRAP_DIR: %s: %v", p, err)
		}
		return p
	}
	return buildBootstrap(t, "./functions/"+fn)
}

// buildBootstrap builds the main package pkg (relative to the repository
// root) as a Lambda bootstrap for the host, once per test process.
func buildBootstrap(t testing.TB, pkg string) string {
	t.Helper()
	buildMu.Lock()
	r, ok := builds[pkg]
	if !ok {
		r = new(buildResult)
		builds[pkg] = r
	}
	buildMu.Unlock()

	r.once.Do(func() {
		root, err := RepoRoot()
		if err != nil {
			r.err = err
			return
		}
		dir, err := processTempDir()
		if err != nil {
			r.err = err
			return
		}
		out := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(pkg, "./"), "/", "_"), "bootstrap")
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-o", out, pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+runtime.GOOS, "GOARCH="+runtime.GOARCH)
		if outb, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, outb)
			return
		}
		r.path = out
	})
	if r.err != nil {
		t.Fatalf("testenv: bootstrap %s: %v", pkg, r.err)
	}
	return r.path
}

// processTempDir returns a directory private to this test process:
// $TMPDIR/hookline-testenv-<uid>/<pid>. Directories left by processes that
// are gone are removed, so builds do not pile up.
var processTempDir = sync.OnceValues(func() (string, error) {
	base := filepath.Join(os.TempDir(), fmt.Sprintf("hookline-testenv-%d", os.Getuid()))
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", err
	}
	if entries, err := os.ReadDir(base); err == nil {
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || pid == os.Getpid() {
				continue
			}
			if errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
				os.RemoveAll(filepath.Join(base, e.Name()))
			}
		}
	}
	dir := filepath.Join(base, strconv.Itoa(os.Getpid()))
	return dir, os.MkdirAll(dir, 0o700)
})

// Package devstacktest gives tests the local stack of package devstack, as
// net/http/httptest gives them servers: a kumo private to the test holding
// the resources template.yaml declares (queues, DLQ, ledger table, hook
// secret, functions, HTTP API), with Overrides where a test needs them
// (a 1 s visibility, a maxReceiveCount of 3, ...), and, on request, the real
// function bootstraps running against it or under aws-lambda-rie.
//
// No test creates queues, tables or secrets by hand: every test runs on the
// topology that is deployed. Nothing here stubs AWS.
//
// kumo and aws-lambda-rie are the repository's .bin builds (devstack.Tool
// builds them when stale). Function bootstraps come from
// $HOOKLINE_BOOTSTRAP_DIR/<fn>/bootstrap when set (`make test` sets it to
// the `make bootstraps` output), else from one build per test process.
// Every missing piece is a test failure, never a skip; under -short every
// test that needs an emulator is skipped.
package devstacktest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/devstack"
)

// Options say what a test's stack holds beyond the template's resources.
type Options struct {
	// Overrides change template values (zero fields keep the template's).
	Overrides devstack.Overrides
	// Run lists the functions (short names: "receiver", "worker") that run
	// against kumo's Runtime API as in `make dev`, with their pollers.
	// Without it only kumo runs.
	Run []string
	// Bootstraps replace the bootstrap of a function in Run, such as a
	// test-only worker built with Build.
	Bootstraps map[string]string
	// Secret is the hook secret's value; default devstack.DevSecret.
	Secret string
	// Env is added to every function's environment, after the template's
	// (ALLOWED_SOURCE_CIDRS=..., say).
	Env []string
	// OnLine also receives every line kumo and the functions write.
	OnLine devstack.LineFunc
}

// Start starts a stack private to the test and stops it in t.Cleanup,
// failing the test if any process it started is left running. When the
// test fails, the last lines kumo and the functions wrote are logged.
func Start(t testing.TB, opts Options) *devstack.Stack {
	t.Helper()
	skipShort(t)
	root := RepoRoot(t)
	bs := map[string]string{}
	for _, fn := range opts.Run {
		if b, ok := opts.Bootstraps[fn]; ok {
			bs[fn] = b
		} else {
			bs[fn] = Bootstrap(t, fn)
		}
	}
	if opts.Secret == "" {
		opts.Secret = devstack.DevSecret
	}
	logs := new(logBuffer)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := devstack.Start(ctx, devstack.Options{
		Template:   filepath.Join(root, "template.yaml"),
		KumoBin:    Tool(t, "kumo"),
		Bootstraps: bs,
		Secret:     opts.Secret,
		Overrides:  opts.Overrides,
		ExtraEnv:   opts.Env,
		OnLine: func(proc string, line []byte) {
			logs.line(proc, line)
			if opts.OnLine != nil {
				opts.OnLine(proc, line)
			}
		},
	})
	if err != nil {
		t.Fatalf("devstacktest: %v\n%s", err, logs.Tail(4<<10))
	}
	t.Cleanup(func() {
		stop(t, "the stack", s.Stop, logs)
		for _, pid := range s.PIDs() {
			if devstack.ProcessAlive(pid) {
				t.Errorf("devstacktest: process %d still running after Stop", pid)
			}
		}
	})
	return s
}

// Setenv points the test process's AWS environment at the stack's kumo
// (t.Setenv), so code that reads the standard variables, such as awsenv,
// talks to it.
func Setenv(t testing.TB, s *devstack.Stack) {
	t.Helper()
	for _, kv := range s.Kumo.AWSEnv() {
		name, value, _ := strings.Cut(kv, "=")
		t.Setenv(name, value)
	}
}

// RIE is a function under aws-lambda-rie.
type RIE struct {
	*devstack.RIE
	logs *logBuffer
}

// Logs returns what rie and the function have written so far (the
// function's own lines and rie's START/END/REPORT lines), one per line as
// written.
func (r *RIE) Logs() string { return r.logs.String() }

// StartRIE runs function fn of the stack under aws-lambda-rie with
// bootstrap ("" for the function's own, see Bootstrap) and the environment
// the stack gives it plus env (later entries win): `sam local invoke`
// against the stack. It is stopped in t.Cleanup.
func StartRIE(t testing.TB, s *devstack.Stack, fn, bootstrap string, env ...string) *RIE {
	t.Helper()
	if bootstrap == "" {
		bootstrap = Bootstrap(t, fn)
	}
	logs := &logBuffer{bare: true}
	r, err := s.StartRIE(fn, Tool(t, "aws-lambda-rie"), bootstrap, env, logs.line)
	if err != nil {
		t.Fatalf("devstacktest: %v\n%s", err, logs.Tail(4<<10))
	}
	t.Cleanup(func() { stop(t, "aws-lambda-rie", r.Stop, logs) })
	return &RIE{RIE: r, logs: logs}
}

// stop runs stopFn, fails the test if it does not return, and logs the
// process's last output when the test failed.
func stop(t testing.TB, what string, stopFn func(), logs *logBuffer) {
	done := make(chan struct{})
	go func() { stopFn(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		t.Errorf("devstacktest: %s did not stop", what)
	}
	switch {
	case t.Failed():
		t.Logf("devstacktest: last output of %s:\n%s", what, logs.Tail(8<<10))
	case os.Getenv("HOOKLINE_TEST_LOGS") == "all":
		// make test checks the whole test output for secrets, so it asks
		// for every line the processes wrote, not only a failure's tail.
		t.Logf("devstacktest: output of %s:\n%s", what, logs.String())
	}
}

// logBuffer collects the lines processes write, prefixed by their process
// as in `make dev` ("worker | {...}") unless bare; safe for concurrent use.
type logBuffer struct {
	mu   sync.Mutex
	buf  strings.Builder
	bare bool
}

func (l *logBuffer) line(proc string, line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.bare {
		fmt.Fprintf(&l.buf, "%s | ", proc)
	}
	l.buf.Write(line)
	l.buf.WriteByte('\n')
}

// String returns every line so far.
func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// Tail returns at most the last n bytes.
func (l *logBuffer) Tail(n int) string {
	s := l.String()
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

func skipShort(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs kumo or aws-lambda-rie: run without -short (make test)")
	}
}

var repoRoot = sync.OnceValues(func() (string, error) { return devstack.RepoRoot(".") })

// RepoRoot returns the repository's root directory.
func RepoRoot(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var toolMu sync.Mutex

// Tool returns the path of "kumo" or "aws-lambda-rie": see devstack.Tool.
func Tool(t testing.TB, name string) string {
	t.Helper()
	skipShort(t)
	toolMu.Lock()
	defer toolMu.Unlock()
	p, err := devstack.Tool(RepoRoot(t), name, t.Logf)
	if err != nil {
		t.Fatalf("devstacktest: no %s: %v", name, err)
	}
	return p
}

// Bootstrap returns the host bootstrap of function fn ("receiver",
// "worker"): $HOOKLINE_BOOTSTRAP_DIR/<fn>/bootstrap when that variable is
// set, else Build("./functions/<fn>").
func Bootstrap(t testing.TB, fn string) string {
	t.Helper()
	skipShort(t)
	if fn == "" || strings.ContainsAny(fn, `/\.`) {
		t.Fatalf("devstacktest: bad function name %q", fn)
	}
	if dir := os.Getenv("HOOKLINE_BOOTSTRAP_DIR"); dir != "" {
		p, err := filepath.Abs(filepath.Join(dir, fn, "bootstrap"))
		if err == nil {
			_, err = os.Stat(p)
		}
		if err != nil {
			t.Fatalf("devstacktest: HOOKLINE_BOOTSTRAP_DIR: %v", err)
		}
		return p
	}
	return Build(t, "./functions/"+fn)
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

// Build builds the main package pkg (relative to the repository root, such
// as "./internal/devstack/testdata/failworker") as a Lambda bootstrap for
// this machine, once per test process, and returns its path.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	skipShort(t)
	buildMu.Lock()
	r, ok := builds[pkg]
	if !ok {
		r = new(buildResult)
		builds[pkg] = r
	}
	buildMu.Unlock()
	r.once.Do(func() {
		dir, err := processTempDir()
		if err != nil {
			r.err = err
			return
		}
		out := filepath.Join(dir, strings.ReplaceAll(strings.TrimPrefix(pkg, "./"), "/", "_"), "bootstrap")
		if r.err = devstack.BuildBootstrap(RepoRoot(t), pkg, out); r.err == nil {
			r.path = out
		}
	})
	if r.err != nil {
		t.Fatalf("devstacktest: %v", r.err)
	}
	return r.path
}

// processTempDir returns a directory private to this test process,
// $TMPDIR/hookline-devstacktest-<uid>/<pid>, and removes those of
// processes that are gone, so builds do not pile up.
var processTempDir = sync.OnceValues(func() (string, error) {
	base := filepath.Join(os.TempDir(), fmt.Sprintf("hookline-devstacktest-%d", os.Getuid()))
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

package testenv

import (
	"bytes"
	"os"
	"sync"
	"testing"
	"time"
)

// logBuffer collects a process's output lines; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// line is a devstack.LineFunc.
func (b *logBuffer) line(_ string, line []byte) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(line)
	b.buf.WriteByte('\n')
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// stop runs stopFn (which kills the process and its descendants, then reaps
// it) and fails the test if it does not return, and shows the process's last
// output when the test failed.
func stop(t testing.TB, name string, pid int, stopFn func(), logs *logBuffer) {
	done := make(chan struct{})
	go func() { stopFn(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Errorf("testenv: %s (pid %d) did not exit after SIGKILL", name, pid)
	}
	if t.Failed() {
		t.Logf("testenv: last output of %s:\n%s", name, tail(logs.String(), 8<<10))
	}
}

// baseEnv is the environment every child starts from: enough to run a
// program, nothing that could point it at real AWS or change its behaviour.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

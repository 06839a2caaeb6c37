package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/proctree"
)

// logBuffer collects a process's stdout and stderr; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is a child process running in its own process group.
type proc struct {
	name string
	cmd  *exec.Cmd
	logs *logBuffer
	done chan struct{} // closed once the process has been reaped
	err  error         // Wait's result, valid after done is closed

	stopOnce sync.Once
}

func startProc(name, bin string, args, env []string, dir string) (*proc, error) {
	p := &proc{name: name, logs: new(logBuffer), done: make(chan struct{})}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.Stdout = p.logs
	cmd.Stderr = p.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// If a grandchild escaped the kill and holds our pipe, do not hang.
	cmd.WaitDelay = 3 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p.cmd = cmd
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop kills the process group and the process groups of all descendants
// (aws-lambda-rie starts the bootstrap in a group of its own), then reaps.
func (p *proc) stop(t testing.TB) {
	p.stopOnce.Do(func() {
		if !p.exited() {
			pid := p.pid()
			// Descendants first, and give the parent a moment to reap them
			// so that no orphan or zombie outlives the test.
			proctree.KillDescendants(pid, time.Second)
			syscall.Kill(-pid, syscall.SIGKILL)
		}
		select {
		case <-p.done:
		case <-time.After(10 * time.Second):
			t.Errorf("testenv: %s (pid %d) did not exit after SIGKILL", p.name, p.pid())
		}
		if t.Failed() {
			t.Logf("testenv: last output of %s:\n%s", p.name, tail(p.logs.String(), 8<<10))
		}
	})
}

// freePorts returns n distinct free TCP ports on 127.0.0.1.
func freePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
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

var errExited = errors.New("process exited")

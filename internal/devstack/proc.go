package devstack

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// LineFunc receives one line a process wrote (stdout or stderr), without the
// newline. proc is "kumo", "receiver", "worker", ...
type LineFunc func(proc string, line []byte)

// proc is a child process in its own process group, so that stopping it
// also stops anything it started.
type proc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{} // closed once reaped
	err  error         // Wait's result, valid after done

	pipes sync.WaitGroup
}

func startProc(name, bin string, args, env []string, dir string, onLine LineFunc) (*proc, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Bounds Wait once the process has exited (stop kills the descendants
	// that could hold the pipes, so the readers finish first).
	cmd.WaitDelay = 2 * time.Second
	p := &proc{name: name, cmd: cmd, done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	for _, r := range []io.Reader{stdout, stderr} {
		p.pipes.Add(1)
		go func() {
			defer p.pipes.Done()
			sc := bufio.NewScanner(r)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				if onLine != nil {
					onLine(name, sc.Bytes())
				}
			}
			// Keep draining after an over-long line so the child never blocks.
			_, _ = io.Copy(io.Discard, r)
		}()
	}
	go func() {
		// Wait closes the pipes, so read them to the end first.
		p.pipes.Wait()
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace, and
// waits until the process is reaped. Descendants that left the group (rie's
// bootstrap) are killed first: they would hold the output pipes open, and
// the reaping waits for those to close.
func (p *proc) stop(grace time.Duration) {
	pgid := p.pid()
	killDescendants(pgid, time.Second)
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// The leader is gone; make sure nothing else of its group survived.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// baseEnv is the part of our environment a child may inherit: nothing that
// points an SDK elsewhere (AWS_*), so local processes cannot reach real AWS.
func baseEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "TZ", "LANG"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// ProcessAlive reports whether a process with this pid still exists.
func ProcessAlive(pid int) bool {
	return !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH)
}

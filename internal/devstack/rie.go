package devstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// rieStartTimeout bounds how long rie may take to accept connections, and how
// long the first invocation may be refused while it starts.
const rieStartTimeout = 20 * time.Second

// RIE is an aws-lambda-rie process serving one function bootstrap: what
// `sam local invoke` runs inside its container.
type RIE struct {
	Endpoint string // http://127.0.0.1:<port>, the invoke address

	p      *proc
	client *http.Client

	mu       sync.Mutex // serializes Invoke: concurrent invocations crash rie
	ready    bool       // an invocation has reached the emulator
	stopping *atomic.Bool
}

// StartRIE runs bin (aws-lambda-rie) for bootstrap on private 127.0.0.1
// invoke and runtime API addresses (several rie side by side need distinct
// ones), with exactly env as the environment and the bootstrap's folder as
// working directory, as Lambda's /var/task. It returns once rie accepts
// connections; rie starts the bootstrap on the first Invoke, as Lambda does
// on a cold start. rie's own log level is pinned to warn, because rie also
// reads LOG_LEVEL, which is meant for the function.
func StartRIE(bin, bootstrap string, env []string, onLine LineFunc) (*RIE, error) {
	// Absolute, because rie runs in the bootstrap's folder.
	bin, err := filepath.Abs(bin)
	if err != nil {
		return nil, err
	}
	if bootstrap, err = filepath.Abs(bootstrap); err != nil {
		return nil, err
	}
	for _, p := range []string{bin, bootstrap} {
		if err := checkExecutable(p); err != nil {
			return nil, err
		}
	}
	stopping := new(atomic.Bool)
	lines := func(proc string, line []byte) {
		// Stop kills the bootstrap before rie, which rie reports as the
		// runtime's fatal error: noise after a clean run, so dropped.
		if onLine == nil || stopping.Load() && bytes.Contains(line, []byte("(rapid)")) {
			return
		}
		onLine(proc, line)
	}
	var lastErr error
	for range 3 { // new ports if another process grabbed ours
		var ports [2]int
		for i := range ports {
			if ports[i], err = FreePort(); err != nil {
				return nil, err
			}
		}
		invokeAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
		args := []string{
			"--log-level", "warn",
			"--runtime-interface-emulator-address", invokeAddr,
			"--runtime-api-address", "127.0.0.1:" + strconv.Itoa(ports[1]),
			bootstrap,
		}
		p, err := startProc("aws-lambda-rie", bin, args, env, filepath.Dir(bootstrap), lines)
		if err != nil {
			return nil, err
		}
		r := &RIE{Endpoint: "http://" + invokeAddr, p: p, client: &http.Client{}, stopping: stopping}
		if lastErr = r.waitListening(invokeAddr); lastErr == nil {
			return r, nil
		}
		p.stop(time.Second)
	}
	return nil, fmt.Errorf("aws-lambda-rie did not start: %w", lastErr)
}

// waitListening retries connecting to the invoke address until rie accepts.
func (r *RIE) waitListening(addr string) error {
	deadline := time.Now().Add(rieStartTimeout)
	var lastErr error
	for time.Now().Before(deadline) {
		if r.p.exited() {
			return r.exitErr()
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		lastErr = err
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("%s not accepting after %v: %v", addr, rieStartTimeout, lastErr)
}

// errExited means an emulator process ended while it was still needed.
var errExited = errors.New("process exited")

func (r *RIE) exitErr() error {
	return fmt.Errorf("aws-lambda-rie %w (%v)", errExited, r.p.err)
}

// Invoke sends event to the function and returns its response payload.
// Calls are serialized. Until the first invocation gets through, a refused
// connection is retried.
//
// As with rie, a function error is not a Go error: it comes back as a
// {"errorMessage":…,"errorType":…} payload. A timeout
// (AWS_LAMBDA_FUNCTION_TIMEOUT) comes back as the plain-text payload
// "Task timed out after N.00 seconds". Invoke returns an error only when the
// call fails (transport, context, a non-200 status, rie gone).
func (r *RIE) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	url := r.Endpoint + "/2015-03-31/functions/function/invocations"
	deadline := time.Now().Add(rieStartTimeout)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(event))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := r.client.Do(req)
		if err != nil {
			if r.p.exited() {
				return nil, r.exitErr()
			}
			if !r.ready && errors.Is(err, syscall.ECONNREFUSED) && time.Now().Before(deadline) && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return nil, fmt.Errorf("rie invoke: %w", err)
		}
		r.ready = true
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("rie invoke: reading response: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return body, fmt.Errorf("rie invoke: HTTP %s: %s", resp.Status, body)
		}
		return body, nil
	}
}

// PID is rie's process id.
func (r *RIE) PID() int { return r.p.pid() }

// Stop kills rie and the bootstrap it started, and waits for both.
func (r *RIE) Stop() {
	r.stopping.Store(true)
	r.p.stop(2 * time.Second)
}

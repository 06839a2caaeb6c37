package testenv

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
	"syscall"
	"testing"
	"time"
)

// RIE is an aws-lambda-rie process serving one function bootstrap.
type RIE struct {
	Endpoint string // http://127.0.0.1:<port>, the emulator's invoke address

	p      *proc
	client *http.Client

	mu    sync.Mutex // serializes Invoke: concurrent invocations crash rie
	ready bool       // an invocation has reached the emulator
}

// StartRIE runs aws-lambda-rie for bootstrap (a path, see Bootstrap) with a
// private invoke address and runtime API address on 127.0.0.1, and kills it
// and the function in t.Cleanup.
//
// The function's environment is PATH, HOME and TMPDIR plus env (later entries
// win), e.g. append(k.Env(), "QUEUE_URL="+u, "AWS_LAMBDA_FUNCTION_TIMEOUT=3").
// Nothing else leaks from the test process. Without
// AWS_LAMBDA_FUNCTION_TIMEOUT rie allows 300 s per invocation. rie's own log
// level is pinned to warn, because rie also reads LOG_LEVEL, which is meant
// for the function.
//
// It does not invoke the function: rie starts the bootstrap on the first
// Invoke, as Lambda does on a cold start.
func StartRIE(t testing.TB, bootstrap string, env []string) *RIE {
	t.Helper()
	if testing.Short() {
		t.Skip("needs aws-lambda-rie: run without -short (make test)")
	}
	bin := Binary(t, "aws-lambda-rie")
	bootstrap, err := filepath.Abs(bootstrap)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkExecutable(bootstrap); err != nil {
		t.Fatalf("testenv: bootstrap %s: %v", bootstrap, err)
	}
	var lastErr error
	for range 3 { // new ports if another process grabbed ours
		ports, err := freePorts(2)
		if err != nil {
			t.Fatalf("testenv: rie: %v", err)
		}
		invokeAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
		args := []string{
			"--log-level", "warn",
			"--runtime-interface-emulator-address", invokeAddr,
			"--runtime-api-address", "127.0.0.1:" + strconv.Itoa(ports[1]),
			bootstrap,
		}
		p, err := startProc("aws-lambda-rie", bin, args, append(baseEnv(), env...), filepath.Dir(bootstrap))
		if err != nil {
			t.Fatalf("testenv: %v", err)
		}
		t.Cleanup(func() { p.stop(t) })
		r := &RIE{Endpoint: "http://" + invokeAddr, p: p, client: &http.Client{}}
		if lastErr = r.waitListening(invokeAddr); lastErr == nil {
			return r
		}
		p.stop(t)
	}
	t.Fatalf("testenv: aws-lambda-rie did not start: %v", lastErr)
	return nil
}

// waitListening retries connecting to the invoke address until rie accepts.
func (r *RIE) waitListening(addr string) error {
	deadline := time.Now().Add(startTimeout)
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
	return fmt.Errorf("%s not accepting after %v: %v", addr, startTimeout, lastErr)
}

func (r *RIE) exitErr() error {
	return fmt.Errorf("aws-lambda-rie %w (%v): %s", errExited, r.p.err, tail(r.p.logs.String(), 4<<10))
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
	deadline := time.Now().Add(startTimeout)
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

// Logs returns what rie and the function have written to stdout and stderr
// so far (the function's own log lines, plus rie's START/END/REPORT lines).
func (r *RIE) Logs() string { return r.p.logs.String() }

package testenv

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hookline/hookline/internal/devstack"
)

// RIE is an aws-lambda-rie process serving one function bootstrap.
type RIE struct {
	Endpoint string // http://127.0.0.1:<port>, the emulator's invoke address

	rie  *devstack.RIE
	logs *logBuffer
}

// StartRIE runs aws-lambda-rie for bootstrap (a path, see Bootstrap) with a
// private invoke address and runtime API address on 127.0.0.1, and kills it
// and the function in t.Cleanup.
//
// The function's environment is PATH, HOME and TMPDIR plus env (later entries
// win), e.g. append(k.Env(), "QUEUE_URL="+u, "AWS_LAMBDA_FUNCTION_TIMEOUT=3").
// Nothing else leaks from the test process. Without
// AWS_LAMBDA_FUNCTION_TIMEOUT rie allows 300 s per invocation. See
// devstack.StartRIE for the rest.
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
	logs := new(logBuffer)
	r, err := devstack.StartRIE(bin, bootstrap, append(baseEnv(), env...), logs.line)
	if err != nil {
		t.Fatalf("testenv: %v\n%s", err, tail(logs.String(), 4<<10))
	}
	t.Cleanup(func() { stop(t, "aws-lambda-rie", r.PID(), r.Stop, logs) })
	return &RIE{Endpoint: r.Endpoint, rie: r, logs: logs}
}

// Invoke sends event to the function and returns its response payload; see
// devstack.RIE.Invoke. Calls are serialized.
func (r *RIE) Invoke(ctx context.Context, event []byte) ([]byte, error) {
	return r.rie.Invoke(ctx, event)
}

// Logs returns what rie and the function have written to stdout and stderr
// so far (the function's own log lines, plus rie's START/END/REPORT lines).
func (r *RIE) Logs() string { return r.logs.String() }

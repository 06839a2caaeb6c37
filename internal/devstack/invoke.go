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
	"syscall"
	"time"

	"github.com/hookline/hookline/internal/samtemplate"
)

// DevSecret is the hook secret the files in events/ authenticate with.
const DevSecret = "hookline-dev-secret-0123456789abcdef"

// InvokeOptions configure a one-shot invocation, `sam local invoke` without
// Docker: an ephemeral kumo holds the template's resources, and the real
// bootstrap runs under aws-lambda-rie with the env the template would set.
type InvokeOptions struct {
	Template  string
	KumoBin   string
	RIEBin    string
	Bootstrap string
	Function  string // short name: "receiver", "worker"
	Event     []byte
	Secret    string   // default DevSecret
	ExtraEnv  []string // added last
	OnLine    LineFunc // function and rie output, as it comes
}

// InvokeResult is the function's answer.
type InvokeResult struct {
	Payload []byte
	Env     []string // the template's variables with local values
}

// Invoke runs one invocation and tears everything down before it returns.
func Invoke(ctx context.Context, o InvokeOptions) (*InvokeResult, error) {
	if o.Secret == "" {
		o.Secret = DevSecret
	}
	t, err := samtemplate.Load(o.Template)
	if err != nil {
		return nil, err
	}
	spec, err := FromTemplate(t)
	if err != nil {
		return nil, err
	}
	f, ok := spec.Function(o.Function)
	if !ok {
		return nil, fmt.Errorf("template has no function %q", o.Function)
	}
	for _, p := range []string{o.KumoBin, o.RIEBin, o.Bootstrap} {
		if err := checkExecutable(p); err != nil {
			return nil, err
		}
	}
	k, err := StartKumo(ctx, o.KumoBin, 0, nil)
	if err != nil {
		return nil, err
	}
	defer k.Stop()
	res, err := CreateResources(ctx, NewClients(k.Endpoint), spec, o.Secret, Overrides{})
	if err != nil {
		return nil, err
	}
	fenv, err := res.FunctionEnv(t, f)
	if err != nil {
		return nil, err
	}
	env := append(baseEnv(), k.AWSEnv()...)
	env = append(env,
		"AWS_LAMBDA_FUNCTION_NAME="+f.Name,
		"AWS_LAMBDA_FUNCTION_TIMEOUT="+strconv.Itoa(f.TimeoutSec),
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(f.MemoryMB))
	env = append(env, fenv...)
	env = append(env, o.ExtraEnv...)

	boot, err := filepath.Abs(o.Bootstrap)
	if err != nil {
		return nil, err
	}
	ports := [2]int{}
	for i := range ports {
		if ports[i], err = FreePort(); err != nil {
			return nil, err
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(ports[0])
	// rie reads LOG_LEVEL too, which is meant for the function: pin its own.
	args := []string{"--log-level", "warn", "--runtime-interface-emulator-address", addr,
		"--runtime-api-address", "127.0.0.1:" + strconv.Itoa(ports[1]), boot}
	p, err := startProc(o.Function, o.RIEBin, args, env, o.OnLine)
	if err != nil {
		return nil, err
	}
	defer p.stop(2 * time.Second)
	payload, err := rieInvoke(ctx, p, "http://"+addr, o.Event, time.Duration(f.TimeoutSec+10)*time.Second)
	if err != nil {
		return nil, err
	}
	return &InvokeResult{Payload: payload, Env: fenv}, nil
}

// rieInvoke posts the event, retrying a refused connection while rie starts.
func rieInvoke(ctx context.Context, p *proc, endpoint string, event []byte, timeout time.Duration) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := endpoint + "/2015-03-31/functions/function/invocations"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(event))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			var op *net.OpError
			if p.exited() {
				return nil, fmt.Errorf("aws-lambda-rie exited: %v", p.err)
			}
			if errors.Is(err, syscall.ECONNREFUSED) && errors.As(err, &op) && ctx.Err() == nil {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return nil, fmt.Errorf("invoke: %w", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return body, fmt.Errorf("invoke: HTTP %s: %s", resp.Status, body)
		}
		return body, nil
	}
}

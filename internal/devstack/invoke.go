package devstack

import (
	"context"
	"fmt"
	"strconv"
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
	// Fail before starting kumo, not after.
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

	r, err := StartRIE(o.RIEBin, o.Bootstrap, env, o.OnLine)
	if err != nil {
		return nil, err
	}
	defer r.Stop()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(f.TimeoutSec+10)*time.Second)
	defer cancel()
	payload, err := r.Invoke(ctx, o.Event)
	if err != nil {
		return nil, err
	}
	return &InvokeResult{Payload: payload, Env: fenv}, nil
}

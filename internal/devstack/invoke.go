package devstack

import (
	"context"
	"time"
)

// DevSecret is the hook secret of every local stack that is not given
// another: the files in events/ authenticate with it.
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

// Invoke runs one invocation, tears everything down and returns the
// function's answer.
func Invoke(ctx context.Context, o InvokeOptions) ([]byte, error) {
	// Fail before starting kumo, not after.
	for _, p := range []string{o.RIEBin, o.Bootstrap} {
		if err := checkExecutable(p); err != nil {
			return nil, err
		}
	}
	if o.Secret == "" {
		o.Secret = DevSecret
	}
	s, err := Start(ctx, Options{Template: o.Template, KumoBin: o.KumoBin, Secret: o.Secret, ExtraEnv: o.ExtraEnv})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	r, err := s.StartRIE(o.Function, o.RIEBin, o.Bootstrap, nil, o.OnLine)
	if err != nil {
		return nil, err
	}
	defer r.Stop()
	f, _ := s.Spec.Function(o.Function)
	ctx, cancel := context.WithTimeout(ctx, time.Duration(f.TimeoutSec+10)*time.Second)
	defer cancel()
	return r.Invoke(ctx, o.Event)
}

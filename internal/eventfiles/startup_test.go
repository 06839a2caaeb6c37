package eventfiles

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

// A function missing its configuration must stop at init with a message that
// names every missing variable, rather than fail on the first request.
func TestBootstrapRefusesToStartWithoutConfig(t *testing.T) {
	tests := []struct {
		fn      string
		env     []string
		missing []string
	}{
		{fn: "receiver", env: nil, missing: []string{"QUEUE_URL", "SECRET_ID"}},
		{fn: "receiver", env: []string{"QUEUE_URL=http://q", "SECRET_ID=s", "MAX_BODY_BYTES=lots"}, missing: []string{"MAX_BODY_BYTES"}},
		{fn: "receiver", env: []string{"QUEUE_URL=http://q", "SECRET_ID=s", "ALLOWED_SOURCE_CIDRS=10.0.0.0/33"}, missing: []string{"10.0.0.0/33"}},
		{fn: "worker", env: nil, missing: []string{"QUEUE_URL"}},
		{fn: "worker", env: []string{"QUEUE_URL=http://q", "LEDGER_RETENTION=forever"}, missing: []string{"LEDGER_RETENTION"}},
	}
	for _, tt := range tests {
		t.Run(tt.fn+" "+strings.Join(tt.missing, ","), func(t *testing.T) {
			cmd := exec.Command(devstacktest.Bootstrap(t, tt.fn))
			cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, tt.env...)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) || exit.ExitCode() != 1 {
				t.Fatalf("want exit status 1, got %v: %s", err, out)
			}
			if !strings.Contains(string(out), `"level":"ERROR"`) {
				t.Fatalf("no JSON error line: %s", out)
			}
			for _, name := range tt.missing {
				if !strings.Contains(string(out), name) {
					t.Errorf("message does not name %s: %s", name, out)
				}
			}
		})
	}
}

// The worker with an Okta credentials secret it cannot read stops at init
// saying which secret, as the README promises, instead of running handlers
// without their Okta client.
func TestWorkerRefusesToStartWithoutItsOktaSecret(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	cmd := exec.Command(devstacktest.Bootstrap(t, "worker"))
	cmd.Env = append([]string{"PATH=/usr/bin:/bin", "QUEUE_URL=" + s.QueueURL("EventsQueue"), "OKTA_CREDENTIALS_SECRET_ID=no-such-secret"}, s.Kumo.AWSEnv()...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("want exit status 1, got %v: %s", err, out)
	}
	if !strings.Contains(string(out), `"msg":"worker cannot start"`) || !strings.Contains(string(out), "okta credentials") || !strings.Contains(string(out), "no-such-secret") {
		t.Fatalf("the error does not name the secret: %s", out)
	}
}

package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/orgs"
	"github.com/hookline/hookline/internal/standin"
)

func init() {
	register(command{name: "dev", summary: "run the whole pipeline locally on kumo (make dev)", run: runDev})
}

const defaultState = ".bin/dev-stack.json"

func runDev(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("dev", stderr)
	port := fs.Int("port", 4566, "kumo port on 127.0.0.1 (0 picks a free one)")
	concurrency := fs.Int("concurrency", 2, "processes per function (kumo runs one invocation per process at a time)")
	publicPort := fs.Int("public-port", 0, "also serve the API on 127.0.0.1:PORT for any Host header (point an HTTPS tunnel here)")
	binDir := fs.String("bin", ".bin", "directory with <fn>/bootstrap (make bootstraps)")
	tmpl := fs.String("template", "template.yaml", "SAM template the local resources come from")
	statePath := fs.String("state", defaultState, "state file for `hookline send`")
	logPath := fs.String("log-file", ".bin/dev.log", "copy of the function logs ('' for none)")
	secret := fs.String("secret", "", "hook secret value (default: random, printed)")
	reconcileEvery := fs.Duration("reconcile-every", 20*time.Second, "run the reconciler this often against the stand-in System Log (0: never)")
	reconcileGrace := fs.Duration("reconcile-grace", 10*time.Second, "the hook's head start before the reconciler recovers an event")
	orgList := fs.String("orgs", "", "serve these orgs (OktaOrgs, e.g. prod,preview), each with its own stand-in Okta org, hook URL and secrets (make dev ORGS=prod,preview)")
	if err := parse(fs, args); err != nil {
		return err
	}
	served, err := orgs.Parse(*orgList)
	if err != nil {
		return fmt.Errorf("%w: --orgs: %v", errUsage, err)
	}

	kumo, err := tool("kumo", stderr)
	if err != nil {
		return err
	}
	out := &prefixWriter{w: stdout}
	if *logPath != "" {
		if err := os.MkdirAll(filepath.Dir(*logPath), 0o755); err != nil {
			return err
		}
		f, err := os.Create(*logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		out.file = f
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	began := time.Now()
	// A stand-in Okta org: the System Log that `hookline send` writes every
	// event to, and that the reconciler reads.
	var cleanups []func()
	defer func() {
		for _, c := range cleanups {
			c()
		}
	}()
	org := standin.Start(func(f func()) { cleanups = append(cleanups, f) })
	oktaToken := rand.Text()
	org.SetAPIToken(oktaToken)
	// The streamer behind the stand-in Okta Log Streaming bus
	// (devstack.DevLogStreamSource): `make send CHANNEL=stream`.
	fns := []string{"receiver", "worker", "streamer"}
	if *reconcileEvery > 0 {
		fns = append(fns, "reconciler")
	}
	// The other orgs: a stand-in org each, and their secrets under the
	// names the template grants (internal/orgs), made before any function
	// starts.
	extraEnv := append([]string{"OKTA_CREDENTIALS_SECRET_ID=" + devOktaSecret, "RECONCILE_GRACE=" + reconcileGrace.String(),
		"RECONCILE_LOOKBACK=1h"}, devHookEnv...)
	extraSecrets := map[string]string{}
	devOrgs := map[string]DevOrg{}
	if served.Len() > 1 {
		extraEnv = append(extraEnv, "OKTA_ORGS="+strings.Join(served.Names(), ","))
		for _, name := range served.Names()[1:] {
			o := standin.Start(func(f func()) { cleanups = append(cleanups, f) })
			token := rand.Text()
			o.SetAPIToken(token)
			d := DevOrg{Secret: rand.Text() + rand.Text(), OktaURL: o.URL, OktaToken: token}
			extraSecrets[orgs.SecretName(devstack.StackName, name, orgs.KindHook)] = d.Secret
			extraSecrets[orgs.SecretName(devstack.StackName, name, orgs.KindOkta)] = `{"orgUrl":"` + o.URL + `","apiToken":"` + token + `"}`
			devOrgs[name] = d
		}
	}
	stack, err := devstack.Start(ctx, devstack.Options{
		Template:   *tmpl,
		KumoBin:    kumo,
		Bootstraps: devstack.DefaultBootstraps(*binDir, fns...),
		// Only the reconciler reads these: the stand-in's credentials, and
		// a grace short enough to watch.
		ExtraEnv:     extraEnv,
		ExtraSecrets: extraSecrets,
		Port:         *port,
		Concurrency:  *concurrency,
		Secret:       *secret,
		PublicPort:   *publicPort,
		OnLine:       out.line,
		Log:          log,
	})
	if err != nil {
		return err
	}
	defer func() {
		stopAt := time.Now()
		fmt.Fprintln(stderr, "stopping the dev stack…")
		pids := stack.PIDs()
		stack.Stop()
		os.Remove(*statePath)
		var alive []int
		for _, pid := range pids {
			if devstack.ProcessAlive(pid) {
				alive = append(alive, pid)
			}
		}
		if len(alive) > 0 {
			fmt.Fprintf(stderr, "stopped in %v, but these processes are still running: %v\n", time.Since(stopAt).Round(time.Millisecond), alive)
			return
		}
		fmt.Fprintf(stderr, "stopped in %v; no process left behind\n", time.Since(stopAt).Round(time.Millisecond))
	}()
	if _, err := stack.Clients.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(devOktaSecret),
		SecretString: aws.String(`{"orgUrl":"` + org.URL + `","apiToken":"` + oktaToken + `"}`)}); err != nil {
		return fmt.Errorf("okta credentials secret: %w", err)
	}
	if *reconcileEvery > 0 {
		f, _ := stack.Spec.Function("reconciler")
		go schedule(ctx, stack, f.Name, *reconcileEvery, log)
	}
	st := stateOf(stack)
	st.OktaURL, st.OktaToken = org.URL, oktaToken
	st.LogStreamSource = devstack.DevLogStreamSource
	if *reconcileEvery > 0 {
		st.OktaSecretID, st.OktaEventTypes = devOktaSecret, devEventTypes(stack)
		st.ReconcileEvery, st.ReconcileGrace = reconcileEvery.String(), reconcileGrace.String()
		st.OktaHookID = devHook(ctx, org, oktaToken, stack, log)
	}
	if len(devOrgs) > 0 {
		st.Orgs = map[string]DevOrg{served.Default(): {URL: st.URL, Secret: st.Secret, OktaURL: org.URL, OktaToken: oktaToken}}
		for name, d := range devOrgs {
			d.URL = st.URL + "/" + name
			st.Orgs[name] = d
		}
	}
	if *publicPort != 0 {
		st.Public = fmt.Sprintf("http://127.0.0.1:%d/okta/events", *publicPort)
	}
	if err := writeState(*statePath, st); err != nil {
		return err
	}
	// The samples seed the learned payload shapes: `make schema ARGS=--local`.
	shapes := &ledger.Schemas{Client: stack.Clients.DynamoDB, Table: stack.Resources.Tables["LedgerTable"]}
	if _, err := seedSamples(ctx, shapes, defaultSamples, io.Discard); err != nil {
		log.Warn("payload shapes not seeded from the samples", "error", err.Error())
	}
	printBanner(stdout, stack, st, *statePath, *logPath, time.Since(began))
	out.start()
	return stack.Wait(ctx)
}

// devOktaSecret names the local Okta credentials secret.
const devOktaSecret = "hookline-dev-okta-credentials"

// schedule invokes the reconciler every interval, as the template's
// EventBridge schedule does.
func schedule(ctx context.Context, s *devstack.Stack, fn string, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ictx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		out, err := s.Clients.Lambda.Invoke(ictx, &lambda.InvokeInput{FunctionName: aws.String(fn),
			Payload: []byte(`{"source":"aws.events","detail-type":"Scheduled Event"}`)})
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			log.Warn("scheduled reconciler run not invoked", "error", err.Error())
		case out.FunctionError != nil:
			log.Warn("scheduled reconciler run failed", "error", string(out.Payload))
		}
	}
}

func printBanner(w io.Writer, s *devstack.Stack, st State, statePath, logPath string, ready time.Duration) {
	q := func(id string) string { return s.QueueURL(id) }
	fmt.Fprintf(w, `
hookline dev stack ready in %v (kumo %s, API %s)

  endpoint   %s
  secret     %s   (the %s header value)
  queue      %s
  DLQ        %s
`, ready.Round(time.Millisecond), st.Endpoint, st.APIID, st.URL, st.Secret, st.AuthHeader, q("EventsQueue"), q("EventsDLQ"))
	if st.Public != "" {
		fmt.Fprintf(w, "  public     %s   (any Host header: point an HTTPS tunnel at 127.0.0.1:%s)\n",
			st.Public, strings.TrimSuffix(strings.TrimPrefix(st.Public, "http://127.0.0.1:"), "/okta/events"))
	}
	fmt.Fprintf(w, `
verify (Okta's one-time challenge):
  curl -si -H '%[4]s: %[2]s' -H 'x-okta-verification-challenge: hello' %[1]s

deliver one event:
  curl -si -X POST -H '%[4]s: %[2]s' -H 'Content-Type: application/json' %[1]s \
    -d '{"eventType":"com.okta.event_hook","eventId":"dev-1","source":"curl","data":{"events":[{"uuid":"dev-uuid-1","eventType":"user.lifecycle.create","published":"2026-01-01T00:00:00Z","displayMessage":"Create Okta user"}]}}'

or act as Okta:  make send   (or: make send COUNT=100 TYPE=user.lifecycle.create)
Log Streaming:   make send CHANNEL=stream   (CHANNEL=both: the hook, then the stream: handled once)
state:           %[3]s
`, st.URL, st.Secret, statePath, st.AuthHeader)
	if st.ReconcileEvery != "" {
		fmt.Fprintf(w, `okta (stand-in) %s: its System Log holds every event make send sends
reconciler:      every %s, recovering events older than %s that the hook did not bring
lose some:       make send COUNT=100 LOSE=10%%   (drops 10%% of deliveries, as Okta giving up would, and logs event_hook.delivery failures)
okta secret:     %s (on kumo): the stand-in's credentials, as OktaCredentialsSecretArn names a real org's
replay:          make replay ARGS='--local --since 1h'   (types: %s)
okta hook:       %s (%s): each reconciler run logs its health ("okta side"); break and mend it with
                 OKTA_ORG_URL=%s OKTA_API_TOKEN=%s hookline okta deactivate|activate|status %[6]s
`, st.OktaURL, st.ReconcileEvery, st.ReconcileGrace, st.OktaSecretID, strings.Join(st.OktaEventTypes, ","), devHookName, st.OktaHookID, st.OktaURL, st.OktaToken)
	}
	if logPath != "" {
		fmt.Fprintf(w, "logs:            below, prefixed by function, and copied to %s\n", logPath)
	} else {
		fmt.Fprintln(w, "logs:            below, prefixed by function")
	}
	fmt.Fprintf(w, "Ctrl-C stops everything.\n\n")
}

// prefixWriter prints "receiver | {...}" lines: one space each side of the
// bar, whatever the name's length, so `grep 'worker |'` finds them. Lines that arrive before the
// banner is printed are held back so the banner stays readable.
type prefixWriter struct {
	mu      sync.Mutex
	w       io.Writer
	file    io.Writer
	started bool
	held    [][]byte
}

func (p *prefixWriter) line(proc string, line []byte) {
	b := fmt.Appendf(nil, "%s | %s\n", proc, line)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.file != nil {
		_, _ = p.file.Write(b)
	}
	if !p.started {
		p.held = append(p.held, b)
		return
	}
	_, _ = p.w.Write(b)
}

func (p *prefixWriter) start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started = true
	for _, b := range p.held {
		_, _ = p.w.Write(b)
	}
	p.held = nil
}

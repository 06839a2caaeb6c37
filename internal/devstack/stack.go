package devstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/clock"
	"github.com/hookline/hookline/internal/samtemplate"
)

// Options configure a dev stack. Template values are used unless Overrides
// says otherwise (tests shorten the visibility timeout, for instance).
type Options struct {
	Template string // path of template.yaml
	KumoBin  string
	// Bootstraps maps a function's short name ("receiver", "worker") to the
	// host-built bootstrap that runs it. A function without one is created
	// in kumo but not run, and gets no poller: tests that only need the
	// template's queues, table and secret start no process but kumo.
	Bootstraps map[string]string
	Port       int // kumo's port; 0 picks a free one
	// Concurrency is how many processes serve each function (kumo gives one
	// process one invocation at a time); default 2.
	Concurrency int
	Secret      string // hook secret value; "" generates a random one (see DevSecret)
	Overrides   Overrides
	// ExtraEnv is added to every function process (after the template's).
	ExtraEnv []string
	// ExtraSecrets are created (name → value) before any function starts:
	// the secrets of a dev stack's other orgs (internal/orgs SecretName).
	ExtraSecrets map[string]string
	// OnLine receives every line the functions and kumo write, with the
	// process ("receiver", "worker", "kumo").
	OnLine LineFunc
	Log    *slog.Logger // the stack's own messages; nil discards them
	// PublicPort, when set, serves a reverse proxy on 127.0.0.1:PublicPort
	// that sends any request to the HTTP API whatever its Host header, so an
	// HTTPS tunnel works without rewriting Host.
	PublicPort int
}

// Stack is a running dev stack.
type Stack struct {
	Kumo      *Kumo
	Clients   *Clients
	Spec      *Spec
	Template  *samtemplate.Template
	Resources *Resources
	Secret    string
	// Env is each function's environment from the template, resolved to local
	// values (by short name), without the AWS and runtime variables.
	Env   map[string][]string
	Ready time.Duration // from Start to ready

	opts   Options
	log    *slog.Logger
	cancel context.CancelFunc
	wg     sync.WaitGroup

	public  *http.Server
	runtime *http.Server // the Runtime API the function processes poll
	rtPort  int

	mu      sync.Mutex
	stopped bool
	procs   []*proc
	pids    []int // every pid ever started, for leak checks
}

// Start builds the stack: kumo, the template's resources, the function
// processes and the SQS pollers. On error it stops whatever it started.
func Start(ctx context.Context, opts Options) (s *Stack, err error) {
	began := time.Now()
	if opts.Concurrency <= 0 {
		opts.Concurrency = 2
	}
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	t, err := samtemplate.Load(opts.Template)
	if err != nil {
		return nil, err
	}
	spec, err := fromTemplate(t)
	if err != nil {
		return nil, err
	}
	var run []FunctionSpec // the functions that get processes
	for _, f := range spec.Functions {
		bs, ok := opts.Bootstraps[f.Short]
		if !ok {
			continue
		}
		if err := checkExecutable(bs); err != nil {
			return nil, fmt.Errorf("bootstrap for %s: %w (run `make bootstraps`)", f.Short, err)
		}
		run = append(run, f)
	}
	if opts.Secret == "" {
		if opts.Secret, err = randomSecret(); err != nil {
			return nil, err
		}
	}

	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s = &Stack{Spec: spec, Template: t, Secret: opts.Secret, Env: map[string][]string{}, opts: opts, log: log, cancel: cancel}
	defer func() {
		if err != nil {
			s.Stop()
			s = nil
		}
	}()

	if s.Kumo, err = StartKumo(ctx, opts.KumoBin, opts.Port, opts.OnLine); err != nil {
		return s, err
	}
	s.track(s.Kumo.p)
	s.Clients = NewClients(s.Kumo.Endpoint)
	if s.Resources, err = createResources(ctx, s.Clients, spec, opts.Secret, opts.Overrides); err != nil {
		return s, err
	}
	for _, name := range samtemplate.SortedKeys(opts.ExtraSecrets) {
		if _, err := s.Clients.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(opts.ExtraSecrets[name])}); err != nil {
			return s, fmt.Errorf("secret %s: %w", name, err)
		}
	}
	for _, f := range spec.Functions {
		if s.Env[f.Short], err = s.Resources.FunctionEnv(t, f, opts.Overrides); err != nil {
			return s, err
		}
	}
	regErrs := make([]error, len(run))
	var reg sync.WaitGroup
	for i, f := range run {
		reg.Go(func() { regErrs[i] = registerRuntime(ctx, s.Kumo.Endpoint, f.Name) })
	}
	reg.Wait()
	if err := errors.Join(regErrs...); err != nil {
		return s, err
	}
	if len(run) > 0 {
		if s.runtime, s.rtPort, err = serveRuntimeAPI(s.Kumo.Endpoint, log); err != nil {
			return s, err
		}
	}
	for _, f := range run {
		for i := range opts.Concurrency {
			s.wg.Go(func() { s.supervise(runCtx, f, i) })
		}
	}
	for _, f := range run {
		// With the streamer, the stand-in log stream's partner bus and rule
		// (kumo invokes the rule's Lambda target itself).
		if f.Short == "streamer" {
			if err := s.createLogStream(ctx, f); err != nil {
				return s, err
			}
		}
		if f.SQS == nil {
			continue
		}
		p, err := s.poller(f)
		if err != nil {
			return s, err
		}
		s.wg.Go(func() { p.Run(runCtx) })
	}
	if opts.PublicPort != 0 {
		if s.public, err = servePublic(opts.PublicPort, s.Kumo.Endpoint, s.APIHost(), log); err != nil {
			return s, err
		}
	}
	s.Ready = time.Since(began)
	log.Info("dev stack ready", "endpoint", s.Kumo.Endpoint, "apiId", s.Resources.APIID, "readyMs", s.Ready.Milliseconds())
	return s, nil
}

func (s *Stack) poller(f FunctionSpec) (*sqsPoller, error) {
	src := f.SQS
	url, ok := s.Resources.QueueURLs[src.QueueLogicalID]
	if !ok {
		return nil, fmt.Errorf("%s: SQS event queue %s is not a queue", f.LogicalID, src.QueueLogicalID)
	}
	window := time.Duration(src.WindowSec) * time.Second
	switch w := s.opts.Overrides.BatchingWindow; {
	case w < 0:
		window = 0
	case w > 0:
		window = time.Duration(w) * time.Second
	}
	return &sqsPoller{
		SQS: s.Clients.SQS, Lambda: s.Clients.Lambda,
		QueueURL: url, QueueARN: s.Resources.QueueARNs[src.QueueLogicalID],
		Function: f.Name, BatchSize: src.BatchSize, Window: window,
		// More pollers than processes would only queue invocations in kumo.
		Concurrency:    min(src.MaxConcurrency, s.opts.Concurrency),
		ReportFailures: src.ReportFailures,
		InvokeTimeout:  time.Duration(f.TimeoutSec)*time.Second + 5*time.Second,
		Log:            s.log,
	}, nil
}

// supervise keeps one process of function f running against kumo's Runtime
// API (through serveRuntimeAPI) until ctx ends; a crashed or timed-out process is started again, as
// Lambda would start a new execution environment.
func (s *Stack) supervise(ctx context.Context, f FunctionSpec, i int) {
	env := append(baseEnv(), s.functionProcessEnv(f)...)
	env = append(env, "AWS_LAMBDA_LOG_STREAM_NAME="+f.Short+"-"+strconv.Itoa(i))
	for ctx.Err() == nil {
		p, err := startProc(f.Short, s.opts.Bootstraps[f.Short], nil, env, "", s.opts.OnLine)
		if err != nil {
			s.log.Error("function process did not start", "function", f.Short, "error", err.Error())
			_ = clock.Sleep(ctx, time.Second)
			continue
		}
		if !s.track(p) {
			p.stop(time.Second)
			return
		}
		select {
		case <-ctx.Done():
			return // Stop kills it
		case <-p.done:
		}
		s.log.Warn("function process exited; restarting", "function", f.Short, "error", fmt.Sprint(p.err))
		_ = clock.Sleep(ctx, 200*time.Millisecond)
	}
}

// functionProcessEnv is the full environment of a function process: what
// Lambda sets, the template's variables with local values, and the AWS
// variables that point the SDK at kumo.
func (s *Stack) functionProcessEnv(f FunctionSpec) []string {
	return append([]string{
		"AWS_LAMBDA_RUNTIME_API=127.0.0.1:" + strconv.Itoa(s.rtPort) + "/_runtime/" + f.Name,
		"_HANDLER=bootstrap",
	}, s.functionEnv(f)...)
}

// functionEnv is a function's environment under any runtime API: the
// variables Lambda sets, the AWS variables that point the SDK at kumo, the
// template's variables with local values, then Options.ExtraEnv.
func (s *Stack) functionEnv(f FunctionSpec) []string {
	env := []string{
		"AWS_LAMBDA_FUNCTION_NAME=" + f.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=$LATEST",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=" + strconv.Itoa(f.MemoryMB),
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(f.TimeoutSec),
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + f.Name,
	}
	env = append(env, s.Kumo.AWSEnv()...)
	env = append(env, s.Env[f.Short]...)
	return append(env, s.opts.ExtraEnv...)
}

// StartRIE runs function fn (a short name) under aws-lambda-rie (rieBin)
// with bootstrap, with the environment the stack gives it plus extraEnv:
// `sam local invoke` against this stack's resources. The caller stops it.
func (s *Stack) StartRIE(fn, rieBin, bootstrap string, extraEnv []string, onLine LineFunc) (*RIE, error) {
	f, ok := s.Spec.Function(fn)
	if !ok {
		return nil, fmt.Errorf("template has no function %q", fn)
	}
	env := append(baseEnv(), s.functionEnv(f)...)
	return StartRIE(rieBin, bootstrap, append(env, extraEnv...), func(_ string, line []byte) {
		if onLine != nil {
			onLine(fn, line) // rie's lines and the function's, as in `make dev`
		}
	})
}

// track records a process so Stop can end it; false once stopping began.
func (s *Stack) track(p *proc) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.procs = append(s.procs, p)
	s.pids = append(s.pids, p.pid())
	return true
}

// PIDs returns every process id the stack has started, alive or not.
func (s *Stack) PIDs() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.pids...)
}

// Stop stops the pollers, the function processes and kumo, and waits for
// all of them. It is safe to call more than once.
func (s *Stack) Stop() {
	began := time.Now()
	defer func() { s.log.Debug("dev stack stopped", "stopMs", time.Since(began).Milliseconds()) }()
	s.cancel()
	if s.public != nil {
		_ = s.public.Close()
	}
	s.mu.Lock()
	procs := s.procs
	s.procs, s.stopped = nil, true
	s.mu.Unlock()
	// Functions first, then kumo, so no function logs a connection error
	// because the Runtime API vanished under it.
	var wg sync.WaitGroup
	for _, p := range procs {
		if p.name != "kumo" {
			wg.Go(func() { p.stop(2 * time.Second) })
		}
	}
	wg.Wait()
	s.wg.Wait()
	if s.runtime != nil {
		_ = s.runtime.Close()
	}
	for _, p := range procs {
		if p.name == "kumo" {
			// kumo's graceful shutdown takes ~2 s; its state is in memory
			// and about to be discarded anyway.
			p.stop(300 * time.Millisecond)
		}
	}
}

// Wait blocks until kumo exits (it should not) or ctx ends.
func (s *Stack) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case <-s.Kumo.p.done:
		return fmt.Errorf("kumo exited: %v", s.Kumo.p.err)
	}
}

// APIHost is the Host header kumo routes to the HTTP API by.
func (s *Stack) APIHost() string {
	return s.Resources.APIID + ".execute-api.localhost:" + strconv.Itoa(s.Kumo.Port)
}

// URL is the hook endpoint. curl resolves *.localhost to loopback; Go does not,
// so a Go client dials Kumo.Endpoint and sends APIHost as the Host.
func (s *Stack) URL() string { return "http://" + s.APIHost() + "/okta/events" }

// QueueURL returns the local URL of queue logicalID.
func (s *Stack) QueueURL(logicalID string) string { return s.Resources.QueueURLs[logicalID] }

// randomSecret returns a fresh 48-hex-character hook secret.
func randomSecret() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// DefaultBootstraps returns <dir>/<fn>/bootstrap for every function of a
// template: the layout `make bootstraps` writes to .bin.
func DefaultBootstraps(dir string, fns ...string) map[string]string {
	m := map[string]string{}
	for _, fn := range fns {
		m[fn] = filepath.Join(dir, fn, "bootstrap")
	}
	return m
}

// registerRuntime makes kumo route invocations of fn to the Runtime API
// before any process of fn has polled it. kumo answers an invoke of a
// function no handler has polled yet with 502; once one has, an invoke
// waits (up to 30 s) for a process to pick it up, like a Lambda cold start.
// So a poll that we abandon at once closes the gap between "ready" and the
// processes' first poll. Nothing invokes fn yet, so the abandoned poll
// cannot swallow an invocation.
func registerRuntime(ctx context.Context, endpoint, fn string) error {
	ctx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/_runtime/"+fn+"/2018-06-01/runtime/invocation/next", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		resp.Body.Close()
		return fmt.Errorf("kumo answered the Runtime API poll for %s with %s; expected it to block", fn, resp.Status)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("kumo Runtime API for %s: %w", fn, err)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/hookhealth"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/reconcile"
)

func init() {
	register(command{name: "okta", summary: "set up and operate the Okta event hook: register, status, rotate, preview (make okta)", run: runOkta})
}

// Exit codes of `hookline okta`, for scripts (also 0 success, 1 any other
// failure, 2 a bad call).
const (
	exitUnverified = 3 // the hook exists but Okta could not verify it, or status found it unhealthy
	exitOktaAccess = 4 // Okta refused the credentials or the scope, or the org URL is wrong
	exitRateLimit  = 5 // Okta's rate limit outlasted the command
	exitNoHook     = 6 // no event hook of that name
)

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode is the status run exits with.
func (e *exitError) ExitCode() int { return e.code }

// errNoHook means no event hook has the name asked for.
var errNoHook = errors.New("no such event hook")

const oktaUsage = `usage: hookline okta <command> [flags]

Sets up and operates the Okta side of hookline through Okta's management API
(/api/v1/eventHooks). The hook secret is read from Secrets Manager and sent
to Okta; no command ever prints it.

commands:
  register   --stack NAME [--name N]  create or update the event hook and verify it
  list       [--stack NAME]           the org's event hooks
  status     [NAME] [--stack NAME]    Okta's side on one screen: the hook's checks and fixes, Okta's delivery failures, the daily cap
  activate   NAME                     Okta resumes deliveries
  deactivate NAME                     Okta stops deliveries (nothing is deleted)
  delete     NAME                     deactivate and delete the hook
  rotate     --stack NAME [--name N]  new hook secret, with no delivery refused meanwhile
  preview    --type T [--url URL]     send a sample delivery of type T to the endpoint
  ip-ranges  --cell CELL [--file F]   Okta's published CIDRs of a cell, for AllowedSourceCidrs

Okta credentials (the reconciler's): OKTA_ORG_URL with OKTA_API_TOKEN, or with
OKTA_CLIENT_ID, OKTA_PRIVATE_KEY (PEM) and optionally OKTA_KEY_ID, from the
environment; otherwise the credentials secret (--okta-secret,
OKTA_CREDENTIALS_SECRET_ID, or the stack's OktaCredentialsSecretArn output).
A service app needs scope okta.eventHooks.manage; an API token's admin needs
the Super Administrator role.

exit codes: 0 done; 1 failed; 2 bad call; 3 the hook is not verified (register,
rotate: Okta's verification failed; status: not ACTIVE, not VERIFIED or its
types differ from the stack's); 4 Okta refused the credentials or the scope, or
the org URL is wrong; 5 Okta's rate limit outlasted the command; 6 no hook of
that name.

Run 'hookline okta <command> -h' for a command's flags.
`

// oktaSummary reads the line of oktaUsage about the okta command sub, for
// its -h: what it takes (and [flags]) and what it does.
func oktaSummary(sub string) (synopsis, summary string) {
	for _, line := range strings.Split(oktaUsage, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[0] == sub && strings.HasPrefix(line, "  ") {
			rest := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), sub))
			// The arguments, then two spaces or more, then the summary.
			if args, what, ok := strings.Cut(rest, "  "); ok {
				return strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(args), "[flags]")) + " [flags]", strings.TrimSpace(what)
			}
			return "[flags]", rest
		}
	}
	return "[flags]", "see hookline okta -h"
}

var oktaCommands = map[string]func(ctx context.Context, args []string, stdout, stderr io.Writer) error{
	"register":   runOktaRegister,
	"list":       runOktaList,
	"status":     runOktaStatus,
	"activate":   runOktaLifecycle("activate"),
	"deactivate": runOktaLifecycle("deactivate"),
	"delete":     runOktaLifecycle("delete"),
	"rotate":     runOktaRotate,
	"preview":    runOktaPreview,
	"ip-ranges":  runOktaIPRanges,
}

func runOkta(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stderr, oktaUsage)
		if len(args) == 0 {
			return fmt.Errorf("%w: name a command", errUsage)
		}
		return flag.ErrHelp
	}
	sub, ok := oktaCommands[args[0]]
	if !ok {
		fmt.Fprint(stderr, oktaUsage)
		return fmt.Errorf("%w: unknown okta command %s", errUsage, strconv.Quote(args[0]))
	}
	ctx, secrets := withSecretSet(ctx)
	return secrets.wrap(oktaExit(sub(ctx, args[1:], stdout, stderr)))
}

// oktaExit gives Okta's refusals their exit codes.
func oktaExit(err error) error {
	var ee *exitError
	switch {
	case err == nil || errors.As(err, &ee):
		return err
	case errors.Is(err, oktaapi.ErrVerification):
		return &exitError{exitUnverified, err}
	case errors.Is(err, oktaapi.ErrUnauthorized), errors.Is(err, oktaapi.ErrForbidden),
		errors.Is(err, oktaapi.ErrOrgURL), errors.Is(err, oktaapi.ErrCredentials):
		return &exitError{exitOktaAccess, err}
	case errors.Is(err, oktaapi.ErrRateLimited):
		return &exitError{exitRateLimit, err}
	case errors.Is(err, errNoHook):
		return &exitError{exitNoHook, err}
	}
	return err
}

// oktaFlags are the flags every command talking to Okta or the stack has.
type oktaFlags struct {
	stack, org, oktaSecret, endpoint, url, secretID, types, authHeader *string
}

// addOktaFlags adds --stack, --okta-secret and --endpoint-url, and of
// "types", "url", "secret-id" and "auth-header" the ones named: only flags
// that mean something to the command are listed by its -h.
func addOktaFlags(fs *flag.FlagSet, with ...string) *oktaFlags {
	f := &oktaFlags{
		stack:      fs.String("stack", "", "CloudFormation stack: its EndpointUrl, HookSecretArn, OktaEventTypes and OktaCredentialsSecretArn, as the command needs them"),
		oktaSecret: fs.String("okta-secret", "", "Okta credentials secret (default: OKTA_CREDENTIALS_SECRET_ID, then the stack's OktaCredentialsSecretArn)"),
		endpoint:   fs.String("endpoint-url", "", "AWS endpoint, such as a local kumo (same as AWS_ENDPOINT_URL)"),
		org:        addOrgFlag(fs),
		types:      new(string), url: new(string), secretID: new(string), authHeader: new(string),
	}
	for _, name := range with {
		switch name {
		case "types":
			f.types = fs.String("types", "", "comma-separated event types (instead of the stack's OktaEventTypes)")
		case "url":
			f.url = fs.String("url", "", "hook endpoint URL (instead of the stack's EndpointUrl)")
		case "secret-id":
			f.secretID = fs.String("secret-id", "", "hook secret (instead of the stack's HookSecretArn)")
		case "auth-header":
			f.authHeader = addAuthHeaderFlag(fs)
		default:
			panic("addOktaFlags: no flag " + name)
		}
	}
	return f
}

// oktaEnv is what a command resolved: the stack's values (flags win), the
// AWS clients it needed, and the Okta client.
type oktaEnv struct {
	stack, org                 string // the stack and the org of it the command acts on ("": its default org)
	url, secretID, credsSecret string
	authHeader                 string // the header Okta sends the hook secret in
	types                      []string
	typesKnown                 bool
	sm                         *secretsmanager.Client
	okta                       *oktaapi.Client
}

// resolve reads what f names: the stack's outputs for anything the flags
// left empty, then the Okta client.
func (f *oktaFlags) resolve(ctx context.Context, stderr io.Writer, needAWS bool) (*oktaEnv, error) {
	e := &oktaEnv{stack: *f.stack, org: *f.org, url: *f.url, secretID: *f.secretID, credsSecret: *f.oktaSecret, authHeader: authHeaderOr(*f.authHeader)}
	if e.org != "" && e.stack == "" && (e.url == "" || e.secretID == "" || e.credsSecret == "") {
		// Without a stack, the org's URL and secrets cannot be known.
		return nil, fmt.Errorf("%w: --org needs --stack (or --url, --secret-id and --okta-secret of that org)", errUsage)
	}
	if *f.types != "" {
		e.types, e.typesKnown = reconcile.ParseTypes(*f.types), true
	}
	if *f.stack != "" || needAWS || e.credsSecret != "" || (os.Getenv("OKTA_ORG_URL") == "" && os.Getenv("OKTA_CREDENTIALS_SECRET_ID") != "") {
		if err := f.readAWS(ctx, e); err != nil {
			return nil, err
		}
	}
	creds, err := oktaCredentials(ctx, e.sm, first(e.credsSecret, os.Getenv("OKTA_CREDENTIALS_SECRET_ID")))
	if err != nil {
		return nil, err
	}
	// The client holds the credentials: it follows no redirect.
	e.okta, err = oktaapi.New(creds, oktaapi.Settings{HTTPClient: noRedirects(30 * time.Second), Scope: oktaapi.EventHooksScope, OnWait: func(d time.Duration, reason string) {
		fmt.Fprintf(stderr, "okta rate limit (%s): waiting %s for the reset\n", reason, d.Round(time.Second))
	}})
	return e, err
}

// readAWS makes e's Secrets Manager client and fills what the flags left
// empty from the stack's outputs.
func (f *oktaFlags) readAWS(ctx context.Context, e *oktaEnv) error {
	cfg, err := awsConfig(ctx, f.endpoint)
	if err != nil {
		return err
	}
	local := *f.endpoint != ""
	e.sm = secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if local {
			o.HTTPClient = awsenv.EmulatorHTTPClient() // see its doc: an emulator needs it
		}
	})
	if *f.stack == "" {
		return nil
	}
	outs, err := readStackOutputs(ctx, cloudformation.NewFromConfig(cfg), *f.stack)
	if err != nil {
		return err
	}
	return e.fill(outs)
}

// fill takes what the flags left empty from a stack's outputs: of its
// default org, or of the org e.org names (orgTarget).
func (e *oktaEnv) fill(outs map[string]string) error {
	t, err := orgTarget(e.stack, e.org, outs)
	if err != nil {
		return err
	}
	if !t.isDefault {
		e.url = first(e.url, t.url)
		e.secretID = first(e.secretID, t.hookSecret)
		e.credsSecret = first(e.credsSecret, t.oktaSecret)
	}
	e.url = first(e.url, outs["EndpointUrl"])
	e.secretID = first(e.secretID, outs["HookSecretArn"])
	e.credsSecret = first(e.credsSecret, os.Getenv("OKTA_CREDENTIALS_SECRET_ID"), outs["OktaCredentialsSecretArn"])
	if !e.typesKnown && outs["OktaEventTypes"] != "" {
		e.types, e.typesKnown = reconcile.ParseTypes(outs["OktaEventTypes"]), true
	}
	return nil
}

// oktaCredentials reads the Okta credentials from the environment
// (OKTA_ORG_URL and OKTA_API_TOKEN, or OKTA_CLIENT_ID, OKTA_PRIVATE_KEY and
// OKTA_KEY_ID) or else from the credentials secret.
func oktaCredentials(ctx context.Context, sm oktaapi.SecretsManagerAPI, secretID string) (oktaapi.Credentials, error) {
	if org := os.Getenv("OKTA_ORG_URL"); org != "" {
		c := oktaapi.Credentials{OrgURL: org, APIToken: os.Getenv("OKTA_API_TOKEN"), ClientID: os.Getenv("OKTA_CLIENT_ID"),
			PrivateKey: os.Getenv("OKTA_PRIVATE_KEY"), KeyID: os.Getenv("OKTA_KEY_ID")}
		noteCredentials(ctx, c)
		if err := c.Validate(); err != nil {
			return c, fmt.Errorf("credentials from OKTA_* variables: %w", err)
		}
		return c, nil
	}
	if secretID == "" || sm == nil {
		return oktaapi.Credentials{}, fmt.Errorf("%w: none given: set OKTA_ORG_URL with OKTA_API_TOKEN (or OKTA_CLIENT_ID and OKTA_PRIVATE_KEY), or give --okta-secret, OKTA_CREDENTIALS_SECRET_ID or a --stack with OktaCredentialsSecretArn", oktaapi.ErrCredentials)
	}
	// oktaapi.LoadCredentials, but keeping the document's values to note
	// them even when they are refused.
	out, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secretID})
	if err != nil {
		return oktaapi.Credentials{}, fmt.Errorf("%w: read secret %s: %w", oktaapi.ErrCredentials, secretID, err)
	}
	if out.SecretString == nil {
		return oktaapi.Credentials{}, fmt.Errorf("%w: secret %s has no string value (want the JSON document)", oktaapi.ErrCredentials, secretID)
	}
	c, err := oktaapi.ParseCredentials([]byte(*out.SecretString))
	noteCredentials(ctx, c)
	if err != nil {
		return oktaapi.Credentials{}, fmt.Errorf("secret %s: %w", secretID, err)
	}
	return c, nil
}

// noteCredentials records c's secret parts (see noteSecrets).
func noteCredentials(ctx context.Context, c oktaapi.Credentials) {
	noteSecrets(ctx, c.APIToken, c.PrivateKey)
	noteOrgURL(ctx, c.OrgURL)
}

// hookSecret reads the hook secret's AWSCURRENT value and version.
func (e *oktaEnv) hookSecret(ctx context.Context) (value, version string, err error) {
	if e.secretID == "" {
		return "", "", fmt.Errorf("%w: give --stack, or --secret-id", errUsage)
	}
	out, err := e.sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &e.secretID})
	if err != nil {
		return "", "", fmt.Errorf("read the hook secret %s: %w", e.secretID, err)
	}
	if aws.ToString(out.SecretString) == "" {
		return "", "", fmt.Errorf("the hook secret %s has no string value", e.secretID)
	}
	noteSecrets(ctx, *out.SecretString)
	return *out.SecretString, aws.ToString(out.VersionId), nil
}

// findHook returns the hook named name (or with that id), else the first
// with uri ("" matches none), else nil.
func findHook(hooks []oktaapi.EventHook, name, uri string) *oktaapi.EventHook {
	for i := range hooks {
		if hooks[i].Name == name || hooks[i].ID == name {
			return &hooks[i]
		}
	}
	for i := range hooks {
		if uri != "" && hooks[i].Channel.Config.URI == uri {
			return &hooks[i]
		}
	}
	return nil
}

func (e *oktaEnv) hookNamed(ctx context.Context, name string) (oktaapi.EventHook, error) {
	hooks, err := e.okta.EventHooks(ctx)
	if err != nil {
		return oktaapi.EventHook{}, err
	}
	h := findHook(hooks, name, "")
	if h == nil {
		return oktaapi.EventHook{}, fmt.Errorf("%w: Okta has no event hook named %s (hookline okta list shows them)", errNoHook, strconv.Quote(name))
	}
	return *h, nil
}

// splitName takes a leading NAME argument, so that flags may follow it.
func splitName(args []string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return "", args
}

func runOktaList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("okta list", stderr)
	f := addOktaFlags(fs, "types")
	if err := parse(fs, args); err != nil {
		return err
	}
	e, err := f.resolve(ctx, stderr, false)
	if err != nil {
		return err
	}
	hooks, err := e.okta.EventHooks(ctx)
	if err != nil {
		return err
	}
	sort.SliceStable(hooks, func(i, j int) bool { return hooks[i].Name < hooks[j].Name })
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprint(tw, "NAME\tID\tSTATUS\tVERIFICATION\tTYPES")
	if e.typesKnown {
		fmt.Fprint(tw, "\tMATCHES STACK")
	}
	fmt.Fprintln(tw, "\tURI")
	for _, h := range hooks {
		// Every string Okta returned is escaped: a name may hold escape
		// sequences, newlines or bidi overrides. A URI's userinfo and
		// query are not shown: they may hold a key.
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d", termSafe(h.Name), termSafe(h.ID), termSafe(h.Status), termSafe(h.VerificationStatus), len(h.Events.Items))
		if e.typesKnown {
			fmt.Fprintf(tw, "\t%s", map[bool]string{true: "yes", false: "no"}[hookhealth.TypesDiff(h.Events.Items, e.types) == ""])
		}
		fmt.Fprintf(tw, "\t%s\n", redactURL(h.Channel.Config.URI))
	}
	tw.Flush()
	fmt.Fprintf(stderr, "%d of Okta's %d event hooks per org in use\n", len(hooks), oktaapi.MaxEventHooks)
	return nil
}

func runOktaLifecycle(action string) func(context.Context, []string, io.Writer, io.Writer) error {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
		name, rest := splitName(args)
		fs := newFlags("okta "+action, stderr)
		f := addOktaFlags(fs)
		if err := parse(fs, rest); err != nil {
			return err
		}
		if name == "" {
			return fmt.Errorf("%w: name the hook: hookline okta %s NAME", errUsage, action)
		}
		e, err := f.resolve(ctx, stderr, false)
		if err != nil {
			return err
		}
		h, err := e.hookNamed(ctx, name)
		if err != nil {
			return err
		}
		switch action {
		case "activate":
			if h, err = e.okta.ActivateEventHook(ctx, h.ID); err == nil {
				fmt.Fprintf(stdout, "event hook %s (%s) is %s, %s\n", quoted(h.Name), termSafe(h.ID), termSafe(h.Status), termSafe(h.VerificationStatus))
			}
		case "deactivate":
			if h, err = e.okta.DeactivateEventHook(ctx, h.ID); err == nil {
				fmt.Fprintf(stdout, "event hook %s (%s) is %s: Okta delivers nothing until it is activated\n", quoted(h.Name), termSafe(h.ID), termSafe(h.Status))
			}
		case "delete":
			// Okta deletes only an inactive hook.
			if h.Status != oktaapi.StatusInactive {
				if _, err = e.okta.DeactivateEventHook(ctx, h.ID); err != nil {
					return err
				}
			}
			if err = e.okta.DeleteEventHook(ctx, h.ID); err == nil {
				fmt.Fprintf(stdout, "event hook %s (%s) deleted\n", quoted(h.Name), termSafe(h.ID))
			}
		}
		return err
	}
}

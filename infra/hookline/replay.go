package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/queue"
	"github.com/hookline/hookline/internal/reconcile"
)

func init() {
	register(command{
		name:    "replay",
		summary: "queue events from the Okta System Log for a time range (backfill, recovery)",
		run:     runReplay,
	})
}

// typeList is a repeatable --type flag that also takes comma-separated lists.
type typeList []string

func (l *typeList) String() string { return strings.Join(*l, ",") }
func (l *typeList) Set(v string) error {
	*l = append(*l, reconcile.ParseTypes(v)...)
	return nil
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	since := fs.String("since", "", "start of the range: RFC 3339 time (2026-01-02T15:04:05Z) or a duration ago (6h, 90m, 30d)")
	until := fs.String("until", "", "end of the range (default: now); same forms as --since")
	var types typeList
	fs.Var(&types, "type", "replay only these event types, instead of all of the stack's OktaEventTypes; each must be one of them (repeatable, or comma-separated)")
	force := fs.Bool("force", false, "queue events already brought or handled too, for a new handler (the others skip them by the ledger)")
	dryRun := fs.Bool("dry-run", false, "count what would be queued; queue nothing")
	stack := fs.String("stack", "", "CloudFormation stack whose outputs name the queue, ledger table, Okta secret and event types")
	org := addOrgFlag(fs)
	queueURL := fs.String("queue-url", "", "events queue URL (instead of --stack)")
	dlqURL := fs.String("dlq-url", "", "the events queue's DLQ, where events without a usable uuid are parked (instead of --stack)")
	timeout := fs.Duration("timeout", defaultReplayTimeout, "stop after this long; what was queued is marked, and the message says where to go on")
	table := fs.String("ledger-table", "", "ledger table name (instead of --stack)")
	secretID := fs.String("secret-id", "", "Okta credentials secret (instead of --stack)")
	endpoint := fs.String("endpoint-url", "", "AWS endpoint, such as a local kumo (same as AWS_ENDPOINT_URL)")
	local := fs.Bool("local", false, "the stack `make dev` runs: queues, ledger table, Okta credentials secret, event types and endpoint from its state file")
	statePath := fs.String("state", defaultState, "state file written by `hookline dev` (with --local)")
	if err := parse(fs, args); err != nil {
		return err
	}
	now := time.Now()
	from, err := parseWhen(*since, now)
	if err != nil || *since == "" {
		return fmt.Errorf("%w: --since: want an RFC 3339 time or a duration ago such as 6h or 30d", errUsage)
	}
	to := now
	if *until != "" {
		if to, err = parseWhen(*until, now); err != nil {
			return fmt.Errorf("%w: --until: %v", errUsage, err)
		}
	}
	if !from.Before(to) {
		return fmt.Errorf("%w: --since must be before --until", errUsage)
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	target := replayTarget{queueURL: *queueURL, dlqURL: *dlqURL, table: *table, secretID: *secretID, types: types, stack: *stack, org: *org}
	if *org != "" && *stack == "" && *secretID == "" {
		return fmt.Errorf("%w: --org needs --stack (or --secret-id of that org's Okta credentials)", errUsage)
	}
	if *local {
		st, err := readState(*statePath)
		if err != nil {
			return fmt.Errorf("--local: %w (is `make dev` running?)", err)
		}
		if st.OktaSecretID == "" {
			return fmt.Errorf("--local: %s names no Okta credentials secret: the dev stack runs no reconciler (make dev without --reconcile-every 0)", *statePath)
		}
		// Flags given explicitly win over the state file.
		*endpoint = first(*endpoint, st.Endpoint)
		if err := target.fill("in "+*statePath, map[string]string{"EventsQueueUrl": st.Queues["EventsQueue"], "EventsDLQUrl": st.Queues["EventsDLQ"],
			"LedgerTableName": st.Tables["LedgerTable"], "OktaCredentialsSecretArn": st.OktaSecretID, "OktaEventTypes": strings.Join(st.OktaEventTypes, ",")}); err != nil {
			return err
		}
	}
	if *stack == "" && !target.complete() {
		return fmt.Errorf("%w: give --stack, --local, or --queue-url, --ledger-table, --secret-id and --type", errUsage)
	}

	// Every wait (a rate-limit reset, a slow answer) ends by this deadline.
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	cfg, err := awsConfig(ctx, endpoint)
	if err != nil {
		return err
	}
	if *stack != "" {
		outs, err := readStackOutputs(ctx, cloudformation.NewFromConfig(cfg), *stack)
		if err != nil {
			return err
		}
		if err := target.fill("stack "+*stack, outs); err != nil {
			return err
		}
	}
	if err := target.checkTypes(); err != nil {
		return err
	}
	types = target.types
	emulator := *endpoint != ""
	sm := secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if emulator {
			o.HTTPClient = awsenv.EmulatorHTTPClient() // see its doc: an emulator needs it
		}
	})
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if emulator {
			o.HTTPClient = awsenv.EmulatorHTTPClient()
			o.DisableValidateResponseChecksum = true // kumo sends no CRC32
		}
	})
	sqsClient := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if emulator {
			o.HTTPClient = awsenv.EmulatorHTTPClient()
		}
	})
	creds, err := oktaapi.LoadCredentials(ctx, sm, target.secretID)
	if err != nil {
		return err
	}
	client, err := oktaapi.New(creds, oktaapi.Settings{OnWait: func(d time.Duration, reason string) {
		fmt.Fprintf(stderr, "okta rate limit (%s): waiting %s for the reset\n", reason, d.Round(time.Second))
	}})
	if err != nil {
		return err
	}
	var dlq reconcile.Publisher // none: an event without a usable uuid stops the replay
	if target.dlqURL != "" {
		dlq = &queue.Publisher{Sender: queue.SQSSender{Client: sqsClient, QueueURL: target.dlqURL}, Budget: 30 * time.Second}
	}
	r := &reconcile.Reconciler{
		SystemLog: client,
		Marks:     &ledger.Marks{Client: ddb, Table: target.table},
		Publisher: &queue.Publisher{Sender: queue.SQSSender{Client: sqsClient, QueueURL: target.queueURL}, Budget: 30 * time.Second},
		DLQ:       dlq,
		Log:       slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Types:     types,
		Org:       target.stamp, // the org its events carry
	}
	verb := "enqueued"
	if *dryRun {
		verb = "would enqueue"
	}
	fmt.Fprintf(stderr, "replaying %s from %s to %s%s%s\n", strings.Join(types, ","), from.UTC().Format(time.RFC3339),
		to.UTC().Format(time.RFC3339), map[bool]string{true: " (force)"}[*force], map[bool]string{true: " (dry run)"}[*dryRun])
	st, err := r.Replay(ctx, reconcile.ReplayOptions{Since: from, Until: to, Force: *force, DryRun: *dryRun,
		Progress: func(s reconcile.Stats) {
			fmt.Fprintf(stderr, "pages %d, seen %d, %s %d, skipped %d\n", s.Pages, s.Seen, verb, s.Queued, s.Marked)
		}})
	fmt.Fprintf(stdout, "pages %d, seen %d, %s %d, skipped %d (already brought or replayed)", st.Pages, st.Seen, verb, st.Queued, st.Marked)
	if st.Parked > 0 {
		fmt.Fprintf(stdout, ", parked %d in the DLQ (no usable uuid)", st.Parked)
	}
	fmt.Fprintln(stdout)
	goOn := "run the same replay again to go on (it skips those)"
	if st.Reached != "" {
		goOn = "go on with --since " + st.Reached + " (a replay from there skips what is marked)"
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || (err != nil && ctx.Err() == context.DeadlineExceeded):
		return fmt.Errorf("stopped at --timeout %s after %d pages: what was queued is marked; %s", *timeout, st.Pages, goOn)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted: what was queued is marked; %s", goOn)
	case errors.Is(err, oktaapi.ErrRateLimited):
		return fmt.Errorf("%w; what was queued is marked; %s", err, goOn)
	case errors.Is(err, reconcile.ErrRepeatedPage):
		return fmt.Errorf("%w; what was queued is marked. Okta's cursor does not advance: try again later, or %s", err, goOn)
	}
	return err
}

// defaultReplayTimeout bounds a replay: long enough for hundreds of
// thousands of events at Okta's rate limits, short enough that a stalled
// one is noticed.
const defaultReplayTimeout = 15 * time.Minute

// replayTarget is where a replay reads and writes: flags win over the
// stack's outputs.
type replayTarget struct {
	queueURL, dlqURL, table, secretID string
	// stack and org name the org replayed (--org; "": the default org),
	// and stamp is the org its events carry ("" on a stack of one org).
	stack, org, stamp string
	// types are the types to replay: --type, else the stack's list.
	types []string
	// subscribed is the stack's OktaEventTypes, when a stack (or the dev
	// stack) was read.
	subscribed []string
}

func (r *replayTarget) complete() bool {
	return r.queueURL != "" && r.table != "" && r.secretID != "" && len(r.types) > 0
}

// fill takes what the flags left empty from the stack's outputs; stack
// names where they came from, for the error.
func (r *replayTarget) fill(stack string, outs map[string]string) error {
	if r.stack != "" && (outs["OktaOrgs"] != "" || r.org != "") {
		// Another org than the default: its own Okta credentials.
		t, err := orgTarget(r.stack, r.org, outs)
		if err != nil {
			return err
		}
		r.stamp = t.stamp
		r.secretID = first(r.secretID, t.oktaSecret)
	}
	r.queueURL = first(r.queueURL, outs["EventsQueueUrl"])
	r.dlqURL = first(r.dlqURL, outs["EventsDLQUrl"])
	r.table = first(r.table, outs["LedgerTableName"])
	r.secretID = first(r.secretID, outs["OktaCredentialsSecretArn"])
	r.subscribed = reconcile.ParseTypes(outs["OktaEventTypes"])
	if len(r.types) == 0 {
		r.types = r.subscribed
	}
	if !r.complete() {
		return fmt.Errorf("%s lacks EventsQueueUrl, LedgerTableName, OktaCredentialsSecretArn or OktaEventTypes: set its OktaCredentialsSecretArn parameter, or give the flags", stack)
	}
	return nil
}

// checkTypes refuses a --type the stack does not subscribe to: the hook
// never brings such an event, the reconciler never reads it, and a replay
// of it is most likely a typo that would otherwise quietly queue nothing.
func (r *replayTarget) checkTypes() error {
	if len(r.subscribed) == 0 {
		return nil // no stack read: the flags name everything
	}
	var unknown []string
	for _, t := range r.types {
		if !slices.Contains(r.subscribed, t) {
			unknown = append(unknown, t)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("%w: --type %s: not in the stack's OktaEventTypes (%s); add it there first, so that the hook and the reconciler bring it too",
			errUsage, strings.Join(unknown, ","), strings.Join(r.subscribed, ","))
	}
	return nil
}

// parseWhen reads an RFC 3339 time, or a duration taken as that long ago:
// Go's units (6h, 90m) and days (30d, or 1d12h).
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	d, err := parseDays(strings.TrimPrefix(s, "-"))
	if err != nil || d <= 0 {
		return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration ago", s)
	}
	return now.Add(-d), nil
}

// parseDays is time.ParseDuration with a leading number of days: "30d",
// "1d12h".
func parseDays(s string) (time.Duration, error) {
	days, rest, ok := strings.Cut(s, "d")
	if !ok {
		return time.ParseDuration(s)
	}
	n, err := strconv.Atoi(days)
	if err != nil || n < 0 || n > 100*365 {
		return 0, fmt.Errorf("%q: want a whole number of days, such as 30d", s)
	}
	d := time.Duration(n) * 24 * time.Hour
	if rest != "" {
		r, err := time.ParseDuration(rest)
		if err != nil || r <= 0 {
			return 0, fmt.Errorf("%q: want days then a positive duration, such as 1d12h", s)
		}
		d += r
	}
	return d, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/hookhealth"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/oktaapi"
)

const oktaStatusUsage = `usage: hookline okta status [NAME] [flags]

Okta's side of the stack's hook on one screen, as the reconciler checks it
every run: the hook's checks (found, active, verified, types, uri) with the
command that fixes each, Okta's own delivery failures of the last 24 hours
(event_hook.delivery in the System Log), the daily count against Okta's cap
(the reconciler's, from the ledger table) and the rate-limit headroom.

Without NAME, the hook is the one pointing at the stack's EndpointUrl (or
--url), or the one its OktaHookName parameter names.

exits 0 when the hook is healthy, 3 when a check failed (or a rotation is
unfinished), 6 when there is no hook of that NAME`

func runOktaStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	name, rest := splitName(args)
	fs := newFlags("okta status", stderr)
	f := addOktaFlags(fs, "types")
	f.url = fs.String("url", "", "the stack's endpoint URL, to find its hook by (instead of the stack's EndpointUrl)")
	table := fs.String("table", "", "ledger table holding the reconciler's daily count (instead of the stack's LedgerTableName)")
	help(fs, oktaStatusUsage)
	if err := parse(fs, rest); err != nil {
		return err
	}
	if name == "" && *f.stack == "" && *f.url == "" {
		return fmt.Errorf("%w: name the hook, or give --stack (or --url): hookline okta status [NAME] --stack STACK", errUsage)
	}
	e, err := f.resolve(ctx, stderr, *table != "")
	if err != nil {
		return err
	}
	var outs map[string]string
	if *f.stack != "" {
		cfg, err := awsConfig(ctx, f.endpoint)
		if err != nil {
			return err
		}
		if outs, err = readStackOutputs(ctx, cloudformation.NewFromConfig(cfg), *f.stack); err != nil {
			return err
		}
	}
	want := hookhealth.Want{Name: first(name, outs["OktaHookName"]), URI: e.url, Types: e.types, Stack: first(*f.stack, "STACK")}
	hooks, err := e.okta.ReadEventHooks(ctx)
	if err != nil {
		return err
	}
	h := hookhealth.Find(hooks, want)
	if h == nil && name != "" {
		return fmt.Errorf("%w: Okta has no event hook named %q (hookline okta list shows them)", errNoHook, name)
	}
	report := hookhealth.Evaluate(h, want)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	var problems []string
	if h != nil {
		fmt.Fprintf(tw, "name:\t%s\nid:\t%s\nstatus:\t%s\nverification:\t%s\nuri:\t%s\n", termSafe(h.Name), termSafe(h.ID), termSafe(h.Status), termSafe(h.VerificationStatus), redactURL(h.Channel.Config.URI))
		fmt.Fprintf(tw, "event types:\t%d: %s\n", len(h.Events.Items), strings.Join(termSafeAll(h.Events.Items), ","))
		if e.typesKnown {
			if d := hookhealth.TypesDiff(h.Events.Items, e.types); d != "" {
				fmt.Fprintf(tw, "stack types:\tdiffer: %s\n", escapeText(d))
			} else {
				fmt.Fprintln(tw, "stack types:\tmatch OktaEventTypes")
			}
		}
	}
	fmt.Fprintln(tw, "checks:\t")
	for _, c := range report.Findings {
		switch {
		case c.Check == hookhealth.CheckTypes && !e.typesKnown:
			fmt.Fprintf(tw, "  %s\tnot checked (give --stack or --types)\n", c.Check)
		case c.Check == hookhealth.CheckURI && want.URI == "":
			fmt.Fprintf(tw, "  %s\tnot checked (give --stack or --url)\n", c.Check)
		case c.OK:
			fmt.Fprintf(tw, "  %s\tok\n", c.Check)
		default:
			fmt.Fprintf(tw, "  %s\tFAILED: %s; fix: %s\n", c.Check, termSafe(c.Problem), termSafe(c.Fix))
			problems = append(problems, c.Problem+" ("+c.Fix+")")
		}
	}
	if h != nil {
		if m := rotationInProgress(*h); m != "" {
			problems = append(problems, "a rotation to secret version "+termSafe(m)+" is unfinished: run hookline okta rotate again")
		}
		deliveryFailures(ctx, tw, e.okta, h.ID, want.URI)
	}
	dailyCount(ctx, tw, first(*table, outs["LedgerTableName"]), f.endpoint)
	if share, ok := e.okta.TakeHeadroom(); ok {
		fmt.Fprintf(tw, "rate-limit headroom:\t%.0f %% left (lowest on this command's requests)\n", share*100)
	}
	tw.Flush()
	if len(problems) > 0 {
		return &exitError{exitUnverified, errors.New(strings.Join(problems, "; "))}
	}
	return nil
}

// deliveryFailures prints Okta's delivery failures of the hook in the last
// 24 hours (a bounded System Log read of event_hook.delivery, at most 10
// pages).
func deliveryFailures(ctx context.Context, w io.Writer, c *oktaapi.Client, hookID, uri string) {
	now := time.Now()
	page := c.LogsURL(oktaapi.LogsQuery{Since: now.Add(-24 * time.Hour), Until: now, Types: []string{hookhealth.DeliveryEventType}})
	var mine []hookhealth.DeliveryFailure
	for i := 0; page != "" && i < 10; i++ {
		p, err := c.Logs(ctx, page)
		if err != nil {
			fmt.Fprintf(w, "okta delivery failures:\tnot read: %v\n", err)
			return
		}
		for _, ev := range p.Events {
			if d := hookhealth.ParseDeliveryFailure(ev); d.For(hookID, uri) {
				mine = append(mine, d)
			}
		}
		if len(p.Events) == 0 {
			break
		}
		page = p.Next
	}
	fmt.Fprintf(w, "okta delivery failures:\t%d in the last 24 h (event_hook.delivery)\n", len(mine))
	for i := max(0, len(mine)-3); i < len(mine); i++ {
		d := mine[i]
		fmt.Fprintf(w, "  %s\t%s; events: %s\n", termSafe(d.Published), termSafe(d.Why()), orNone(strings.Join(termSafeAll(d.Events), ",")))
	}
}

// dailyCount prints the reconciler's 24-hour count from the ledger table.
func dailyCount(ctx context.Context, w io.Writer, table string, endpoint *string) {
	if table == "" {
		fmt.Fprintln(w, "daily events:\tunknown (the reconciler's count is in the stack's ledger table: give --stack or --table)")
		return
	}
	local := *endpoint != ""
	cfg, err := awsConfig(ctx, endpoint)
	if err != nil {
		fmt.Fprintf(w, "daily events:\tnot read: %v\n", err)
		return
	}
	ddb := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if local {
			o.HTTPClient = awsenv.EmulatorHTTPClient()
			o.DisableValidateResponseChecksum = true // kumo sends no CRC32
		}
	})
	st, err := (&ledger.OktaSideStore{Client: ddb, Table: table}).Load(ctx, hookhealth.StateName)
	switch {
	case errors.Is(err, ledger.ErrNoOktaSide):
		fmt.Fprintln(w, "daily events:\tnot counted yet (no reconciler run with this version)")
	case err != nil:
		fmt.Fprintf(w, "daily events:\tnot read: %v\n", err)
	default:
		n := hookhealth.DailyCount(st, time.Now())
		fmt.Fprintf(w, "daily events:\t%d in 24 h of Okta's cap of %d (%.1f %%; Okta warns at %d), counted by the reconciler at %s\n",
			n, hookhealth.DailyCap, float64(n)*100/hookhealth.DailyCap, hookhealth.DailyWarning, st.UpdatedAt.UTC().Format(time.RFC3339))
	}
}

func orNone(s string) string {
	if s == "" {
		return "not named"
	}
	return s
}

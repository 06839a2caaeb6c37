package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/schema"
)

func init() {
	register(command{
		name:    "schema",
		summary: "print the payload shapes the worker learned: paths, types, how often seen, first seen (make schema)",
		run:     runSchema,
	})
}

// defaultSamples are the sample events --seed learns.
const defaultSamples = "events/okta"

func runSchema(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("schema", stderr)
	help(fs, "usage: hookline schema [EVENT_TYPE] [flags]\n\nPrints the learned shape of each event type, or of EVENT_TYPE.")
	stack := fs.String("stack", "", "CloudFormation stack whose LedgerTableName output to read")
	table := fs.String("table", "", "ledger table name (instead of --stack)")
	endpoint := fs.String("endpoint-url", "", "AWS endpoint, such as a local kumo (same as AWS_ENDPOINT_URL)")
	local := fs.Bool("local", false, "the stack make dev runs: table and endpoint from its state file")
	statePath := fs.String("state", defaultState, "state file written by hookline dev (with --local)")
	seed := fs.Bool("seed", false, "first learn the sample events (--samples), as the worker would")
	samples := fs.String("samples", defaultSamples, "directory of sample LogEvents (one JSON object per file) for --seed")
	// One EVENT_TYPE, before or after the flags.
	var eventType string
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		eventType = fs.Arg(0)
		if err := parse(fs, fs.Args()[1:]); err != nil {
			return err
		}
	}
	if *local {
		st, err := readState(*statePath)
		if err != nil {
			return fmt.Errorf("--local: %w (is `make dev` running?)", err)
		}
		if st.Tables["LedgerTable"] == "" && *table == "" {
			return fmt.Errorf("--local: %s names no ledger table (restart `make dev`)", *statePath)
		}
		*table, *endpoint = first(*table, st.Tables["LedgerTable"]), first(*endpoint, st.Endpoint)
	}
	if *stack == "" && *table == "" {
		return fmt.Errorf("%w: give --stack, --local, or --table", errUsage)
	}
	cfg, err := awsConfig(ctx, endpoint)
	if err != nil {
		return err
	}
	if *stack != "" && *table == "" {
		if *table, err = stackTable(ctx, cloudformation.NewFromConfig(cfg), *stack); err != nil {
			return err
		}
	}
	db := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if *endpoint != "" {
			o.HTTPClient = awsenv.EmulatorHTTPClient() // see its doc: an emulator needs it
			o.DisableValidateResponseChecksum = true   // kumo sends no CRC32
		}
	})
	store := &ledger.Schemas{Client: db, Table: *table}
	if *seed {
		n, err := seedSamples(ctx, store, *samples, stderr)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "learned %d sample event(s) from %s\n", n, *samples)
	}
	types := []string{eventType}
	if eventType == "" {
		if types, err = store.Types(ctx); err != nil {
			return err
		}
		if len(types) == 0 {
			fmt.Fprintf(stderr, "no shape learned yet in %s (the worker learns each type at its first event; --seed learns the samples)\n", *table)
			return nil
		}
	}
	for i, typ := range types {
		doc, version, err := store.Load(ctx, typ)
		if err != nil {
			return err
		}
		if version == 0 {
			return fmt.Errorf("no shape learned for %s in %s", typ, *table)
		}
		s, err := schema.Unmarshal(doc, version)
		if err != nil {
			return fmt.Errorf("%s: %w", typ, err)
		}
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		printShape(stdout, typ, s)
	}
	return nil
}

// stackTable is the ledger table of a stack, from its outputs.
func stackTable(ctx context.Context, cf describeStacksAPI, stack string) (string, error) {
	outs, err := readStackOutputs(ctx, cf, stack)
	if err != nil {
		return "", err
	}
	if outs["LedgerTableName"] == "" {
		return "", fmt.Errorf("stack %s lacks the LedgerTableName output", stack)
	}
	return outs["LedgerTableName"], nil
}

// printShape writes one type's shape: a heading, then a path per line.
func printShape(w io.Writer, eventType string, s *schema.Shape) {
	fmt.Fprintf(w, "%s: %d event(s) since %s, version %d\n", eventType, s.Events, stamp(s.FirstSeen), s.Version)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PATH\tTYPE\tSEEN\tNULL\tFIRST SEEN\tNOTE")
	for _, name := range s.Sorted() {
		p := s.Paths[name]
		seen := strconv.FormatInt(p.Count, 10)
		if s.Events > 0 {
			seen += fmt.Sprintf(" (%d%%)", min(100, p.Count*100/s.Events))
		}
		note := ""
		if s.Gone(name) {
			note = "possibly removed: not seen since " + stamp(p.LastSeen)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%d\t%s\t%s\n", name, p.Type(), seen, p.Nulls, stamp(p.FirstSeen), note)
	}
	tw.Flush()
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

// seedSamples learns every sample event in dir through a learner on store,
// as the worker would, logging what it learns to log. It returns how many
// it learned.
func seedSamples(ctx context.Context, store schema.Store, dir string, log io.Writer) (int, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return 0, err
	}
	if len(files) == 0 {
		return 0, fmt.Errorf("no sample events (*.json) in %s", dir)
	}
	l := &schema.Learner{Store: store, Log: slog.New(slog.NewTextHandler(log, nil))}
	n := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return n, err
		}
		var ev struct {
			EventType string `json:"eventType"`
		}
		if err := json.Unmarshal(raw, &ev); err != nil || ev.EventType == "" {
			return n, errors.Join(fmt.Errorf("%s: not an Okta LogEvent with an eventType", f), err)
		}
		l.Observe(ctx, ev.EventType, raw)
		n++
	}
	// Observe never fails; Flush says whether the store took it all.
	return n, l.Flush(ctx)
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/queue"
)

func init() {
	register(command{
		name:    "redrive",
		summary: "move parked events from the DLQ back to the events queue",
		run:     runRedrive,
	})
}

func runRedrive(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("redrive", stderr)
	stack := fs.String("stack", "", "CloudFormation stack whose EventsQueueUrl and EventsDLQUrl outputs to use")
	queueURL := fs.String("queue-url", "", "events queue URL (instead of --stack)")
	dlqURL := fs.String("dlq-url", "", "dead-letter queue URL (instead of --stack)")
	dryRun := fs.Bool("dry-run", false, "list what would move: uuid, event type, the worker's tries, first failure, reason; move nothing")
	eventType := fs.String("type", "", "move only events of this exact type (copies messages instead of a move task)")
	rate := fs.Int("rate", 0, "messages per second (0: as fast as SQS allows)")
	endpoint := fs.String("endpoint-url", "", "AWS endpoint, such as a local kumo (same as AWS_ENDPOINT_URL)")
	local := fs.Bool("local", false, "the stack `make dev` runs: queue URLs and endpoint from its state file")
	statePath := fs.String("state", defaultState, "state file written by `hookline dev` (with --local)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *rate < 0 {
		return fmt.Errorf("%w: --rate must be >= 0", errUsage)
	}
	if *local {
		st, err := readState(*statePath)
		if err != nil {
			return fmt.Errorf("--local: %w (is `make dev` running?)", err)
		}
		// Flags given explicitly win over the state file.
		*queueURL, *dlqURL, *endpoint = first(*queueURL, st.Queues["EventsQueue"]), first(*dlqURL, st.Queues["EventsDLQ"]), first(*endpoint, st.Endpoint)
	}
	if *stack == "" && (*queueURL == "" || *dlqURL == "") {
		return fmt.Errorf("%w: give --stack, --local, or both --queue-url and --dlq-url", errUsage)
	}
	cfg, err := awsConfig(ctx, endpoint)
	if err != nil {
		return err
	}
	if *stack != "" {
		if *queueURL, *dlqURL, err = stackQueues(ctx, cloudformation.NewFromConfig(cfg), *stack, *queueURL, *dlqURL); err != nil {
			return err
		}
	}
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if *endpoint != "" {
			o.HTTPClient = awsenv.EmulatorHTTPClient() // see its doc: an emulator needs it
		}
	})
	o := queue.RedriveOptions{QueueURL: *queueURL, DLQURL: *dlqURL, Type: *eventType, Rate: *rate, Out: stderr}

	if *dryRun {
		entries, err := queue.ListParked(ctx, client, o)
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "UUID\tEVENT TYPE\tTRIES\tFIRST FAILURE\tREASON")
		for _, e := range entries {
			first := "-"
			if !e.FirstFailure.IsZero() {
				first = e.FirstFailure.UTC().Format(time.RFC3339)
			}
			tries, reason := "-", oneLine(e.Reason, 80)
			if e.Tries > 0 {
				tries = strconv.Itoa(e.Tries)
			}
			if reason == "" {
				reason = "(none recorded: moved by the redrive policy, or too large for the attributes; see the worker log for this uuid)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.UUID, e.Type, tries, first, reason)
		}
		tw.Flush()
		if err != nil {
			return fmt.Errorf("listing %s: %w", *dlqURL, err) // what is listed above is not all
		}
		fmt.Fprintf(stderr, "%d message(s) would move from %s to %s (dry run: nothing moved)\n", len(entries), *dlqURL, *queueURL)
		return nil
	}
	res, err := queue.Redrive(ctx, client, o)
	fmt.Fprintf(stderr, "%s: moved %d/%d", res.Method, res.Moved, res.Total)
	if res.Skipped > 0 {
		fmt.Fprintf(stderr, ", %d of other types left in the DLQ", res.Skipped)
	}
	fmt.Fprintln(stderr)
	if errors.Is(err, context.Canceled) {
		return errors.New("interrupted: nothing is lost; a message sent but not yet deleted is in both queues, and the worker's ledger skips the duplicate")
	}
	return err
}

// describeStacksAPI is the CloudFormation call redrive needs.
type describeStacksAPI interface {
	DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error)
}

// stackQueues reads the queue URLs from the stack's outputs; URLs given as
// flags win.
func stackQueues(ctx context.Context, cf describeStacksAPI, stack, queueURL, dlqURL string) (string, string, error) {
	outs, err := readStackOutputs(ctx, cf, stack)
	if err != nil {
		return "", "", err
	}
	queueURL, dlqURL = first(queueURL, outs["EventsQueueUrl"]), first(dlqURL, outs["EventsDLQUrl"])
	if queueURL == "" || dlqURL == "" {
		return "", "", fmt.Errorf("stack %s lacks the EventsQueueUrl or EventsDLQUrl output", stack)
	}
	return queueURL, dlqURL, nil
}

// readStackOutputs reads a stack's outputs by key; a key no output has
// takes the stack parameter of that name, if any (OktaEventTypes is both).
func readStackOutputs(ctx context.Context, cf describeStacksAPI, stack string) (map[string]string, error) {
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: &stack})
	if err != nil {
		return nil, fmt.Errorf("describe stack %s: %w", stack, err)
	}
	if len(out.Stacks) == 0 {
		return nil, fmt.Errorf("stack %s not found", stack)
	}
	outs := map[string]string{}
	for _, p := range out.Stacks[0].Parameters {
		outs[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	for _, o := range out.Stacks[0].Outputs {
		outs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	return outs, nil
}

func first(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// awsConfig loads the AWS configuration for an operator command. endpoint
// (a flag; AWS_ENDPOINT_URL when empty, and set to it) points every client
// at, say, a local kumo, which checks no signature and has one region: it
// then needs no AWS credentials or configuration and gets the local ones.
func awsConfig(ctx context.Context, endpoint *string) (aws.Config, error) {
	if *endpoint == "" {
		*endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	var opts []func(*config.LoadOptions) error
	if *endpoint != "" {
		opts = append(opts, config.WithBaseEndpoint(*endpoint))
	}
	if devstack.IsLocal(*endpoint) {
		opts = append(opts, config.WithCredentialsProvider(devstack.Credentials))
		if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
			opts = append(opts, config.WithRegion(devstack.Region))
		}
	}
	return config.LoadDefaultConfig(ctx, opts...)
}

func oneLine(s string, n int) string {
	r := []rune(s)
	for i, c := range r {
		if c == '\n' || c == '\t' {
			r[i] = ' '
		}
	}
	if len(r) > n {
		r = append(r[:n-1], '…')
	}
	return string(r)
}

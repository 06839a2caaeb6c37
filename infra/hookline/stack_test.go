package main

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/hookline/hookline/internal/awsenv"
	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

// stackOutputs answers DescribeStacks with fixed outputs: kumo's
// CloudFormation keeps stacks but never computes their Outputs, so the
// output parsing is checked here and the call itself against kumo below.
type stackOutputs map[string]string

func (s stackOutputs) DescribeStacks(context.Context, *cloudformation.DescribeStacksInput, ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	var outs []cftypes.Output
	for k, v := range s {
		outs = append(outs, cftypes.Output{OutputKey: aws.String(k), OutputValue: aws.String(v)})
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{Outputs: outs}}}, nil
}

func TestStackQueues(t *testing.T) {
	both := stackOutputs{"EventsQueueUrl": "https://q", "EventsDLQUrl": "https://dlq", "Other": "x"}
	tests := []struct {
		name             string
		outputs          stackOutputs
		flagQ, flagD     string
		wantQ, wantD     string
		wantErrSubstring string
	}{
		{name: "from outputs", outputs: both, wantQ: "https://q", wantD: "https://dlq"},
		{name: "flags win", outputs: both, flagQ: "https://mine", wantQ: "https://mine", wantD: "https://dlq"},
		{name: "missing DLQ output", outputs: stackOutputs{"EventsQueueUrl": "https://q"}, wantErrSubstring: "lacks the EventsQueueUrl or EventsDLQUrl output"},
		{name: "missing output but flag given", outputs: stackOutputs{"EventsQueueUrl": "https://q"}, flagD: "https://d", wantQ: "https://q", wantD: "https://d"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, d, err := stackQueues(context.Background(), tt.outputs, "hookline", tt.flagQ, tt.flagD)
			if tt.wantErrSubstring != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErrSubstring) {
					t.Fatalf("err = %v, want %q", err, tt.wantErrSubstring)
				}
				return
			}
			if err != nil || q != tt.wantQ || d != tt.wantD {
				t.Fatalf("got %q %q %v; want %q %q", q, d, err, tt.wantQ, tt.wantD)
			}
		})
	}
}

func TestStackQueuesOnKumo(t *testing.T) {
	k := devstacktest.Start(t, devstacktest.Options{})
	cf := cloudformation.New(cloudformation.Options{
		Region:       devstack.Region,
		Credentials:  devstack.Credentials,
		BaseEndpoint: aws.String(k.Kumo.Endpoint),
		HTTPClient:   awsenv.EmulatorHTTPClient(),
	})
	ctx := context.Background()
	// An unknown stack is a clear error naming it.
	if _, _, err := stackQueues(ctx, cf, "no-such-stack", "", ""); err == nil || !strings.Contains(err.Error(), "no-such-stack") {
		t.Fatalf("unknown stack: err = %v", err)
	}
	// A real stack is found; kumo computes no Outputs, so the URLs must come
	// from the flags and the missing ones are named.
	if _, err := cf.CreateStack(ctx, &cloudformation.CreateStackInput{StackName: aws.String("hookline"),
		TemplateBody: aws.String(`{"Resources":{"Q":{"Type":"AWS::SQS::Queue"}}}`)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := stackQueues(ctx, cf, "hookline", "", ""); err == nil || !strings.Contains(err.Error(), "lacks the EventsQueueUrl") {
		t.Fatalf("stack without outputs: err = %v", err)
	}
	q, d, err := stackQueues(ctx, cf, "hookline", "http://q", "http://d")
	if err != nil || q != "http://q" || d != "http://d" {
		t.Fatalf("got %q %q %v", q, d, err)
	}
}

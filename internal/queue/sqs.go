package queue

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/awsenv"
)

// NewClient is a function's SQS client, built from its AWS environment (as
// ledger.NewClient is its DynamoDB client), with optFns applied.
func NewClient(env awsenv.Env, optFns ...func(*sqs.Options)) *sqs.Client {
	s := env.Service(sqs.ServiceID)
	return sqs.New(sqs.Options{Region: s.Region, Credentials: s.Credentials, BaseEndpoint: s.BaseEndpoint, HTTPClient: s.HTTPClient}, optFns...)
}

// SendMessageBatchAPI is the part of the SQS client SQSSender uses.
type SendMessageBatchAPI interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// SQSSender sends batches to one queue.
type SQSSender struct {
	Client   SendMessageBatchAPI
	QueueURL string
}

// SendBatch implements BatchSender.
func (s SQSSender) SendBatch(ctx context.Context, msgs []Message) ([]Failure, error) {
	entries := make([]types.SendMessageBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		attrs := make(map[string]types.MessageAttributeValue, len(m.Attributes))
		for k, v := range m.Attributes {
			if v == "" {
				continue // SQS rejects empty attribute values
			}
			attrs[k] = stringAttr(v)
		}
		entries[i] = types.SendMessageBatchRequestEntry{
			Id:                aws.String(entryID(i)),
			MessageBody:       aws.String(string(m.Body)),
			MessageAttributes: attrs,
		}
	}
	out, err := s.Client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &s.QueueURL, Entries: entries})
	if err != nil {
		return nil, fmt.Errorf("sqs SendMessageBatch: %w", err)
	}
	failures := make([]Failure, 0, len(out.Failed))
	for _, f := range out.Failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil {
			i = -1 // Publish resends the whole group
		}
		failures = append(failures, Failure{Index: i, Code: aws.ToString(f.Code), Message: aws.ToString(f.Message), SenderFault: f.SenderFault})
	}
	// An entry SQS neither accepted nor listed as failed is treated as failed,
	// so it is retried rather than lost.
	if len(out.Successful)+len(out.Failed) < len(msgs) {
		ok := map[string]bool{}
		for _, s := range out.Successful {
			ok[aws.ToString(s.Id)] = true
		}
		for _, f := range out.Failed {
			ok[aws.ToString(f.Id)] = true
		}
		for i := range msgs {
			if !ok[entryID(i)] {
				failures = append(failures, Failure{Index: i, Code: "Missing", Message: "entry absent from the SendMessageBatch response"})
			}
		}
	}
	return failures, nil
}

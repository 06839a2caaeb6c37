package queue

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestLambdaEventIsWhatLambdaHandsTheWorker(t *testing.T) {
	msgs := []types.Message{{
		MessageId:     aws.String("m1"),
		ReceiptHandle: aws.String("rh"),
		Body:          aws.String(`{"v":1}`),
		MD5OfBody:     aws.String("md5"),
		Attributes:    map[string]string{"ApproximateReceiveCount": "3"},
		MessageAttributes: map[string]types.MessageAttributeValue{
			"eventUuid": {DataType: aws.String("String"), StringValue: aws.String("u1")},
		},
	}}
	ev := LambdaEvent("arn:aws:sqs:us-east-1:1:q", "us-east-1", msgs)
	if len(ev.Records) != 1 {
		t.Fatalf("records %d", len(ev.Records))
	}
	r := ev.Records[0]
	if r.MessageId != "m1" || r.ReceiptHandle != "rh" || r.Body != `{"v":1}` || r.EventSource != "aws:sqs" ||
		r.EventSourceARN != "arn:aws:sqs:us-east-1:1:q" || r.Attributes["ApproximateReceiveCount"] != "3" ||
		*r.MessageAttributes["eventUuid"].StringValue != "u1" || r.MessageAttributes["eventUuid"].DataType != "String" {
		t.Fatalf("record %+v", r)
	}
}

func TestARNFromURL(t *testing.T) {
	if got := ARN("http://localhost:4566/000000000000/hookline-events", "us-east-1"); got != "arn:aws:sqs:us-east-1:000000000000:hookline-events" {
		t.Fatal(got)
	}
}

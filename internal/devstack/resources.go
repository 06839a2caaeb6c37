package devstack

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/apigatewayv2"
	apitypes "github.com/aws/aws-sdk-go-v2/service/apigatewayv2/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/hookline/hookline/internal/samtemplate"
)

// Resources are the local values of the template's resources.
type Resources struct {
	QueueURLs  map[string]string // logical ID → URL
	QueueARNs  map[string]string
	SecretARNs map[string]string
	Tables     map[string]string // logical ID → table name
	Functions  map[string]string // logical ID → function name
	APIID      string            // "" when there are no routes
}

// Overrides change template values for tests. Zero fields keep the template's.
type Overrides struct {
	VisibilityTimeout int // seconds, every queue
	MaxReceiveCount   int // every RedrivePolicy
	BatchingWindow    int // seconds, -1 for none
}

// createResources creates the spec's queues, secrets, tables, functions and
// HTTP API in kumo. Every secret gets secretValue.
func createResources(ctx context.Context, c *Clients, spec *Spec, secretValue string, ov Overrides) (*Resources, error) {
	r := &Resources{QueueURLs: map[string]string{}, QueueARNs: map[string]string{}, SecretARNs: map[string]string{},
		Tables: map[string]string{}, Functions: map[string]string{}}
	for _, q := range spec.Queues {
		attrs := map[string]string{}
		for k, v := range q.Attributes {
			attrs[k] = v
		}
		if ov.VisibilityTimeout > 0 {
			attrs["VisibilityTimeout"] = strconv.Itoa(ov.VisibilityTimeout)
		}
		if q.DeadLetterTarget != "" {
			dlq, ok := r.QueueARNs[q.DeadLetterTarget]
			if !ok {
				return nil, fmt.Errorf("queue %s: dead-letter target %s is not a queue", q.LogicalID, q.DeadLetterTarget)
			}
			n := q.MaxReceiveCount
			if ov.MaxReceiveCount > 0 {
				n = ov.MaxReceiveCount
			}
			b, _ := json.Marshal(map[string]any{"deadLetterTargetArn": dlq, "maxReceiveCount": n})
			attrs["RedrivePolicy"] = string(b)
		}
		out, err := c.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(q.Name), Attributes: attrs})
		if err != nil {
			return nil, fmt.Errorf("create queue %s: %w", q.LogicalID, err)
		}
		// kumo's queue URLs always say localhost:4566, whatever its port
		// (a difference from SQS, whose URLs are where the queue is): give
		// everyone the URL this kumo answers on.
		u, err := url.Parse(*out.QueueUrl)
		if err != nil {
			return nil, fmt.Errorf("queue %s URL: %w", q.LogicalID, err)
		}
		r.QueueURLs[q.LogicalID] = c.Endpoint + u.Path
		a, err := c.SQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(r.QueueURLs[q.LogicalID]),
			AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
		if err != nil {
			return nil, fmt.Errorf("queue %s ARN: %w", q.LogicalID, err)
		}
		r.QueueARNs[q.LogicalID] = a.Attributes["QueueArn"]
	}
	for _, id := range spec.Secrets {
		out, err := c.SecretsManager.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
			Name: aws.String(StackName + "-" + id), SecretString: aws.String(secretValue)})
		if err != nil {
			return nil, fmt.Errorf("create secret %s: %w", id, err)
		}
		r.SecretARNs[id] = *out.ARN
	}
	for _, ts := range spec.Tables {
		if err := createTable(ctx, c.DynamoDB, ts); err != nil {
			return nil, err
		}
		r.Tables[ts.LogicalID] = ts.Name
	}
	code, err := emptyZip()
	if err != nil {
		return nil, err
	}
	for _, f := range spec.Functions {
		// The code is a placeholder: the bootstrap runs on the host against
		// the Runtime API, so kumo only needs the function to exist.
		_, err := c.Lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
			FunctionName: aws.String(f.Name),
			Role:         aws.String("arn:aws:iam::000000000000:role/" + StackName + "-" + f.Short),
			Runtime:      lambdatypes.RuntimeProvidedal2023,
			Handler:      aws.String("bootstrap"),
			Code:         &lambdatypes.FunctionCode{ZipFile: code},
			Timeout:      aws.Int32(int32(f.TimeoutSec)),
			MemorySize:   aws.Int32(int32(f.MemoryMB)),
		})
		if err != nil {
			return nil, fmt.Errorf("create function %s: %w", f.LogicalID, err)
		}
		r.Functions[f.LogicalID] = f.Name
	}
	if len(spec.Routes) > 0 {
		if r.APIID, err = createAPI(ctx, c.APIGateway, spec, r); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func createTable(ctx context.Context, db *dynamodb.Client, ts TableSpec) error {
	in := &dynamodb.CreateTableInput{TableName: aws.String(ts.Name), BillingMode: ddbtypes.BillingModePayPerRequest}
	for _, k := range ts.Keys {
		in.AttributeDefinitions = append(in.AttributeDefinitions, ddbtypes.AttributeDefinition{
			AttributeName: aws.String(k.Name), AttributeType: ddbtypes.ScalarAttributeType(k.Type)})
		in.KeySchema = append(in.KeySchema, ddbtypes.KeySchemaElement{
			AttributeName: aws.String(k.Name), KeyType: ddbtypes.KeyType(k.KeyType)})
	}
	if _, err := db.CreateTable(ctx, in); err != nil {
		return fmt.Errorf("create table %s: %w", ts.LogicalID, err)
	}
	if ts.TTLAttr != "" {
		if _, err := db.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{TableName: aws.String(ts.Name),
			TimeToLiveSpecification: &ddbtypes.TimeToLiveSpecification{AttributeName: aws.String(ts.TTLAttr), Enabled: aws.Bool(true)}}); err != nil {
			return fmt.Errorf("table %s TTL: %w", ts.LogicalID, err)
		}
	}
	return nil
}

func createAPI(ctx context.Context, api *apigatewayv2.Client, spec *Spec, r *Resources) (string, error) {
	out, err := api.CreateApi(ctx, &apigatewayv2.CreateApiInput{Name: aws.String(StackName), ProtocolType: apitypes.ProtocolTypeHttp})
	if err != nil {
		return "", fmt.Errorf("create HTTP API: %w", err)
	}
	id := out.ApiId
	integrations := map[string]string{} // function + payload format → integration id
	for _, rt := range spec.Routes {
		key := rt.Function + "/" + rt.PayloadFormat
		iid, ok := integrations[key]
		if !ok {
			arn := fmt.Sprintf("arn:aws:lambda:%s:000000000000:function:%s", Region, r.Functions[rt.Function])
			in, err := api.CreateIntegration(ctx, &apigatewayv2.CreateIntegrationInput{
				ApiId: id, IntegrationType: apitypes.IntegrationTypeAwsProxy,
				IntegrationUri: aws.String(arn), PayloadFormatVersion: aws.String(rt.PayloadFormat),
				IntegrationMethod: aws.String("POST")})
			if err != nil {
				return "", fmt.Errorf("create integration for %s: %w", rt.Function, err)
			}
			iid = *in.IntegrationId
			integrations[key] = iid
		}
		if _, err := api.CreateRoute(ctx, &apigatewayv2.CreateRouteInput{ApiId: id, RouteKey: aws.String(rt.Key()),
			Target: aws.String("integrations/" + iid)}); err != nil {
			return "", fmt.Errorf("create route %s: %w", rt.Key(), err)
		}
	}
	if _, err := api.CreateStage(ctx, &apigatewayv2.CreateStageInput{ApiId: id, StageName: aws.String("$default"),
		AutoDeploy: aws.Bool(true)}); err != nil {
		return "", fmt.Errorf("create $default stage: %w", err)
	}
	return *id, nil
}

// emptyZip is a valid zip with no files: kumo stores it, nothing runs it.
func emptyZip() ([]byte, error) {
	var b bytes.Buffer
	if err := zip.NewWriter(&b).Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Resolve gives the local value of a template reference: the Resolver for
// samtemplate.ResolveString.
func (r *Resources) Resolve(name, attr string) (string, error) {
	switch {
	case name == "AWS::Region":
		return Region, nil
	case name == "AWS::StackName":
		return StackName, nil
	case name == "AWS::AccountId":
		return "000000000000", nil
	case name == "AWS::URLSuffix":
		return "amazonaws.com", nil
	case name == "AWS::Partition":
		return "aws", nil
	}
	if u, ok := r.QueueURLs[name]; ok {
		switch attr {
		case "":
			return u, nil
		case "Arn":
			return r.QueueARNs[name], nil
		case "QueueName":
			return StackName + "-" + name, nil
		}
	}
	if a, ok := r.SecretARNs[name]; ok && (attr == "" || attr == "Id") {
		return a, nil
	}
	if t, ok := r.Tables[name]; ok {
		switch attr {
		case "":
			return t, nil
		case "Arn":
			return fmt.Sprintf("arn:aws:dynamodb:%s:000000000000:table/%s", Region, t), nil
		}
	}
	if f, ok := r.Functions[name]; ok && attr == "" {
		return f, nil
	}
	if attr == "" {
		// Log groups and the like: the logical ID is as good a name as any locally.
		return StackName + "-" + name, nil
	}
	return "", fmt.Errorf("no local value for %s.%s", name, attr)
}

// FunctionEnv resolves a function's template environment to local values,
// sorted as KEY=VALUE. The worker's MAX_RECEIVE_COUNT mirrors the queue's
// maxReceiveCount (the template keeps the two equal), so an override of
// one is an override of both.
func (r *Resources) FunctionEnv(t *samtemplate.Template, f FunctionSpec, ov Overrides) ([]string, error) {
	var env []string
	for _, k := range samtemplate.SortedKeys(f.Env) {
		v, err := t.ResolveString(f.Env[k], r.Resolve)
		if err != nil {
			return nil, fmt.Errorf("%s env %s: %w", f.LogicalID, k, err)
		}
		if k == "MAX_RECEIVE_COUNT" && ov.MaxReceiveCount > 0 {
			v = strconv.Itoa(ov.MaxReceiveCount)
		}
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return env, nil
}

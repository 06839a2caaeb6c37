// Package awsenv builds AWS SDK clients from the standard environment that
// Lambda (and aws-lambda-rie, and the local kumo stack) provides.
//
// It deliberately avoids the SDK's config package: shared-config files, SSO,
// STS and IMDS are not needed inside Lambda and make the receiver binary
// about 25% larger. What config would give for free and Lambda relies on is
// kept: region, env credentials (including the session token), the
// AWS_ENDPOINT_URL family and the SDK's standard retryer.
package awsenv

import (
	"errors"
	"net/http"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// Env is what every client needs.
type Env struct {
	Region      string
	Credentials aws.CredentialsProvider
	lookup      func(string) string
}

// FromEnvironment reads the process environment.
func FromEnvironment() (Env, error) {
	return fromLookup(os.Getenv)
}

func fromLookup(getenv func(string) string) (Env, error) {
	region := first(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"))
	if region == "" {
		return Env{}, errors.New("awsenv: AWS_REGION is not set")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return Env{}, errors.New("awsenv: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (Lambda sets them from the execution role)")
	}
	creds := credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))
	return Env{Region: region, Credentials: aws.NewCredentialsCache(creds), lookup: getenv}, nil
}

// Endpoint returns the endpoint override for a service the way the SDK's
// config package resolves it: AWS_ENDPOINT_URL_<SERVICE> first, then
// AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true.
// serviceID is the SDK service id, such as "SQS" or "Secrets Manager".
func (e Env) Endpoint(serviceID string) string {
	getenv := e.lookup
	if getenv == nil {
		getenv = os.Getenv
	}
	if strings.EqualFold(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		return ""
	}
	key := "AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(serviceID, " ", "_"))
	return first(getenv(key), getenv("AWS_ENDPOINT_URL"))
}

func (e Env) baseEndpoint(serviceID string) *string {
	if ep := e.Endpoint(serviceID); ep != "" {
		return aws.String(ep)
	}
	return nil
}

// httpClient is nil (the SDK default) on AWS, and EmulatorHTTPClient when an
// endpoint override points the SDK at an emulator.
func (e Env) httpClient(serviceID string) HTTPClient {
	if e.Endpoint(serviceID) == "" {
		return nil
	}
	return EmulatorHTTPClient()
}

// HTTPClient is what the SDK clients accept as their HTTP client.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// SQS returns an SQS client.
func (e Env) SQS(optFns ...func(*sqs.Options)) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       e.Region,
		Credentials:  e.Credentials,
		BaseEndpoint: e.baseEndpoint(sqs.ServiceID),
		HTTPClient:   e.httpClient(sqs.ServiceID),
	}, optFns...)
}

// SecretsManager returns a Secrets Manager client.
func (e Env) SecretsManager(optFns ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region:       e.Region,
		Credentials:  e.Credentials,
		BaseEndpoint: e.baseEndpoint(secretsmanager.ServiceID),
		HTTPClient:   e.httpClient(secretsmanager.ServiceID),
	}, optFns...)
}

// DynamoDB returns a DynamoDB client. Against an emulator it skips the
// response CRC32 check: kumo sends no checksum header.
func (e Env) DynamoDB(optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:                          e.Region,
		Credentials:                     e.Credentials,
		BaseEndpoint:                    e.baseEndpoint(dynamodb.ServiceID),
		HTTPClient:                      e.httpClient(dynamodb.ServiceID),
		DisableValidateResponseChecksum: e.Endpoint(dynamodb.ServiceID) != "",
	}, optFns...)
}

func first(values ...string) string {
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

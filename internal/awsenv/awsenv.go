// Package awsenv reads the AWS environment that Lambda gives a function (and
// that aws-lambda-rie and the local kumo stack give it too): region,
// credentials, endpoint overrides, and the HTTP client that goes with them.
// Each function builds the clients of the services it calls from it, where
// it calls them, so a binary links only the services it uses:
//
//	c := env.Service(sqs.ServiceID)
//	client := sqs.New(sqs.Options{Region: c.Region, Credentials: c.Credentials,
//		BaseEndpoint: c.BaseEndpoint, HTTPClient: c.HTTPClient})
//
// (sqs.New, not sqs.NewFromConfig: the latter links the SDK's shared-config
// endpoint resolution, 65 KB more in the receiver, for nothing Lambda uses.)
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
)

// Env is what every client needs. The zero value reads endpoint overrides
// from the process environment and has no region or credentials.
type Env struct {
	Region      string
	Credentials aws.CredentialsProvider
	// Getenv reads the endpoint overrides; nil means os.Getenv.
	Getenv func(string) string
}

// FromEnvironment reads the process environment.
func FromEnvironment() (Env, error) {
	return fromGetenv(os.Getenv)
}

func fromGetenv(getenv func(string) string) (Env, error) {
	region := first(getenv("AWS_REGION"), getenv("AWS_DEFAULT_REGION"))
	if region == "" {
		return Env{}, errors.New("awsenv: AWS_REGION is not set")
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	if id == "" || secret == "" {
		return Env{}, errors.New("awsenv: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set (Lambda sets them from the execution role)")
	}
	creds := credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN"))
	return Env{Region: region, Credentials: aws.NewCredentialsCache(creds), Getenv: getenv}, nil
}

// Endpoint returns the endpoint override for a service the way the SDK's
// config package resolves it: AWS_ENDPOINT_URL_<SERVICE> first, then
// AWS_ENDPOINT_URL, unless AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true.
// serviceID is the SDK service id, such as sqs.ServiceID ("SQS").
func (e Env) Endpoint(serviceID string) string {
	getenv := e.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	if strings.EqualFold(getenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"), "true") {
		return ""
	}
	key := "AWS_ENDPOINT_URL_" + strings.ToUpper(strings.ReplaceAll(serviceID, " ", "_"))
	return first(getenv(key), getenv("AWS_ENDPOINT_URL"))
}

// Emulated reports whether calls to the service go to an endpoint override,
// which here means an emulator such as kumo.
func (e Env) Emulated(serviceID string) bool { return e.Endpoint(serviceID) != "" }

// Service is what a client of one service is built from: the fields of the
// same names in its Options.
type Service struct {
	Region       string
	Credentials  aws.CredentialsProvider
	BaseEndpoint *string    // nil on AWS
	HTTPClient   HTTPClient // nil on AWS (the SDK's default); EmulatorHTTPClient against an emulator
}

// HTTPClient is what the SDK clients accept as their HTTP client. An
// interface, so that "none" stays a nil interface in the Options.
type HTTPClient interface {
	Do(*http.Request) (*http.Response, error)
}

// Service returns what a client of the service (serviceID, such as
// sqs.ServiceID) is built from.
func (e Env) Service(serviceID string) Service {
	s := Service{Region: e.Region, Credentials: e.Credentials}
	if ep := e.Endpoint(serviceID); ep != "" {
		s.BaseEndpoint = aws.String(ep)
		s.HTTPClient = EmulatorHTTPClient()
	}
	return s
}

func first(values ...string) string {
	for _, v := range values {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

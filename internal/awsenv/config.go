package awsenv

import (
	"github.com/aws/aws-sdk-go-v2/aws"
)

// Config is the environment as an aws.Config, for clients that handlers
// build with a service's NewFromConfig: region, credentials, and against an
// emulator AWS_ENDPOINT_URL as the base endpoint with EmulatorHTTPClient.
// A per-service AWS_ENDPOINT_URL_<SERVICE> is not applied here (Service
// applies it); on AWS neither is set.
func (e Env) Config() aws.Config {
	s := e.Service("")
	cfg := aws.Config{Region: s.Region, Credentials: s.Credentials, BaseEndpoint: s.BaseEndpoint}
	if s.HTTPClient != nil {
		cfg.HTTPClient = s.HTTPClient
	}
	return cfg
}

package awsenv

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

func TestFromLookup(t *testing.T) {
	base := map[string]string{
		"AWS_REGION":            "eu-west-1",
		"AWS_ACCESS_KEY_ID":     "AKID",
		"AWS_SECRET_ACCESS_KEY": "SECRET",
		"AWS_SESSION_TOKEN":     "TOKEN",
	}
	tests := []struct {
		name       string
		env        map[string]string
		wantErr    bool
		wantRegion string
		service    string
		wantEP     string
	}{
		{name: "lambda defaults", env: base, wantRegion: "eu-west-1", service: "SQS"},
		{name: "default region fallback", env: merge(base, map[string]string{"AWS_REGION": "", "AWS_DEFAULT_REGION": "us-east-2"}), wantRegion: "us-east-2", service: "SQS"},
		{name: "no region", env: merge(base, map[string]string{"AWS_REGION": ""}), wantErr: true},
		{name: "no credentials", env: merge(base, map[string]string{"AWS_ACCESS_KEY_ID": ""}), wantErr: true},
		{name: "global endpoint", env: merge(base, map[string]string{"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"}), wantRegion: "eu-west-1", service: "SQS", wantEP: "http://127.0.0.1:4566"},
		{name: "service endpoint wins", env: merge(base, map[string]string{"AWS_ENDPOINT_URL": "http://a", "AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://b"}), wantRegion: "eu-west-1", service: "Secrets Manager", wantEP: "http://b"},
		{name: "ignore endpoints", env: merge(base, map[string]string{"AWS_ENDPOINT_URL": "http://a", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true"}), wantRegion: "eu-west-1", service: "SQS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := fromGetenv(func(k string) string { return tt.env[k] })
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if env.Region != tt.wantRegion {
				t.Errorf("region = %q, want %q", env.Region, tt.wantRegion)
			}
			if got := env.Endpoint(tt.service); got != tt.wantEP {
				t.Errorf("endpoint = %q, want %q", got, tt.wantEP)
			}
			// An emulator gets its endpoint and EmulatorHTTPClient; AWS the SDK's defaults.
			svc := env.Service(tt.service)
			if got := aws.ToString(svc.BaseEndpoint); got != tt.wantEP {
				t.Errorf("Service(%s).BaseEndpoint = %q, want %q", tt.service, got, tt.wantEP)
			}
			if emulated := tt.wantEP != ""; (svc.HTTPClient != nil) != emulated || env.Emulated(tt.service) != emulated {
				t.Errorf("Service(%s).HTTPClient = %v, Emulated = %v; want an emulator client only with an endpoint", tt.service, svc.HTTPClient, env.Emulated(tt.service))
			}
			if svc.Region != tt.wantRegion || svc.Credentials != env.Credentials {
				t.Errorf("Service(%s) = region %q, credentials %v", tt.service, svc.Region, svc.Credentials)
			}
			creds, err := env.Credentials.Retrieve(context.Background())
			if err != nil || creds.AccessKeyID != "AKID" || creds.SessionToken != "TOKEN" {
				t.Errorf("credentials = %+v, %v", creds, err)
			}
		})
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestConfigForHandlers: the aws.Config handlers get carries the region,
// the credentials and, against an emulator, its endpoint and HTTP client;
// on AWS neither, so the SDK's defaults apply.
func TestConfigForHandlers(t *testing.T) {
	env := map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "SECRET"}
	e, err := fromGetenv(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.Config()
	creds, _ := cfg.Credentials.Retrieve(context.Background())
	if cfg.Region != "eu-west-1" || creds.AccessKeyID != "AKID" || cfg.BaseEndpoint != nil || cfg.HTTPClient != nil {
		t.Fatalf("on AWS: %+v", cfg)
	}
	env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:4566"
	if cfg := e.Config(); aws.ToString(cfg.BaseEndpoint) != "http://127.0.0.1:4566" || cfg.HTTPClient == nil {
		t.Fatalf("against an emulator: %+v", cfg)
	}
}

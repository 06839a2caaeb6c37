package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

// GetSecretValueAPI is the part of the Secrets Manager client we use.
type GetSecretValueAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// SecretsManager reads the hook secret's AWSCURRENT and AWSPREVIOUS values.
type SecretsManager struct {
	Client   GetSecretValueAPI
	SecretID string
}

// Fetch implements Secrets.
func (s SecretsManager) Fetch(ctx context.Context) (string, string, error) {
	current, err := s.get(ctx, "AWSCURRENT")
	if err != nil {
		return "", "", err
	}
	previous, err := s.get(ctx, "AWSPREVIOUS")
	var notFound *types.ResourceNotFoundException
	if errors.As(err, &notFound) {
		// Never rotated: there is no previous version.
		return current, "", nil
	}
	if err != nil {
		return "", "", err
	}
	return current, previous, nil
}

func (s SecretsManager) get(ctx context.Context, stage string) (string, error) {
	out, err := s.Client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:     &s.SecretID,
		VersionStage: &stage,
	})
	if err != nil {
		return "", fmt.Errorf("get secret %s: %w", stage, err)
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %s has no SecretString", stage)
	}
	return *out.SecretString, nil
}

// Static is an in-memory secret store, for unit tests and benchmarks.
type Static struct {
	Current, Previous string
	Err               error
	Calls             int
}

// Fetch implements Secrets.
func (s *Static) Fetch(context.Context) (string, string, error) {
	s.Calls++
	return s.Current, s.Previous, s.Err
}

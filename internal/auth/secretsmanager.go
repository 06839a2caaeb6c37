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

// Fetch implements Secrets. It reads both stages at once, so a read takes
// one round trip, not two.
func (s SecretsManager) Fetch(ctx context.Context) (string, string, error) {
	var previous string
	var prevErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		previous, prevErr = s.get(ctx, "AWSPREVIOUS")
	}()
	current, err := s.get(ctx, "AWSCURRENT")
	<-done
	if err != nil {
		return "", "", err
	}
	var notFound *types.ResourceNotFoundException
	if errors.As(prevErr, &notFound) {
		// Never rotated: there is no previous version.
		return current, "", nil
	}
	if prevErr != nil {
		return "", "", prevErr
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

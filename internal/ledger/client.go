package ledger

import (
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/hookline/hookline/internal/awsenv"
)

// NewClient builds the client of the ledger table from a function's AWS
// environment, once per container. kumo sends no CRC32 header, so the
// response checksum is checked only against AWS.
func NewClient(env awsenv.Env) *dynamodb.Client {
	s := env.Service(dynamodb.ServiceID)
	return dynamodb.New(dynamodb.Options{Region: s.Region, Credentials: s.Credentials, BaseEndpoint: s.BaseEndpoint,
		HTTPClient: s.HTTPClient, DisableValidateResponseChecksum: env.Emulated(dynamodb.ServiceID)})
}

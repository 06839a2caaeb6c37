package ledger

import (
	"testing"

	"github.com/hookline/hookline/internal/awsenv"
)

// kumo sends no CRC32 header: the client skips that check exactly when
// DynamoDB is an emulator.
func TestNewClientChecksumOnlyAgainstAWS(t *testing.T) {
	for endpoint, skip := range map[string]bool{"": false, "http://127.0.0.1:4566": true} {
		env := awsenv.Env{Region: "eu-west-1", Getenv: func(k string) string {
			if k == "AWS_ENDPOINT_URL" {
				return endpoint
			}
			return ""
		}}
		if got := NewClient(env).Options().DisableValidateResponseChecksum; got != skip {
			t.Errorf("endpoint %q: checksum check disabled = %v, want %v", endpoint, got, skip)
		}
	}
}

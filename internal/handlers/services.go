package handlers

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/hookline/hookline/internal/oktaapi"
)

// Services is what handlers call out with, built once per container by the
// worker before it registers any handler, and shared by every event.
type Services struct {
	// Log is the worker's JSON logger, for lines outside an event. In a
	// handler, log with Logger(ctx): it carries the event's fields.
	Log *slog.Logger
	// AWS is the function's AWS configuration (region, the execution role's
	// credentials, and the endpoint and HTTP client when pointed at an
	// emulator): build SDK clients from it once, in register, with the
	// service's NewFromConfig, e.g. sns.NewFromConfig(s.AWS). The service
	// package must also be allowed in WorkerRole.
	AWS aws.Config
	// Okta is an Okta API client signed in with the Okta credentials secret
	// (OKTA_CREDENTIALS_SECRET_ID, the template's OktaCredentialsSecretArn),
	// or nil when none is configured. Client.Call reaches any management
	// endpoint; a service app asks for the secret's scopes.
	Okta *oktaapi.Client
	// DefaultOrg is the stack's default org (the first of OktaOrgs), whose
	// client is Okta.
	DefaultOrg string
	// OrgOkta are the Okta API clients of the stack's other orgs, each
	// signed in with its own credentials secret (hookline/<stack>/<org>/okta).
	OrgOkta map[string]*oktaapi.Client
}

// OktaFor returns the Okta API client of an event's org (ev.Org), never
// another org's: Okta for an event without an org or of the default org
// (and for every event on a stack of one org), the org's own client
// otherwise, nil when that org has none.
func (s Services) OktaFor(org string) *oktaapi.Client {
	if org == "" || org == s.DefaultOrg || s.OrgOkta == nil {
		return s.Okta // a stack of one org: every event is its org's
	}
	return s.OrgOkta[org]
}

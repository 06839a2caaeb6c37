package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/hookline/hookline/internal/orgs"
)

// addOrgFlag adds --org to a command that talks to Okta or queues an org's
// events.
func addOrgFlag(fs *flag.FlagSet) *string {
	return fs.String("org", "", "the stack's org to act on, one of its OktaOrgs (default: the first): its hook URL EndpointUrl/ORG, hook secret hookline/STACK/ORG/hook and Okta credentials hookline/STACK/ORG/okta")
}

// orgOf is one org of a stack, as its outputs name it.
type orgOf struct {
	name       string
	isDefault  bool   // the stack's default org: its own outputs say everything
	stamp      string // the org its queued events carry ("" on a stack of one org)
	url        string // its hook URL
	hookSecret string // its hook secret's id
	oktaSecret string // its Okta credentials secret's id
}

// orgTarget resolves org (default: the stack's first) of the stack whose
// outputs are outs (OktaOrgs, EndpointUrl, HookSecretArn,
// OktaCredentialsSecretArn). An org the stack does not serve is a usage
// error: acting on it would register a hook nothing receives.
func orgTarget(stack, org string, outs map[string]string) (orgOf, error) {
	list, err := orgs.Parse(outs["OktaOrgs"])
	if err != nil {
		return orgOf{}, fmt.Errorf("stack %s: %w", stack, err)
	}
	if org == "" {
		org = list.Default()
	}
	if !list.Has(org) {
		return orgOf{}, fmt.Errorf("%w: --org %s: stack %s serves %s", errUsage, org, stack, strings.Join(list.Names(), ", "))
	}
	t := orgOf{name: org, isDefault: list.IsDefault(org)}
	if list.Len() > 1 {
		t.stamp = org
	}
	if t.isDefault {
		t.url, t.hookSecret, t.oktaSecret = outs["EndpointUrl"], outs["HookSecretArn"], outs["OktaCredentialsSecretArn"]
		return t, nil
	}
	if base := outs["EndpointUrl"]; base != "" {
		t.url = strings.TrimSuffix(base, "/") + "/" + org
	}
	t.hookSecret = orgs.SecretName(stack, org, orgs.KindHook)
	t.oktaSecret = orgs.SecretName(stack, org, orgs.KindOkta)
	return t, nil
}

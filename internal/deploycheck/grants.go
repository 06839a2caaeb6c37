package deploycheck

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/samtemplate"
)

// iamPrefixServices maps an IAM action prefix to the aws-sdk-go-v2 service
// packages that call it, where the names differ. Any other prefix is its
// own package name, without dashes (sns, sqs, dynamodb, s3, kms, ...).
var iamPrefixServices = map[string][]string{
	"events":      {"eventbridge"},
	"logs":        {"cloudwatchlogs"},
	"states":      {"sfn"},
	"ses":         {"ses", "sesv2"},
	"execute-api": {"apigatewaymanagementapi"},
	"apigateway":  {"apigateway", "apigatewayv2"},
	"dynamodb":    {"dynamodb", "dynamodbstreams"},
	"cognito-idp": {"cognitoidentityprovider"},
	"scheduler":   {"scheduler"},
	"monitoring":  {"cloudwatch"},
	"cloudwatch":  {"cloudwatch"},
}

// GrantedServices lists, sorted, the SDK service packages whose actions the
// inline policies of IAM role roleID allow: every Action of every
// statement, both branches of an Fn::If included (a statement behind a
// condition may be granted in some deployments).
func GrantedServices(tpl *samtemplate.Template, roleID string) ([]string, error) {
	res, ok := tpl.Resources[roleID]
	if !ok || res.Type != "AWS::IAM::Role" {
		return nil, fmt.Errorf("template.yaml has no IAM role %s", roleID)
	}
	var actions []string
	collectActions(res.Properties["Policies"], &actions)
	var out []string
	for _, a := range actions {
		prefix, _, ok := strings.Cut(a, ":")
		if !ok {
			continue
		}
		prefix = strings.ToLower(prefix)
		services, known := iamPrefixServices[prefix]
		if !known {
			services = []string{strings.ReplaceAll(prefix, "-", "")}
		}
		for _, s := range services {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

func collectActions(v any, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if k == "Action" {
				switch a := x.(type) {
				case string:
					*out = append(*out, a)
				case []any:
					for _, s := range a {
						if s, ok := s.(string); ok {
							*out = append(*out, s)
						}
					}
				}
				continue
			}
			collectActions(x, out)
		}
	case []any:
		for _, x := range v {
			collectActions(x, out)
		}
	}
}

// GrantProblems reports each linked service that role roleID grants no
// action of: the function would build a client whose every call is refused.
func GrantProblems(linked, granted []string, pkg, roleID string) []string {
	var p []string
	for _, s := range linked {
		if !slices.Contains(granted, s) {
			p = append(p, fmt.Sprintf("%s links the AWS service %s, but template.yaml's %s grants no %s action: add a statement "+
				"allowing the calls (e.g. %s:Publish for sns) to %s's policy, or drop the client", pkg, s, roleID, s, s, roleID))
		}
	}
	return p
}

// CheckServicesGranted fails t unless every AWS SDK service package that pkg
// links for Lambda is one IAM role roleID grants actions of in
// template.yaml: what a function may link is derived from its role, so
// adding a client takes the role statement and nothing else. goFlags are
// passed to go list (e.g. -overlay, -modfile).
func CheckServicesGranted(t *testing.T, pkg, roleID string, goFlags ...string) {
	t.Helper()
	linked, err := LinkedServices(Root(t), pkg, goFlags...)
	if err != nil {
		t.Fatal(err)
	}
	granted, err := GrantedServices(Template(t), roleID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range GrantProblems(linked, granted, pkg, roleID) {
		t.Error(p)
	}
}

// AddRoleStatement appends an Allow statement of actions on every resource to
// the first inline policy of role roleID, as a handler author adds one to
// WorkerRole.
func AddRoleStatement(tpl *samtemplate.Template, roleID string, actions ...string) error {
	policies, _ := tpl.Resources[roleID].Properties["Policies"].([]any)
	if len(policies) == 0 {
		return fmt.Errorf("%s has no inline policy", roleID)
	}
	doc, _ := samtemplate.Lookup(policies[0], "PolicyDocument")
	m, ok := doc.(map[string]any)
	if !ok {
		return fmt.Errorf("%s: first policy has no PolicyDocument", roleID)
	}
	stmts, _ := m["Statement"].([]any)
	acts := make([]any, len(actions))
	for i, a := range actions {
		acts[i] = a
	}
	m["Statement"] = append(stmts, map[string]any{"Effect": "Allow", "Action": acts, "Resource": "*"})
	return nil
}

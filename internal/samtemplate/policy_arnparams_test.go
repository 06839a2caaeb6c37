package samtemplate

import (
	"regexp"
	"strings"
	"testing"
)

// Parameters that name what a role may use: a parameter that reaches an IAM
// Resource has an AllowedPattern that takes the values it is for and
// refuses IAM wildcards ("*", "?"), so `OktaCredentialsSecretArn=*` fails the
// deploy instead of granting GetSecretValue on every secret. ARN parameters
// (named ...Arn) have one too, so a typo fails the deploy.
func TestPolicyResourceParameters(t *testing.T) {
	testPolicy(t, checkResourceParameters, []breakCase{
		{name: "any secret", edit: func(t *Template) { delete(t.Parameters["OktaCredentialsSecretArn"], "AllowedPattern") },
			want: "Parameters.OktaCredentialsSecretArn: no AllowedPattern, and it is the IAM Resource of Resources.ReconcilerRole"},
		{name: "secret pattern takes a wildcard", edit: func(t *Template) {
			t.Parameters["OktaCredentialsSecretArn"]["AllowedPattern"] = `^$|^arn:aws:secretsmanager:[^:]+:[0-9]{12}:secret:.+$`
		}, want: `Parameters.OktaCredentialsSecretArn: the pattern accepts "arn:aws:secretsmanager:us-east-1:123456789012:secret:*"`},
		{name: "secret pattern takes a partial ARN", edit: func(t *Template) {
			t.Parameters["OktaCredentialsSecretArn"]["AllowedPattern"] = `^$|^arn:aws:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$`
		}, want: `the pattern accepts "arn:aws:secretsmanager:us-east-1:123456789012:secret:hookline/okta"`},
		{name: "secret pattern refuses the GovCloud partition", edit: func(t *Template) {
			t.Parameters["OktaCredentialsSecretArn"]["AllowedPattern"] = `^$|^arn:aws:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`
		}, want: `Parameters.OktaCredentialsSecretArn: the pattern refuses "arn:aws-us-gov:secretsmanager:`},
		{name: "bus name takes a wildcard", old: `AllowedPattern: "^[A-Za-z0-9._-]{0,256}$"`, new: `AllowedPattern: "^[A-Za-z0-9._*-]{0,256}$"`,
			want: `Parameters.EventBusName: the pattern accepts "*"`},
		{name: "topic ARN unchecked", edit: func(t *Template) { delete(t.Parameters["AlarmTopicArn"], "AllowedPattern") },
			want: "Parameters.AlarmTopicArn: no AllowedPattern"},
		{name: "a new parameter in a policy", edit: func(t *Template) {
			t.Parameters["ExtraQueueArn"] = map[string]any{"Type": "String", "AllowedPattern": "^arn:.+$"}
			statements(t, receiverID)[2].(map[string]any)["Resource"] = map[string]any{"Ref": "ExtraQueueArn"}
		}, want: "Parameters.ExtraQueueArn: is the IAM Resource of Resources.ReceiverRole, but resourceParameters has no examples for it"},
	})
}

// resourceParameters are, per parameter, values its pattern must take (the
// ones it is for) and must refuse. Every value with "*" or "?" is refused
// too, whichever parameter.
var resourceParameters = map[string]struct{ ok, bad []string }{
	"OktaCredentialsSecretArn": {
		ok: []string{"", "arn:aws:secretsmanager:us-east-1:123456789012:secret:hookline/okta-AbC123",
			"arn:aws-us-gov:secretsmanager:us-gov-west-1:123456789012:secret:okta_creds+v2@x.y=z-a1B2c3",
			"arn:aws-cn:secretsmanager:cn-north-1:123456789012:secret:okta-xYz789"},
		bad: []string{"arn:aws:secretsmanager:us-east-1:123456789012:secret:*",
			"arn:aws:secretsmanager:us-east-1:123456789012:secret:hookline/okta", // partial: matches no secret
			"arn:aws:secretsmanager:*:123456789012:secret:okta-AbC123",
			"arn:aws:secretsmanager:us-east-1:*:secret:okta-AbC123",
			"arn:aws:secretsmanager:us-east-1:123456789012:secret:okta-AbC12?",
			"arn:aws:ssm:us-east-1:123456789012:parameter/okta-AbC123",
			"hookline/okta", " arn:aws:secretsmanager:us-east-1:123456789012:secret:okta-AbC123"},
	},
	// Each org name is part of two secret names the roles are granted.
	"OktaOrgs": {
		ok:  []string{"default", "prod,preview", "a,b,c,d,e,f,g,h,i,j", "acme-1"},
		bad: []string{"", "prod,", "a,b,c,d,e,f,g,h,i,j,k", "Prod", "a/b", "prod,*", "pre?"},
	},
	"EventBusName": {
		ok:  []string{"", "default", "hookline-dev", "okta.events_1"},
		bad: []string{"a/b", "arn:aws:events:us-east-1:123456789012:event-bus/x"},
	},
	"AlarmTopicArn": {
		ok:  []string{"", "arn:aws:sns:eu-west-1:123456789012:hookline-alarms", "arn:aws-us-gov:sns:us-gov-east-1:123456789012:ops_1"},
		bad: []string{"arn:aws:sns:eu-west-1:123456789012:*", "hookline-alarms", "arn:aws:sqs:eu-west-1:123456789012:q", "arn:aws:sns:eu-west-1:12345:t"},
	},
}

// wildcardProbes are values no resource parameter may take.
var wildcardProbes = []string{"*", "?", "a*", "x?", "default*",
	"arn:aws:secretsmanager:us-east-1:123456789012:secret:*", "arn:aws:sns:eu-west-1:123456789012:*"}

func checkResourceParameters(t *Template) problems {
	var p problems
	// Where each parameter is an IAM Resource (by !Ref or inside !Sub).
	inPolicy := map[string]string{}
	for _, r := range t.Refs() {
		if _, isParam := t.Parameters[r.Target]; !isParam || (r.Kind != KindRef && r.Kind != KindSub) {
			continue
		}
		if t.Resources[r.From].Type == "AWS::IAM::Role" && strings.Contains(r.Path, "Resource") {
			if _, ok := inPolicy[r.Target]; !ok {
				inPolicy[r.Target] = "Resources." + r.From
			}
		}
	}
	for _, name := range SortedKeys(t.Parameters) {
		role, isResource := inPolicy[name]
		if !isResource && !strings.HasSuffix(name, "Arn") {
			continue
		}
		at := "Parameters." + name
		pattern, _ := t.Parameters[name]["AllowedPattern"].(string)
		if pattern == "" {
			if isResource {
				p.addf("%s: no AllowedPattern, and it is the IAM Resource of %s: a wildcard would grant every match", at, role)
			} else {
				p.addf("%s: no AllowedPattern: an ARN parameter must refuse typos and wildcards at deploy time", at)
			}
			continue
		}
		// CloudFormation matches the whole value; anchor as it does.
		re, err := regexp.Compile("^(?:" + pattern + ")$")
		if err != nil {
			p.addf("%s: AllowedPattern does not compile: %v", at, err)
			continue
		}
		ex, known := resourceParameters[name]
		if !known {
			p.addf("%s: is the IAM Resource of %s, but resourceParameters has no examples for it: add the values it must take and refuse", at, role)
		}
		for _, v := range ex.ok {
			if !re.MatchString(v) {
				p.addf("%s: the pattern refuses %q", at, v)
			}
		}
		for _, v := range append(append([]string{}, ex.bad...), wildcardProbes...) {
			if re.MatchString(v) {
				p.addf("%s: the pattern accepts %q", at, v)
			}
		}
	}
	return p
}

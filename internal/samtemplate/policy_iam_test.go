package samtemplate

import (
	"fmt"
	"github.com/hookline/hookline/internal/orgs"
	"strings"
	"testing"
)

// IAM: least privilege. Each function has an explicit role (without one SAM
// attaches AWS managed policies with logs and SQS actions on every
// resource). The internet-facing receiver may only write its log group, read
// its secret and send to the events queue; the worker may write its log
// group, consume, back off on the events queue, park in the DLQ and use the
// ledger. No wildcard, no managed policy. TestTranslatedRolesLeastPrivilege
// checks the same on SAM's own output. The hook secret is generated at
// deploy time, long, and a bare header value.
func TestPolicyIAM(t *testing.T) {
	testPolicy(t, checkIAM, []breakCase{
		{name: "receiver sqs:*", old: "                Action: sqs:SendMessage\n                Resource: !GetAtt EventsQueue.Arn",
			new: "                Action: sqs:*\n                Resource: !GetAtt EventsQueue.Arn", want: `action "sqs:*" is not needed`},
		{name: "receiver reads any secret", edit: func(t *Template) { statements(t, receiverID)[1].(map[string]any)["Resource"] = "*" },
			want: "secretsmanager:getsecretvalue on *"},
		{name: "receiver sends to the DLQ", edit: func(t *Template) {
			statements(t, receiverID)[2].(map[string]any)["Resource"] = map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}}
		}, want: "sqs:sendmessage on"},
		{name: "receiver logs anywhere", edit: func(t *Template) { statements(t, receiverID)[0].(map[string]any)["Resource"] = "*" },
			want: "logs:createlogstream on *"},
		{name: "receiver writes the worker's log group", edit: func(t *Template) {
			statements(t, receiverID)[0].(map[string]any)["Resource"] = map[string]any{"Fn::GetAtt": []any{"WorkerLogGroup", "Arn"}}
		}, want: "logs:putlogevents on"},
		{name: "receiver with a managed policy", edit: func(t *Template) {
			props(t, "ReceiverRole")["ManagedPolicyArns"] = []any{"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}
		}, want: `managed policy "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"`},
		{name: "receiver with SAM policies beside its role", edit: func(t *Template) {
			props(t, receiverID)["Policies"] = []any{map[string]any{"SQSSendMessagePolicy": map[string]any{"QueueName": "x"}}}
		}, want: "ReceiverFunction.Policies: set beside Role"},
		{name: "receiver cannot send", edit: func(t *Template) {
			doc := props(t, "ReceiverRole")["Policies"].([]any)[0].(map[string]any)["PolicyDocument"].(map[string]any)
			doc["Statement"] = statements(t, receiverID)[:2]
		}, want: "no statement allows sqs:sendmessage"},
		{name: "receiver without an explicit role", edit: func(t *Template) { delete(props(t, receiverID), "Role") },
			want: "ReceiverFunction.Role: missing"},
		{name: "receiver with a role from elsewhere", edit: func(t *Template) { props(t, receiverID)["Role"] = "arn:aws:iam::123456789012:role/x" },
			want: "ReceiverFunction.Role: not a !GetAtt of an AWS::IAM::Role"},
		{name: "role anyone can assume", edit: func(t *Template) {
			doc := props(t, "WorkerRole")["AssumeRolePolicyDocument"].(map[string]any)
			doc["Statement"].([]any)[0].(map[string]any)["Principal"] = "*"
		}, want: "WorkerRole.AssumeRolePolicyDocument: only lambda.amazonaws.com"},
		{name: "worker cannot back off", old: "sqs:GetQueueAttributes, sqs:ChangeMessageVisibility]", new: "sqs:GetQueueAttributes]",
			want: "no statement allows sqs:changemessagevisibility"},
		{name: "worker cannot consume", old: "[sqs:ReceiveMessage, sqs:DeleteMessage, ", new: "[",
			want: "no statement allows sqs:deletemessage"},
		{name: "worker wildcard resource", edit: func(t *Template) { statements(t, workerID)[1].(map[string]any)["Resource"] = "arn:aws:sqs:*" },
			want: "wildcard resource"},
		{name: "worker wildcard action", old: "Action: [dynamodb:GetItem, dynamodb:UpdateItem]", new: "Action: [dynamodb:*]",
			want: `wildcard action "dynamodb:*"`},
		{name: "worker ledger on any table", edit: func(t *Template) { statements(t, workerID)[3].(map[string]any)["Resource"] = "*" },
			want: "dynamodb:getitem on *"},
		{name: "worker puts events on any bus", old: "event-bus/${EventBusName}", new: "event-bus/*",
			want: "events:putevents on map[Fn::Sub:arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/*]"},
		{name: "worker puts events on another bus", old: "event-bus/${EventBusName}", new: "event-bus/default",
			want: "events:putevents on"},
		{name: "worker reads any secret", old: "                  Action: secretsmanager:GetSecretValue\n                  Resource: !Ref OktaCredentialsSecretArn",
			new: "                  Action: secretsmanager:GetSecretValue\n                  Resource: !Ref HookSecret", want: "secretsmanager:getsecretvalue on"},
		{name: "worker with a managed policy", edit: func(t *Template) {
			props(t, "WorkerRole")["ManagedPolicyArns"] = []any{"AmazonDynamoDBFullAccess"}
		}, want: `WorkerRole.ManagedPolicyArns: managed policy "AmazonDynamoDBFullAccess"`},

		{name: "receiver writes marks in any table", edit: func(t *Template) { statements(t, receiverID)[3].(map[string]any)["Resource"] = "*" },
			want: "dynamodb:batchwriteitem on *"},
		{name: "reconciler reads any secret", edit: func(t *Template) { statements(t, reconcilerID)[1].(map[string]any)["Resource"] = "*" },
			want: "secretsmanager:getsecretvalue on *"},
		{name: "reconciler deletes from the ledger", old: "dynamodb:GetItem, dynamodb:PutItem]", new: "dynamodb:GetItem, dynamodb:PutItem, dynamodb:DeleteItem]",
			want: `action "dynamodb:deleteitem" is not needed by ReconcilerFunction`},
		{name: "reconciler without its role", edit: func(t *Template) { delete(props(t, reconcilerID), "Role") },
			want: "ReconcilerFunction.Role: missing"},

		{name: "short secret", old: "PasswordLength: 48", new: "PasswordLength: 16",
			want: "PasswordLength: allows 16"},
		{name: "JSON secret", edit: func(t *Template) {
			g := props(t, secretID)["GenerateSecretString"].(map[string]any)
			g["SecretStringTemplate"] = `{"user":"okta"}`
			g["GenerateStringKey"] = "password"
		}, want: "SecretStringTemplate: the secret must be the bare header value"},
		{name: "literal secret", edit: func(t *Template) { props(t, secretID)["SecretString"] = "hunter2" },
			want: "SecretString: a secret in the template"},
	})
}

func checkIAM(t *Template) problems {
	p := checkReceiverPolicies(t)
	p = append(p, checkWorkerPolicies(t)...)
	p = append(p, checkReconcilerPolicies(t)...)
	return append(p, checkSecret(t)...)
}

type statement struct {
	at        string
	effect    string
	actions   []string // lower case
	resources []any
	condition map[string]any
}

// functionRole returns the logical id of the AWS::IAM::Role the function's
// Role names (!GetAtt <id>.Arn), or a problem.
func functionRole(t *Template, fn string, p *problems) string {
	props := t.FunctionProperties(fn)
	if _, ok := props["Policies"]; ok {
		p.addf("Resources.%s.Policies: set beside Role; put the statements in the role", fn)
	}
	v, ok := props["Role"]
	if !ok {
		p.addf("Resources.%s.Role: missing; SAM would generate one with AWSLambdaBasicExecutionRole (logs on *) and, for an SQS event, AWSLambdaSQSQueueExecutionRole (SQS on *)", fn)
		return ""
	}
	f, arg, _ := Intrinsic(v)
	id, attr, ok := GetAttTarget(arg)
	if f != "Fn::GetAtt" || !ok || attr != "Arn" || t.Resources[id].Type != "AWS::IAM::Role" {
		p.addf("Resources.%s.Role: not a !GetAtt of an AWS::IAM::Role in this template; its policies could not be checked", fn)
		return ""
	}
	return id
}

// roleStatements flattens a role's inline policy statements; managed
// policies are returned by ARN or name. Its trust policy must name Lambda
// alone.
func roleStatements(t *Template, role string, p *problems) (stmts []statement, managed []string) {
	props := t.Resources[role].Properties
	for _, m := range asList(props["ManagedPolicyArns"]) {
		managed = append(managed, fmt.Sprint(m))
	}
	trust, _ := props["AssumeRolePolicyDocument"].(map[string]any)
	for _, s := range asList(trust["Statement"]) {
		sm, _ := s.(map[string]any)
		principal, _ := sm["Principal"].(map[string]any)
		services := asList(principal["Service"])
		if len(principal) != 1 || len(services) != 1 || services[0] != "lambda.amazonaws.com" {
			p.addf("Resources.%s.AssumeRolePolicyDocument: only lambda.amazonaws.com may assume it, got %v", role, sm["Principal"])
		}
	}
	for i, pol := range asList(props["Policies"]) {
		doc, _ := pol.(map[string]any)["PolicyDocument"].(map[string]any)
		for j, s := range conditionalStatements(asList(doc["Statement"])) {
			sm, _ := s.(map[string]any)
			st := statement{at: fmt.Sprintf("Resources.%s.Policies[%d].Statement[%d]", role, i, j)}
			st.effect, _ = sm["Effect"].(string)
			for _, a := range asList(sm["Action"]) {
				st.actions = append(st.actions, strings.ToLower(fmt.Sprint(a)))
			}
			st.resources = asList(sm["Resource"])
			st.condition, _ = sm["Condition"].(map[string]any)
			// NotAction and NotResource grant everything else.
			if _, ok := sm["NotAction"]; ok {
				st.actions = append(st.actions, "notaction:*")
			}
			if _, ok := sm["NotResource"]; ok {
				st.resources = append(st.resources, "*")
			}
			stmts = append(stmts, st)
		}
	}
	return stmts, managed
}

// conditionalStatements replaces each !If [condition, statement, other]
// by its branches, so a statement granted only under a condition is checked
// like the others; a branch of !Ref AWS::NoValue grants nothing.
func conditionalStatements(stmts []any) []any {
	var out []any
	for _, s := range stmts {
		fn, arg, ok := Intrinsic(s)
		if !ok || fn != "Fn::If" {
			out = append(out, s)
			continue
		}
		branches := asList(arg)
		for _, b := range branches[min(1, len(branches)):] {
			if !isRef(b, "AWS::NoValue") {
				out = append(out, conditionalStatements([]any{b})...)
			}
		}
	}
	return out
}

// isBusArn: a !Sub of the ARN of the bus named by the EventBusName
// parameter, in this stack's partition, region and account.
func isBusArn(v any) bool {
	fn, arg, ok := Intrinsic(v)
	s, _ := arg.(string)
	return ok && fn == "Fn::Sub" && s == "arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/${EventBusName}"
}

func asList(v any) []any {
	switch x := v.(type) {
	case nil:
		return nil
	case []any:
		return x
	}
	return []any{v}
}

func hasWildcard(v any) bool {
	s, ok := v.(string)
	return ok && strings.Contains(s, "*")
}

// onOwnLogGroup allows the logs actions on the function's own log group
// (LoggingConfig.LogGroup), whose Arn covers its log streams.
func onOwnLogGroup(t *Template, fn string) func(any) bool {
	group, _ := Lookup(t.FunctionProperties(fn), "LoggingConfig", "LogGroup")
	_, id, _ := Intrinsic(group)
	return func(r any) bool { s, ok := id.(string); return ok && isGetAtt(r, s, "Arn") }
}

// checkRole: the function's explicit role allows exactly the actions in
// allowed, each on the resources its predicate accepts, with no wildcard
// and no managed policy; every action in allowed is granted.
func checkRole(t *Template, fn string, allowed map[string]func(any) bool) problems {
	var p problems
	role := functionRole(t, fn, &p)
	if role == "" {
		return p
	}
	stmts, managed := roleStatements(t, role, &p)
	for _, m := range managed {
		p.addf("Resources.%s.ManagedPolicyArns: managed policy %q is broader than needed", role, m)
	}
	found := map[string]bool{}
	for _, s := range stmts {
		if s.effect != "Allow" {
			continue
		}
		for _, r := range s.resources {
			if hasWildcard(r) {
				p.addf("%s: wildcard resource %v", s.at, r)
			}
		}
		for _, a := range s.actions {
			if strings.Contains(a, "*") {
				p.addf("%s: wildcard action %q", s.at, a)
			}
			ok, known := allowed[a]
			if !known {
				p.addf("%s: action %q is not needed by %s", s.at, a, fn)
				continue
			}
			if len(s.resources) == 0 {
				p.addf("%s: %s without a Resource", s.at, a)
			}
			for _, r := range s.resources {
				if !ok(r) {
					p.addf("%s: %s on %v, not on %s's own resource", s.at, a, r, fn)
				}
			}
			found[a] = true
		}
	}
	for _, a := range SortedKeys(allowed) {
		if !found[a] {
			p.addf("Resources.%s: no statement allows %s", role, a)
		}
	}
	return p
}

// checkReceiverPolicies: the internet-facing function may only write its
// log group, read its secret and send to its queue.
func checkReceiverPolicies(t *Template) problems {
	logs := onOwnLogGroup(t, receiverID)
	return checkRole(t, receiverID, map[string]func(any) bool{
		"logs:createlogstream":          logs,
		"logs:putlogevents":             logs,
		"secretsmanager:getsecretvalue": func(r any) bool { return isRef(r, secretID) || isOrgSecret(orgs.KindHook)(r) },
		"sqs:sendmessage":               func(r any) bool { return isGetAtt(r, queueID, "Arn") },
		// Delivery marks: which events the hook queued.
		"dynamodb:batchwriteitem": func(r any) bool { return isGetAtt(r, ledgerID, "Arn") },
	})
}

// checkReconcilerPolicies: the reconciler writes its log group, reads the
// Okta credentials secret the operator names, sends to the events queue
// (and to the DLQ the events it cannot key), and reads and writes delivery
// marks and its cursor in the ledger.
func checkReconcilerPolicies(t *Template) problems {
	logs := onOwnLogGroup(t, reconcilerID)
	ledger := func(r any) bool { return isGetAtt(r, ledgerID, "Arn") }
	return checkRole(t, reconcilerID, map[string]func(any) bool{
		"logs:createlogstream": logs,
		"logs:putlogevents":    logs,
		"secretsmanager:getsecretvalue": func(r any) bool {
			return isRef(r, "OktaCredentialsSecretArn") || isOrgSecret(orgs.KindOkta)(r)
		},
		"sqs:sendmessage":         func(r any) bool { return isGetAtt(r, queueID, "Arn") || isGetAtt(r, dlqID, "Arn") },
		"dynamodb:batchgetitem":   ledger,
		"dynamodb:batchwriteitem": ledger,
		"dynamodb:getitem":        ledger,
		"dynamodb:putitem":        ledger,
	})
}

// checkWorkerPolicies: the worker writes its log group, consumes the events
// queue (Lambda's event source polls with the function's role) and backs
// off on it, parks in the DLQ, claims in the ledger, and, when configured,
// puts events on the fan-out bus and reads the Okta credentials secret.
func checkWorkerPolicies(t *Template) problems {
	logs := onOwnLogGroup(t, workerID)
	queue := func(r any) bool { return isGetAtt(r, queueID, "Arn") }
	return checkRole(t, workerID, map[string]func(any) bool{
		"logs:createlogstream":        logs,
		"logs:putlogevents":           logs,
		"sqs:receivemessage":          queue,
		"sqs:deletemessage":           queue,
		"sqs:getqueueattributes":      queue,
		"sqs:changemessagevisibility": queue,
		"sqs:sendmessage":             func(r any) bool { return isGetAtt(r, dlqID, "Arn") },
		"dynamodb:getitem":            func(r any) bool { return isGetAtt(r, "LedgerTable", "Arn") },
		"dynamodb:updateitem":         func(r any) bool { return isGetAtt(r, "LedgerTable", "Arn") },
		// With EventBusName: the fan-out, on that bus only.
		"events:putevents": isBusArn,
		// With OktaCredentialsSecretArn: handlers' Okta client.
		"secretsmanager:getsecretvalue": func(r any) bool {
			return isRef(r, "OktaCredentialsSecretArn") || isOrgSecret(orgs.KindOkta)(r)
		},
	})
}

// checkSecret: Okta sends the secret's value as the Authorization header, so
// it is generated (never written in the template), long, and a bare string.
func checkSecret(t *Template) problems {
	var p problems
	r, ok := t.Resources[secretID]
	if !ok || r.Type != "AWS::SecretsManager::Secret" {
		p.addf("Resources.HookSecret: missing, or not an AWS::SecretsManager::Secret")
		return p
	}
	if _, ok := r.Properties["SecretString"]; ok {
		p.addf("Resources.HookSecret.SecretString: a secret in the template is visible to anyone reading it; generate it")
	}
	g, ok := r.Properties["GenerateSecretString"].(map[string]any)
	if !ok {
		p.addf("Resources.HookSecret.GenerateSecretString: missing")
		return p
	}
	if n, ok := g["PasswordLength"]; !ok {
		p.addf("Resources.HookSecret.GenerateSecretString.PasswordLength: missing (AWS default is 32, say so)")
	} else {
		inRange(&p, t, "Resources.HookSecret.GenerateSecretString.PasswordLength", n, 32, 4096)
	}
	// With a template the value becomes JSON, and Okta would send the JSON.
	for _, k := range []string{"SecretStringTemplate", "GenerateStringKey"} {
		if _, ok := g[k]; ok {
			p.addf("Resources.HookSecret.GenerateSecretString.%s: the secret must be the bare header value", k)
		}
	}
	return p
}

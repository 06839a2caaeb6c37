package samtemplate

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// IAM: least privilege. The internet-facing receiver may only read its secret
// and send to the events queue; the worker may back off on the events queue,
// park in the DLQ and use the ledger, with no wildcard and no managed policy.
// The hook secret is generated at deploy time, long, and a bare header value.
func TestPolicyIAM(t *testing.T) {
	testPolicy(t, checkIAM, []breakCase{
		{name: "receiver sqs:*", old: "Action: sqs:SendMessage", new: "Action: sqs:*",
			want: `action "sqs:*" is not needed`},
		{name: "receiver reads any secret", edit: func(t *Template) { statements(t, receiverID)[0].(map[string]any)["Resource"] = "*" },
			want: "secretsmanager:getsecretvalue on *"},
		{name: "receiver sends to the DLQ", edit: func(t *Template) {
			statements(t, receiverID)[1].(map[string]any)["Resource"] = map[string]any{"Fn::GetAtt": []any{dlqID, "Arn"}}
		}, want: "sqs:sendmessage on"},
		{name: "receiver with a managed policy", edit: func(t *Template) {
			props(t, receiverID)["Policies"] = append(props(t, receiverID)["Policies"].([]any), "AmazonSQSFullAccess")
		}, want: `managed policy "AmazonSQSFullAccess"`},
		{name: "receiver with a policy template", edit: func(t *Template) {
			props(t, receiverID)["Policies"] = append(props(t, receiverID)["Policies"].([]any),
				map[string]any{"SQSSendMessagePolicy": map[string]any{"QueueName": "x"}})
		}, want: "policy template SQSSendMessagePolicy"},
		{name: "receiver cannot send", edit: func(t *Template) {
			p := props(t, receiverID)["Policies"].([]any)[0].(map[string]any)
			p["Statement"] = statements(t, receiverID)[:1]
		}, want: "no statement allows sqs:sendmessage"},
		{name: "receiver with its own role", edit: func(t *Template) { props(t, receiverID)["Role"] = "arn:aws:iam::123456789012:role/x" },
			want: "ReceiverFunction.Role: set"},
		{name: "worker cannot back off", old: "Action: sqs:ChangeMessageVisibility", new: "Action: sqs:GetQueueAttributes",
			want: "no statement allows sqs:ChangeMessageVisibility"},
		{name: "worker wildcard resource", edit: func(t *Template) { statements(t, workerID)[0].(map[string]any)["Resource"] = "arn:aws:sqs:*" },
			want: "wildcard resource"},
		{name: "worker wildcard action", old: "Action: [dynamodb:GetItem, dynamodb:UpdateItem]", new: "Action: [dynamodb:*]",
			want: `wildcard action "dynamodb:*"`},
		{name: "worker with a managed policy", edit: func(t *Template) {
			props(t, workerID)["Policies"] = append(props(t, workerID)["Policies"].([]any), "AmazonDynamoDBFullAccess")
		}, want: `WorkerFunction.Policies: managed policy "AmazonDynamoDBFullAccess"`},

		{name: "reconciler reads any secret", old: "Resource: !Ref OktaCredentialsSecretArn", new: `Resource: "*"`,
			want: "secretsmanager:getsecretvalue on *"},
		{name: "reconciler deletes from the ledger", old: "dynamodb:GetItem, dynamodb:PutItem]", new: "dynamodb:GetItem, dynamodb:PutItem, dynamodb:DeleteItem]",
			want: `action "dynamodb:deleteitem" is not needed by the reconciler`},
		{name: "receiver writes marks anywhere", edit: func(t *Template) { statements(t, receiverID)[2].(map[string]any)["Resource"] = "*" },
			want: "dynamodb:batchwriteitem on *"},

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
}

// functionStatements flattens a function's inline policy statements.
// Managed policies (strings) and SAM policy templates are returned by name.
func functionStatements(t *Template, id string) (stmts []statement, managed, templates []string) {
	var policies []any
	switch v := t.FunctionProperties(id)["Policies"].(type) {
	case []any:
		policies = v
	case nil:
	default:
		policies = []any{v}
	}
	for i, pol := range policies {
		at := fmt.Sprintf("Resources.%s.Policies[%d]", id, i)
		switch pv := pol.(type) {
		case string:
			managed = append(managed, pv)
		case map[string]any:
			raw, ok := pv["Statement"]
			if !ok {
				templates = append(templates, strings.Join(SortedKeys(pv), ","))
				continue
			}
			for j, s := range asList(raw) {
				sm, _ := s.(map[string]any)
				st := statement{at: fmt.Sprintf("%s.Statement[%d]", at, j)}
				st.effect, _ = sm["Effect"].(string)
				for _, a := range asList(sm["Action"]) {
					st.actions = append(st.actions, strings.ToLower(fmt.Sprint(a)))
				}
				st.resources = asList(sm["Resource"])
				// NotAction and NotResource grant everything else.
				if _, ok := sm["NotAction"]; ok {
					st.actions = append(st.actions, "notaction:*")
				}
				if _, ok := sm["NotResource"]; ok {
					st.resources = append(st.resources, "*")
				}
				stmts = append(stmts, st)
			}
		default:
			managed = append(managed, fmt.Sprint(pv))
		}
	}
	return stmts, managed, templates
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

// checkReceiverPolicies: the internet-facing function may only read its
// secret and send to its queue.
func checkReceiverPolicies(t *Template) problems {
	var p problems
	if _, ok := t.FunctionProperties(receiverID)["Role"]; ok {
		p.addf("Resources.ReceiverFunction.Role: set; its policies could not be checked")
	}
	stmts, managed, templates := functionStatements(t, receiverID)
	for _, m := range managed {
		p.addf("Resources.ReceiverFunction.Policies: managed policy %q is broader than needed", m)
	}
	for _, tpl := range templates {
		p.addf("Resources.ReceiverFunction.Policies: policy template %s; write the statement so its actions are exact", tpl)
	}
	allowed := map[string]func(any) bool{
		"secretsmanager:getsecretvalue": func(r any) bool { return isRef(r, secretID) },
		"sqs:sendmessage":               func(r any) bool { return isGetAtt(r, queueID, "Arn") },
		// Delivery marks: which events the hook brought.
		"dynamodb:batchwriteitem": func(r any) bool { return isGetAtt(r, ledgerID, "Arn") },
	}
	found := map[string]bool{}
	for _, s := range stmts {
		if s.effect != "Allow" {
			continue
		}
		for _, a := range s.actions {
			ok, known := allowed[a]
			if !known {
				p.addf("%s: action %q is not needed by the receiver", s.at, a)
				continue
			}
			if len(s.resources) == 0 {
				p.addf("%s: %s without a Resource", s.at, a)
			}
			for _, r := range s.resources {
				if hasWildcard(r) || !ok(r) {
					p.addf("%s: %s on %v; only !Ref HookSecret / !GetAtt EventsQueue.Arn / !GetAtt LedgerTable.Arn allowed", s.at, a, r)
				}
			}
			found[a] = true
		}
	}
	for _, a := range SortedKeys(allowed) {
		if !found[a] {
			p.addf("Resources.ReceiverFunction.Policies: no statement allows %s", a)
		}
	}
	return p
}

// checkWorkerPolicies: the worker needs ChangeMessageVisibility on its queue
// for back-off; nothing it holds may use wildcards or managed policies.
func checkWorkerPolicies(t *Template) problems {
	var p problems
	if _, ok := t.FunctionProperties(workerID)["Role"]; ok {
		p.addf("Resources.WorkerFunction.Role: set; its policies could not be checked")
	}
	stmts, managed, _ := functionStatements(t, workerID)
	for _, m := range managed {
		p.addf("Resources.WorkerFunction.Policies: managed policy %q is broader than needed", m)
	}
	visibility := false
	for _, s := range stmts {
		for _, a := range s.actions {
			if strings.Contains(a, "*") {
				p.addf("%s: wildcard action %q", s.at, a)
			}
		}
		for _, r := range s.resources {
			if hasWildcard(r) {
				p.addf("%s: wildcard resource %v", s.at, r)
			}
		}
		if s.effect == "Allow" && slices.Contains(s.actions, "sqs:changemessagevisibility") &&
			slices.ContainsFunc(s.resources, func(r any) bool { return isGetAtt(r, queueID, "Arn") }) {
			visibility = true
		}
	}
	if !visibility {
		p.addf("Resources.WorkerFunction.Policies: no statement allows sqs:ChangeMessageVisibility on !GetAtt EventsQueue.Arn")
	}
	return p
}

// checkReconcilerPolicies: the reconciler reads the Okta credentials secret
// the operator names, sends to the events queue and uses the ledger table;
// no wildcard, no managed policy.
func checkReconcilerPolicies(t *Template) problems {
	var p problems
	if _, ok := t.Resources[reconcilerID]; !ok {
		return p
	}
	stmts, managed, templates := functionStatements(t, reconcilerID)
	for _, m := range append(managed, templates...) {
		p.addf("Resources.ReconcilerFunction.Policies: %q is broader than needed; write the statement", m)
	}
	allowed := map[string]func(any) bool{
		"secretsmanager:getsecretvalue": func(r any) bool { return isRef(r, "OktaCredentialsSecretArn") },
		"sqs:sendmessage":               func(r any) bool { return isGetAtt(r, queueID, "Arn") },
		"dynamodb:batchgetitem":         func(r any) bool { return isGetAtt(r, ledgerID, "Arn") },
		"dynamodb:batchwriteitem":       func(r any) bool { return isGetAtt(r, ledgerID, "Arn") },
		"dynamodb:getitem":              func(r any) bool { return isGetAtt(r, ledgerID, "Arn") },
		"dynamodb:putitem":              func(r any) bool { return isGetAtt(r, ledgerID, "Arn") },
	}
	for _, s := range stmts {
		for _, a := range s.actions {
			ok, known := allowed[a]
			if !known {
				p.addf("%s: action %q is not needed by the reconciler", s.at, a)
				continue
			}
			for _, r := range s.resources {
				if hasWildcard(r) || !ok(r) {
					p.addf("%s: %s on %v is not the resource it needs", s.at, a, r)
				}
			}
		}
	}
	return p
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

package samtemplate

import (
	"testing"
)

// Outputs and parameters, the stack's interface to its operator: the outputs
// the README and the hookline CLI read (redrive --stack reads the queue URLs),
// and no parameter that does nothing.
func TestPolicyOutputs(t *testing.T) {
	testPolicy(t, checkOutputs, []breakCase{
		{name: "no endpoint output", edit: func(t *Template) { delete(t.Outputs, "EndpointUrl") },
			want: "Outputs.EndpointUrl: missing"},
		{name: "endpoint with the wrong path", old: "Value: !Sub https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/okta/events", new: "Value: !Sub https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/okta/event",
			want: "Outputs.EndpointUrl: Value"},
		{name: "DLQ URL output points at the queue", edit: func(t *Template) {
			t.Outputs["EventsDLQUrl"].(map[string]any)["Value"] = map[string]any{"Ref": queueID}
		}, want: "Outputs.EventsDLQUrl"},
		{name: "unused parameter", edit: func(t *Template) {
			t.Parameters["UnusedKnob"] = map[string]any{"Type": "Number", "Default": 30}
		}, want: "Parameters.UnusedKnob: never referenced"},
	})
}

func checkOutputs(t *Template) problems {
	var p problems
	want := map[string]func(any) bool{
		"HookSecretArn":  func(v any) bool { return isRef(v, secretID) },
		"EventsQueueUrl": func(v any) bool { return isRef(v, queueID) },
		"EventsQueueArn": func(v any) bool { return isGetAtt(v, queueID, "Arn") },
		"EventsDLQUrl":   func(v any) bool { return isRef(v, dlqID) },
		"EventsDLQArn":   func(v any) bool { return isGetAtt(v, dlqID, "Arn") },
		"EndpointUrl": func(v any) bool {
			s, err := t.ResolveString(v, func(name, attr string) (string, error) { return "<" + joinAttr(name, attr) + ">", nil })
			return err == nil && s == "https://<HttpApi>.execute-api.<AWS::Region>.<AWS::URLSuffix>/okta/events"
		},
	}
	for _, name := range SortedKeys(want) {
		o, ok := t.Outputs[name].(map[string]any)
		if !ok {
			p.addf("Outputs.%s: missing", name)
			continue
		}
		if !want[name](o["Value"]) {
			p.addf("Outputs.%s: Value %v is not what it should be", name, o["Value"])
		}
	}
	// cfn-lint leaves unused parameters of SAM templates alone: the
	// transform may use them.
	used := map[string]bool{}
	for _, r := range t.Refs() {
		if r.Kind == KindRef || (r.Kind == KindSub && r.Attr == "") {
			used[r.Target] = true
		}
	}
	for _, name := range SortedKeys(t.Parameters) {
		if !used[name] {
			p.addf("Parameters.%s: never referenced (a typo in a !Ref, or dead configuration)", name)
		}
	}
	return p
}

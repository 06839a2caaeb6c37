package samtemplate

import (
	"fmt"
	"regexp"
	"testing"
)

// TestPolicyLogStreamIsGrantedByName: Okta Log Streaming exists only with
// OktaLogStreamSource set; the partner bus is the one of that source, named
// by the parameter; the rule passes only the OktaEventTypes events of that
// source (the stream sends every type); EventBridge may invoke the streamer
// from that rule only; and the parameter takes no wildcard.
func TestPolicyLogStreamIsGrantedByName(t *testing.T) {
	tpl, err := Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"LogStreamBus", "LogStreamRule", "LogStreamPermission", "StreamerRole", "StreamerFunction", "StreamerLogGroup",
		"StreamerErrorsAlarm", "StreamerThrottlesAlarm"} {
		if r, ok := tpl.Resources[id]; !ok || r.Condition != "LogStreamEnabled" {
			t.Errorf("%s: missing, or not under LogStreamEnabled", id)
		}
	}
	if d, _ := tpl.ParameterDefault("OktaLogStreamSource"); d != "" {
		t.Errorf("OktaLogStreamSource defaults to %q: Log Streaming must be off unless asked for", d)
	}
	source := map[string]any{"Ref": "OktaLogStreamSource"}
	bus := tpl.Resources["LogStreamBus"].Properties
	if fmt.Sprint(bus["Name"]) != fmt.Sprint(source) || fmt.Sprint(bus["EventSourceName"]) != fmt.Sprint(source) {
		t.Errorf("LogStreamBus = %v, want Name and EventSourceName the OktaLogStreamSource", bus)
	}
	rule := tpl.Resources["LogStreamRule"].Properties
	want := map[string]any{
		"source":      []any{source},
		"detail-type": []any{"SystemLog"},
		"detail":      map[string]any{"eventType": map[string]any{"Fn::Split": []any{",", map[string]any{"Ref": "OktaEventTypes"}}}},
	}
	if fmt.Sprint(rule["EventPattern"]) != fmt.Sprint(want) {
		t.Errorf("LogStreamRule EventPattern = %v, want %v", rule["EventPattern"], want)
	}
	perm := tpl.Resources["LogStreamPermission"].Properties
	if perm["Principal"] != "events.amazonaws.com" || fmt.Sprint(perm["SourceArn"]) != fmt.Sprint(map[string]any{"Fn::GetAtt": []any{"LogStreamRule", "Arn"}}) {
		t.Errorf("LogStreamPermission = %v, want events.amazonaws.com from LogStreamRule only", perm)
	}
	pattern, _ := tpl.Parameters["OktaLogStreamSource"]["AllowedPattern"].(string)
	re, err := regexp.Compile(pattern)
	if err != nil {
		t.Fatal(err)
	}
	for v, ok := range map[string]bool{"": true, "aws.partner/okta.com/acme/hookline": true, "*": false, "aws.partner/okta.com/*/hookline": false,
		"aws.partner/okta.com/acme/*": false, "aws.partner/other.com/acme/x": false, "arn:aws:events:us-east-1:1:event-bus/x": false} {
		if re.MatchString(v) != ok {
			t.Errorf("OktaLogStreamSource %q allowed = %v, want %v", v, !ok, ok)
		}
	}
}

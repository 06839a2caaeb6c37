package samtemplate

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/metrics"
)

// Alarms and logs: operators run hookline from CloudWatch. Every alarm
// watches a metric that exists: one internal/metrics defines (the functions'
// EMF lines) with one of its dimension sets, one a metric filter emits, or an
// AWS metric of its service. Each carries a runbook line, a threshold that is
// a parameter and the notification actions. The stack alarms on parked
// events, each function's Errors and Throttles (a start-up crash shows only
// there), the HTTP API's 5xx, auth failures, handler errors and the end-to-end
// lag. Every log group has a retention cfn-lint can check.
func TestPolicyAlarms(t *testing.T) {
	testPolicy(t, checkAlarms, []breakCase{
		{name: "no DLQ alarm", edit: func(t *Template) { delete(t.Resources, "ParkedEventsAlarm") },
			want: "no alarm on EventsDLQ"},
		{name: "DLQ alarm on the wrong queue", old: "Value: !GetAtt EventsDLQ.QueueName\n      Statistic", new: "Value: !GetAtt EventsQueue.QueueName\n      Statistic",
			want: "no alarm on EventsDLQ"},
		{name: "alarm on a metric the code does not emit", old: "      MetricName: HandlerErrors\n", new: "      MetricName: HandlerError\n",
			want: "not a metric internal/metrics defines"},
		{name: "alarm on an emitted metric with a dimension it lacks", old: "          Value: !Ref AWS::StackName\n      ExtendedStatistic: p99", new: "          Value: !Ref AWS::StackName\n        - Name: Handler\n          Value: event-log\n      ExtendedStatistic: p99",
			want: "publishes it with"},
		{name: "alarm on another stack's metrics", old: "        - Name: Stack\n          Value: !Ref AWS::StackName\n      Statistic: Sum\n      Period: 300\n      EvaluationPeriods: 1\n      Threshold: !Ref AuthFailuresThreshold",
			new:  "        - Name: Stack\n          Value: hookline\n      Statistic: Sum\n      Period: 300\n      EvaluationPeriods: 1\n      Threshold: !Ref AuthFailuresThreshold",
			want: "Stack must be !Ref AWS::StackName"},
		{name: "alarm on an AWS metric that does not exist", old: "MetricName: Throttles", new: "MetricName: Throttled",
			want: "not an AWS/Lambda metric"},
		{name: "no start-up crash alarm", edit: func(t *Template) { delete(t.Resources, "WorkerErrorsAlarm") },
			want: "WorkerFunction has no AWS/Lambda Errors alarm"},
		{name: "no throttles alarm", edit: func(t *Template) { delete(t.Resources, "ReceiverThrottlesAlarm") },
			want: "ReceiverFunction has no AWS/Lambda Throttles alarm"},
		{name: "no API 5xx alarm", edit: func(t *Template) { delete(t.Resources, "HttpApi5xxAlarm") },
			want: "no alarm on AWS/ApiGateway 5xx"},
		{name: "no lag alarm", edit: func(t *Template) { delete(t.Resources, "EndToEndLagAlarm") },
			want: "no alarm on EndToEndLag"},
		{name: "no Okta hook health alarm", edit: func(t *Template) { delete(t.Resources, "OktaHookUnhealthyAlarm") },
			want: "no alarm on OktaHookUnhealthy"},
		{name: "no Okta daily cap alarm", edit: func(t *Template) { delete(t.Resources, "OktaDailyCapAlarm") },
			want: "no alarm on OktaDailyEvents"},
		{name: "hook health alarm on one check only", old: "      MetricName: OktaHookUnhealthy\n      Dimensions:\n        - Name: Stack\n          Value: !Ref AWS::StackName\n",
			new:  "      MetricName: OktaHookUnhealthy\n      Dimensions:\n        - Name: Stack\n          Value: !Ref AWS::StackName\n        - Name: Check\n          Value: found\n",
			want: "no alarm on OktaHookUnhealthy"},
		{name: "alarm without runbook", old: "Runbook: saved\n        query \"auth failures by source IP\"", new: "See\n        query \"auth failures by source IP\"",
			want: "AuthFailuresAlarm.AlarmDescription: no \"Runbook:\""},
		{name: "hard-coded threshold", old: "Threshold: !Ref StuckQueueAgeSeconds", new: "Threshold: 900",
			want: "StuckQueueAlarm.Threshold: must be !Ref of a Number parameter"},
		{name: "alarm notifying nobody", edit: func(t *Template) { delete(props(t, "HandlerErrorsAlarm"), "AlarmActions") },
			want: "HandlerErrorsAlarm.AlarmActions: must notify AlarmTopicArn, else AlarmTopic"},
		{name: "alarm without threshold", edit: func(t *Template) { delete(props(t, "StuckQueueAlarm"), "Threshold") },
			want: "StuckQueueAlarm.Threshold: missing"},
		{name: "alarm without statistic", edit: func(t *Template) { delete(props(t, "EndToEndLagAlarm"), "ExtendedStatistic") },
			want: "EndToEndLagAlarm: Statistic or ExtendedStatistic missing"},
		{name: "log group kept forever", edit: func(t *Template) { delete(props(t, "WorkerLogGroup"), "RetentionInDays") },
			want: "WorkerLogGroup.RetentionInDays: missing"},
		{name: "retention without AllowedValues", edit: func(t *Template) { delete(t.Parameters["LogRetentionDays"], "AllowedValues") },
			want: "must be a literal or a parameter with AllowedValues"},
	})
}

// awsMetrics are the AWS metrics hookline may alarm on or graph, with the
// dimension each is read by (the services' documented metric lists).
var awsMetrics = map[string]struct {
	dim   string
	names []string
}{
	"AWS/SQS":        {"QueueName", []string{"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage", "ApproximateNumberOfMessagesNotVisible", "NumberOfMessagesSent", "NumberOfMessagesReceived", "NumberOfMessagesDeleted"}},
	"AWS/Lambda":     {"FunctionName", []string{"Errors", "Throttles", "Invocations", "Duration", "ConcurrentExecutions"}},
	"AWS/ApiGateway": {"ApiId", []string{"4xx", "5xx", "Count", "Latency", "IntegrationLatency", "DataProcessed"}},
}

// metricRef is one metric an alarm or a widget reads: its namespace (a
// literal, or "{MetricsNamespace}" for the parameter), name and dimensions.
type metricRef struct {
	namespace, name string
	dims            map[string]string // dimension → value ("{AWS::StackName}" for the stack)
}

// checkMetricRef says what is wrong with a metric reference, or "".
func checkMetricRef(m metricRef, filters map[string]bool) string {
	switch {
	case m.namespace == "{MetricsNamespace}":
		def, ok := metrics.Find(m.name)
		if !ok {
			return fmt.Sprintf("%s is not a metric internal/metrics defines", m.name)
		}
		var keys []string
		for k := range m.dims {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		match := false
		for _, set := range def.DimensionSets() {
			s := slices.Clone(set)
			sort.Strings(s)
			match = match || slices.Equal(s, keys)
		}
		if !match {
			return fmt.Sprintf("%s with dimensions %v: the code publishes it with %v", m.name, keys, def.DimensionSets())
		}
		if m.dims[metrics.DimStack] != "{AWS::StackName}" {
			return fmt.Sprintf("%s: dimension Stack must be !Ref AWS::StackName, is %q", m.name, m.dims[metrics.DimStack])
		}
	case filters[m.namespace+"|"+m.name]:
	default:
		aws, ok := awsMetrics[m.namespace]
		if !ok {
			return fmt.Sprintf("namespace %q is neither MetricsNamespace, a metric filter's nor a known AWS one", m.namespace)
		}
		if !slices.Contains(aws.names, m.name) {
			return fmt.Sprintf("%s is not an %s metric", m.name, m.namespace)
		}
		if _, ok := m.dims[aws.dim]; !ok || len(m.dims) != 1 {
			return fmt.Sprintf("%s %s must be read by %s alone, not %v", m.namespace, m.name, aws.dim, m.dims)
		}
	}
	return ""
}

// refText renders a template value for metricRef: a literal as is, a Ref as
// {Name}, a GetAtt as {Id.Attr}.
func refText(v any) string {
	if fn, arg, ok := Intrinsic(v); ok {
		switch fn {
		case "Ref":
			return fmt.Sprintf("{%v}", arg)
		case "Fn::GetAtt":
			id, attr, _ := GetAttTarget(arg)
			return "{" + id + "." + attr + "}"
		}
		return fmt.Sprintf("{%s}", fn)
	}
	return fmt.Sprint(v)
}

// metricFilterMetrics are namespace|name of every metric filter's output.
func metricFilterMetrics(t *Template, p *problems) map[string]bool {
	emitted := map[string]bool{}
	for _, id := range t.ResourcesOfType("AWS::Logs::MetricFilter") {
		ts, _ := t.Resources[id].Properties["MetricTransformations"].([]any)
		if len(ts) == 0 {
			p.addf("Resources.%s.MetricTransformations: missing", id)
		}
		for _, tr := range ts {
			m, _ := tr.(map[string]any)
			emitted[refText(m["MetricNamespace"])+"|"+refText(m["MetricName"])] = true
		}
	}
	return emitted
}

func checkAlarms(t *Template) problems {
	var p problems
	filters := metricFilterMetrics(t, &p)
	watchesDLQ := false
	watched := map[string]bool{} // namespace|name|dim value
	for _, id := range t.ResourcesOfType("AWS::CloudWatch::Alarm") {
		r := t.Resources[id]
		at := "Resources." + id
		// CloudFormation accepts an alarm without these (a metric math
		// alarm), but one on a single metric never fires without them.
		for _, k := range []string{"Namespace", "MetricName", "Period", "EvaluationPeriods", "Threshold", "ComparisonOperator"} {
			if _, ok := r.Properties[k]; !ok {
				p.addf("%s.%s: missing", at, k)
			}
		}
		if r.Properties["Statistic"] == nil && r.Properties["ExtendedStatistic"] == nil {
			p.addf("%s: Statistic or ExtendedStatistic missing", at)
		}
		if d, _ := r.Properties["AlarmDescription"].(string); !strings.Contains(d, "Runbook:") {
			p.addf("%s.AlarmDescription: no \"Runbook:\" line saying what to do", at)
		}
		if th, ok := r.Properties["Threshold"]; ok {
			fn, arg, isFn := Intrinsic(th)
			name, _ := arg.(string)
			if !isFn || fn != "Ref" || t.Parameters[name]["Type"] != "Number" {
				p.addf("%s.Threshold: must be !Ref of a Number parameter, is %v", at, th)
			}
		}
		if actions := fmt.Sprint(r.Properties["AlarmActions"]); !strings.Contains(actions, "Ref:AlarmTopicArn") || !strings.Contains(actions, "Ref:AlarmTopic]") {
			p.addf("%s.AlarmActions: must notify AlarmTopicArn, else AlarmTopic (the AlarmEmail topic)", at)
		}

		m := metricRef{namespace: refText(r.Properties["Namespace"]), name: refText(r.Properties["MetricName"]), dims: map[string]string{}}
		dims, _ := r.Properties["Dimensions"].([]any)
		for _, d := range dims {
			dm, _ := d.(map[string]any)
			m.dims[refText(dm["Name"])] = refText(dm["Value"])
			if isGetAtt(dm["Value"], dlqID, "QueueName") && m.name == "ApproximateNumberOfMessagesVisible" {
				watchesDLQ = true
			}
		}
		if _, present := r.Properties["MetricName"]; present {
			if msg := checkMetricRef(m, filters); msg != "" {
				p.addf("%s: %s", at, msg)
			}
		}
		for _, v := range m.dims {
			watched[m.namespace+"|"+m.name+"|"+v] = true
		}
		watched[m.namespace+"|"+m.name] = true
		if len(m.dims) == 1 && m.dims[metrics.DimStack] != "" {
			watched[m.namespace+"|"+m.name+"|stack total"] = true
		}
	}
	if !watchesDLQ {
		p.addf("Resources: no alarm on %s ApproximateNumberOfMessagesVisible; parked events would go unnoticed", dlqID)
	}
	for _, fn := range t.ResourcesOfType("AWS::Serverless::Function") {
		for _, name := range []string{"Errors", "Throttles"} {
			if !watched["AWS/Lambda|"+name+"|{"+fn+"}"] {
				p.addf("Resources: %s has no AWS/Lambda %s alarm", fn, name)
			}
		}
	}
	if !watched["AWS/ApiGateway|5xx|{"+apiID+"}"] {
		p.addf("Resources: no alarm on AWS/ApiGateway 5xx of %s", apiID)
	}
	for _, name := range []string{metrics.Deliveries, metrics.AuthFailures, metrics.HandlerErrors, metrics.EndToEndLag} {
		if !watched["{MetricsNamespace}|"+name] {
			p.addf("Resources: no alarm on %s", name)
		}
	}
	// Okta's side: on the stack's total, so every check of the hook counts.
	for _, name := range []string{metrics.OktaHookUnhealthy, metrics.OktaDeliveryFailures, metrics.OktaDailyEvents} {
		if !watched["{MetricsNamespace}|"+name+"|stack total"] {
			p.addf("Resources: no alarm on %s (by Stack alone)", name)
		}
	}

	for _, id := range t.ResourcesOfType("AWS::Logs::LogGroup") {
		at := "Resources." + id + ".RetentionInDays"
		v, ok := t.Resources[id].Properties["RetentionInDays"]
		if !ok {
			p.addf("%s: missing; logs would be kept forever", at)
			continue
		}
		if fn, arg, ok := Intrinsic(v); ok {
			name, _ := arg.(string)
			if _, listed := t.Parameters[name]["AllowedValues"].([]any); fn != "Ref" || !listed {
				p.addf("%s: %v must be a literal or a parameter with AllowedValues", at, v)
			}
		}
	}
	return p
}

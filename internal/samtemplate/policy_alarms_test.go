package samtemplate

import (
	"fmt"
	"github.com/hookline/hookline/internal/metrics"
	"testing"
)

// Alarms and logs: operators run hookline from CloudWatch. The stack alarms
// on parked events, every alarm on a log metric watches a metric some filter
// emits (a typo there is an alarm that never fires), and every log group has a
// retention cfn-lint can check (a literal, or a parameter with AllowedValues).
func TestPolicyAlarms(t *testing.T) {
	testPolicy(t, checkAlarms, []breakCase{
		{name: "no DLQ alarm", edit: func(t *Template) { delete(t.Resources, "ParkedEventsAlarm") },
			want: "no alarm on EventsDLQ"},
		{name: "DLQ alarm on the wrong queue", old: "Value: !GetAtt EventsDLQ.QueueName", new: "Value: !GetAtt EventsQueue.QueueName",
			want: "no alarm on EventsDLQ"},
		{name: "alarm on a metric no filter emits", old: "      MetricName: Receiver5xx\n      Statistic: Sum", new: "      MetricName: Receiver5XX\n      Statistic: Sum",
			want: "which no metric filter emits"},
		{name: "alarm without threshold", edit: func(t *Template) { delete(props(t, "StuckQueueAlarm"), "Threshold") },
			want: "StuckQueueAlarm.Threshold: missing"},
		{name: "metric filter without transformations", edit: func(t *Template) { delete(props(t, "Receiver5xxMetricFilter"), "MetricTransformations") },
			want: "Receiver5xxMetricFilter.MetricTransformations: missing"},
		{name: "log group kept forever", edit: func(t *Template) { delete(props(t, "WorkerLogGroup"), "RetentionInDays") },
			want: "WorkerLogGroup.RetentionInDays: missing"},
		{name: "retention without AllowedValues", edit: func(t *Template) { delete(t.Parameters["LogRetentionDays"], "AllowedValues") },
			want: "must be a literal or a parameter with AllowedValues"},
	})
}

func checkAlarms(t *Template) problems {
	var p problems
	watchesDLQ := false
	emitted := map[string]bool{}
	for _, id := range t.ResourcesOfType("AWS::Logs::MetricFilter") {
		r := t.Resources[id]
		ts, _ := r.Properties["MetricTransformations"].([]any)
		if len(ts) == 0 {
			p.addf("Resources.%s.MetricTransformations: missing", id)
		}
		for _, tr := range ts {
			m, _ := tr.(map[string]any)
			emitted[fmt.Sprint(m["MetricNamespace"])+"|"+fmt.Sprint(m["MetricName"])] = true
		}
	}
	for _, id := range t.ResourcesOfType("AWS::CloudWatch::Alarm") {
		r := t.Resources[id]
		at := "Resources." + id
		// CloudFormation accepts an alarm without these (a metric math
		// alarm), but one on a single metric never fires without them.
		for _, k := range []string{"Namespace", "MetricName", "Statistic", "Period", "EvaluationPeriods", "Threshold", "ComparisonOperator"} {
			if _, ok := r.Properties[k]; !ok {
				p.addf("%s.%s: missing", at, k)
			}
		}
		ns, metric := r.Properties["Namespace"], r.Properties["MetricName"]
		if ns == "AWS/SQS" {
			dims, _ := r.Properties["Dimensions"].([]any)
			for _, d := range dims {
				m, _ := d.(map[string]any)
				if isGetAtt(m["Value"], dlqID, "QueueName") && metric == "ApproximateNumberOfMessagesVisible" {
					watchesDLQ = true
				}
			}
			continue
		}
		if isRef(ns, "MetricsNamespace") {
			// An EMF metric: it must be one hookline writes.
			if _, ok := metrics.Find(fmt.Sprint(metric)); !ok {
				p.addf("%s: watches %v, which internal/metrics does not define", at, metric)
			}
			continue
		}
		if !emitted[fmt.Sprint(ns)+"|"+fmt.Sprint(metric)] {
			p.addf("%s: watches %v/%v, which no metric filter emits", at, ns, metric)
		}
	}
	if !watchesDLQ {
		p.addf("Resources: no alarm on %s ApproximateNumberOfMessagesVisible; parked events would go unnoticed", dlqID)
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

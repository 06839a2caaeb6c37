package samtemplate

import (
	"encoding/json"
	"fmt"
	"testing"
)

// Promises the README makes about the deployed stack: the worker's
// MAX_RECEIVE_COUNT is the queue's maxReceiveCount, the ledger keeps records
// longer than the System Log's 90 days, the first three alarms fire where the
// README says and every alarm notifies AlarmTopicArn when it is set, else the
// AlarmEmail topic, the log groups have the names
// the README gives, and the event log's fields are a parameter whose default
// writes everything.
func TestPolicyPromises(t *testing.T) {
	testPolicy(t, checkPromises, []breakCase{
		{name: "queue allows 6 receives, worker parks at 5", old: "maxReceiveCount: 5", new: "maxReceiveCount: 6",
			want: "MAX_RECEIVE_COUNT is 5, EventsQueue's maxReceiveCount 6"},
		{name: "worker without MAX_RECEIVE_COUNT", old: "          MAX_RECEIVE_COUNT: \"5\"\n", new: "",
			want: "MAX_RECEIVE_COUNT"},
		{name: "ledger may keep 30 days", old: "    MinValue: 91\n", new: "    MinValue: 30\n",
			want: "LedgerRetentionDays.MinValue: 30"},
		{name: "ledger retention not the parameter", old: `LEDGER_RETENTION: !Sub "${LedgerRetentionDays}d"`, new: `LEDGER_RETENTION: 30d`,
			want: "LEDGER_RETENTION"},
		{name: "DLQ alarm from 5 messages", edit: func(t *Template) { props(t, "ParkedEventsAlarm")["Threshold"] = 4 },
			want: "ParkedEventsAlarm: fires when"},
		{name: "stuck queue after an hour", edit: func(t *Template) { t.Parameters["StuckQueueAgeSeconds"]["Default"] = 3600 },
			want: "StuckQueueAlarm: fires when"},
		{name: "5xx alarm on the average", edit: func(t *Template) { props(t, "Receiver5xxAlarm")["Statistic"] = "Average" },
			want: "Receiver5xxAlarm: fires when"},
		{name: "alarm without the topic", edit: func(t *Template) { delete(props(t, "StuckQueueAlarm"), "AlarmActions") },
			want: "StuckQueueAlarm.AlarmActions"},
		{name: "alarm notifies a fixed topic", edit: func(t *Template) {
			props(t, "Receiver5xxAlarm")["AlarmActions"] = []any{"arn:aws:sns:us-east-1:123456789012:x"}
		}, want: "Receiver5xxAlarm.AlarmActions"},
		{name: "email topic used although a topic ARN is given", edit: func(t *Template) {
			t.Conditions["HasAlarmEmail"] = map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AlarmEmail"}, ""}}}}
		}, want: "Conditions.HasAlarmEmail"},
		{name: "topic condition inverted", edit: func(t *Template) {
			t.Conditions["HasAlarmTopic"] = map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AlarmTopicArn"}, ""}}
		}, want: "Conditions.HasAlarmTopic"},
		{name: "log group named by CloudFormation", edit: func(t *Template) { delete(props(t, "WorkerLogGroup"), "LogGroupName") },
			want: "WorkerLogGroup.LogGroupName"},
		{name: "function logs elsewhere", edit: func(t *Template) {
			props(t, receiverID)["LoggingConfig"].(map[string]any)["LogGroup"] = map[string]any{"Ref": "WorkerLogGroup"}
		}, want: "ReceiverFunction.LoggingConfig.LogGroup"},
		{name: "event log fields fixed", old: "EVENT_LOG_FIELDS: !Ref EventLogFields", new: "EVENT_LOG_FIELDS: none",
			want: "EVENT_LOG_FIELDS"},
		{name: "event log default hides fields", edit: func(t *Template) { t.Parameters["EventLogFields"]["Default"] = "none" },
			want: "EventLogFields.Default"},
	})
}

func checkPromises(t *Template) problems {
	var p problems
	workerEnv := t.FunctionEnv(workerID)

	policy, _ := Lookup(t.Resources[queueID].Properties, "RedrivePolicy", "maxReceiveCount")
	queueMax, err1 := t.Int(policy)
	workerMax, err2 := t.Int(workerEnv["MAX_RECEIVE_COUNT"])
	switch {
	case err1 != nil || err2 != nil:
		p.addf("EventsQueue maxReceiveCount / WorkerFunction MAX_RECEIVE_COUNT: %v %v", err1, err2)
	case queueMax != workerMax:
		p.addf("WorkerFunction MAX_RECEIVE_COUNT is %d, EventsQueue's maxReceiveCount %d: the worker must park on the receive the policy acts on", workerMax, queueMax)
	}

	// The System Log keeps 90 days: a replay from it must still find the ledger records.
	if min, err := t.Int(t.Parameters["LedgerRetentionDays"]["MinValue"]); err != nil || min < 91 {
		p.addf("Parameters.LedgerRetentionDays.MinValue: %v (%v), want at least 91", t.Parameters["LedgerRetentionDays"]["MinValue"], err)
	}
	if def, err := t.Int(t.Parameters["LedgerRetentionDays"]["Default"]); err != nil || def < 91 {
		p.addf("Parameters.LedgerRetentionDays.Default: %v, want at least 91", t.Parameters["LedgerRetentionDays"]["Default"])
	}
	for _, fn := range t.ResourcesOfType(TypeFunction) {
		v, ok := t.FunctionEnv(fn)["LEDGER_RETENTION"]
		if (ok || fn == workerID) && !sameJSON(v, map[string]any{"Fn::Sub": "${LedgerRetentionDays}d"}) {
			p.addf("%s LEDGER_RETENTION: %v, want !Sub \"${LedgerRetentionDays}d\"", fn, v)
		}
	}

	// The README's alarm table: where the first three fire by default, and
	// that every alarm notifies AlarmTopicArn, else AlarmEmail's topic.
	for _, a := range []struct {
		id, namespace, metric, dimension, statistic string
		threshold                                   int
	}{
		{"ParkedEventsAlarm", "AWS/SQS", "ApproximateNumberOfMessagesVisible", dlqID, "Maximum", 0},
		{"StuckQueueAlarm", "AWS/SQS", "ApproximateAgeOfOldestMessage", queueID, "Maximum", 900},
		{"Receiver5xxAlarm", "{MetricsNamespace}", "Deliveries", "", "Sum", 0},
	} {
		r := props(t, a.id)
		th := r["Threshold"]
		if fn, arg, ok := Intrinsic(th); ok && fn == "Ref" {
			th = t.Parameters[fmt.Sprint(arg)]["Default"]
		}
		threshold, err := t.Int(th)
		ok := err == nil && threshold == a.threshold && r["ComparisonOperator"] == "GreaterThanThreshold" &&
			r["MetricName"] == a.metric && r["Statistic"] == a.statistic && refText(r["Namespace"]) == a.namespace
		dims, _ := r["Dimensions"].([]any)
		if a.dimension != "" {
			ok = ok && len(dims) == 1 && isGetAtt(dims[0].(map[string]any)["Value"], a.dimension, "QueueName")
		} else {
			ok = ok && sameJSON(dims, []any{
				map[string]any{"Name": "Stack", "Value": map[string]any{"Ref": "AWS::StackName"}},
				map[string]any{"Name": "StatusClass", "Value": "5xx"}})
		}
		if !ok {
			p.addf("%s: fires when %v %v of %v > %v, want %s %s of %s > %d", a.id, r["Statistic"], r["MetricName"], r["Dimensions"], th, a.statistic, a.metric, a.dimension, a.threshold)
		}
	}
	want := map[string]any{"Fn::If": []any{"HasAlarmTopic", []any{map[string]any{"Ref": "AlarmTopicArn"}},
		map[string]any{"Fn::If": []any{"HasAlarmEmail", []any{map[string]any{"Ref": "AlarmTopic"}}, map[string]any{"Ref": "AWS::NoValue"}}}}}
	for _, id := range t.ResourcesOfType("AWS::CloudWatch::Alarm") {
		if r := props(t, id); !sameJSON(r["AlarmActions"], want) {
			p.addf("%s.AlarmActions: %v, want !If [HasAlarmTopic, [!Ref AlarmTopicArn], !If [HasAlarmEmail, [!Ref AlarmTopic], !Ref AWS::NoValue]]", id, r["AlarmActions"])
		}
	}
	if !sameJSON(t.Conditions["HasAlarmEmail"], map[string]any{"Fn::And": []any{
		map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AlarmTopicArn"}, ""}},
		map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AlarmEmail"}, ""}}}}}}) {
		p.addf("Conditions.HasAlarmEmail: %v, want AlarmTopicArn empty and AlarmEmail set", t.Conditions["HasAlarmEmail"])
	}
	if !sameJSON(t.Conditions["HasAlarmTopic"], map[string]any{"Fn::Not": []any{map[string]any{"Fn::Equals": []any{map[string]any{"Ref": "AlarmTopicArn"}, ""}}}}) {
		p.addf("Conditions.HasAlarmTopic: %v, want !Not [!Equals [!Ref AlarmTopicArn, \"\"]]", t.Conditions["HasAlarmTopic"])
	}

	// The README names the log groups.
	for fn, group := range map[string]string{receiverID: "ReceiverLogGroup", workerID: "WorkerLogGroup"} {
		name := map[string]any{"Fn::Sub": "/aws/lambda/${AWS::StackName}-" + map[string]string{receiverID: "receiver", workerID: "worker"}[fn]}
		if !sameJSON(props(t, group)["LogGroupName"], name) {
			p.addf("%s.LogGroupName: %v, want %v as the README says", group, props(t, group)["LogGroupName"], name["Fn::Sub"])
		}
		if lg, _ := Lookup(t.FunctionProperties(fn), "LoggingConfig", "LogGroup"); !isRef(lg, group) {
			p.addf("%s.LoggingConfig.LogGroup: %v, want !Ref %s", fn, lg, group)
		}
	}

	if !isRef(workerEnv["EVENT_LOG_FIELDS"], "EventLogFields") {
		p.addf("WorkerFunction EVENT_LOG_FIELDS: %v, want !Ref EventLogFields", workerEnv["EVENT_LOG_FIELDS"])
	}
	if d := t.Parameters["EventLogFields"]["Default"]; d != "all" {
		p.addf("Parameters.EventLogFields.Default: %v, want all (the event log as it always was)", d)
	}
	return p
}

func sameJSON(a, b any) bool {
	x, err1 := json.Marshal(a)
	y, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(x) == string(y)
}

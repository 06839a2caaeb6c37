// Package devstack is the only way hookline makes local AWS, for `make dev`,
// `make invoke` and every test (through devstack/devstacktest): kumo (the AWS
// emulator) with the resources template.yaml declares, the real function
// bootstraps against kumo's Lambda Runtime API or under aws-lambda-rie, and
// an SQS event-source poller (kumo stores event source mappings but never
// runs them). It also builds kumo and aws-lambda-rie (Tool).
//
// Everything local is derived from template.yaml through internal/samtemplate
// so that local and deployed cannot drift: queue settings, redrive policy,
// function timeouts, env var names, routes and the worker's batch settings.
// The only deliberate differences are the values of !Ref targets (local URLs
// and ARNs) and the optional test overrides in Options.
//
// Where kumo differs from AWS on what a function sees, devstack makes it
// look like AWS, so the functions carry no emulator workaround: queue URLs
// name the port kumo listens on, and API Gateway events carry a bare source
// address (see runtimeapi.go).
package devstack

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hookline/hookline/internal/samtemplate"
)

// StackName stands in for AWS::StackName and prefixes local resource names.
const StackName = "hookline"

// Spec is the local plan of the stack, read from the template.
type Spec struct {
	Queues    []QueueSpec // in creation order: dead-letter queues first
	Secrets   []string    // logical IDs of AWS::SecretsManager::Secret
	Tables    []TableSpec
	Functions []FunctionSpec
	Routes    []RouteSpec
}

// QueueSpec is one AWS::SQS::Queue.
type QueueSpec struct {
	LogicalID string
	Name      string
	// Attributes are the SQS attributes the template sets, except
	// RedrivePolicy, whose target is only known once the DLQ exists.
	Attributes map[string]string
	// DeadLetterTarget is the logical ID of the RedrivePolicy target ("" when none).
	DeadLetterTarget string
	MaxReceiveCount  int
}

// TableSpec is one AWS::DynamoDB::Table.
type TableSpec struct {
	LogicalID string
	Name      string
	Keys      []KeyAttr // HASH first, then RANGE
	TTLAttr   string    // TimeToLiveSpecification.AttributeName when enabled
}

// KeyAttr is one key attribute of a table.
type KeyAttr struct {
	Name, Type, KeyType string // Type: S|N|B; KeyType: HASH|RANGE
}

// FunctionSpec is one AWS::Serverless::Function.
type FunctionSpec struct {
	LogicalID  string
	Short      string // "receiver" for ReceiverFunction: log prefix and bootstrap dir
	Name       string // local Lambda function name
	TimeoutSec int
	MemoryMB   int
	// Env holds the template's variables, unresolved (see Stack.FunctionEnv).
	Env map[string]any
	// SQS is the function's SQS event source, nil when it has none.
	SQS *SQSSource
}

// SQSSource is an SQS event of a function: what the local poller does.
type SQSSource struct {
	QueueLogicalID string
	BatchSize      int
	WindowSec      int
	MaxConcurrency int
	ReportFailures bool // FunctionResponseTypes has ReportBatchItemFailures
}

// RouteSpec is one HttpApi event.
type RouteSpec struct {
	Method, Path  string
	Function      string // logical ID
	PayloadFormat string
}

// Key is the API Gateway route key, e.g. "POST /okta/events".
func (r RouteSpec) Key() string { return r.Method + " " + r.Path }

// queueAttrProps are the AWS::SQS::Queue properties that map one-to-one to
// SQS attributes of the same name.
var queueAttrProps = []string{
	"DelaySeconds", "MaximumMessageSize", "MessageRetentionPeriod",
	"ReceiveMessageWaitTimeSeconds", "VisibilityTimeout", "SqsManagedSseEnabled",
	"FifoQueue", "ContentBasedDeduplication",
}

// fromTemplate derives the local plan from a parsed template.
func fromTemplate(t *samtemplate.Template) (*Spec, error) {
	s := &Spec{}
	for _, id := range t.ResourcesOfType("AWS::SQS::Queue") {
		q, err := queueSpec(t, id)
		if err != nil {
			return nil, err
		}
		s.Queues = append(s.Queues, q)
	}
	// A queue with a RedrivePolicy needs its DLQ's ARN, so DLQs come first.
	sort.SliceStable(s.Queues, func(i, j int) bool {
		return s.Queues[i].DeadLetterTarget == "" && s.Queues[j].DeadLetterTarget != ""
	})
	s.Secrets = t.ResourcesOfType("AWS::SecretsManager::Secret")
	for _, id := range t.ResourcesOfType("AWS::DynamoDB::Table") {
		ts, err := tableSpec(t, id)
		if err != nil {
			return nil, err
		}
		s.Tables = append(s.Tables, ts)
	}
	for _, id := range t.ResourcesOfType(samtemplate.TypeFunction) {
		f, routes, err := functionSpec(t, id)
		if err != nil {
			return nil, err
		}
		s.Functions = append(s.Functions, f)
		s.Routes = append(s.Routes, routes...)
	}
	sort.Slice(s.Routes, func(i, j int) bool { return s.Routes[i].Key() < s.Routes[j].Key() })
	return s, nil
}

func queueSpec(t *samtemplate.Template, id string) (QueueSpec, error) {
	q := QueueSpec{LogicalID: id, Name: StackName + "-" + id, Attributes: map[string]string{}}
	props := t.Resources[id].Properties
	if n, ok := props["QueueName"]; ok {
		name, err := t.Str(n)
		if err != nil {
			return q, fmt.Errorf("%s.QueueName: %w", id, err)
		}
		q.Name = name
	}
	for _, k := range queueAttrProps {
		v, ok := props[k]
		if !ok {
			continue
		}
		s, err := t.Str(v)
		if err != nil {
			return q, fmt.Errorf("%s.%s: %w", id, k, err)
		}
		q.Attributes[k] = s
	}
	if rap, ok := props["RedriveAllowPolicy"]; ok {
		b, err := json.Marshal(rap)
		if err != nil {
			return q, err
		}
		q.Attributes["RedriveAllowPolicy"] = string(b)
	}
	if rp, ok := props["RedrivePolicy"].(map[string]any); ok {
		target, _, ok := samtemplate.GetAttTarget(unwrap(rp["deadLetterTargetArn"], "Fn::GetAtt"))
		if !ok {
			return q, fmt.Errorf("%s.RedrivePolicy.deadLetterTargetArn is not a !GetAtt of a queue", id)
		}
		n, err := t.Int(rp["maxReceiveCount"])
		if err != nil {
			return q, fmt.Errorf("%s.RedrivePolicy.maxReceiveCount: %w", id, err)
		}
		q.DeadLetterTarget, q.MaxReceiveCount = target, n
	}
	return q, nil
}

// unwrap returns the argument of intrinsic fn in v, or nil.
func unwrap(v any, fn string) any {
	if f, arg, ok := samtemplate.Intrinsic(v); ok && f == fn {
		return arg
	}
	return nil
}

func tableSpec(t *samtemplate.Template, id string) (TableSpec, error) {
	ts := TableSpec{LogicalID: id, Name: StackName + "-" + id}
	props := t.Resources[id].Properties
	if n, ok := props["TableName"]; ok {
		name, err := t.Str(n)
		if err != nil {
			return ts, fmt.Errorf("%s.TableName: %w", id, err)
		}
		ts.Name = name
	}
	types := map[string]string{}
	defs, _ := props["AttributeDefinitions"].([]any)
	for _, d := range defs {
		m, _ := d.(map[string]any)
		name, _ := m["AttributeName"].(string)
		typ, _ := m["AttributeType"].(string)
		types[name] = typ
	}
	keys, _ := props["KeySchema"].([]any)
	for _, k := range keys {
		m, _ := k.(map[string]any)
		name, _ := m["AttributeName"].(string)
		kt, _ := m["KeyType"].(string)
		if name == "" || types[name] == "" {
			return ts, fmt.Errorf("%s.KeySchema: attribute %q has no AttributeDefinition", id, name)
		}
		ts.Keys = append(ts.Keys, KeyAttr{Name: name, Type: types[name], KeyType: kt})
	}
	if len(ts.Keys) == 0 {
		return ts, fmt.Errorf("%s has no KeySchema", id)
	}
	sort.SliceStable(ts.Keys, func(i, j int) bool { return ts.Keys[i].KeyType == "HASH" && ts.Keys[j].KeyType != "HASH" })
	if ttl, ok := props["TimeToLiveSpecification"].(map[string]any); ok {
		if on, _ := t.Str(ttl["Enabled"]); on == "true" {
			ts.TTLAttr, _ = ttl["AttributeName"].(string)
		}
	}
	return ts, nil
}

func functionSpec(t *samtemplate.Template, id string) (FunctionSpec, []RouteSpec, error) {
	short := strings.ToLower(strings.TrimSuffix(id, "Function"))
	f := FunctionSpec{LogicalID: id, Short: short, Name: StackName + "-" + short, TimeoutSec: 3, MemoryMB: 128}
	var err error
	if f.TimeoutSec, err = intOr(t, id, "Timeout", 3); err != nil { // 3 s is SAM's default
		return f, nil, err
	}
	if f.MemoryMB, err = intOr(t, id, "MemorySize", 128); err != nil {
		return f, nil, err
	}
	f.Env = t.FunctionEnv(id)

	var routes []RouteSpec
	for _, name := range samtemplate.SortedKeys(t.FunctionEvents(id, "HttpApi")) {
		p := t.FunctionEvents(id, "HttpApi")[name]
		method, err1 := t.Str(p["Method"])
		path, err2 := t.Str(p["Path"])
		if err := errors.Join(err1, err2); err != nil {
			return f, nil, fmt.Errorf("%s.Events.%s: %w", id, name, err)
		}
		pf := "2.0" // SAM's default for HttpApi events
		if v, ok := p["PayloadFormatVersion"]; ok {
			if pf, err = t.Str(v); err != nil {
				return f, nil, fmt.Errorf("%s.Events.%s.PayloadFormatVersion: %w", id, name, err)
			}
		}
		routes = append(routes, RouteSpec{Method: strings.ToUpper(method), Path: path, Function: id, PayloadFormat: pf})
	}

	sqsEvents := t.FunctionEvents(id, "SQS")
	if len(sqsEvents) > 1 {
		return f, nil, fmt.Errorf("%s: more than one SQS event is not supported locally", id)
	}
	for name, p := range sqsEvents {
		qid, _, ok := samtemplate.GetAttTarget(unwrap(p["Queue"], "Fn::GetAtt"))
		if !ok {
			return f, nil, fmt.Errorf("%s.Events.%s.Queue is not a !GetAtt of a queue", id, name)
		}
		src := &SQSSource{QueueLogicalID: qid, BatchSize: 10, MaxConcurrency: 1000}
		if v, ok := p["BatchSize"]; ok {
			if src.BatchSize, err = t.Int(v); err != nil {
				return f, nil, fmt.Errorf("%s.Events.%s.BatchSize: %w", id, name, err)
			}
		}
		if v, ok := p["MaximumBatchingWindowInSeconds"]; ok {
			if src.WindowSec, err = t.Int(v); err != nil {
				return f, nil, fmt.Errorf("%s.Events.%s.MaximumBatchingWindowInSeconds: %w", id, name, err)
			}
		}
		if v, ok := samtemplate.Lookup(p, "ScalingConfig", "MaximumConcurrency"); ok {
			if src.MaxConcurrency, err = t.Int(v); err != nil {
				return f, nil, fmt.Errorf("%s.Events.%s.ScalingConfig.MaximumConcurrency: %w", id, name, err)
			}
		}
		types, _ := p["FunctionResponseTypes"].([]any)
		for _, x := range types {
			if x == "ReportBatchItemFailures" {
				src.ReportFailures = true
			}
		}
		f.SQS = src
	}
	return f, routes, nil
}

func intOr(t *samtemplate.Template, id, key string, def int) (int, error) {
	n, err := t.IntProp(id, key)
	if errors.Is(err, samtemplate.ErrNotSet) {
		return def, nil
	}
	return n, err
}

// Function returns the function with the given short name ("receiver").
func (s *Spec) Function(short string) (FunctionSpec, bool) {
	for _, f := range s.Functions {
		if f.Short == short {
			return f, true
		}
	}
	return FunctionSpec{}, false
}

// Queue returns the queue with the given logical ID.
func (s *Spec) Queue(logicalID string) (QueueSpec, bool) {
	for _, q := range s.Queues {
		if q.LogicalID == logicalID {
			return q, true
		}
	}
	return QueueSpec{}, false
}

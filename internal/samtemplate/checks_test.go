package samtemplate

// Checks for what would break `sam build` / `sam deploy` of template.yaml, or
// leave a deployed stack broken. Each check returns human-readable problems;
// none means pass. template_test.go runs them on the real template and on
// mutated copies to show each one can fail.

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

type problems []string

func (p *problems) addf(format string, args ...any) { *p = append(*p, fmt.Sprintf(format, args...)) }

// check is a template-only check.
type check func(t *Template) problems

// Logical IDs shared with the rest of the project (plan.md).
const (
	receiverID = "ReceiverFunction"
	workerID   = "WorkerFunction"
	queueID    = "EventsQueue"
	dlqID      = "EventsDLQ"
	secretID   = "HookSecret"
	apiID      = "HttpApi"
)

// templateChecks run on the template alone (no Makefile, no Go code).
var templateChecks = []struct {
	name string
	fn   check
}{
	{"Sections", checkSections},
	{"Refs", checkRefs},
	{"Cycles", checkCycles},
	{"Parameters", checkParameters},
	{"Properties", checkProperties},
	{"Functions", checkFunctions},
	{"HttpApi", checkHttpApi},
	{"Queues", checkQueues},
	{"WorkerEvent", checkWorkerEvent},
	{"ReceiverPolicies", checkReceiverPolicies},
	{"WorkerPolicies", checkWorkerPolicies},
	{"Secret", checkSecret},
	{"LogGroups", checkLogGroups},
	{"Alarms", checkAlarms},
	{"Outputs", checkOutputs},
}

// --- sections and Globals --------------------------------------------------

// globalsAllowed is what SAM accepts under Globals (samtranslator
// plugins/globals/globals.py); anything else fails the transform.
var globalsAllowed = map[string][]string{
	"Function": {"Handler", "Runtime", "CodeUri", "DeadLetterQueue", "Description", "MemorySize", "Timeout",
		"VpcConfig", "Environment", "Tags", "PropagateTags", "Tracing", "KmsKeyArn", "AutoPublishAlias",
		"AutoPublishAliasAllProperties", "Layers", "DeploymentPreference", "RolePath", "PermissionsBoundary",
		"ReservedConcurrentExecutions", "ProvisionedConcurrencyConfig", "AssumeRolePolicyDocument",
		"EventInvokeConfig", "FileSystemConfigs", "CodeSigningConfigArn", "Architectures", "SnapStart",
		"EphemeralStorage", "FunctionUrlConfig", "RuntimeManagementConfig", "LoggingConfig", "RecursiveLoop",
		"SourceKMSKeyArn"},
	"HttpApi": {"Auth", "AccessLogSettings", "StageVariables", "Tags", "CorsConfiguration",
		"DefaultRouteSettings", "Domain", "RouteSettings", "FailOnWarnings", "PropagateTags"},
	"Api": {"Auth", "Name", "DefinitionUri", "CacheClusterEnabled", "CacheClusterSize", "MergeDefinitions",
		"Variables", "EndpointConfiguration", "MethodSettings", "BinaryMediaTypes", "MinimumCompressionSize",
		"Cors", "GatewayResponses", "AccessLogSetting", "CanarySetting", "TracingEnabled", "OpenApiVersion",
		"Domain", "AlwaysDeploy", "PropagateTags"},
	"SimpleTable":  {"SSESpecification"},
	"StateMachine": {"PropagateTags"},
	"LayerVersion": {"PublishLambdaVersion"},
}

func checkSections(t *Template) problems {
	var p problems
	if t.FormatVersion != "" && t.FormatVersion != "2010-09-09" {
		p.addf("AWSTemplateFormatVersion %q: only 2010-09-09 exists", t.FormatVersion)
	}
	if !slices.Contains(t.Transform, "AWS::Serverless-2016-10-31") {
		p.addf("Transform must include AWS::Serverless-2016-10-31 (AWS::Serverless::* types need it)")
	}
	if len(t.Resources) == 0 {
		p.addf("Resources is empty")
	}
	for _, section := range SortedKeys(t.Globals) {
		allowed, known := globalsAllowed[section]
		if !known {
			p.addf("Globals.%s: SAM has no such Globals section", section)
			continue
		}
		m, ok := t.Globals[section].(map[string]any)
		if !ok {
			p.addf("Globals.%s is not a mapping", section)
			continue
		}
		for _, k := range SortedKeys(m) {
			if !slices.Contains(allowed, k) {
				p.addf("Globals.%s.%s: SAM does not accept this property in Globals", section, k)
			}
		}
	}
	return p
}

// --- references ------------------------------------------------------------

// getAttAttrs lists the Fn::GetAtt attributes of the resource types this
// project uses; extend it when a new type is referenced.
var getAttAttrs = map[string][]string{
	"AWS::SQS::Queue":             {"Arn", "QueueName", "QueueUrl"},
	"AWS::SecretsManager::Secret": {"Id"},
	"AWS::Logs::LogGroup":         {"Arn"},
	"AWS::DynamoDB::Table":        {"Arn", "StreamArn"},
	"AWS::Serverless::Function":   {"Arn"},
	"AWS::Lambda::Function":       {"Arn", "SnapStartResponse", "SnapStartResponse.ApplyOn", "SnapStartResponse.OptimizationStatus"},
	"AWS::Serverless::HttpApi":    {"ApiEndpoint", "ApiId"},
	"AWS::ApiGatewayV2::Api":      {"ApiEndpoint", "ApiId"},
	"AWS::IAM::Role":              {"Arn", "RoleId"},
	"AWS::SNS::Topic":             {"TopicArn", "TopicName"},
	"AWS::KMS::Key":               {"Arn", "KeyId"},
	"AWS::SSM::Parameter":         {"Type", "Value"},
}

// resourceTypes returns the template's resources plus the ones SAM generates
// with predictable logical IDs that templates may reference.
func resourceTypes(t *Template) map[string]string {
	types := map[string]string{}
	for id, r := range t.Resources {
		types[id] = r.Type
	}
	for _, id := range t.ResourcesOfType(TypeFunction) {
		if _, hasRole := t.Resources[id].Properties["Role"]; !hasRole {
			if _, clash := types[id+"Role"]; !clash {
				types[id+"Role"] = "AWS::IAM::Role"
			}
		}
	}
	return types
}

func checkRefs(t *Template) problems {
	var p problems
	types := resourceTypes(t)
	for _, r := range t.Refs() {
		at := r.Path
		_, isParam := t.Parameters[r.Target]
		typ, isRes := types[r.Target]
		inConditions := strings.HasPrefix(r.Path, "Conditions.")
		switch {
		case r.Kind == KindCondition:
			if _, ok := t.Conditions[r.Target]; !ok {
				p.addf("%s: condition %q is not defined in Conditions", at, r.Target)
			}
			continue
		case r.Kind == KindDependsOn:
			if _, ok := t.Resources[r.Target]; !ok {
				p.addf("%s: DependsOn %q is not a resource", at, r.Target)
			}
		case r.Kind == KindGetAtt || (r.Kind == KindSub && r.Attr != ""):
			if !isRes {
				p.addf("%s: %s %s.%s: %q is not a resource", at, r.Kind, r.Target, r.Attr, r.Target)
				continue
			}
			if r.Attr == "" { // computed attribute name; CloudFormation checks it
				break
			}
			attrs, known := getAttAttrs[typ]
			if !known {
				p.addf("%s: no known GetAtt attributes for %s (%s); add them to getAttAttrs", at, r.Target, typ)
			} else if !slices.Contains(attrs, r.Attr) {
				p.addf("%s: %s (%s) has no attribute %q (has %s)", at, r.Target, typ, r.Attr, strings.Join(attrs, ", "))
			}
		default: // Ref, ${X}
			if !isParam && !isRes && !IsPseudoParameter(r.Target) {
				p.addf("%s: %s %q is not a parameter, resource or pseudo parameter", at, r.Kind, r.Target)
				continue
			}
			if inConditions && isRes {
				p.addf("%s: Conditions can only reference parameters, not resource %q", at, r.Target)
			}
		}
		// A conditional resource only exists under its condition; referencing
		// it from anywhere else fails the deploy.
		if res, ok := t.Resources[r.Target]; ok && res.Condition != "" && !slices.Contains(r.Guards, res.Condition) {
			p.addf("%s: %s exists only when %s, but this reference is not guarded by it (Fn::If or Condition)",
				at, r.Target, res.Condition)
		}
	}
	for _, id := range SortedKeys(t.Resources) {
		if !logicalID.MatchString(id) {
			p.addf("Resources.%s: logical IDs must be alphanumeric", id)
		}
	}
	return p
}

var logicalID = regexp.MustCompile(`^[A-Za-z0-9]{1,255}$`)

// checkCycles finds circular dependencies between resources (e.g. each queue
// naming the other's ARN), which CloudFormation rejects.
func checkCycles(t *Template) problems {
	var p problems
	edges := map[string][]string{}
	for _, r := range t.Refs() {
		if r.From == "" || r.Kind == KindCondition {
			continue
		}
		if _, ok := t.Resources[r.Target]; ok && !slices.Contains(edges[r.From], r.Target) {
			edges[r.From] = append(edges[r.From], r.Target)
		}
	}
	for _, k := range SortedKeys(edges) {
		slices.Sort(edges[k])
	}
	const (
		unseen = iota
		active
		done
	)
	state := map[string]int{}
	var stack []string
	var visit func(id string)
	visit = func(id string) {
		state[id] = active
		stack = append(stack, id)
		for _, next := range edges[id] {
			switch state[next] {
			case active:
				i := slices.Index(stack, next)
				p.addf("circular dependency: %s -> %s", strings.Join(stack[i:], " -> "), next)
			case unseen:
				visit(next)
			}
		}
		stack = stack[:len(stack)-1]
		state[id] = done
	}
	for _, id := range SortedKeys(t.Resources) {
		if state[id] == unseen {
			visit(id)
		}
	}
	return p
}

// --- parameters ------------------------------------------------------------

func checkParameters(t *Template) problems {
	var p problems
	used := map[string]bool{}
	for _, r := range t.Refs() {
		if r.Kind == KindRef || (r.Kind == KindSub && r.Attr == "") {
			used[r.Target] = true
		}
	}
	for _, name := range SortedKeys(t.Parameters) {
		param := t.Parameters[name]
		at := "Parameters." + name
		typ, _ := param["Type"].(string)
		switch {
		case typ == "String", typ == "Number", typ == "List<Number>", typ == "CommaDelimitedList",
			strings.HasPrefix(typ, "AWS::"), strings.HasPrefix(typ, "List<AWS::"):
		default:
			p.addf("%s: invalid Type %q", at, typ)
		}
		if !used[name] {
			p.addf("%s: never referenced (a typo in a !Ref, or dead configuration)", at)
		}
		def, hasDefault := t.ParameterDefault(name)
		if allowed, ok := param["AllowedValues"].([]any); ok {
			if hasDefault && !slices.ContainsFunc(allowed, func(v any) bool { return scalarString(v) == def }) {
				p.addf("%s: Default %q is not in AllowedValues", at, def)
			}
		}
		lo, hasLo := numberAttr(param, "MinValue")
		hi, hasHi := numberAttr(param, "MaxValue")
		if hasLo && hasHi && lo > hi {
			p.addf("%s: MinValue %v > MaxValue %v", at, lo, hi)
		}
		if !hasDefault {
			continue
		}
		if typ == "Number" {
			n, err := strconv.ParseFloat(def, 64)
			if err != nil {
				p.addf("%s: Default %q is not a number", at, def)
				continue
			}
			if hasLo && n < lo {
				p.addf("%s: Default %v < MinValue %v", at, n, lo)
			}
			if hasHi && n > hi {
				p.addf("%s: Default %v > MaxValue %v", at, n, hi)
			}
		}
		if pat, ok := param["AllowedPattern"].(string); ok {
			re, err := regexp.Compile("^(?:" + pat + ")$")
			if err != nil {
				p.addf("%s: AllowedPattern: %v", at, err)
			} else if !re.MatchString(def) {
				p.addf("%s: Default %q does not match AllowedPattern", at, def)
			}
		}
		if n, ok := numberAttr(param, "MinLength"); ok && float64(len(def)) < n {
			p.addf("%s: Default shorter than MinLength", at)
		}
		if n, ok := numberAttr(param, "MaxLength"); ok && float64(len(def)) > n {
			p.addf("%s: Default longer than MaxLength", at)
		}
	}
	return p
}

func numberAttr(m map[string]any, key string) (float64, bool) {
	v, ok := m[key]
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(scalarString(v), 64)
	return f, err == nil
}

// intRange returns every integer v can take at deploy time: a literal is
// itself; a parameter Ref spans its AllowedValues or MinValue..MaxValue
// (unbounded sides are ±MaxInt). Unresolvable values return an error.
func intRange(t *Template, v any) (lo, hi int, err error) {
	if fn, arg, ok := Intrinsic(v); ok {
		name, _ := arg.(string)
		param, isParam := t.Parameters[name]
		if fn != "Ref" || !isParam {
			return 0, 0, fmt.Errorf("cannot evaluate %v statically", v)
		}
		if allowed, ok := param["AllowedValues"].([]any); ok && len(allowed) > 0 {
			lo, hi = math.MaxInt, math.MinInt
			for _, a := range allowed {
				n, err := strconv.Atoi(scalarString(a))
				if err != nil {
					return 0, 0, fmt.Errorf("parameter %s: AllowedValues %v is not an integer", name, a)
				}
				lo, hi = min(lo, n), max(hi, n)
			}
			return lo, hi, nil
		}
		lo, hi = math.MinInt, math.MaxInt
		if f, ok := numberAttr(param, "MinValue"); ok {
			lo = int(math.Ceil(f))
		}
		if f, ok := numberAttr(param, "MaxValue"); ok {
			hi = int(math.Floor(f))
		}
		if _, ok := t.ParameterDefault(name); !ok {
			return lo, hi, nil
		}
		if _, err := t.Int(v); err != nil {
			return 0, 0, err
		}
		return lo, hi, nil
	}
	n, err := t.Int(v)
	return n, n, err
}

// intValues returns the discrete values a parameter allows, or the literal.
func intValues(t *Template, v any) ([]int, bool) {
	if fn, arg, ok := Intrinsic(v); ok {
		name, _ := arg.(string)
		allowed, ok := t.Parameters[name]["AllowedValues"].([]any)
		if fn != "Ref" || !ok {
			return nil, false
		}
		var out []int
		for _, a := range allowed {
			n, err := strconv.Atoi(scalarString(a))
			if err != nil {
				return nil, false
			}
			out = append(out, n)
		}
		return out, true
	}
	n, err := t.Int(v)
	return []int{n}, err == nil
}

// inRange reports (as a problem) unless every value v can take lies in [lo, hi].
func inRange(p *problems, t *Template, at string, v any, lo, hi int) {
	a, b, err := intRange(t, v)
	switch {
	case err != nil:
		p.addf("%s: %v", at, err)
	case a < lo || b > hi:
		p.addf("%s: allows %s, AWS accepts %d..%d", at, rangeText(a, b), lo, hi)
	}
}

func rangeText(a, b int) string {
	f := func(n int) string {
		switch n {
		case math.MinInt:
			return "-inf"
		case math.MaxInt:
			return "+inf"
		}
		return strconv.Itoa(n)
	}
	if a == b {
		return f(a)
	}
	return f(a) + ".." + f(b)
}

// --- property names --------------------------------------------------------

// knownProps are the properties CloudFormation/SAM accept for the types used
// here; an unknown (misspelt) property fails the deploy.
var knownProps = map[string][]string{
	"AWS::SQS::Queue": {"ContentBasedDeduplication", "DeduplicationScope", "DelaySeconds", "FifoQueue",
		"FifoThroughputLimit", "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "MaximumMessageSize",
		"MessageRetentionPeriod", "QueueName", "ReceiveMessageWaitTimeSeconds", "RedriveAllowPolicy",
		"RedrivePolicy", "SqsManagedSseEnabled", "Tags", "VisibilityTimeout"},
	"AWS::Logs::LogGroup": {"DataProtectionPolicy", "DeletionProtectionEnabled", "FieldIndexPolicies", "KmsKeyId",
		"LogGroupClass", "LogGroupName", "ResourcePolicyDocument", "RetentionInDays", "Tags", "BearerTokenAuthEnabled"},
	"AWS::SecretsManager::Secret": {"Description", "GenerateSecretString", "KmsKeyId", "Name", "ReplicaRegions",
		"SecretString", "Tags"},
	"AWS::DynamoDB::Table": {"AttributeDefinitions", "BillingMode", "ContributorInsightsSpecification",
		"DeletionProtectionEnabled", "GlobalSecondaryIndexes", "ImportSourceSpecification", "KeySchema",
		"KinesisStreamSpecification", "LocalSecondaryIndexes", "OnDemandThroughput",
		"PointInTimeRecoverySpecification", "ProvisionedThroughput", "ResourcePolicy", "SSESpecification",
		"StreamSpecification", "TableClass", "TableName", "Tags", "TimeToLiveSpecification", "WarmThroughput"},
	TypeFunction: {"Architectures", "AssumeRolePolicyDocument", "AutoPublishAlias", "AutoPublishAliasAllProperties",
		"AutoPublishCodeSha256", "CodeSigningConfigArn", "CodeUri", "DeadLetterQueue", "DeploymentPreference",
		"Description", "Environment", "EphemeralStorage", "EventInvokeConfig", "Events", "FileSystemConfigs",
		"FunctionName", "FunctionUrlConfig", "Handler", "ImageConfig", "ImageUri", "InlineCode", "KmsKeyArn",
		"Layers", "LoggingConfig", "MemorySize", "PackageType", "PermissionsBoundary", "Policies", "PropagateTags",
		"ProvisionedConcurrencyConfig", "RecursiveLoop", "ReservedConcurrentExecutions", "Role", "RolePath",
		"Runtime", "RuntimeManagementConfig", "SnapStart", "SourceKMSKeyArn", "Tags", "Timeout", "Tracing",
		"VersionDescription", "VpcConfig"},
	TypeHttpApi: {"AccessLogSettings", "Auth", "CorsConfiguration", "DefaultRouteSettings", "DefinitionBody",
		"DefinitionUri", "Description", "DisableExecuteApiEndpoint", "Domain", "FailOnWarnings", "Name",
		"PropagateTags", "RouteSettings", "StageName", "StageVariables", "Tags"},
}

// eventProps are the properties SAM accepts per function event type.
var eventProps = map[string][]string{
	"SQS": {"BatchSize", "Enabled", "FilterCriteria", "FunctionResponseTypes", "KmsKeyArn",
		"MaximumBatchingWindowInSeconds", "MetricsConfig", "ProvisionedPollerConfig", "Queue", "ScalingConfig"},
	"HttpApi": {"ApiId", "Auth", "Method", "Path", "PayloadFormatVersion", "RouteSettings", "TimeoutInMillis"},
}

func checkProperties(t *Template) problems {
	var p problems
	for _, id := range SortedKeys(t.Resources) {
		r := t.Resources[id]
		if allowed, ok := knownProps[r.Type]; ok {
			for _, k := range SortedKeys(r.Properties) {
				if !slices.Contains(allowed, k) {
					p.addf("Resources.%s.Properties.%s: not a property of %s", id, k, r.Type)
				}
			}
		}
		if r.Type != TypeFunction {
			continue
		}
		events, _ := r.Properties["Events"].(map[string]any)
		for _, name := range SortedKeys(events) {
			e, _ := events[name].(map[string]any)
			typ, _ := e["Type"].(string)
			at := fmt.Sprintf("Resources.%s.Properties.Events.%s", id, name)
			allowed, ok := eventProps[typ]
			if !ok {
				p.addf("%s: event Type %q is not handled by these checks; add it to eventProps", at, typ)
				continue
			}
			props, _ := e["Properties"].(map[string]any)
			for _, k := range SortedKeys(props) {
				if !slices.Contains(allowed, k) {
					p.addf("%s.Properties.%s: not a property of a %s event", at, k, typ)
				}
			}
		}
	}
	return p
}

// --- functions -------------------------------------------------------------

// reservedEnv are variables Lambda sets itself and refuses in Environment.
var reservedEnv = []string{"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION",
	"AWS_EXECUTION_ENV", "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
	"AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME",
	"AWS_LAMBDA_LOG_STREAM_NAME", "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN", "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR"}

var envName = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9_]+$`)

func checkFunctions(t *Template) problems {
	var p problems
	for _, id := range []string{receiverID, workerID} {
		if t.Resources[id].Type != TypeFunction {
			p.addf("Resources.%s: missing, or not an %s", id, TypeFunction)
		}
	}
	for _, id := range t.ResourcesOfType(TypeFunction) {
		props := t.FunctionProperties(id)
		at := "Resources." + id
		if v := props["Runtime"]; v != "provided.al2023" {
			p.addf("%s: Runtime %v, want provided.al2023", at, v)
		}
		if v := props["Handler"]; v != "bootstrap" {
			p.addf("%s: Handler %v, want bootstrap", at, v)
		}
		// SAM concatenates Globals and local lists, so arm64 in both places
		// gives [arm64, arm64], which Lambda rejects.
		if archs, _ := props["Architectures"].([]any); len(archs) != 1 || archs[0] != "arm64" {
			p.addf("%s: Architectures %v (after Globals merge), want exactly [arm64]", at, props["Architectures"])
		}
		if v := props["CodeUri"]; v != "." {
			p.addf("%s: CodeUri %v, want . (the Makefile lives at the repo root)", at, v)
		}
		if v := t.Resources[id].Metadata["BuildMethod"]; v != "makefile" {
			p.addf("%s: Metadata.BuildMethod %v, want makefile", at, v)
		}
		if _, ok := props["FunctionName"]; ok {
			p.addf("%s: FunctionName is set; logs go to LoggingConfig.LogGroup, let CloudFormation name the function", at)
		}
		timeout := any(3) // Lambda's default
		if v, ok := props["Timeout"]; ok {
			timeout = v
		}
		inRange(&p, t, at+".Timeout", timeout, 1, 900)
		if v, ok := props["MemorySize"]; ok {
			inRange(&p, t, at+".MemorySize", v, 128, 10240)
		}
		// Logs must go to a group we own so RetentionInDays applies.
		lc, _ := props["LoggingConfig"].(map[string]any)
		if fn, arg, ok := Intrinsic(lc["LogGroup"]); !ok || fn != "Ref" || t.Resources[fmt.Sprint(arg)].Type != "AWS::Logs::LogGroup" {
			p.addf("%s.LoggingConfig.LogGroup: %v, want !Ref of an AWS::Logs::LogGroup", at, lc["LogGroup"])
		}
		if lc["LogFormat"] != "JSON" {
			p.addf("%s.LoggingConfig.LogFormat: %v, want JSON", at, lc["LogFormat"])
		}
		env, ok := Lookup(props, "Environment")
		if ok {
			em, _ := env.(map[string]any)
			if _, hasVars := em["Variables"].(map[string]any); len(em) != 1 || !hasVars {
				p.addf("%s.Environment: want exactly a Variables mapping", at)
			}
		}
		vars := t.FunctionEnv(id)
		for _, k := range SortedKeys(vars) {
			switch v := vars[k].(type) {
			case map[string]any:
				if _, _, isIntr := Intrinsic(v); !isIntr {
					p.addf("%s: env %s is a mapping, not a string", at, k)
				}
			case []any, nil:
				p.addf("%s: env %s must be a string", at, k)
			}
			if !envName.MatchString(k) {
				p.addf("%s: env name %q is invalid", at, k)
			}
			if slices.Contains(reservedEnv, k) {
				p.addf("%s: env %s is reserved by Lambda", at, k)
			}
		}
	}
	// Okta waits 3 s for an answer; a receiver allowed to run longer would
	// turn slow deliveries into Okta-side failures and retries.
	if r, ok := t.Resources[receiverID]; ok && r.Type == TypeFunction {
		timeout := any(3)
		if v, ok := t.FunctionProperties(receiverID)["Timeout"]; ok {
			timeout = v
		}
		inRange(&p, t, "Resources.ReceiverFunction.Timeout (must stay under Okta's 3 s)", timeout, 1, 2)
	}
	return p
}

// --- HTTP API --------------------------------------------------------------

func checkHttpApi(t *Template) problems {
	var p problems
	api, ok := t.Resources[apiID]
	if !ok || api.Type != TypeHttpApi {
		p.addf("Resources.%s: missing, or not an %s", apiID, TypeHttpApi)
		return p
	}
	rs, _ := api.Properties["DefaultRouteSettings"].(map[string]any)
	for _, k := range []string{"ThrottlingBurstLimit", "ThrottlingRateLimit"} {
		v, ok := rs[k]
		if !ok {
			p.addf("Resources.HttpApi.DefaultRouteSettings.%s: missing (stage throttling)", k)
			continue
		}
		inRange(&p, t, "Resources.HttpApi.DefaultRouteSettings."+k, v, 1, math.MaxInt)
	}
	// AccessLogSettings may sit in an Fn::If; check every non-NoValue branch.
	for _, als := range ifBranches(api.Properties["AccessLogSettings"]) {
		m, ok := als.(map[string]any)
		if !ok {
			p.addf("Resources.HttpApi.AccessLogSettings: %v is not a mapping", als)
			continue
		}
		if _, ok := m["DestinationArn"]; !ok {
			p.addf("Resources.HttpApi.AccessLogSettings: DestinationArn missing")
		}
		// API Gateway refuses an access log format without the request ID.
		if f, _ := m["Format"].(string); !strings.Contains(f, "$context.requestId") && !strings.Contains(f, "$context.extendedRequestId") {
			p.addf("Resources.HttpApi.AccessLogSettings.Format must contain $context.requestId")
		}
	}

	type route struct{ method, path string }
	seen := map[route]string{}
	for _, fn := range t.ResourcesOfType(TypeFunction) {
		events := t.FunctionEvents(fn, "HttpApi")
		for _, name := range SortedKeys(events) {
			e := events[name]
			at := fmt.Sprintf("Resources.%s.Events.%s", fn, name)
			rt := route{strings.ToUpper(fmt.Sprint(e["Method"])), fmt.Sprint(e["Path"])}
			if prev, dup := seen[rt]; dup {
				p.addf("%s: route %s %s already defined by %s", at, rt.method, rt.path, prev)
			}
			seen[rt] = at
			if fnName, arg, ok := Intrinsic(e["ApiId"]); !ok || fnName != "Ref" || arg != apiID {
				p.addf("%s: ApiId %v, want !Ref HttpApi (else SAM creates a second, implicit API)", at, e["ApiId"])
			}
			// Must be the string "2.0": an unquoted 2.0 is a float SAM rejects.
			if e["PayloadFormatVersion"] != "2.0" {
				p.addf("%s: PayloadFormatVersion %#v, want the string \"2.0\"", at, e["PayloadFormatVersion"])
			}
			if timeout, ok := e["TimeoutInMillis"]; ok {
				inRange(&p, t, at+".TimeoutInMillis", timeout, 50, 30000)
			}
		}
	}
	for _, want := range []route{{"GET", "/okta/events"}, {"POST", "/okta/events"}} {
		at, ok := seen[want]
		if !ok {
			p.addf("no HttpApi event routes %s %s", want.method, want.path)
		} else if !strings.HasPrefix(at, "Resources."+receiverID+".") {
			p.addf("%s %s is routed by %s, want ReceiverFunction", want.method, want.path, at)
		}
	}
	return p
}

// ifBranches returns the possible values of v: both branches of an Fn::If
// (recursively) minus AWS::NoValue; nil v gives none.
func ifBranches(v any) []any {
	if v == nil {
		return nil
	}
	if fn, arg, ok := Intrinsic(v); ok {
		switch fn {
		case "Fn::If":
			if l, ok := arg.([]any); ok && len(l) == 3 {
				return append(ifBranches(l[1]), ifBranches(l[2])...)
			}
		case "Ref":
			if arg == "AWS::NoValue" {
				return nil
			}
		}
	}
	return []any{v}
}

// --- queues ----------------------------------------------------------------

func isGetAtt(v any, id, attr string) bool {
	fn, arg, ok := Intrinsic(v)
	if !ok || fn != "Fn::GetAtt" {
		return false
	}
	gid, gattr, ok := GetAttTarget(arg)
	return ok && gid == id && gattr == attr
}

func isRef(v any, id string) bool {
	fn, arg, ok := Intrinsic(v)
	return ok && fn == "Ref" && arg == id
}

func checkQueues(t *Template) problems {
	var p problems
	for _, id := range []string{queueID, dlqID} {
		r, ok := t.Resources[id]
		if !ok || r.Type != "AWS::SQS::Queue" {
			p.addf("Resources.%s: missing, or not an AWS::SQS::Queue", id)
			return p
		}
		at := "Resources." + id
		// SQS-managed SSE needs no kms:* grants; a KMS key would need them on
		// both functions.
		if r.Properties["SqsManagedSseEnabled"] != true {
			p.addf("%s.SqsManagedSseEnabled: want true", at)
		}
		if _, ok := r.Properties["KmsMasterKeyId"]; ok {
			p.addf("%s.KmsMasterKeyId: set, but the functions have no KMS permissions; use SqsManagedSseEnabled", at)
		}
		if _, ok := r.Properties["QueueName"]; ok {
			p.addf("%s.QueueName: fixed names block replacement and a second stack; let CloudFormation name it", at)
		}
		intIs(&p, t, id, "MaximumMessageSize", func(n int) bool { return n == 1048576 }, "1048576 (1 MiB)")
	}

	q := t.Resources[queueID].Properties
	rp, ok := q["RedrivePolicy"].(map[string]any)
	if !ok {
		p.addf("Resources.EventsQueue.RedrivePolicy: missing; failed messages would retry until they expire")
	} else {
		if !isGetAtt(rp["deadLetterTargetArn"], dlqID, "Arn") {
			p.addf("Resources.EventsQueue.RedrivePolicy.deadLetterTargetArn: %v, want !GetAtt EventsDLQ.Arn", rp["deadLetterTargetArn"])
		}
		if n, err := t.Int(rp["maxReceiveCount"]); err != nil || n != 5 {
			p.addf("Resources.EventsQueue.RedrivePolicy.maxReceiveCount: %v, want 5", rp["maxReceiveCount"])
		}
		for _, k := range SortedKeys(rp) {
			if k != "deadLetterTargetArn" && k != "maxReceiveCount" {
				p.addf("Resources.EventsQueue.RedrivePolicy.%s: unknown key", k)
			}
		}
	}
	// A message moved to the DLQ keeps its first enqueue time, so the DLQ
	// must keep messages longer than EventsQueue or they vanish on arrival.
	intIs(&p, t, queueID, "MessageRetentionPeriod", func(n int) bool { return n >= 345600 && n < 1209600 },
		"345600..1209599 (at least 4 days, less than the DLQ's 14)")
	intIs(&p, t, dlqID, "MessageRetentionPeriod", func(n int) bool { return n == 1209600 }, "1209600 (14 days)")

	rap, ok := t.Resources[dlqID].Properties["RedriveAllowPolicy"].(map[string]any)
	switch {
	case !ok:
		p.addf("Resources.EventsDLQ.RedriveAllowPolicy: missing")
	case rap["redrivePermission"] == "allowAll":
	case rap["redrivePermission"] == "byQueue":
		arns, _ := rap["sourceQueueArns"].([]any)
		if !slices.ContainsFunc(arns, func(v any) bool { return isGetAtt(v, queueID, "Arn") }) {
			p.addf("Resources.EventsDLQ.RedriveAllowPolicy: byQueue does not list EventsQueue")
		}
	default:
		p.addf("Resources.EventsDLQ.RedriveAllowPolicy.redrivePermission: %v, want allowAll or byQueue", rap["redrivePermission"])
	}

	// AWS advises a visibility timeout of at least 6x the function timeout so
	// retries of a batch do not race its redelivery.
	vis, vErr := t.IntProp(queueID, "VisibilityTimeout")
	if vErr != nil {
		vis = 30 // SQS default
	}
	if vis > 43200 {
		p.addf("Resources.EventsQueue.VisibilityTimeout: %d > 43200", vis)
	}
	timeout := any(3)
	if v, ok := t.FunctionProperties(workerID)["Timeout"]; ok {
		timeout = v
	}
	if _, hi, err := intRange(t, timeout); err != nil {
		p.addf("Resources.WorkerFunction.Timeout: %v", err)
	} else if vis < 6*hi {
		p.addf("Resources.EventsQueue.VisibilityTimeout: %d < 6 x WorkerFunction Timeout (%d)", vis, hi)
	}
	return p
}

// intIs reports unless integer property key of resource id satisfies ok.
func intIs(p *problems, t *Template, id, key string, ok func(int) bool, want string) {
	n, err := t.IntProp(id, key)
	switch {
	case err != nil:
		p.addf("Resources.%s.%s: %v; want %s", id, key, err, want)
	case !ok(n):
		p.addf("Resources.%s.%s: %d, want %s", id, key, n, want)
	}
}

func checkWorkerEvent(t *Template) problems {
	var p problems
	events := t.FunctionEvents(workerID, "SQS")
	var onQueue []string
	for _, name := range SortedKeys(events) {
		if isGetAtt(events[name]["Queue"], queueID, "Arn") {
			onQueue = append(onQueue, name)
		}
	}
	if len(onQueue) != 1 {
		p.addf("Resources.WorkerFunction: want exactly one SQS event with Queue !GetAtt EventsQueue.Arn, found %d", len(onQueue))
		return p
	}
	e := events[onQueue[0]]
	at := "Resources.WorkerFunction.Events." + onQueue[0]
	types, _ := e["FunctionResponseTypes"].([]any)
	if !slices.Contains(types, any("ReportBatchItemFailures")) {
		p.addf("%s.FunctionResponseTypes: want [ReportBatchItemFailures]; without it one failure retries the whole batch", at)
	}
	batch, ok := e["BatchSize"]
	if !ok {
		p.addf("%s.BatchSize: missing", at)
	} else {
		inRange(&p, t, at+".BatchSize", batch, 1, 10000)
	}
	window, ok := e["MaximumBatchingWindowInSeconds"]
	if !ok {
		p.addf("%s.MaximumBatchingWindowInSeconds: missing", at)
	} else {
		inRange(&p, t, at+".MaximumBatchingWindowInSeconds", window, 0, 300)
	}
	// Lambda refuses BatchSize > 10 unless the batching window is >= 1 s.
	if _, bHi, err := intRange(t, batch); err == nil && bHi > 10 {
		if wLo, _, err := intRange(t, window); err == nil && wLo < 1 {
			p.addf("%s: BatchSize may exceed 10 while MaximumBatchingWindowInSeconds may be 0; Lambda rejects that", at)
		}
	}
	sc, _ := e["ScalingConfig"].(map[string]any)
	if mc, ok := sc["MaximumConcurrency"]; !ok {
		p.addf("%s.ScalingConfig.MaximumConcurrency: missing", at)
	} else {
		inRange(&p, t, at+".ScalingConfig.MaximumConcurrency", mc, 2, 1000)
	}
	if enabled, ok := e["Enabled"]; ok && enabled != true {
		p.addf("%s.Enabled: %v; the worker would never run", at, enabled)
	}
	return p
}

// --- IAM -------------------------------------------------------------------

type statement struct {
	at        string
	effect    string
	actions   []string
	resources []any
}

// functionStatements flattens a function's inline policy statements.
// Managed policies (strings) and SAM policy templates are reported by kind.
func functionStatements(t *Template, id string) (stmts []statement, managed, templates []string) {
	props := t.FunctionProperties(id)
	var policies []any
	switch v := props["Policies"].(type) {
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
			list, isList := raw.([]any)
			if !isList {
				list = []any{raw}
			}
			for j, s := range list {
				sm, _ := s.(map[string]any)
				st := statement{at: fmt.Sprintf("%s.Statement[%d]", at, j)}
				st.effect, _ = sm["Effect"].(string)
				for _, a := range asList(sm["Action"]) {
					st.actions = append(st.actions, strings.ToLower(fmt.Sprint(a)))
				}
				st.resources = asList(sm["Resource"])
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
	props := t.FunctionProperties(receiverID)
	if _, ok := props["Role"]; ok {
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
	}
	found := map[string]bool{}
	for _, s := range stmts {
		if s.effect != "Allow" {
			continue
		}
		for _, a := range s.actions {
			ok, known := allowed[a]
			if !known || strings.Contains(a, "*") {
				p.addf("%s: action %q is not needed by the receiver", s.at, a)
				continue
			}
			if len(s.resources) == 0 {
				p.addf("%s: %s without a Resource", s.at, a)
			}
			for _, r := range s.resources {
				if hasWildcard(r) || !ok(r) {
					p.addf("%s: %s on %v; only !Ref HookSecret / !GetAtt EventsQueue.Arn allowed", s.at, a, r)
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

// --- secret, logs, outputs -------------------------------------------------

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
	if d, _ := r.Properties["Description"].(string); !strings.Contains(d, "Authorization") {
		p.addf("Resources.HookSecret.Description: should tell the operator to paste the value into Okta as the Authorization header value")
	}
	return p
}

// validRetention are the values CloudWatch Logs accepts for RetentionInDays.
var validRetention = []int{1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192,
	2557, 2922, 3288, 3653}

func checkLogGroups(t *Template) problems {
	var p problems
	for _, id := range t.ResourcesOfType("AWS::Logs::LogGroup") {
		at := "Resources." + id + ".RetentionInDays"
		v, ok := t.Resources[id].Properties["RetentionInDays"]
		if !ok {
			p.addf("%s: missing; logs would be kept forever", at)
			continue
		}
		values, ok := intValues(t, v)
		if !ok {
			p.addf("%s: %v must be a literal or a parameter with AllowedValues", at, v)
			continue
		}
		for _, n := range values {
			if !slices.Contains(validRetention, n) {
				p.addf("%s: %d is not a CloudWatch Logs retention value", at, n)
			}
		}
	}
	return p
}

// checkAlarms: operators run hookline from CloudWatch, so the template must
// alarm on parked events, and every alarm on a log metric must watch a metric
// some filter actually emits (a typo there is an alarm that never fires).
func checkAlarms(t *Template) problems {
	var p problems
	watchesDLQ := false
	emitted := map[string]bool{}
	for _, id := range t.ResourcesOfType("AWS::Logs::MetricFilter") {
		r := t.Resources[id]
		if _, ok := r.Properties["LogGroupName"]; !ok {
			p.addf("Resources.%s.LogGroupName: missing", id)
		}
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
				if id, attr, ok := GetAttTarget(getAttArg(m["Value"])); ok && id == dlqID && attr == "QueueName" && metric == "ApproximateNumberOfMessagesVisible" {
					watchesDLQ = true
				}
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
	return p
}

func getAttArg(v any) any {
	if fn, arg, ok := Intrinsic(v); ok && fn == "Fn::GetAtt" {
		return arg
	}
	return nil
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
	exports := map[string]string{}
	for _, name := range SortedKeys(t.Outputs) {
		o, _ := t.Outputs[name].(map[string]any)
		if _, ok := o["Value"]; !ok {
			p.addf("Outputs.%s: no Value", name)
		}
		if e, ok := Lookup(o, "Export", "Name"); ok {
			key := fmt.Sprint(e)
			if prev, dup := exports[key]; dup {
				p.addf("Outputs.%s: Export.Name also used by %s", name, prev)
			}
			exports[key] = name
		}
	}
	return p
}

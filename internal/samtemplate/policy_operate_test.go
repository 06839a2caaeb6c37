package samtemplate

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/receiver"
)

// Operating hookline: the dashboard reads left to right like the pipeline and
// shows every metric the code emits, and only those (or AWS metrics that
// exist); it lists every alarm. The saved queries an operator needs exist and
// read the functions' log groups (the fields they use are checked against
// what the functions really log by internal/devstack's observability test).
func TestPolicyDashboardAndQueries(t *testing.T) {
	testPolicy(t, checkDashboardAndQueries, []breakCase{
		{name: "dashboard is not JSON", old: `"start": "-PT6H",`, new: `"start": "-PT6H"`,
			want: "DashboardBody: not JSON"},
		{name: "widget names a metric the code does not emit", old: `"EventsHandled", "Stack"`, new: `"EventHandled", "Stack"`,
			want: "EventHandled is not a metric internal/metrics defines"},
		{name: "search names a metric the code does not emit", old: `MetricName=\"HandlerErrors\"`, new: `MetricName=\"HandlerFailures\"`,
			want: "HandlerFailures is not a metric internal/metrics defines"},
		{name: "widget on a misspelt AWS metric", old: `"AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", "${EventsDLQ.QueueName}"`, new: `"AWS/SQS", "ApproximateAgeOfOldestMessages", "QueueName", "${EventsDLQ.QueueName}"`,
			want: "not an AWS/SQS metric"},
		{name: "a metric missing from the dashboard", edit: func(t *Template) {
			// Every widget line of it (the pipeline's and the Okta side row's).
			body := props(t, "Dashboard")["DashboardBody"].(map[string]any)["Fn::Sub"].([]any)
			body[0] = regexp.MustCompile(`\["\$\{MetricsNamespace\}", "EventsRecovered"[^\]]*\]`).
				ReplaceAllString(body[0].(string), `["AWS/SQS", "NumberOfMessagesSent", "QueueName", "${EventsQueue.QueueName}"]`)
		}, want: "dashboard does not show EventsRecovered"},
		{name: "pipeline out of order", old: `"title": "3 Handled (worker)"`, new: `"title": "2 Handled (worker)"`,
			want: "left to right"},
		{name: "widget off the grid", old: `{"type": "metric", "x": 18, "y": 2, "width": 6`, new: `{"type": "metric", "x": 20, "y": 2, "width": 6`,
			want: "beyond the 24 columns"},
		{name: "alarm missing from the alarm widget", old: `"${EndToEndLagAlarm.Arn}"`, new: `"${HandlerErrorsAlarm.Arn}"`,
			want: "does not list EndToEndLagAlarm"},
		{name: "a reconciler alarm missing from the alarm widget", old: `!GetAtt OktaDailyCapAlarm.Arn]]`, new: `!GetAtt OktaHookUnhealthyAlarm.Arn]]`,
			want: "does not list OktaDailyCapAlarm"},
		{name: "a reconciler alarm listed without its condition", edit: func(t *Template) {
			body := props(t, "Dashboard")["DashboardBody"].(map[string]any)["Fn::Sub"].([]any)
			body[0] = strings.Replace(body[0].(string), `"${EndToEndLagAlarm.Arn}"`, `"${EndToEndLagAlarm.Arn}", "${ReconcilerErrorsAlarm.Arn}"`, 1)
		}, want: "lists ReconcilerErrorsAlarm, which exists only under condition ReconcileEnabled"},
		{name: "no event-by-uuid query", edit: func(t *Template) { delete(t.Resources, "EventByUuidQuery") },
			want: `no saved query "event by uuid"`},
		{name: "query on a log group the stack does not own", edit: func(t *Template) {
			props(t, "EventsByTypeQuery")["LogGroupNames"] = []any{"/aws/lambda/other"}
		}, want: "EventsByTypeQuery.LogGroupNames: /aws/lambda/other is not"},
	})
}

// dashboardJSON resolves the DashboardBody's !Sub with placeholders: a Number
// parameter becomes its default, anything else "{Name}". A variable of the
// !Sub's map that is an !If takes its first branch (the resources that
// exist under the condition), and conditional tells, for each resource
// named there, the condition it is listed under.
func dashboardJSON(t *Template, body any) (text string, conditional map[string]string, err error) {
	tmpl, vars, ok := SubParts(argOf(body, "Fn::Sub"))
	if !ok {
		return "", nil, fmt.Errorf("not a !Sub string")
	}
	values, conditional := map[string]string{}, map[string]string{}
	for name, v := range vars {
		if f, arg, ok := Intrinsic(v); ok && f == "Fn::If" {
			branches, _ := arg.([]any)
			if len(branches) != 3 {
				return "", nil, fmt.Errorf("variable %s: !If without a condition and two branches", name)
			}
			cond, _ := branches[0].(string)
			s, err := t.ResolveString(branches[1], func(res, attr string) (string, error) {
				conditional[res] = cond
				return "{" + res + "." + attr + "}", nil
			})
			if err != nil {
				return "", nil, fmt.Errorf("variable %s: %v", name, err)
			}
			values[name] = s
			continue
		}
		return "", nil, fmt.Errorf("variable %s: want an !If on a condition", name)
	}
	// Named in the body itself, a resource is there whatever the condition.
	for _, v := range SubVariables(tmpl) {
		res, _, _ := strings.Cut(v, ".")
		if _, ok := t.Resources[res]; ok {
			conditional[res] = ""
		}
	}
	return subVar.ReplaceAllStringFunc(tmpl, func(m string) string {
		name := m[2 : len(m)-1]
		if strings.HasPrefix(name, "!") {
			return "${" + name[1:] + "}"
		}
		if v, ok := values[name]; ok {
			return v
		}
		if p, ok := t.Parameters[name]; ok && p["Type"] == "Number" {
			return fmt.Sprint(p["Default"])
		}
		return "{" + name + "}"
	}), conditional, nil
}

func argOf(v any, fn string) any {
	if f, arg, ok := Intrinsic(v); ok && f == fn {
		return arg
	}
	return nil
}

var searchMetricName = regexp.MustCompile(`MetricName="([^"]+)"`)

// searchSchema is a SEARCH schema with the namespace quoted, as the
// dashboard writes it: {"namespace",Dim1,Dim2}.
var searchSchema = regexp.MustCompile(`\{"([^"]+)"((?:,[A-Za-z]+)*)\}`)

func checkDashboardAndQueries(t *Template) problems {
	var p problems
	filters := metricFilterMetrics(t, &p)
	boards := t.ResourcesOfType("AWS::CloudWatch::Dashboard")
	if len(boards) != 1 {
		p.addf("Resources: want one AWS::CloudWatch::Dashboard, have %d", len(boards))
	}
	for _, id := range boards {
		at := "Resources." + id + ".DashboardBody"
		text, conditional, err := dashboardJSON(t, t.Resources[id].Properties["DashboardBody"])
		if err != nil {
			p.addf("%s: %v", at, err)
			continue
		}
		var body struct {
			Widgets []struct {
				Type          string `json:"type"`
				X, Y, W, H    int
				Width, Height int
				Properties    struct {
					Title   string  `json:"title"`
					Metrics [][]any `json:"metrics"`
					Alarms  []string
				} `json:"properties"`
			} `json:"widgets"`
		}
		if err := json.Unmarshal([]byte(text), &body); err != nil {
			p.addf("%s: not JSON: %v", at, err)
			continue
		}
		shown := map[string]bool{}
		type step struct{ n, x, y int }
		var pipeline []step
		for i, w := range body.Widgets {
			wat := fmt.Sprintf("%s.widgets[%d] %q", at, i, w.Properties.Title)
			if w.X+w.Width > 24 || w.Width <= 0 || w.Height <= 0 {
				p.addf("%s: x %d width %d is beyond the 24 columns", wat, w.X, w.Width)
			}
			var n int
			if _, err := fmt.Sscanf(w.Properties.Title, "%d ", &n); err == nil {
				pipeline = append(pipeline, step{n, w.X, w.Y})
			}
			for _, m := range w.Properties.Metrics {
				if len(m) == 1 {
					expr, _ := m[0].(map[string]any)["expression"].(string)
					schema := searchSchema.FindStringSubmatch(expr)
					names := searchMetricName.FindAllStringSubmatch(expr, -1)
					if schema == nil || len(names) == 0 {
						p.addf("%s: expression %q names no metric", wat, expr)
					}
					for _, nm := range names {
						dims := map[string]string{metrics.DimStack: "{AWS::StackName}"}
						for _, d := range strings.Split(strings.TrimPrefix(schema[2], ","), ",") {
							if d != "" && d != metrics.DimStack {
								dims[d] = "any"
							}
						}
						ref := metricRef{namespace: schema[1], name: nm[1], dims: dims}
						if msg := checkMetricRef(ref, filters); msg != "" {
							p.addf("%s: %s", wat, msg)
						}
						shown[ref.name] = true
					}
					continue
				}
				var s []string
				for _, e := range m {
					if str, ok := e.(string); ok {
						s = append(s, str)
					}
				}
				if len(s) < 2 || len(s)%2 != 0 {
					p.addf("%s: metric %v is not [namespace, name, dimension, value, ...]", wat, m)
					continue
				}
				ref := metricRef{namespace: s[0], name: s[1], dims: map[string]string{}}
				for j := 2; j < len(s); j += 2 {
					ref.dims[s[j]] = s[j+1]
				}
				if msg := checkMetricRef(ref, filters); msg != "" {
					p.addf("%s: %s", wat, msg)
				}
				if ref.namespace == "{MetricsNamespace}" {
					shown[ref.name] = true
				}
			}
			if w.Type == "alarm" {
				// Every alarm's state: a conditional alarm's ARN comes in
				// through an !If on its condition (the stack would not
				// deploy with it in the body when the condition is false).
				for _, a := range t.ResourcesOfType("AWS::CloudWatch::Alarm") {
					if !slices.Contains(w.Properties.Alarms, "{"+a+".Arn}") {
						p.addf("%s: does not list %s", wat, a)
						continue
					}
					if cond := t.Resources[a].Condition; cond != "" && conditional[a] != cond {
						p.addf("%s: lists %s, which exists only under condition %s, outside an !If on it", wat, a, cond)
					}
				}
			}
		}
		for _, d := range metrics.Defs {
			if !shown[d.Name] {
				p.addf("%s: dashboard does not show %s", at, d.Name)
			}
		}
		sort.Slice(pipeline, func(i, j int) bool { return pipeline[i].n < pipeline[j].n })
		for i := range pipeline {
			if pipeline[i].n != i+1 || (i > 0 && (pipeline[i].x <= pipeline[i-1].x || pipeline[i].y != pipeline[0].y)) {
				p.addf("%s: the numbered pipeline widgets must read 1, 2, 3, 4 left to right on one row: %v", at, pipeline)
				break
			}
		}
		if len(pipeline) < 4 {
			p.addf("%s: want the pipeline (received, enqueued, handled, failed) as numbered widgets, have %d", at, len(pipeline))
		}
	}

	logGroups := t.ResourcesOfType("AWS::Logs::LogGroup")
	names := map[string]string{}
	for _, id := range t.ResourcesOfType("AWS::Logs::QueryDefinition") {
		r := t.Resources[id]
		tmpl, _, _ := SubParts(argOf(r.Properties["Name"], "Fn::Sub"))
		names[strings.TrimPrefix(tmpl, "${AWS::StackName}/")] = id
		if q, _ := r.Properties["QueryString"].(string); strings.TrimSpace(q) == "" {
			p.addf("Resources.%s.QueryString: missing", id)
		}
		var groups []any
		for _, branch := range ifBranches(r.Properties["LogGroupNames"]) {
			l, _ := branch.([]any)
			groups = append(groups, l...)
		}
		if len(groups) == 0 {
			p.addf("Resources.%s.LogGroupNames: missing", id)
		}
		for _, g := range groups {
			if fn, arg, ok := Intrinsic(g); !ok || fn != "Ref" || !slices.Contains(logGroups, fmt.Sprint(arg)) {
				p.addf("Resources.%s.LogGroupNames: %v is not !Ref of one of the stack's log groups", id, refText(g))
			}
		}
	}
	for _, want := range []string{"event by uuid", "failures", "auth failures by source IP", "events by type", "slowest handlers"} {
		found := false
		for n := range names {
			found = found || strings.HasPrefix(n, want)
		}
		if !found {
			p.addf("Resources: no saved query %q (AWS::Logs::QueryDefinition named ${AWS::StackName}/%s...)", want, want)
		}
	}
	return p
}

// Deploying and publishing: stateful resources say what happens to their
// data; the parameters that reach code at runtime are checked at deploy
// time; `sam publish` has the metadata and files it needs.
func TestPolicyDeployAndPublish(t *testing.T) {
	testPolicy(t, checkDeployAndPublish, []breakCase{
		{name: "ledger deleted with the stack", edit: func(t *Template) { delete(t.Resources["LedgerTable"].Attributes, "DeletionPolicy") },
			want: "LedgerTable: DeletionPolicy must be Retain"},
		{name: "DLQ dropped on replacement", edit: func(t *Template) { t.Resources[dlqID].Attributes["UpdateReplacePolicy"] = "Delete" },
			want: "EventsDLQ: UpdateReplacePolicy must be Retain"},
		{name: "secret value lost on replacement", edit: func(t *Template) { delete(t.Resources[secretID].Attributes, "UpdateReplacePolicy") },
			want: "HookSecret: UpdateReplacePolicy must be Retain"},
		{name: "no CIDR pattern", edit: func(t *Template) { delete(t.Parameters["AllowedSourceCidrs"], "AllowedPattern") },
			want: "AllowedSourceCidrs: no AllowedPattern"},
		{name: "CIDR pattern lets typos through", old: "(/[0-9]{1,2})?|", new: "(/[0-9]{1,3})?|",
			want: "AllowedSourceCidrs: the pattern accepts"},
		{name: "no SAR metadata", edit: func(t *Template) { delete(t.Metadata, "AWS::ServerlessRepo::Application") },
			want: "AWS::ServerlessRepo::Application: missing"},
		{name: "license file missing", old: "LicenseUrl: LICENSE", new: "LicenseUrl: LICENSE.txt",
			want: "LicenseUrl: LICENSE.txt"},
		{name: "env.json misses a resource reference", old: "          AUTH_HEADER: Authorization\n", new: "          AUTH_HEADER: Authorization\n          DLQ_URL: !Ref EventsDLQ\n",
			want: "events/env.json: ReceiverFunction.DLQ_URL missing"},
		{name: "no version", edit: func(t *Template) {
			delete(t.Metadata["AWS::ServerlessRepo::Application"].(map[string]any), "SemanticVersion")
		}, want: "SemanticVersion"},
	})
}

func checkDeployAndPublish(t *Template) problems {
	var p problems
	for id, want := range map[string][2]string{
		"LedgerTable": {"Retain", "Retain"},
		dlqID:         {"Retain", "Retain"},
		secretID:      {"", "Retain"}, // deletion: a choice, but a stated one
	} {
		r, ok := t.Resources[id]
		if !ok {
			p.addf("Resources.%s: missing", id)
			continue
		}
		del, rep := r.Attributes["DeletionPolicy"], r.Attributes["UpdateReplacePolicy"]
		if del == nil || (want[0] != "" && del != want[0]) {
			p.addf("Resources.%s: DeletionPolicy must be %s, is %v", id, or(want[0], "set"), del)
		}
		if rep != want[1] {
			p.addf("Resources.%s: UpdateReplacePolicy must be %s, is %v", id, want[1], rep)
		}
	}

	pattern, _ := t.Parameters["AllowedSourceCidrs"]["AllowedPattern"].(string)
	if pattern == "" {
		p.addf("Parameters.AllowedSourceCidrs: no AllowedPattern; a typo would fail the receiver at start-up")
	} else if re, err := regexp.Compile(pattern); err != nil {
		p.addf("Parameters.AllowedSourceCidrs: AllowedPattern does not compile: %v", err)
	} else {
		for _, ok := range []string{"", "203.0.113.0/24", "203.0.113.7", "2001:db8::/32", "::1", "203.0.113.0/24, 198.51.100.0/22,2001:db8::/32"} {
			if !re.MatchString(ok) {
				p.addf("Parameters.AllowedSourceCidrs: the pattern refuses %q", ok)
			}
			if _, err := receiver.ParseCIDRs(ok); err != nil {
				p.addf("Parameters.AllowedSourceCidrs: the receiver refuses %q, which the pattern accepts: %v", ok, err)
			}
		}
		for _, typo := range []string{"203.0.113.0/240", "203.0.113/24", "203.0.113.0/", "okta", "203.0.113.0/24;198.51.100.0/22", ",203.0.113.0/24", "203.0.113.0 /24"} {
			if re.MatchString(typo) {
				p.addf("Parameters.AllowedSourceCidrs: the pattern accepts the typo %q", typo)
			}
		}
	}

	p = append(p, checkLocalEnv(t)...)

	app, ok := t.Metadata["AWS::ServerlessRepo::Application"].(map[string]any)
	if !ok {
		p.addf("Metadata.AWS::ServerlessRepo::Application: missing; sam publish needs it")
		return p
	}
	for _, k := range []string{"Name", "Description", "Author", "SpdxLicenseId", "LicenseUrl", "ReadmeUrl", "SemanticVersion", "SourceCodeUrl"} {
		if s, _ := app[k].(string); s == "" {
			p.addf("Metadata.AWS::ServerlessRepo::Application.%s: missing", k)
		}
	}
	if v, _ := app["SemanticVersion"].(string); v != "" && !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(v) {
		p.addf("Metadata.AWS::ServerlessRepo::Application.SemanticVersion: %q is not MAJOR.MINOR.PATCH", v)
	}
	root := filepath.Dir(templatePath)
	for _, k := range []string{"LicenseUrl", "ReadmeUrl"} {
		f, _ := app[k].(string)
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			p.addf("Metadata.AWS::ServerlessRepo::Application.%s: %s: %v", k, f, err)
			continue
		}
		if k == "LicenseUrl" && app["SpdxLicenseId"] == "Apache-2.0" && !strings.Contains(string(data), "Apache License\n                           Version 2.0") {
			p.addf("Metadata.AWS::ServerlessRepo::Application.LicenseUrl: %s is not the Apache-2.0 text", f)
		}
	}
	return p
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// checkLocalEnv: `sam local invoke` resolves !Ref and !GetAtt of the stack's
// resources to their logical IDs (QUEUE_URL=EventsQueue), so
// events/env.json (--env-vars) must give every such variable a real value.
func checkLocalEnv(t *Template) problems {
	var p problems
	data, err := os.ReadFile(filepath.Join(filepath.Dir(templatePath), "events", "env.json"))
	if err != nil {
		p.addf("events/env.json: %v", err)
		return p
	}
	var env map[string]map[string]string
	if err := json.Unmarshal(data, &env); err != nil {
		p.addf("events/env.json: not {\"Function\": {\"VAR\": \"value\"}}: %v", err)
		return p
	}
	for _, fn := range t.ResourcesOfType("AWS::Serverless::Function") {
		vars := t.FunctionEnv(fn)
		for _, name := range SortedKeys(vars) {
			if _, set := env[fn][name]; refersToResource(t, vars[name]) && !set {
				p.addf("events/env.json: %s.%s missing; sam local would pass the logical ID", fn, name)
			}
		}
		for name := range env[fn] {
			if _, ok := vars[name]; !ok {
				p.addf("events/env.json: %s.%s is not in the function's template environment", fn, name)
			}
		}
	}
	return p
}

// refersToResource reports whether v uses a resource of the template (a Ref,
// a GetAtt, or ${Id} in a Sub), not only parameters and pseudo parameters.
func refersToResource(t *Template, v any) bool {
	if fn, arg, ok := Intrinsic(v); ok {
		switch fn {
		case "Ref":
			_, isResource := t.Resources[fmt.Sprint(arg)]
			return isResource
		case "Fn::GetAtt":
			return true
		case "Fn::Sub":
			tmpl, vars, _ := SubParts(arg)
			for _, name := range SubVariables(tmpl) {
				if _, isResource := t.Resources[strings.SplitN(name, ".", 2)[0]]; isResource {
					return true
				}
			}
			for _, x := range vars {
				if refersToResource(t, x) {
					return true
				}
			}
			return false
		}
		return refersToResource(t, arg)
	}
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if refersToResource(t, e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if refersToResource(t, e) {
				return true
			}
		}
	}
	return false
}

// TestDeployAsksNothing: `make deploy` runs unattended and succeeds when
// nothing changed, as the README says, and samconfig.toml holds no setting
// that does nothing (`cached = true`: SAM never caches makefile builds).
func TestDeployAsksNothing(t *testing.T) {
	root := filepath.Dir(templatePath)
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(filepath.Join(root, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range checkDeploy(string(mk), string(cfg)) {
		t.Errorf("%s", s)
	}
	for _, bc := range []struct{ name, file, old, new, want string }{
		{"deploy asks to confirm", "Makefile", " --no-confirm-changeset", "", "--no-confirm-changeset"},
		{"deploy fails when nothing changed", "Makefile", " --no-fail-on-empty-changeset", "", "--no-fail-on-empty-changeset"},
		{"samconfig confirms", "samconfig.toml", "confirm_changeset = false", "confirm_changeset = true", "confirm_changeset = false"},
		{"samconfig caches nothing", "samconfig.toml", "parallel = true", "cached = true\nparallel = true", "cached = true"},
	} {
		t.Run(bc.name, func(t *testing.T) {
			m, c := string(mk), string(cfg)
			target := &m
			if bc.file == "samconfig.toml" {
				target = &c
			}
			if !strings.Contains(*target, bc.old) {
				t.Fatalf("%s no longer contains %q; update this case", bc.file, bc.old)
			}
			*target = strings.Replace(*target, bc.old, bc.new, 1)
			got := checkDeploy(m, c)
			if !strings.Contains(strings.Join(got, "\n"), bc.want) {
				t.Errorf("broken copy passed: want a problem naming %q, got %q", bc.want, got)
			}
		})
	}
}

func checkDeploy(makefile, samconfig string) []string {
	var p []string
	var recipe []string
	in := false
	for _, line := range strings.Split(makefile, "\n") {
		switch {
		case strings.HasPrefix(line, "deploy:"):
			in = true
		case in && strings.HasPrefix(line, "\t"):
			recipe = append(recipe, line)
		case in:
			in = false
		}
	}
	r := strings.Join(recipe, "\n")
	if !strings.Contains(r, "sam deploy") {
		p = append(p, "Makefile deploy: does not run sam deploy")
	}
	for _, flag := range []string{"--no-confirm-changeset", "--no-fail-on-empty-changeset"} {
		if !strings.Contains(r, flag) {
			p = append(p, "Makefile deploy: sam deploy without "+flag)
		}
	}
	settings := map[string]string{}
	for _, line := range strings.Split(samconfig, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(strings.TrimSpace(line), "#") {
			settings[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if settings["confirm_changeset"] != "false" {
		p = append(p, "samconfig.toml: want confirm_changeset = false, so plain sam deploy asks nothing")
	}
	if settings["fail_on_empty_changeset"] != "false" {
		p = append(p, "samconfig.toml: want fail_on_empty_changeset = false")
	}
	if _, ok := settings["cached"]; ok {
		p = append(p, "samconfig.toml: cached = true does nothing for makefile builds; remove it")
	}
	return p
}

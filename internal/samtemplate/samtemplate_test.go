package samtemplate

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
)

const mini = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Size:
    Type: Number
    Default: 7
  Names:
    Type: CommaDelimitedList
    Default: [a, b]
  NoDefault:
    Type: String
Conditions:
  Big: !Equals [!Ref Size, "7"]
  NotBig: !Not [!Condition Big]
Globals:
  Function:
    Timeout: 9
    Layers: [g]
    Environment:
      Variables:
        LOG_LEVEL: info
        SHARED: global
Resources:
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Layers: [l]
      Environment:
        Variables:
          SHARED: local
          Q: !Ref Queue
  Queue:
    Type: AWS::SQS::Queue
    Condition: Big
    DependsOn: Fn
    Properties:
      VisibilityTimeout: !Ref Size
      DelaySeconds: "3"
      MaximumMessageSize: 1.5
      Tags:
        - Key: all
          Value: !Join
            - ","
            - - !Select [0, !Split [",", !Sub "${AWS::Region},x"]]
              - !GetAtt Fn.Arn
              - !If [Big, !FindInMap [M, k, v], !Ref AWS::NoValue]
              - !Base64 {"Fn::Sub": "${!Literal}-${Fn.Arn}"}
              - !GetAZs ""
              - !ImportValue other-stack-export
              - !Cidr [10.0.0.0/16, 2, 8]
              - !And [!Condition Big, !Or [!Condition Big, !Condition NotBig]]
              - !Sub ["${Local}-${Queue}", {Local: !Ref Size}]
              - !GetAtt [Fn, SnapStartResponse.ApplyOn]
Outputs:
  Url:
    Condition: Big
    Value: !Sub "${Queue}/${Fn.Arn}"
`

func loadMini(t *testing.T) *Template {
	t.Helper()
	tpl, err := Parse([]byte(mini))
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func TestParseShortForms(t *testing.T) {
	tpl := loadMini(t)
	tags, _ := Lookup(tpl.Resources["Queue"].Properties, "Tags")
	join := tags.([]any)[0].(map[string]any)["Value"]
	want := map[string]any{"Fn::Join": []any{",", []any{
		map[string]any{"Fn::Select": []any{0, map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::Sub": "${AWS::Region},x"}}}}},
		map[string]any{"Fn::GetAtt": []any{"Fn", "Arn"}},
		map[string]any{"Fn::If": []any{"Big", map[string]any{"Fn::FindInMap": []any{"M", "k", "v"}}, map[string]any{"Ref": "AWS::NoValue"}}},
		map[string]any{"Fn::Base64": map[string]any{"Fn::Sub": "${!Literal}-${Fn.Arn}"}},
		map[string]any{"Fn::GetAZs": ""},
		map[string]any{"Fn::ImportValue": "other-stack-export"},
		map[string]any{"Fn::Cidr": []any{"10.0.0.0/16", 2, 8}},
		map[string]any{"Fn::And": []any{map[string]any{"Condition": "Big"}, map[string]any{"Fn::Or": []any{
			map[string]any{"Condition": "Big"}, map[string]any{"Condition": "NotBig"}}}}},
		map[string]any{"Fn::Sub": []any{"${Local}-${Queue}", map[string]any{"Local": map[string]any{"Ref": "Size"}}}},
		map[string]any{"Fn::GetAtt": []any{"Fn", "SnapStartResponse.ApplyOn"}},
	}}}
	if !reflect.DeepEqual(join, want) {
		t.Errorf("got  %#v\nwant %#v", join, want)
	}
	if c := tpl.Conditions["NotBig"]; !reflect.DeepEqual(c, map[string]any{"Fn::Not": []any{map[string]any{"Condition": "Big"}}}) {
		t.Errorf("NotBig = %#v", c)
	}
	q := tpl.Resources["Queue"]
	if q.Condition != "Big" || !reflect.DeepEqual(q.DependsOn, []string{"Fn"}) || q.Type != "AWS::SQS::Queue" {
		t.Errorf("Queue = %+v", q)
	}
	if !reflect.DeepEqual(tpl.Transform, []string{"AWS::Serverless-2016-10-31"}) {
		t.Errorf("Transform = %v", tpl.Transform)
	}
}

func TestFunctionPropertiesAndEnv(t *testing.T) {
	tpl := loadMini(t)
	env := tpl.FunctionEnv("Fn")
	want := map[string]any{"LOG_LEVEL": "info", "SHARED": "local", "Q": map[string]any{"Ref": "Queue"}}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("FunctionEnv = %v, want %v", env, want)
	}
	p := tpl.FunctionProperties("Fn")
	if !reflect.DeepEqual(p["Layers"], []any{"g", "l"}) { // SAM concatenates lists
		t.Errorf("Layers = %v", p["Layers"])
	}
	p["Layers"] = nil // a copy: the template must not change
	if tpl.FunctionProperties("Fn")["Layers"] == nil || tpl.Globals["Function"].(map[string]any)["Layers"] == nil {
		t.Error("FunctionProperties leaked into the template")
	}
	r := tpl.Resources["Fn"]
	r.Attributes["IgnoreGlobals"] = []any{"Layers"}
	if got := tpl.FunctionProperties("Fn")["Layers"]; !reflect.DeepEqual(got, []any{"l"}) {
		t.Errorf("Layers with IgnoreGlobals = %v", got)
	}
	r.Attributes["IgnoreGlobals"] = "*"
	if _, ok := tpl.FunctionProperties("Fn")["Timeout"]; ok {
		t.Error(`IgnoreGlobals "*" kept Globals`)
	}
	delete(r.Attributes, "IgnoreGlobals")
	if tpl.FunctionEnv("Queue") != nil {
		t.Error("FunctionEnv of a queue should be nil")
	}
	if n, err := tpl.FunctionTimeout("Fn"); err != nil || n != 9 {
		t.Errorf("Timeout from Globals = %d, %v", n, err)
	}
	delete(tpl.Globals["Function"].(map[string]any), "Timeout")
	if n, err := tpl.FunctionTimeout("Fn"); err != nil || n != 3 {
		t.Errorf("default Timeout = %d, %v; want Lambda's 3", n, err)
	}
}

func TestParametersAndInts(t *testing.T) {
	tpl := loadMini(t)
	for name, want := range map[string]string{"Size": "7", "Names": "a,b"} {
		if got, ok := tpl.ParameterDefault(name); !ok || got != want {
			t.Errorf("ParameterDefault(%s) = %q, %v", name, got, ok)
		}
	}
	if _, ok := tpl.ParameterDefault("NoDefault"); ok {
		t.Error("NoDefault has a default")
	}
	if n, err := tpl.IntProp("Queue", "VisibilityTimeout"); err != nil || n != 7 {
		t.Errorf("VisibilityTimeout = %d, %v", n, err)
	}
	if n, err := tpl.IntProp("Queue", "DelaySeconds"); err != nil || n != 3 {
		t.Errorf("DelaySeconds = %d, %v", n, err)
	}
	if _, err := tpl.IntProp("Queue", "MaximumMessageSize"); err == nil {
		t.Error("1.5 accepted as an int")
	}
	if _, err := tpl.IntProp("Queue", "MessageRetentionPeriod"); !errors.Is(err, ErrNotSet) {
		t.Errorf("absent property: %v, want ErrNotSet", err)
	}
	if _, err := tpl.Int(map[string]any{"Ref": "NoDefault"}); err == nil {
		t.Error("Ref to a parameter without Default resolved")
	}
}

func TestRefs(t *testing.T) {
	tpl := loadMini(t)
	type key struct {
		kind         RefKind
		target, attr string
		from, guards string
	}
	var got []key
	for _, r := range tpl.Refs() {
		got = append(got, key{r.Kind, r.Target, r.Attr, r.From, strings.Join(r.Guards, ",")})
	}
	has := func(k key) bool {
		for _, g := range got {
			if g == k {
				return true
			}
		}
		return false
	}
	for _, k := range []key{
		{kind: KindRef, target: "Size"},                                      // in Conditions
		{kind: KindCondition, target: "Big"},                                 // !Condition in Conditions
		{kind: KindRef, target: "Queue", from: "Fn"},                         // env var
		{kind: KindSub, target: "AWS::Region", from: "Queue", guards: "Big"}, // ${AWS::Region}
		{kind: KindGetAtt, target: "Fn", attr: "Arn", from: "Queue", guards: "Big"},
		{kind: KindRef, target: "AWS::NoValue", from: "Queue", guards: "Big,!Big"},
		{kind: KindSub, target: "Fn", attr: "Arn", from: "Queue", guards: "Big"}, // ${Fn.Arn}
		{kind: KindSub, target: "Queue", from: "Queue", guards: "Big"},           // ${Queue} next to a local
		{kind: KindRef, target: "Size", from: "Queue", guards: "Big"},            // the local's value
		{kind: KindDependsOn, target: "Fn", from: "Queue", guards: "Big"},
		{kind: KindSub, target: "Queue", guards: "Big"}, // output under Condition
		{kind: KindGetAtt, target: "Fn", attr: "SnapStartResponse.ApplyOn", from: "Queue", guards: "Big"},
	} {
		if !has(k) {
			t.Errorf("missing %+v", k)
		}
	}
	for _, g := range got {
		if g.target == "Local" || g.target == "!Literal" || g.target == "Literal" {
			t.Errorf("Sub local/escape reported as a reference: %+v", g)
		}
	}
	// The real template's receiver queue URL, with its path.
	realTpl, err := Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range realTpl.Refs() {
		if r.Path == "Resources.ReceiverFunction.Properties.Environment.Variables.QUEUE_URL.Ref" && r.Target == "EventsQueue" && r.From == "ReceiverFunction" {
			found = true
		}
	}
	if !found {
		t.Error("QUEUE_URL reference of ReceiverFunction not listed")
	}
}

func TestResolveString(t *testing.T) {
	tpl := loadMini(t)
	lookup := func(name, attr string) (string, error) {
		switch joinAttr(name, attr) {
		case "Queue":
			return "http://localhost:4566/000000000000/q", nil
		case "Fn.Arn":
			return "arn:fn", nil
		case "AWS::Region":
			return "us-east-1", nil
		}
		return "", errors.New("unknown " + joinAttr(name, attr))
	}
	for _, c := range []struct {
		in   any
		want string
	}{
		{map[string]any{"Ref": "Queue"}, "http://localhost:4566/000000000000/q"},
		{map[string]any{"Ref": "Size"}, "7"},
		{map[string]any{"Fn::Sub": "${!Literal}-${Fn.Arn}-${AWS::Region}"}, "${Literal}-arn:fn-us-east-1"},
		{map[string]any{"Fn::Sub": []any{"${Local}/${Queue}", map[string]any{"Local": map[string]any{"Ref": "Size"}}}}, "7/http://localhost:4566/000000000000/q"},
		{map[string]any{"Fn::Join": []any{":", []any{"a", 1, map[string]any{"Fn::GetAtt": []any{"Fn", "Arn"}}}}}, "a:1:arn:fn"},
		{42, "42"},
	} {
		got, err := tpl.ResolveString(c.in, lookup)
		if err != nil || got != c.want {
			t.Errorf("ResolveString(%v) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := tpl.ResolveString(map[string]any{"Ref": "Other"}, lookup); err == nil {
		t.Error("unknown reference resolved")
	}
	if _, err := tpl.ResolveString(map[string]any{"Ref": "Queue"}, nil); err == nil {
		t.Error("resource resolved without a resolver")
	}
	if _, err := tpl.ResolveString(map[string]any{"Fn::If": []any{"Big", "a", "b"}}, lookup); err == nil {
		t.Error("Fn::If resolved")
	}
}

func TestLoadRealTemplate(t *testing.T) {
	tpl, err := Load(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	if got := tpl.ResourcesOfType(TypeFunction); !reflect.DeepEqual(got, []string{"ReceiverFunction", "ReconcilerFunction", "StreamerFunction", "WorkerFunction"}) {
		t.Errorf("functions = %v", got)
	}
	env := tpl.FunctionEnv("ReceiverFunction")
	for _, k := range []string{"QUEUE_URL", "SECRET_ID", "AUTH_HEADER", "ALLOWED_SOURCE_CIDRS", "MAX_BODY_BYTES", "LOG_LEVEL"} {
		if _, ok := env[k]; !ok {
			t.Errorf("receiver env lacks %s", k)
		}
	}
	if _, err := Load("does-not-exist.yaml"); err == nil {
		t.Error("missing file loaded")
	}
}

func TestLoadRejectsWhatCloudFormationRejects(t *testing.T) {
	data, err := os.ReadFile(templatePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"unknown tag", "!Ref HookSecret # the", "!Reff HookSecret # the", "unknown tag !Reff"},
		{"duplicate key", "      Timeout: 30\n", "      Timeout: 30\n      Timeout: 31\n", `duplicate key "Timeout"`},
		{"alias", "    MemorySize: 256", "    MemorySize: &mem 256\n    Description: *mem", "aliases"},
		{"GetAtt without attribute", "!GetAtt EventsDLQ.Arn", "!GetAtt EventsDLQ", "is not Resource.Attribute"},
		{"unknown section", "Outputs:", "Output:", `unknown top-level section "Output"`},
		{"unknown resource attribute", "    Condition: AccessLogsEnabled\n", "    Conditon: AccessLogsEnabled\n", `unknown resource attribute "Conditon"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(string(data), c.old) {
				t.Fatalf("template.yaml no longer contains %q", c.old)
			}
			_, err := Parse([]byte(strings.Replace(string(data), c.old, c.new, 1)))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

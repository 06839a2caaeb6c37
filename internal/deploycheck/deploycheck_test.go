package deploycheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/samtemplate"
)

// Binaries built from testdata/hello: each differs from a Lambda artifact in
// the ways its case names, and must be rejected for those.
func TestArtifactProblems(t *testing.T) {
	if testing.Short() {
		t.Skip("builds binaries; skipped with -short")
	}
	const main = "github.com/hookline/hookline/internal/deploycheck/testdata/hello"
	lambda := []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=arm64"}
	lambdaFlags := []string{"-tags", "lambda.norpc", "-trimpath", "-buildvcs=false"}
	host := []string{"want lambda.norpc", `-trimpath=""`, "want stripped"}
	if runtime.GOARCH != "arm64" {
		host = append(host, "want EM_AARCH64", `GOARCH="`+runtime.GOARCH+`"`)
	}
	for _, c := range []struct {
		name string
		env  []string
		args []string
		want []string // every one must be reported
		only bool     // and nothing else
	}{
		{"as the Makefile builds it", lambda, append(lambdaFlags, "-ldflags", "-s -w"), nil, true},
		{"not stripped", lambda, lambdaFlags, []string{"want stripped"}, true},
		{"dynamically linked", lambda, append(lambdaFlags, "-buildmode=pie", "-ldflags", "-s -w"), []string{"want a static binary"}, true},
		{"as go build makes it for this machine", nil, nil, host, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin := filepath.Join(t.TempDir(), "bootstrap")
			cmd := exec.Command("go", append(append([]string{"build", "-o", bin}, c.args...), "./testdata/hello")...)
			cmd.Env = append(os.Environ(), c.env...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("go build: %v\n%s", err, out)
			}
			got := ArtifactProblems(bin, main)
			for _, w := range c.want {
				if !strings.Contains(strings.Join(got, "\n"), w) {
					t.Errorf("problems %q do not mention %q", got, w)
				}
			}
			if c.only && len(got) != len(c.want) {
				t.Errorf("problems %q, want only %q", got, c.want)
			}
			if p := ArtifactProblems(bin, main+"x"); !slices.ContainsFunc(p, func(s string) bool { return strings.Contains(s, "main package") }) {
				t.Errorf("another main package passed: %q", p)
			}
		})
	}
	t.Run("stamped with the checkout's commit", func(t *testing.T) {
		// A git clone (not a worktree: Go stamps only a .git directory), as
		// a user's checkout is; sam build's copy of it has no .git.
		dir := t.TempDir()
		for _, f := range [][2]string{{"go.mod", "module example.com/hello\n\ngo 1.26\n"}, {"main.go", "package main\n\nfunc main() {}\n"}} {
			if err := os.WriteFile(filepath.Join(dir, f[0]), []byte(f[1]), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		bin := filepath.Join(dir, "bootstrap")
		for _, c := range [][]string{{"git", "init", "-q"}, {"git", "add", "."}, {"git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "x"},
			append(append([]string{"go", "build", "-o", bin}, lambdaFlags[:len(lambdaFlags)-1]...), "-buildvcs=true", "-ldflags", "-s -w", ".")} {
			cmd := exec.Command(c[0], c[1:]...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), lambda...)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v: %v\n%s", c, err, out)
			}
		}
		if got := ArtifactProblems(bin, "example.com/hello"); len(got) != 1 || !strings.Contains(got[0], "want -buildvcs=false") {
			t.Errorf("problems %q, want only the version control stamp", got)
		}
	})
	if p := ArtifactProblems(os.DevNull, "x"); len(p) != 1 || !strings.Contains(p[0], "not an ELF") {
		t.Errorf("empty file: %q", p)
	}
}

func TestLinkedServices(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list; skipped with -short")
	}
	got, err := LinkedServices(Root(t), "./internal/ledger")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "dynamodb" {
		t.Errorf("internal/ledger links %v, want [dynamodb]", got)
	}
}

const miniTemplate = `
Transform: AWS::Serverless-2016-10-31
Parameters:
  Retention:
    Type: String
    Default: 120d
  Credentials:
    Type: String
    Default: ""
Conditions:
  HasCredentials: !Not [!Equals [!Ref Credentials, ""]]
  On: !And [!Condition HasCredentials, !Equals [!Ref Retention, 120d]]
Globals:
  Function:
    Environment:
      Variables:
        LOG_LEVEL: info
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Environment:
        Variables:
          QUEUE_URL: !Ref Queue
          RETENTION: !Sub "${Retention}"
  Conditional:
    Type: AWS::Serverless::Function
    Condition: On
    Properties:
      Environment:
        Variables:
          QUEUE_URL: !Ref Credentials
          RETENTION: !Ref Retention
`

// miniLoad reads like the functions' loaders: one required variable, the
// rest optional with defaults.
func miniLoad(getenv func(string) string) error {
	env := config.Env{Getenv: getenv}
	env.Optional("LOG_LEVEL", "info")
	env.Required("QUEUE_URL")
	env.Duration("RETENTION", time.Hour)
	env.Optional("NOT_IN_THE_TEMPLATE", "")
	return env.Err()
}

func TestEnvProblems(t *testing.T) {
	for _, c := range []struct {
		name, old, new string
		id             string
		want           string // "" : no problem
	}{
		{name: "intact", id: "Fn"},
		{name: "required variable not set", old: "          QUEUE_URL: !Ref Queue\n", new: "", id: "Fn",
			want: "fails to start: configuration: QUEUE_URL is required"},
		{name: "required variable blank", old: "QUEUE_URL: !Ref Queue", new: `QUEUE_URL: " "`, id: "Fn",
			want: "QUEUE_URL is required"},
		{name: "misspelt variable", old: "RETENTION:", new: "RETENTON:", id: "Fn",
			want: "template sets RETENTON, which the function never reads"},
		{name: "value the function cannot parse", old: `!Sub "${Retention}"`, new: "soon", id: "Fn",
			want: `RETENTION="soon"`},
		{name: "value that is no string", old: "!Ref Queue", new: "{Name: q}", id: "Fn",
			want: "does not resolve to a string"},
		{name: "not a function", id: "Queue", want: "Queue is not a function"},
		// Conditional exists only when Credentials is set, so its required
		// QUEUE_URL from that parameter is not blank when it deploys.
		{name: "a parameter its condition tests", id: "Conditional"},
		{name: "a parameter its condition does not test", old: "QUEUE_URL: !Ref Credentials", new: `QUEUE_URL: ""`, id: "Conditional",
			want: "QUEUE_URL is required"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tpl, err := samtemplate.Parse([]byte(strings.Replace(miniTemplate, c.old, c.new, 1)))
			if err != nil {
				t.Fatal(err)
			}
			got := EnvProblems(tpl, c.id, miniLoad)
			if c.want == "" {
				if len(got) > 0 {
					t.Errorf("problems %q, want none", got)
				}
				return
			}
			if !strings.Contains(strings.Join(got, "\n"), c.want) {
				t.Errorf("problems %q, want one containing %q", got, c.want)
			}
		})
	}
}

func TestReadmeProblems(t *testing.T) {
	tpl, err := samtemplate.Parse([]byte(miniTemplate))
	if err != nil {
		t.Fatal(err)
	}
	readme := "## Configuration\n\n" + ReadmeNotSet + " (defaults apply): `NOT_IN_THE_TEMPLATE`.\n" +
		ReadmeFixed + ": `LOG_LEVEL` = `info`. A test checks.\n"
	if p := ReadmeProblems(readme, tpl, "Fn", miniLoad); len(p) > 0 {
		t.Fatalf("problems %q, want none", p)
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"a variable read but not listed", "`NOT_IN_THE_TEMPLATE`", "`SOMETHING_ELSE`", "reads NOT_IN_THE_TEMPLATE, which template.yaml does not set"},
		{"a fixed value not listed", "`LOG_LEVEL` = `info`", "nothing", `fixes Fn's LOG_LEVEL = "info"`},
		{"a fixed value listed wrong", "`LOG_LEVEL` = `info`", "`LOG_LEVEL` = `debug`", `README's **Fixed in ` + "`template.yaml`" + `** says "debug"`},
	} {
		got := strings.Join(ReadmeProblems(strings.Replace(readme, c.old, c.new, 1), tpl, "Fn", miniLoad), "\n")
		if !strings.Contains(got, c.want) {
			t.Errorf("%s: problems %q, want one containing %q", c.name, got, c.want)
		}
	}
}

// A stray `go build ./functions/worker/` (or of any command in the repo)
// leaves its binary in the repository root: .gitignore covers it, so it is
// never committed by accident.
func TestStrayBuildInTheRootIsIgnored(t *testing.T) {
	root := Root(t)
	cmd := exec.Command("go", "list", "-f", "{{if eq .Name \"main\"}}{{.Dir}}{{end}}", "./functions/...", "./infra/hookline/...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var names []string
	for _, dir := range strings.Fields(string(out)) {
		names = append(names, filepath.Base(dir))
	}
	if len(names) < 4 {
		t.Fatalf("found only the commands %q", names)
	}
	for _, name := range names {
		check := exec.Command("git", "check-ignore", "-q", "--no-index", name)
		check.Dir = root
		if err := check.Run(); err != nil {
			t.Errorf("go build ./…/%s/ leaves ./%s in the root, which .gitignore does not cover", name, name)
		}
	}
}

func TestLogFieldProblems(t *testing.T) {
	readme := "### Log fields\n\n| field | on lines (`msg`) | meaning |\n|---|---|---|\n" +
		"| `handler`, `receiveCount` | `duplicate skipped` (worker) | x |\n" +
		"| `reason` | `parked in the DLQ`, `malformed message` | y |\n" +
		"| `eventUuid`, yours | a handler's own lines (`handlers.Logger(ctx)`) | z |\n\n### Next\n"
	table, err := LogFieldTable(readme)
	if err != nil {
		t.Fatal(err)
	}
	if len(table) != 3 || !slices.Equal(table["malformed message"], []string{"reason"}) {
		t.Fatalf("table %v", table)
	}
	lines := [][]byte{
		[]byte(`{"time":"t","level":"INFO","msg":"duplicate skipped","handler":"h","receiveCount":2,"awsRequestId":"r"}`),
		[]byte(`{"time":"t","level":"WARN","msg":"malformed message","reason":"x","messageId":"m"}`),
		[]byte(`{"time":"t","level":"INFO","msg":"batch handled","records":1}`),
		[]byte(`{"msg":"metrics","_aws":{}}`),
		[]byte(`{"type":"platform.report","record":{}}`),
		[]byte(`not json`),
	}
	got := LogFieldProblems(table, lines, nil)
	want := []string{`"batch handled" is logged, but the README's log-field table has no row for it`,
		`"malformed message" is logged with messageId, which the README's log-field table does not list for it`}
	if !slices.Equal(got, want) {
		t.Fatalf("problems:\n%q\nwant\n%q", got, want)
	}
}

// TestNoFunctionLinksTheStandInOrTestSupport: the stand-in Okta org ships in
// the hookline CLI for make dev, and the *test packages are test support:
// neither may reach a Lambda binary.
func TestNoFunctionLinksTheStandInOrTestSupport(t *testing.T) {
	root := Root(t)
	mod := "github.com/hookline/hookline/"
	for _, fn := range []string{"receiver", "worker", "reconciler", "streamer"} {
		deps, err := LinkedPackages(root, "./functions/"+fn)
		if err != nil {
			t.Fatal(err)
		}
		if len(deps) == 0 {
			t.Fatalf("functions/%s links no package", fn)
		}
		for _, d := range deps {
			local, ok := strings.CutPrefix(d, mod)
			if ok && (local == "internal/standin" || strings.HasSuffix(local, "test") || strings.Contains(local, "test/")) {
				t.Errorf("functions/%s links %s", fn, d)
			}
		}
	}
}

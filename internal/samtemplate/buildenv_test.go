package samtemplate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// goodMakefile has the shape the Makefile owner agreed on (plan.md).
const goodMakefile = `GO ?= go
# Lambda: linux/arm64, static, no net/rpc runtime.
LAMBDA_BUILD := CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -tags lambda.norpc -trimpath -ldflags '-s -w'

.PHONY: build-ReceiverFunction build-WorkerFunction build-ReconcilerFunction

build-ReceiverFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/receiver

build-WorkerFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/worker

build-ReconcilerFunction:
	$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/reconciler
`

// otherGoodMakefile is written differently but builds the same thing.
const otherGoodMakefile = `export CGO_ENABLED := 0
export GOOS := linux
export GOARCH := arm64
FLAGS = -tags=lambda.norpc,netgo -trimpath -ldflags="-s -w"
build-ReceiverFunction: ; go build $(FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/receiver
build-ReconcilerFunction: ; go build $(FLAGS) -o $(ARTIFACTS_DIR)/bootstrap ./functions/reconciler
build-WorkerFunction: worker-bin
worker-bin:
	@mkdir -p $(ARTIFACTS_DIR) && \
	  env CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -tags lambda.norpc -trimpath -ldflags '-s -w' \
	    -o ${ARTIFACTS_DIR}/bootstrap ./functions/worker/
`

func TestCheckMakefile(t *testing.T) {
	tpl, err := Load(realTemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(t *testing.T, text string) problems {
		t.Helper()
		// Read back from disk, as the real test reads the repo's Makefile.
		path := filepath.Join(dir, "Makefile")
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return checkMakefile(tpl, string(data), functionDirs)
	}
	for name, text := range map[string]string{"agreed": goodMakefile, "other": otherGoodMakefile} {
		t.Run("accepts "+name, func(t *testing.T) { report(t, run(t, text)) })
	}
	for _, c := range []struct{ name, old, new, want string }{
		{"missing target", "build-WorkerFunction:\n", "build-Worker:\n", "build-WorkerFunction: no such target"},
		{"amd64", "GOARCH=arm64", "GOARCH=amd64", `GOARCH="amd64", want GOARCH=arm64`},
		{"cgo", "CGO_ENABLED=0", "CGO_ENABLED=1", `CGO_ENABLED="1"`},
		{"no GOOS", "GOOS=linux ", "", `GOOS=""`},
		{"no trimpath", " -trimpath", "", "-trimpath missing"},
		{"no -w", "'-s -w'", "'-s'", "-ldflags \"-s\""},
		{"no norpc", "-tags lambda.norpc", "-tags netgo", "lacks lambda.norpc"},
		{"wrong output", "$(ARTIFACTS_DIR)/bootstrap ./functions/receiver", "$(ARTIFACTS_DIR)/receiver ./functions/receiver", "want $(ARTIFACTS_DIR)/bootstrap"},
		{"output outside artifacts", "$(ARTIFACTS_DIR)/bootstrap ./functions/worker", "bin/bootstrap ./functions/worker", `-o "bin/bootstrap"`},
		{"builds the other function", "./functions/receiver", "./functions/worker", `build-ReceiverFunction: builds ["./functions/worker"]`},
		{"undefined variable", "\t$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/worker", "\t$(LAMBDA_BUIL) -o $(ARTIFACTS_DIR)/bootstrap ./functions/worker", "$(LAMBDA_BUIL) is not defined"},
		{"no go build", "\t$(LAMBDA_BUILD) -o $(ARTIFACTS_DIR)/bootstrap ./functions/worker", "\tcp prebuilt/worker $(ARTIFACTS_DIR)/bootstrap", "found 0"},
	} {
		t.Run("rejects "+c.name, func(t *testing.T) {
			if !strings.Contains(goodMakefile, c.old) {
				t.Fatalf("goodMakefile lacks %q", c.old)
			}
			p := run(t, strings.Replace(goodMakefile, c.old, c.new, 1))
			for _, s := range p {
				if strings.Contains(s, c.want) {
					return
				}
			}
			t.Errorf("want a problem containing %q, got %q", c.want, p)
		})
	}
}

func TestShellWordsAndExpand(t *testing.T) {
	got := shellWords(`A=1 go build -ldflags '-s -w' -o "$(ARTIFACTS_DIR)/boot strap" ./x&&echo a\ b; true`)
	want := []string{"A=1", "go", "build", "-ldflags", "-s -w", "-o", "$(ARTIFACTS_DIR)/boot strap", "./x", "&&", "echo", "a b", ";", "true"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("shellWords = %q, want %q", got, want)
	}
	m := parseMakefile("A = $(B) x\nB := y\nB += z\nC ?= c\nC ?= d\n")
	undefined := map[string]bool{}
	if got := m.expand("$(A) ${C} $(ARTIFACTS_DIR) $(NOPE) $$HOME", undefined); got != "y z x c $(ARTIFACTS_DIR)  $HOME" {
		t.Errorf("expand = %q", got)
	}
	if !undefined["NOPE"] || len(undefined) != 1 {
		t.Errorf("undefined = %v", undefined)
	}
}

// writeModule lays out a miniature copy of the repository's Go code.
func writeModule(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	files["go.mod"] = "module github.com/hookline/hookline\n\ngo 1.26.8\n"
	files["internal/config/config.go"] = `package config

import (
	"os"
	"time"
)

type Env struct{ errs []error }

func (e *Env) Required(name string) string { return os.Getenv(name) }
func (e *Env) Optional(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}
func (e *Env) Bytes(name string, def int) int                          { return def }
func (e *Env) Duration(name string, def time.Duration) time.Duration { return def }
func (e *Env) Count(name string, def int) int                          { return def }
`
	for name, text := range files {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// receiverMain reads like the real functions/receiver/main.go.
const receiverMain = `package main

import (
	"github.com/hookline/hookline/internal/config"
	"github.com/hookline/hookline/internal/receiver"
)

const envSecret = "SECRET_ID"

func main() {
	var env config.Env
	queueURL := env.Required("QUEUE_URL")
	secretID := env.Required(envSecret)
	receiver.Run(&env, queueURL, secretID)
}
`

// receiverPkg reads more variables through a parameter and a struct field.
const receiverPkg = `package receiver

import (
	"os"
	"time"

	cfg "github.com/hookline/hookline/internal/config"
)

type settings struct{ env *cfg.Env }

func (s settings) header() string { return s.env.Optional("AUTH_HEADER", "Authorization") }

func Run(e *cfg.Env, queue, secret string) {
	_ = settings{env: e}.header()
	_ = e.Bytes("MAX_BODY_BYTES", 1<<20)
	_ = e.Duration("SECRET_CACHE_TTL", 5*time.Minute)
	_ = os.Getenv("ALLOWED_SOURCE_CIDRS")
	_ = e.Optional("LOG_LEVEL", "info")
	_ = e.Optional("METRICS_NAMESPACE", "Hookline")
	_ = e.Optional("STACK_NAME", "local")
	_ = e.Optional("LEDGER_TABLE", "")
	_ = e.Duration("LEDGER_RETENTION", 0)
}
`

func TestCheckEnv(t *testing.T) {
	base := map[string]string{
		"functions/receiver/main.go":       receiverMain,
		"internal/receiver/receiver.go":    receiverPkg,
		"internal/receiver/helper_test.go": "package receiver\n\nimport \"github.com/hookline/hookline/internal/config\"\n\nvar _ = new(config.Env).Required(\"TEST_ONLY\")\n",
		"functions/worker/main.go": `package main

import "github.com/hookline/hookline/internal/config"

func main() {
	env := &config.Env{}
	_ = env.Required("QUEUE_URL")
	_ = env.Optional("DLQ_URL", "")
	_ = env.Optional("LEDGER_TABLE", "")
	_ = env.Duration("LEDGER_RETENTION", 0)
	_ = env.Optional("METRICS_NAMESPACE", "Hookline")
	_ = env.Optional("STACK_NAME", "local")
	_ = env.Count("MAX_RECEIVE_COUNT", 0)
	_ = env.Optional("EVENT_LOG_FIELDS", "all")
}
`,
	}
	clone := func(edits map[string]string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for k, v := range edits {
			m[k] = v
		}
		return m
	}
	tplData, err := os.ReadFile(realTemplatePath(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{receiverID, workerID} {
		t.Run("accepts "+id, func(t *testing.T) {
			root := writeModule(t, clone(nil))
			tpl, err := Parse(tplData)
			if err != nil {
				t.Fatal(err)
			}
			env, err := scanCodeEnv(root, functionDirs[id])
			if err != nil {
				t.Fatal(err)
			}
			report(t, checkEnv(tpl, id, env))
		})
	}
	for _, c := range []struct {
		name     string
		fn       string
		code     map[string]string
		old, new string // template text edit
		want     string
	}{
		{name: "required var missing from template (found via an imported package)", fn: receiverID,
			code: map[string]string{"internal/receiver/receiver.go": strings.Replace(receiverPkg,
				`_ = os.Getenv("ALLOWED_SOURCE_CIDRS")`, `_ = os.Getenv("ALLOWED_SOURCE_CIDRS"); _ = e.Required("PUBLISH_QUEUE")`, 1)},
			want: "code requires PUBLISH_QUEUE (internal/receiver/receiver.go:"},
		{name: "template var typo", fn: receiverID, old: "AUTH_HEADER: Authorization", new: "AUTH_HEADR: Authorization",
			want: "template sets AUTH_HEADR but no code"},
		{name: "template var for the other function", fn: workerID, old: "QUEUE_URL: !Ref EventsQueue # for", new: "SECRET_ID: !Ref HookSecret\n          QUEUE_URL: !Ref EventsQueue # for",
			want: "WorkerFunction: template sets SECRET_ID"},
		{name: "required var set to empty", fn: workerID, old: "QUEUE_URL: !Ref EventsQueue # for", new: `QUEUE_URL: "" # for`,
			want: `requires QUEUE_URL (functions/worker/main.go:7) but the template sets it to ""`},
		{name: "required var from a parameter defaulting to empty", fn: receiverID,
			code: map[string]string{"internal/receiver/receiver.go": strings.Replace(receiverPkg, `os.Getenv("ALLOWED_SOURCE_CIDRS")`, `e.Required("ALLOWED_SOURCE_CIDRS")`, 1)},
			want: `requires ALLOWED_SOURCE_CIDRS (internal/receiver/receiver.go:18) but the template sets it to ""`},
		{name: "name not static", fn: workerID,
			code: map[string]string{"functions/worker/main.go": "package main\n\nimport \"github.com/hookline/hookline/internal/config\"\n\nfunc main() {\n\tvar env config.Env\n\tn := \"QUEUE_URL\"\n\t_ = env.Required(n)\n}\n"},
			want: "env.Required argument is not a string literal or constant"},
		{name: "package-level config function", fn: workerID,
			code: map[string]string{"functions/worker/main.go": "package main\n\nimport \"github.com/hookline/hookline/internal/config\"\n\nfunc main() { _ = config.RequiredString(\"LEDGER_SHARD\") }\n"},
			want: "code requires LEDGER_SHARD"},
		{name: "required var dropped from the template", fn: workerID, old: "QUEUE_URL: !Ref EventsQueue # for", new: "OTHER: x # for",
			want: "code requires QUEUE_URL"},
	} {
		t.Run("rejects "+c.name, func(t *testing.T) {
			root := writeModule(t, clone(c.code))
			text := string(tplData)
			if c.old != "" {
				if !strings.Contains(text, c.old) {
					t.Fatalf("template.yaml no longer contains %q", c.old)
				}
				text = strings.Replace(text, c.old, c.new, 1)
			}
			tpl, err := Parse([]byte(text))
			if err != nil {
				t.Fatal(err)
			}
			env, err := scanCodeEnv(root, functionDirs[c.fn])
			if err != nil {
				t.Fatal(err)
			}
			p := checkEnv(tpl, c.fn, env)
			for _, s := range p {
				if strings.Contains(s, c.want) {
					return
				}
			}
			t.Errorf("want a problem containing %q, got %q", c.want, p)
		})
	}
	t.Run("rejects a function without code", func(t *testing.T) {
		root := writeModule(t, map[string]string{"functions/worker/README": "todo"})
		if _, err := scanCodeEnv(root, "functions/worker"); err == nil || !strings.Contains(err.Error(), "no Go files") {
			t.Errorf("got %v, want a no Go files error", err)
		}
	})
}

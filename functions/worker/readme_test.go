package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// exampleRunTest is added (by overlay) beside the README's handlers.go: it
// registers the README's handlers with an Okta client for a stand-in org
// (standin: DELETE /api/v1/users/{id}/sessions answers 204 and records a
// user.session.clear event, as Okta does) and runs revoke-sessions on the
// user.lifecycle.deactivate sample.
const exampleRunTest = `package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	"github.com/hookline/hookline/internal/handlers"
	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/standin"
)

func TestReadmeExampleRuns(t *testing.T) {
	org := standin.Start(t.Cleanup)
	org.SetAPIToken("tok")
	client, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "tok"}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	reg := &handlers.Registry{}
	register(reg, handlers.Services{Log: slog.New(slog.DiscardHandler), Okta: client})
	raw, err := os.ReadFile("../../events/okta/user.lifecycle.deactivate.json")
	if err != nil {
		t.Fatal(err)
	}
	routes := reg.Match("user.lifecycle.deactivate")
	if len(routes) != 1 || routes[0].Name != "revoke-sessions" {
		t.Fatalf("routes %+v", routes)
	}
	if err := routes[0].Handler(context.Background(), handlers.Event{UUID: "u", Type: "user.lifecycle.deactivate", Raw: raw}); err != nil {
		t.Fatal(err)
	}
	evs := org.Events()
	var got struct {
		EventType string
		Target    []struct{ ID string }
	}
	if len(evs) == 1 {
		_ = json.Unmarshal(evs[0], &got)
	}
	if got.EventType != "user.session.clear" || len(got.Target) != 1 || got.Target[0].ID != "00u9zx8c7v6b5n4m3l2k" {
		t.Fatalf("Okta recorded %s, want the sessions of 00u9zx8c7v6b5n4m3l2k cleared", evs)
	}
}
`

// TestReadmeHandlerExample builds the worker with the README's handler
// example as its handlers.go and the README's test of it as a test file, and
// runs both: the example compiles and calls Okta as it says, and its test
// (on handlertest) passes.
func TestReadmeHandlerExample(t *testing.T) {
	if os.Getenv("HOOKLINE_README_EXAMPLE") != "" {
		return // the inner run, with the example in place
	}
	if testing.Short() {
		t.Skip("builds the worker")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "## Write a handler")
	section, _, _ = strings.Cut(section, "\n## ")
	var blocks []string
	for rest := section; ; {
		var block string
		var ok bool
		if _, rest, ok = strings.Cut(rest, "```go\n"); !ok {
			break
		}
		block, rest, _ = strings.Cut(rest, "```")
		blocks = append(blocks, block)
	}
	if len(blocks) < 2 || !strings.HasPrefix(blocks[0], "package main") || !strings.HasPrefix(blocks[1], "package main") {
		t.Fatal(`README.md "Write a handler" has no Go blocks that are a whole handlers.go and its handlers_test.go`)
	}
	// The README's test of the example: every Test function in it runs.
	tests := regexp.MustCompile(`(?m)^func (Test\w+)\(t \*testing\.T\)`).FindAllStringSubmatch(blocks[1], -1)
	if len(tests) == 0 {
		t.Fatal(`README.md "Write a handler": the second Go block has no test`)
	}
	run := "^(TestReadmeExampleRuns"
	for _, m := range tests {
		run += "|" + m[1]
	}
	run += ")$"
	dir := t.TempDir()
	here, _ := filepath.Abs(".")
	files := map[string]string{"handlers.go": blocks[0], "zz_readme_handlers_test.go": blocks[1], "zz_readme_example_test.go": exampleRunTest}
	replace := map[string]string{}
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		replace[filepath.Join(here, name)] = p
	}
	overlay, _ := json.Marshal(map[string]any{"Replace": replace})
	if err := os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "test", "-overlay", filepath.Join(dir, "overlay.json"), "-count=1", "-v", "-run", run, ".")
	cmd.Env = append(os.Environ(), "HOOKLINE_README_EXAMPLE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the README's handlers.go: %v\n%s", err, out)
	}
	for _, m := range tests {
		if !strings.Contains(string(out), "--- PASS: "+m[1]) {
			t.Errorf("the README's %s did not run:\n%s", m[1], out)
		}
	}
}

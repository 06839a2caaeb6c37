// Command testscan reads `go test -json` on stdin and prints it as go test
// would (the output of failed tests, one line per package), and checks the
// whole output, passing tests included, for the hook secrets the tests and
// the dev stack use: no log line of any test may hold one. `make test` pipes
// the tests through it with HOOKLINE_TEST_LOGS=all, so every line the
// functions and kumo print in a devstacktest stack is in that output.
//
// It exits 1 if a test or package failed, a secret was found, or no package
// reported at all; a failing test fails make test as before.
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/hookline/hookline/internal/devstack"
)

// Secrets are the hook secret values the tests configure or send, from
// devstack and the tests' constants. A wrong secret a test sends is as
// secret as a right one: it is whatever the caller put in Authorization.
var Secrets = []string{
	devstack.DevSecret,                                  // dev stack, devstacktest and events/*.json
	"hookline-test-secret-0123456789abcdef",             // internal/receiver tests
	"old-secret-still-valid-0123456789",                 // internal/receiver tests (AWSPREVIOUS)
	"kumo-secret-0123456789abcdef0123",                  // internal/receiver kumo tests
	"old-secret-0123456789abcdef012345",                 // internal/receiver rotation test
	"new-secret-0123456789abcdef012345",                 // internal/receiver rotation test
	"wrong-secret-that-must-never-be-logged-0123456789", // internal/devstack observability test
	"bench-secret-0123456789abcdef0123456789",           // internal/metrics benchmark
	"a-different-secret-value-0123456789",               // infra/hookline okta tests (the wrong hook secret)
	"00okta-api-token-for-tests",                        // infra/hookline okta tests (Okta API token)
}

// event is one line of `go test -json` (test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	Elapsed float64
}

func main() {
	if err := scan(os.Stdin, os.Stdout, Secrets); err != nil {
		fmt.Fprintln(os.Stderr, "testscan:", err)
		os.Exit(1)
	}
}

// scan copies the test run to w as go test prints it and returns an error
// naming every failure and every secret found.
func scan(r io.Reader, w io.Writer, secrets []string) error {
	outputs := map[string][]string{} // package/test → its output lines
	var failed, leaks []string
	packages := 0
	var passedTests, failedTests, skippedTests int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		var ev event
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev.Action == "" {
			// go test's own messages (a build error) are not JSON.
			fmt.Fprintln(w, redact(line, secrets))
			leaks = append(leaks, find(line, "go test", secrets)...)
			continue
		}
		key := ev.Package + " " + ev.Test
		switch ev.Action {
		case "output", "build-output":
			outputs[key] = append(outputs[key], ev.Output)
			leaks = append(leaks, find(ev.Output, key, secrets)...)
		case "fail", "build-fail":
			if ev.Test != "" {
				failedTests++
				failed = append(failed, key)
				fmt.Fprint(w, redact(strings.Join(outputs[key], ""), secrets))
			} else {
				packages++
				name := ev.Package
				if name == "" {
					name = "a build"
				}
				failed = append(failed, name)
				fmt.Fprint(w, redact(strings.Join(outputs[key], ""), secrets))
			}
			delete(outputs, key)
		case "pass", "skip":
			switch {
			case ev.Test != "" && ev.Action == "pass":
				passedTests++
			case ev.Test != "":
				skippedTests++
			}
			if ev.Test == "" {
				packages++
				status := "ok  "
				if ev.Action == "skip" {
					status = "?   "
				}
				fmt.Fprintf(w, "%s\t%s\t%.3fs\n", status, ev.Package, ev.Elapsed)
			}
			delete(outputs, key)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	// The closing line says what ran, so a run that executed no test is
	// visible as such (subtests count one each).
	fmt.Fprintf(w, "tests: %d passed, %d failed, %d skipped\n", passedTests, failedTests, skippedTests)
	var problems []string
	if packages == 0 {
		problems = append(problems, "no package reported a result")
	}
	if len(failed) > 0 {
		sort.Strings(failed)
		problems = append(problems, fmt.Sprintf("%d failed: %s", len(failed), strings.Join(failed, ", ")))
	}
	if len(leaks) > 0 {
		problems = append(problems, fmt.Sprintf("a secret is in the test output (%d lines):\n  %s", len(leaks), strings.Join(leaks, "\n  ")))
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "; "))
	}
	return nil
}

// find reports the secrets in s, naming where, without repeating them.
func find(s, where string, secrets []string) []string {
	var out []string
	for _, secret := range secrets {
		if secret != "" && strings.Contains(s, secret) {
			redacted := redact(strings.TrimSpace(s), secrets)
			if len(redacted) > 300 {
				redacted = redacted[:300] + "…"
			}
			out = append(out, fmt.Sprintf("%s: %s", strings.TrimSpace(where), redacted))
		}
	}
	return out
}

// redact hides the secrets in s, keeping a hint of which one it was.
func redact(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "<redacted "+secret[:4]+"…>")
		}
	}
	return s
}

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func run(events ...event) string {
	var b strings.Builder
	for _, e := range events {
		j, _ := json.Marshal(e)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestScanPassesCleanRunAndFailsFailuresAndLeaks(t *testing.T) {
	const secret = "s3cret-value-0123456789"
	cases := []struct {
		name, in, wantErr string
	}{
		{"clean run", run(event{Action: "output", Package: "p", Test: "T", Output: "ok line\n"},
			event{Action: "pass", Package: "p", Test: "T"}, event{Action: "pass", Package: "p"}), ""},
		{"failing test", run(event{Action: "output", Package: "p", Test: "T", Output: "boom\n"},
			event{Action: "fail", Package: "p", Test: "T"}, event{Action: "fail", Package: "p"}), "failed: p, p T"},
		{"secret in a passing test's log", run(event{Action: "output", Package: "p", Test: "T", Output: `worker | {"auth":"` + secret + `"}` + "\n"},
			event{Action: "pass", Package: "p", Test: "T"}, event{Action: "pass", Package: "p"}), "a secret is in the test output"},
		{"secret in a build error", "# p\n./x.go:1: " + secret + "\n" + run(event{Action: "fail", Package: "p"}), "a secret is in the test output"},
		{"nothing ran", "", "no package reported"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			err := scan(strings.NewReader(tc.in), &out, []string{secret})
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("scan = %v, want nil", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("scan = %v, want an error containing %q", err, tc.wantErr)
			}
			if strings.Contains(out.String(), secret) || (err != nil && strings.Contains(err.Error(), secret)) {
				t.Error("testscan repeated the secret it found")
			}
			if tc.name == "failing test" && !strings.Contains(out.String(), "boom") {
				t.Error("a failed test's output was not printed")
			}
		})
	}
}

func TestScanClosesWithTheCountOfTestsRun(t *testing.T) {
	in := run(
		event{Action: "pass", Package: "p", Test: "TestA"},
		event{Action: "pass", Package: "p", Test: "TestA/sub"},
		event{Action: "skip", Package: "p", Test: "TestB"},
		event{Action: "fail", Package: "p", Test: "TestC"},
		event{Action: "fail", Package: "p"},
	)
	var out bytes.Buffer
	_ = scan(strings.NewReader(in), &out, nil)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if got, want := lines[len(lines)-1], "tests: 2 passed, 1 failed, 1 skipped"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/devstack/devstacktest"
)

// readmeCommands returns the make and hookline command lines of the
// README's sh code blocks, in order, without their comments.
func readmeCommands(readme string) []string {
	var out []string
	inSh := false
	for _, line := range strings.Split(readme, "\n") {
		switch {
		case strings.HasPrefix(line, "```"):
			inSh = !inSh && strings.TrimPrefix(line, "```") == "sh"
		case inSh:
			words := shellWords(line)
			if len(words) > 0 && (words[0] == "make" || words[0] == "hookline" || words[0] == ".bin/hookline") {
				out = append(out, strings.Join(quoteAll(words), " "))
			}
		}
	}
	return out
}

// shellWords splits a line as sh would, for the README's simple commands:
// words, '…' and "…" quoting, a # comment at a word's start.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(line[i+1:], c)
			if j < 0 {
				j = len(line) - i - 1
			}
			cur.WriteString(line[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '#' && !inWord:
			i = len(line)
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// quoteAll quotes words for make's shell.
func quoteAll(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		if strings.ContainsAny(w, " *'\"$") {
			w = "'" + w + "'"
		}
		out[i] = w
	}
	return out
}

// hooklineArgs is the hookline command line `make` runs for a README line
// (make -n prints it), as arguments for run; nil when make runs another
// tool (make deploy: sam).
func hooklineArgs(t *testing.T, root, line string) []string {
	t.Helper()
	words := shellWords(line)
	if words[0] != "make" {
		return words[1:]
	}
	cmd := exec.Command("make", append([]string{"-n", "--no-print-directory", "-C", root}, words[1:]...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n %v: %v\n%s", words[1:], err, out)
	}
	var last string
	for _, l := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(l, filepath.Join(root, ".bin", "hookline")+" "); ok && !strings.HasPrefix(rest, "tools") {
			last = rest
		}
	}
	if last == "" {
		return nil // another tool's (make deploy: sam)
	}
	return shellWords(last)
}

// TestReadmeCommandsRun runs every make and hookline command of the
// README's sh code blocks the way make runs it (make -n gives the command
// line). Those that run locally (make dev, send, invoke, and anything with
// --local) run against a dev stack and must succeed; a second `make dev`
// line must be one hookline dev accepts. Those for a deployed stack
// (--stack, or an Okta org) cannot run here: each must be a call the CLI
// accepts (not exit 2), and fails at its first AWS call, to an endpoint that
// refuses. A line with a <placeholder> is only shown.
func TestReadmeCommandsRun(t *testing.T) {
	root := devstacktest.RepoRoot(t)
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	lines := readmeCommands(string(readme))
	if len(lines) < 15 {
		t.Fatalf("found only %d commands in the README's sh blocks: %q", len(lines), lines)
	}
	bin := t.TempDir()
	for _, fn := range []string{"receiver", "worker", "reconciler", "streamer"} {
		if err := os.MkdirAll(filepath.Join(bin, fn), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(devstacktest.Bootstrap(t, fn), filepath.Join(bin, fn, "bootstrap")); err != nil {
			t.Fatal(err)
		}
	}
	devstacktest.Tool(t, "kumo")
	devstacktest.Tool(t, "aws-lambda-rie")
	t.Chdir(root)
	state := filepath.Join(bin, "dev-stack.json")
	// No AWS here: a deployed stack's commands meet an endpoint that refuses.
	closed, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"OKTA_ORG_URL", "OKTA_API_TOKEN", "OKTA_CLIENT_ID", "OKTA_PRIVATE_KEY", "OKTA_CREDENTIALS_SECRET_ID", "AWS_PROFILE"} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
	t.Setenv("AWS_ENDPOINT_URL", fmt.Sprintf("http://127.0.0.1:%d", closed))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var devOut, devErr syncBuffer
	done := make(chan int, 1)
	started := false
	defer func() {
		if started {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("make dev: exit %d\n%s", code, devErr.String())
			}
		}
	}()
	ran := 0
	for _, line := range lines {
		args := hooklineArgs(t, root, line)
		if args == nil {
			t.Logf("shown only (the SAM CLI and AWS): %s", line)
			continue
		}
		local := args[0] == "dev" || args[0] == "send" || args[0] == "invoke" || strings.Contains(" "+strings.Join(args, " ")+" ", " --local ")
		switch {
		case strings.Contains(line, "<"):
			t.Logf("shown only (a placeholder): %s", line)
			continue
		case args[0] == "dev" && !started:
			port, err := devstack.FreePort()
			if err != nil {
				t.Fatal(err)
			}
			// The README's flags, then this test's port, files and binaries.
			args = append(args, "--port", fmt.Sprint(port), "--bin", bin, "--state", state, "--log-file", "", "--reconcile-every", "2s", "--reconcile-grace", "1s")
			started = true
			go func() { done <- run(ctx, args, &devOut, &devErr) }()
			waitFor(t, "the dev stack's banner", func() bool { return strings.Contains(devOut.String(), "Ctrl-C stops everything") })
			ran++
			continue
		case args[0] == "dev":
			args = append(args, "-h") // one stack is enough: its flags parse
		case local && args[0] != "invoke":
			args = append(args, "--state", state)
		case args[0] == "invoke":
			args = append(args, "--bin", bin)
		}
		if local && !started && args[0] != "invoke" {
			t.Fatalf("%s: shown before any make dev", line)
		}
		cctx, ccancel := context.WithTimeout(ctx, time.Minute)
		var out, errOut strings.Builder
		code := run(cctx, args, &out, &errOut)
		ccancel()
		ran++
		switch {
		case local && code != 0:
			t.Errorf("%s (hookline %s): exit %d\n%s%s", line, strings.Join(args, " "), code, out.String(), lastLines(errOut.String(), 5))
		case !local && code == 2:
			t.Errorf("%s (hookline %s): a bad call, exit 2\n%s", line, strings.Join(args, " "), lastLines(errOut.String(), 5))
		default:
			t.Logf("%s: exit %d", line, code)
		}
	}
	if !started {
		t.Error("the README shows no make dev")
	}
	t.Logf("ran %d of the README's %d commands", ran, len(lines))
}

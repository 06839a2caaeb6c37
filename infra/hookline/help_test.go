package main

import (
	"context"
	"io"
	"sort"
	"strings"
	"testing"
)

// TestEveryCommandsHelpHasOneForm runs `-h` of every command and okta
// command: each exits 0 and prints the same form (a usage line naming the
// command, what it does, then its flags), never Go's bare "Usage of …",
// and lists only flags that mean something to it.
func TestEveryCommandsHelpHasOneForm(t *testing.T) {
	var calls [][]string
	for name := range commands {
		calls = append(calls, []string{name})
	}
	for sub := range oktaCommands {
		calls = append(calls, []string{"okta", sub})
	}
	sort.Slice(calls, func(i, j int) bool { return strings.Join(calls[i], " ") < strings.Join(calls[j], " ") })
	// Flags that would mean nothing to these commands.
	meaningless := map[string][]string{
		"okta activate":   {"-types", "-url", "-secret-id", "-auth-header"},
		"okta deactivate": {"-types", "-url", "-secret-id", "-auth-header"},
		"okta delete":     {"-types", "-url", "-secret-id", "-auth-header"},
		"okta list":       {"-url", "-secret-id", "-auth-header"},
		"okta rotate":     {"-types", "-url"},
	}
	for _, call := range calls {
		name := strings.Join(call, " ")
		if name == "okta" {
			continue // its -h lists the okta commands: below
		}
		for _, h := range []string{"-h", "--help"} {
			var out strings.Builder
			code := run(context.Background(), append(append([]string(nil), call...), h), io.Discard, &out)
			text := out.String()
			lines := strings.Split(text, "\n")
			switch {
			case code != 0:
				t.Errorf("%s %s: exit %d", name, h, code)
			case strings.Contains(text, "Usage of"):
				t.Errorf("%s %s prints Go's bare usage:\n%s", name, h, text)
			case lines[0] != "usage: hookline "+name && (!strings.HasPrefix(lines[0], "usage: hookline "+name+" ") || !strings.HasSuffix(lines[0], " [flags]")):
				t.Errorf("%s %s: first line %q, want usage: hookline %s … [flags] (or no [flags] for a command without any)", name, h, lines[0], name)
			case len(lines) < 3 || lines[1] != "" || strings.TrimSpace(lines[2]) == "":
				t.Errorf("%s %s: no line saying what it does after the usage line:\n%s", name, h, text)
			case strings.HasSuffix(lines[0], "[flags]") != strings.Contains(text, "\n\nflags:\n  -"):
				t.Errorf("%s %s: a [flags] usage line without a flags: section, or the reverse:\n%s", name, h, text)
			}
			for _, f := range meaningless[name] {
				if strings.Contains(text, "\n  "+f+" ") {
					t.Errorf("%s %s lists %s, which means nothing to it", name, h, f)
				}
			}
		}
	}
	var out strings.Builder
	if code := run(context.Background(), []string{"okta", "-h"}, io.Discard, &out); code != 0 || !strings.HasPrefix(out.String(), "usage: hookline okta <command>") {
		t.Errorf("okta -h: exit %d\n%s", code, out.String())
	}
	for sub := range oktaCommands {
		if !strings.Contains(out.String(), "\n  "+sub+" ") {
			t.Errorf("okta -h does not list %s", sub)
		}
	}
}

// Command hookline is the operator CLI: every operator action is a
// subcommand, and each has a make target.
//
//	hookline <command> [flags]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/hookline/hookline/internal/devstack"
)

// command is one subcommand. Each lives in its own file and registers itself.
type command struct {
	name    string
	summary string
	// run writes results to stdout and progress and diagnostics to stderr.
	run func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("hookline: duplicate command " + c.name)
	}
	commands[c.name] = c
}

// errUsage marks an error caused by how the command was called; it exits 2.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the command args names and returns the exit status: 0, 1 for a
// failure, 2 for a bad call, or the status of an error with an ExitCode
// method.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hookline: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	if err := c.run(ctx, args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "hookline %s: %v\n", c.name, err)
		if errors.Is(err, errUsage) {
			return 2
		}
		// A command may say more than "failed" to scripts.
		var coded interface{ ExitCode() int }
		if errors.As(err, &coded) {
			return coded.ExitCode()
		}
		return 1
	}
	return 0
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: hookline <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for name := range commands {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'hookline <command> -h' for a command's flags.")
}

// newFlags returns a FlagSet whose errors come back instead of exiting, and
// whose -h says what the command does (its summary) in the form every
// command shares (see help).
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hookline "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	synopsis, summary := "[flags]", commands[name].summary
	if sub, ok := strings.CutPrefix(name, "okta "); ok {
		synopsis, summary = oktaSummary(sub)
	}
	if summary != "" {
		summary = strings.ToUpper(summary[:1]) + summary[1:] + "."
	}
	help(fs, "usage: hookline "+name+" "+synopsis+"\n\n"+summary)
	return fs
}

// help sets what -h prints, one form for every command:
//
//	usage: hookline <command> <arguments>
//
//	what it does
//
//	flags:
//	  -flag ...
func help(fs *flag.FlagSet, text string) {
	fs.Usage = func() {
		w := fs.Output()
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n == 0 {
			usage, rest, _ := strings.Cut(strings.TrimSpace(text), "\n")
			fmt.Fprintln(w, strings.TrimSuffix(usage, " [flags]")+"\n"+rest)
			return
		}
		fmt.Fprintln(w, strings.TrimSpace(text))
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
	}
}

// tool returns the path of kumo or aws-lambda-rie in the repository's .bin,
// building it first if it is missing or stale.
func tool(name string, stderr io.Writer) (string, error) {
	root, err := devstack.RepoRoot(".")
	if err != nil {
		return "", err
	}
	return devstack.Tool(root, name, func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) })
}

func init() {
	register(command{name: "tools", summary: "build kumo and aws-lambda-rie into .bin if stale (make tools)",
		run: func(ctx context.Context, args []string, stdout, stderr io.Writer) error {
			if err := parse(newFlags("tools", stderr), args); err != nil {
				return err
			}
			for _, name := range []string{"kumo", "aws-lambda-rie"} {
				p, err := tool(name, stderr)
				if err != nil {
					return err
				}
				fmt.Fprintln(stdout, p)
			}
			return nil
		}})
}

// parse parses flags and wraps a bad call as errUsage.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	return nil
}

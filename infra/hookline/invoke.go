package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/hookline/hookline/internal/devstack"
)

func init() {
	register(command{name: "invoke", summary: "run a function under aws-lambda-rie on an event file (make invoke)", run: runInvoke})
}

// runInvoke is `sam local invoke` without Docker. It always uses an
// ephemeral kumo, even when a dev stack runs: the events/ files carry the
// fixed dev secret, while a dev stack has a random one.
func runInvoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("invoke", stderr)
	fn := fs.String("fn", "receiver", "function: receiver or worker")
	event := fs.String("event", "events/delivery.json", "event file")
	binDir := fs.String("bin", ".bin", "directory with <fn>/bootstrap (make bootstraps)")
	tmpl := fs.String("template", "template.yaml", "SAM template")
	if err := parse(fs, args); err != nil {
		return err
	}
	data, err := os.ReadFile(*event)
	if err != nil {
		return err
	}
	var tools [2]string
	for i, name := range []string{"kumo", "aws-lambda-rie"} {
		if tools[i], err = tool(name, stderr); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "invoking %s with %s (ephemeral kumo, aws-lambda-rie, secret %q)\n", *fn, *event, devstack.DevSecret)
	payload, err := devstack.Invoke(ctx, devstack.InvokeOptions{
		Template:  *tmpl,
		KumoBin:   tools[0],
		RIEBin:    tools[1],
		Bootstrap: filepath.Join(*binDir, *fn, "bootstrap"),
		Function:  *fn,
		Event:     data,
		OnLine:    func(src string, line []byte) { fmt.Fprintf(stderr, "%s | %s\n", src, line) },
	})
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, payload, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(payload)
	}
	fmt.Fprintf(stdout, "%s\n", pretty.Bytes())
	return nil
}

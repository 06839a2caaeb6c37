package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
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
func runInvoke(ctx context.Context, args []string) error {
	fs := newFlags("invoke")
	fn := fs.String("fn", "receiver", "function: receiver or worker")
	event := fs.String("event", "events/delivery.json", "event file")
	binDir := fs.String("bin", ".bin", "directory with kumo, aws-lambda-rie and <fn>/bootstrap")
	tmpl := fs.String("template", "template.yaml", "SAM template")
	if err := parse(fs, args); err != nil {
		return err
	}
	data, err := os.ReadFile(*event)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "invoking %s with %s (ephemeral kumo, aws-lambda-rie, secret %q)\n", *fn, *event, devstack.DevSecret)
	res, err := devstack.Invoke(ctx, devstack.InvokeOptions{
		Template:  *tmpl,
		KumoBin:   filepath.Join(*binDir, "kumo"),
		RIEBin:    filepath.Join(*binDir, "aws-lambda-rie"),
		Bootstrap: filepath.Join(*binDir, *fn, "bootstrap"),
		Function:  *fn,
		Event:     data,
		OnLine:    func(src string, line []byte) { fmt.Fprintf(os.Stderr, "%-8s | %s\n", src, line) },
	})
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if json.Indent(&pretty, res.Payload, "", "  ") != nil {
		pretty.Reset()
		pretty.Write(res.Payload)
	}
	fmt.Printf("%s\n", pretty.Bytes())
	return nil
}

package samtemplate_test

import (
	"fmt"
	"log"
	"path/filepath"

	"github.com/hookline/hookline/internal/samtemplate"
)

// A local stack reads queue settings, the worker's event source and the
// functions' environment from template.yaml, so it cannot drift from AWS.
func Example() {
	t, err := samtemplate.Load(filepath.Join("..", "..", "template.yaml"))
	if err != nil {
		log.Fatal(err)
	}
	vis, _ := t.IntProp("EventsQueue", "VisibilityTimeout")
	redrive, _ := samtemplate.Lookup(t.Resources["EventsQueue"].Properties, "RedrivePolicy", "maxReceiveCount")
	maxReceive, _ := t.Int(redrive)
	fmt.Println("visibility", vis, "maxReceiveCount", maxReceive)

	for name, ev := range t.FunctionEvents("WorkerFunction", "SQS") {
		batch, _ := t.Int(ev["BatchSize"]) // a !Ref resolves to the parameter's Default
		window, _ := t.Int(ev["MaximumBatchingWindowInSeconds"])
		fmt.Println("event", name, "batch", batch, "window", window)
	}
	timeout, _ := t.FunctionTimeout("WorkerFunction")
	fmt.Println("worker timeout", timeout)

	// Resources get their local values from a Resolver.
	local := func(name, attr string) (string, error) {
		switch name {
		case "EventsQueue":
			return "http://localhost:4566/000000000000/events", nil
		case "AWS::Region":
			return "us-east-1", nil
		}
		return "", fmt.Errorf("no local value for %s", name)
	}
	url, err := t.ResolveString(t.FunctionEnv("WorkerFunction")["QUEUE_URL"], local)
	fmt.Println("QUEUE_URL", url, err)
	level, _ := t.ResolveString(t.FunctionEnv("WorkerFunction")["LOG_LEVEL"], local)
	fmt.Println("LOG_LEVEL", level)
	// Output:
	// visibility 180 maxReceiveCount 5
	// event Queue batch 10 window 1
	// worker timeout 30
	// QUEUE_URL http://localhost:4566/000000000000/events <nil>
	// LOG_LEVEL info
}

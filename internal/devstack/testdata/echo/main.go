// Command echo is a tiny Lambda function for the tests of devstack's
// runners. It returns the event unchanged, except that:
//
//	{"error":"msg"}  fails with errors.New("msg")
//	{"getenv":"K"}   returns {"value":"<$K>"}
//	{"sleepMs":N}    sleeps N ms first
//
// and it logs one JSON line per invocation to stdout.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"
)

type control struct {
	Error   string `json:"error"`
	Getenv  string `json:"getenv"`
	SleepMs int    `json:"sleepMs"`
}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	lambda.Start(func(ctx context.Context, event json.RawMessage) (json.RawMessage, error) {
		var c control
		_ = json.Unmarshal(event, &c)
		log.Info("echo", "bytes", len(event))
		if c.SleepMs > 0 {
			time.Sleep(time.Duration(c.SleepMs) * time.Millisecond)
		}
		if c.Error != "" {
			return nil, errors.New(c.Error)
		}
		if c.Getenv != "" {
			return json.Marshal(map[string]string{"value": os.Getenv(c.Getenv)})
		}
		return event, nil
	})
}

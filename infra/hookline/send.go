package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/infra/hookline/asokta"
	"github.com/hookline/hookline/internal/devstack"
)

func init() {
	register(command{name: "send", summary: "act as Okta: verification GET, then deliveries (make send)", run: runSend})
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("send", stderr)
	statePath := fs.String("state", defaultState, "state file written by `hookline dev` (defaults for --url, --host, --secret)")
	url := fs.String("url", "", "hook endpoint (default: the running dev stack's)")
	host := fs.String("host", "", "Host header override")
	secret := fs.String("secret", "", "Authorization header value (default: the dev stack's)")
	files := fs.String("events", "events/delivery.json", "comma-separated files or globs: API Gateway POST events (their body is sent) or raw Okta deliveries; other files are skipped and named")
	count := fs.Int("count", 0, "send N generated events instead of --events")
	typ := fs.String("type", "user.lifecycle.create", "event type of generated events")
	per := fs.Int("per-delivery", 10, "generated events per delivery")
	parallel := fs.Int("parallel", 1, "deliveries in flight at once")
	verify := fs.Bool("verify", true, "send the verification GET first")
	quiet := fs.Bool("quiet", false, "print only failures and the summary")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *per < 1 || *parallel < 1 || *count < 0 {
		return fmt.Errorf("%w: --per-delivery and --parallel must be >= 1, --count >= 0", errUsage)
	}
	c := &asokta.Client{URL: *url, Host: *host, Secret: *secret}
	if c.URL == "" || c.Secret == "" {
		st, err := readState(*statePath)
		if err != nil {
			return fmt.Errorf("no --url/--secret and no dev stack state (%v): run `make dev` first", err)
		}
		if !devstack.ProcessAlive(st.PID) {
			return fmt.Errorf("the dev stack in %s (pid %d) is not running: run `make dev` first", *statePath, st.PID)
		}
		if c.URL == "" {
			c.URL = st.URL
		}
		if c.Secret == "" {
			c.Secret = st.Secret
		}
	}

	var bodies [][]byte
	if *count > 0 {
		for sent := 0; sent < *count; sent += *per {
			var evs []json.RawMessage
			for range min(*per, *count-sent) {
				_, raw := asokta.LogEvent(*typ)
				evs = append(evs, raw)
			}
			bodies = append(bodies, asokta.Delivery(evs))
		}
	} else {
		var err error
		if bodies, err = readDeliveries(*files, stderr); err != nil {
			return err
		}
	}

	if *verify {
		challenge := "hookline-" + time.Now().Format("150405.000")
		r, err := c.Verify(ctx, challenge)
		if err != nil {
			return fmt.Errorf("verification GET: %w", err)
		}
		fmt.Fprintf(stdout, "GET  verify      %d %s (%v)\n", r.Status, strings.TrimSpace(r.Body), r.Took.Round(time.Millisecond))
		if want := `{"verification":"` + challenge + `"}`; r.Status != 200 || strings.TrimSpace(r.Body) != want {
			return errors.New("verification failed: Okta would not activate this hook")
		}
	}

	start := time.Now()
	var (
		mu                        sync.Mutex
		accepted, failed, nEvents int
		wg                        sync.WaitGroup
		sem                       = make(chan struct{}, *parallel)
	)
	for i, body := range bodies {
		n := eventCount(body)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			r, err := c.Deliver(ctx, body)
			mu.Lock()
			defer mu.Unlock()
			nEvents += n
			if err != nil || r.Status != 200 {
				failed++
				if err != nil {
					fmt.Fprintf(stdout, "POST delivery %-3d error: %v\n", i+1, err)
				} else {
					fmt.Fprintf(stdout, "POST delivery %-3d %d %s (%d events, %v)\n", i+1, r.Status, strings.TrimSpace(r.Body), n, r.Took.Round(time.Millisecond))
				}
				return
			}
			accepted++
			if !*quiet {
				fmt.Fprintf(stdout, "POST delivery %-3d %d %s (%d events, %v)\n", i+1, r.Status, strings.TrimSpace(r.Body), n, r.Took.Round(time.Millisecond))
			}
		}()
	}
	wg.Wait()
	d := time.Since(start)
	fmt.Fprintf(stdout, "\nsent %d deliveries (%d events): %d accepted, %d failed in %v (%.0f events/s)\n",
		len(bodies), nEvents, accepted, failed, d.Round(time.Millisecond), float64(nEvents)/d.Seconds())
	if failed > 0 {
		return fmt.Errorf("%d deliveries failed", failed)
	}
	return nil
}

// readDeliveries reads the deliveries in the files spec names. A file that
// holds none (a verification GET, the worker's SQS event) is skipped, and
// said so on stderr, so that `--events 'events/*.json'` sends every
// delivery there is.
func readDeliveries(spec string, stderr io.Writer) ([][]byte, error) {
	var bodies [][]byte
	for _, pat := range strings.Split(spec, ",") {
		pat = strings.TrimSpace(pat)
		if pat == "" {
			continue
		}
		paths, err := filepath.Glob(pat)
		if err != nil || len(paths) == 0 {
			return nil, fmt.Errorf("%w: no file matches %q", errUsage, pat)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, err
			}
			body, err := asokta.DeliveryFromFile(data)
			if errors.Is(err, asokta.ErrNotDelivery) {
				fmt.Fprintf(stderr, "skipping %s: %v\n", p, err)
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			bodies = append(bodies, body)
		}
	}
	if len(bodies) == 0 {
		return nil, fmt.Errorf("%w: no deliveries in %q", errUsage, spec)
	}
	return bodies, nil
}

// eventCount is the number of events in a delivery, for the summary.
func eventCount(body []byte) int {
	var d struct {
		Data struct {
			Events []json.RawMessage `json:"events"`
		} `json:"data"`
	}
	_ = json.Unmarshal(body, &d)
	return len(d.Data.Events)
}

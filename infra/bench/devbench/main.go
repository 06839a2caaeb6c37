// Command devbench measures the local dev stack (`make bench-dev`): how fast
// `make dev` is ready (cold and warm), how many events per second go from a
// POST to the handler, and the POST → handler-start latency (p50, p99).
//
// Handler start is the "time" of the worker's "okta event" log line, which
// the built-in handler writes first thing; POST time is taken just before
// the request is sent. Both clocks are this machine's.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/standin"
)

func main() {
	bin := flag.String("bin", ".bin", "directory with kumo and <fn>/bootstrap")
	tmpl := flag.String("template", "template.yaml", "SAM template")
	deliveries := flag.Int("deliveries", 100, "deliveries of 10 events each")
	parallel := flag.Int("parallel", 4, "deliveries in flight")
	concurrency := flag.Int("concurrency", 2, "processes per function")
	starts := flag.Int("starts", 5, "warm `make dev` starts to time")
	cold := flag.Bool("cold", false, "also time a cold start: bootstraps and CLI built with an empty Go build cache (kumo excluded)")
	flag.Parse()
	ctx := context.Background()

	if *cold {
		d, err := coldStart(ctx, *bin)
		if err != nil {
			log.Fatalf("cold start: %v", err)
		}
		fmt.Printf("cold start (empty GOCACHE: build bootstraps + CLI, then start the stack): %v\n", d.Round(10*time.Millisecond))
	}
	var warm []time.Duration
	for range *starts {
		d, err := makeDevReady(ctx)
		if err != nil {
			log.Fatalf("make dev: %v", err)
		}
		warm = append(warm, d)
	}
	if len(warm) > 0 {
		slices.Sort(warm)
		fmt.Printf("warm `make dev` to ready (%d runs): median %v, max %v\n", len(warm),
			warm[len(warm)/2].Round(time.Millisecond), warm[len(warm)-1].Round(time.Millisecond))
	}

	for _, window := range []int{0, -1} { // the template's window, then none
		// A burst (throughput), then one delivery every 200 ms (latency of
		// an idle stack, which is what one Okta org mostly looks like).
		if err := throughput(ctx, *bin, *tmpl, *deliveries, *parallel, *concurrency, window, 0); err != nil {
			log.Fatal(err)
		}
		if err := throughput(ctx, *bin, *tmpl, 20, 1, *concurrency, window, 200*time.Millisecond); err != nil {
			log.Fatal(err)
		}
	}
}

// makeDevReady runs `make dev` on a free port and returns the time until
// it prints that the stack is ready; then it interrupts it.
func makeDevReady(ctx context.Context) (time.Duration, error) {
	port, err := devstack.FreePort()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, "make", "--no-print-directory", "dev", "PORT="+strconv.Itoa(port))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		_ = cmd.Wait()
	}()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "hookline dev stack ready") {
			d := time.Since(start)
			go func() { // keep draining until make exits
				for sc.Scan() {
				}
			}()
			return d, nil
		}
	}
	return 0, fmt.Errorf("make dev ended before it was ready")
}

// coldStart builds the bootstraps and the CLI with an empty build cache,
// then starts the stack with them.
func coldStart(ctx context.Context, bin string) (time.Duration, error) {
	tmp, err := os.MkdirTemp("", "devbench-cold-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	start := time.Now()
	build := func(out, pkg string, lambda bool) error {
		args := []string{"build", "-trimpath", "-o", out}
		if lambda {
			args = append(args, "-tags", "lambda.norpc", "-ldflags", "-s -w")
		}
		cmd := exec.CommandContext(ctx, "go", append(args, pkg)...)
		cmd.Env = append(os.Environ(), "GOCACHE="+filepath.Join(tmp, "gocache"), "CGO_ENABLED=0")
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", pkg, err, b)
		}
		return nil
	}
	// Sequential, as make runs them without -j.
	for _, b := range []struct {
		out, pkg string
		lambda   bool
	}{
		{filepath.Join(tmp, "receiver", "bootstrap"), "./functions/receiver", true},
		{filepath.Join(tmp, "worker", "bootstrap"), "./functions/worker", true},
		{filepath.Join(tmp, "hookline"), "./infra/hookline", false},
	} {
		if err := build(b.out, b.pkg, b.lambda); err != nil {
			return 0, err
		}
	}
	s, err := devstack.Start(ctx, devstack.Options{Template: "template.yaml", KumoBin: filepath.Join(bin, "kumo"),
		Bootstraps: devstack.DefaultBootstraps(tmp, "receiver", "worker")})
	if err != nil {
		return 0, err
	}
	d := time.Since(start)
	s.Stop()
	return d, nil
}

// throughput sends deliveries of 10 events and waits for every handler run.
// window: 0 keeps the template's batching window, -1 turns it off.
func throughput(ctx context.Context, bin, tmpl string, deliveries, parallel, concurrency, window int, pace time.Duration) error {
	var mu sync.Mutex
	handled := map[string]time.Time{}
	dups := 0
	done := make(chan struct{})
	total := deliveries * 10
	onLine := func(src string, line []byte) {
		if src != "worker" {
			return
		}
		var l struct {
			Msg  string    `json:"msg"`
			Time time.Time `json:"time"`
			UUID string    `json:"eventUuid"`
		}
		if json.Unmarshal(line, &l) != nil || l.Msg != "okta event" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if _, seen := handled[l.UUID]; seen {
			dups++
			return
		}
		handled[l.UUID] = l.Time
		if len(handled) == total {
			close(done)
		}
	}
	s, err := devstack.Start(ctx, devstack.Options{Template: tmpl, KumoBin: filepath.Join(bin, "kumo"),
		Bootstraps:  devstack.DefaultBootstraps(bin, "receiver", "worker"),
		Concurrency: concurrency, OnLine: onLine, Overrides: devstack.Overrides{BatchingWindow: window}})
	if err != nil {
		return err
	}
	defer s.Stop()
	client := &standin.Endpoint{URL: s.URL(), Secret: s.Secret}

	bodies := make([][]byte, deliveries)
	uuids := make([][]string, deliveries)
	for i := range bodies {
		var evs []json.RawMessage
		for range 10 {
			id, ev := standin.NewEvent("user.lifecycle.create")
			uuids[i], evs = append(uuids[i], id), append(evs, ev)
		}
		bodies[i] = standin.Delivery(standin.DevHookURL, evs...)
	}
	sent := make([]time.Time, deliveries)
	var wg sync.WaitGroup
	sem := make(chan struct{}, parallel)
	var failures int
	for i := range bodies {
		if pace > 0 && i > 0 {
			time.Sleep(pace)
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r, err := client.Deliver(ctx, bodies[i])
			sent[i] = r.Sent
			if err != nil || r.Status != 200 {
				mu.Lock()
				failures++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failures > 0 {
		return fmt.Errorf("%d deliveries failed", failures)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		return fmt.Errorf("only %d of %d events handled after 60 s", len(handled), total)
	}
	mu.Lock()
	defer mu.Unlock()
	first, last := sent[0], time.Time{}
	var lat []time.Duration
	for i := range deliveries {
		if sent[i].Before(first) {
			first = sent[i]
		}
		for _, id := range uuids[i] {
			h := handled[id]
			if h.After(last) {
				last = h
			}
			lat = append(lat, h.Sub(sent[i]))
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	w, _ := s.Spec.Function("worker")
	name := fmt.Sprintf("template batching window (%ds)", w.SQS.WindowSec)
	if window < 0 {
		name = "no batching window"
	}
	if pace > 0 {
		name += fmt.Sprintf(", paced 1 delivery/%v", pace)
	}
	fmt.Printf("%s, %d processes/function, %d deliveries x 10 events, %d in flight: %.0f events/s POST→handler; "+
		"POST→handler start p50 %v, p99 %v, max %v; duplicate handler runs %d\n",
		name, concurrency, deliveries, parallel, float64(total)/last.Sub(first).Seconds(),
		pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond), dups)
	return nil
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/okta"
	"github.com/hookline/hookline/internal/standin"
)

func init() {
	register(command{name: "send", summary: "act as Okta: verification GET, then deliveries (make send)", run: runSend})
}

func runSend(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("send", stderr)
	statePath := fs.String("state", defaultState, "state file written by `hookline dev` (defaults for --url, --host, --secret)")
	url := fs.String("url", "", "hook endpoint (default: the running dev stack's)")
	host := fs.String("host", "", "Host header override")
	secret := fs.String("secret", "", "the auth header's value (default: the dev stack's)")
	header := addAuthHeaderFlag(fs)
	files := fs.String("events", "events/delivery.json", "comma-separated files or globs: API Gateway POST events (their body is sent) or raw Okta deliveries; other files are skipped and named")
	count := fs.Int("count", 0, "send N generated events instead of --events")
	typ := fs.String("type", "user.lifecycle.create", "event type of generated events")
	per := fs.Int("per-delivery", 10, "generated events per delivery")
	parallel := fs.Int("parallel", 1, "deliveries in flight at once")
	verify := fs.Bool("verify", true, "send the verification GET first")
	quiet := fs.Bool("quiet", false, "print only failures and the summary")
	channel := fs.String("channel", "hook", "hook: POST to the event hook; stream: put the events on the dev stack's stand-in Okta Log Streaming bus; both: each event through both (handled once)")
	org := fs.String("org", "", "the dev stack's org to send as (make dev ORGS=…): its hook URL, secret and stand-in System Log")
	lose := fs.String("lose", "", "drop this share of the deliveries (10% or 0.1), as Okta giving up would; their events stay in the dev stack's stand-in System Log for the reconciler")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *per < 1 || *parallel < 1 || *count < 0 {
		return fmt.Errorf("%w: --per-delivery and --parallel must be >= 1, --count >= 0", errUsage)
	}
	if *channel != "hook" && *channel != "stream" && *channel != "both" {
		return fmt.Errorf("%w: --channel is hook, stream or both", errUsage)
	}
	share, err := parseShare(*lose)
	if err != nil {
		return fmt.Errorf("%w: --lose: %v", errUsage, err)
	}
	c := &standin.Endpoint{URL: *url, Host: *host, Secret: *secret, AuthHeader: authHeaderOr(*header)}
	st, stErr := readState(*statePath)
	if *header == "" && stErr == nil && st.AuthHeader != "" {
		c.AuthHeader = st.AuthHeader // the dev stack's receiver reads it
	}
	if *org != "" && stErr == nil {
		d, ok := st.Orgs[*org]
		if !ok {
			return fmt.Errorf("%w: --org %s: the dev stack serves no such org (make dev ORGS=…)", errUsage, *org)
		}
		c.URL, c.Secret = first(c.URL, d.URL), first(c.Secret, d.Secret)
		st.OktaURL, st.OktaToken = d.OktaURL, d.OktaToken // its own System Log
	}
	if c.URL == "" || c.Secret == "" {
		if err := stErr; err != nil {
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
	if stErr != nil || !devstack.ProcessAlive(st.PID) {
		st = State{} // a stale state file names no live stand-in System Log
	}

	var bodies [][]byte
	var own []*string // per delivery: the file's own auth value, sent instead of the stack's
	if *count > 0 {
		for sent := 0; sent < *count; sent += *per {
			var evs []json.RawMessage
			for range min(*per, *count-sent) {
				_, raw := standin.NewEvent(*typ)
				evs = append(evs, raw)
			}
			bodies = append(bodies, standin.Delivery(standin.DevHookURL, evs...))
		}
	} else {
		var err error
		if bodies, own, err = readDeliveries(*files, c.AuthHeader, stderr); err != nil {
			return err
		}
	}

	if st.OktaURL != "" {
		// Okta writes every event to its System Log, delivered or not.
		if err := writeSystemLog(ctx, st, bodies); err != nil {
			return fmt.Errorf("stand-in System Log: %w", err)
		}
	} else if share > 0 {
		return fmt.Errorf("%w: --lose needs the dev stack's stand-in System Log (run `make dev`)", errUsage)
	}
	if *channel == "stream" {
		return sendStream(ctx, st, bodies, stdout)
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
		refused                   int
		lost, lostEvents          int
		lostBodies                [][]byte
		wg                        sync.WaitGroup
		sem                       = make(chan struct{}, *parallel)
	)
	for i, body := range bodies {
		n := eventCount(body)
		if dropped(i, share) {
			lostBodies = append(lostBodies, body)
			lost++
			lostEvents += n
			nEvents += n
			if !*quiet {
				fmt.Fprintf(stdout, "POST delivery %-3d lost (%d events): Okta gave up on it\n", i+1, n)
			}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			dc, note := c, ""
			if i < len(own) && own[i] != nil {
				cc := *c
				cc.Secret, dc = *own[i], &cc
				note = ", its file's own auth value"
			}
			r, err := dc.Deliver(ctx, body)
			mu.Lock()
			defer mu.Unlock()
			nEvents += n
			if err == nil && note != "" && r.Status == http.StatusUnauthorized {
				// What the file is for: a delivery the receiver refuses.
				refused++
				if !*quiet {
					fmt.Fprintf(stdout, "POST delivery %-3d %d %s (%d events%s: refused, as the file intends)\n", i+1, r.Status, strings.TrimSpace(r.Body), n, note)
				}
				return
			}
			if err != nil || r.Status != 200 {
				failed++
				if err != nil {
					fmt.Fprintf(stdout, "POST delivery %-3d error: %v\n", i+1, err)
				} else {
					fmt.Fprintf(stdout, "POST delivery %-3d %d %s (%d events%s, %v)\n", i+1, r.Status, strings.TrimSpace(r.Body), n, note, r.Took.Round(time.Millisecond))
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
	if *channel == "both" {
		// After the hook, as when the hook is the faster channel: the
		// streamer finds each event's mark and queues none again.
		if err := sendStream(ctx, st, bodies, stdout); err != nil {
			return err
		}
	}
	if err := writeDeliveryFailures(ctx, st, lostBodies); err != nil {
		fmt.Fprintf(stderr, "stand-in System Log: the lost deliveries' event_hook.delivery failures not written: %v\n", err)
	}
	d := time.Since(start)
	fmt.Fprintf(stdout, "\nsent %d deliveries (%d events): %d accepted, %d failed", len(bodies), nEvents, accepted, failed)
	if refused > 0 {
		fmt.Fprintf(stdout, ", %d refused 401 as their files intend (a wrong auth value)", refused)
	}
	fmt.Fprintf(stdout, " in %v (%.0f events/s)\n", d.Round(time.Millisecond), float64(nEvents)/d.Seconds())
	if lost > 0 {
		fmt.Fprintf(stdout, "%d deliveries (%d events) lost on purpose: the reconciler brings them to the handlers within about %s + %s\n",
			lost, lostEvents, st.ReconcileGrace, st.ReconcileEvery)
	}
	if failed > 0 {
		return fmt.Errorf("%d deliveries failed", failed)
	}
	return nil
}

// parseShare reads "10%" or "0.1" as 0.1; "" is 0.
func parseShare(s string) (float64, error) {
	if s == "" {
		return 0, nil
	}
	pct := strings.HasSuffix(s, "%")
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if pct {
		f /= 100
	}
	if err != nil || f < 0 || f > 1 {
		return 0, fmt.Errorf("%q is not a share such as 10%% or 0.1", s)
	}
	return f, nil
}

// dropped spreads the lost deliveries evenly: delivery i (from 0) is lost
// when it takes the running count of share·(i+1) past a whole number.
func dropped(i int, share float64) bool {
	return math.Floor(float64(i+1)*share+1e-9) > math.Floor(float64(i)*share+1e-9)
}

// writeSystemLog stores every event of the deliveries in the dev stack's
// stand-in System Log.
func writeSystemLog(ctx context.Context, st State, bodies [][]byte) error {
	var all []json.RawMessage
	for _, b := range bodies {
		var d struct {
			Data struct {
				Events []json.RawMessage `json:"events"`
			} `json:"data"`
		}
		if json.Unmarshal(b, &d) == nil {
			all = append(all, d.Data.Events...)
		}
	}
	doc, _ := json.Marshal(all)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, st.OktaURL+"/api/v1/logs", bytes.NewReader(doc))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "SSWS "+st.OktaToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := noRedirects(10 * time.Second).Do(req) // it carries the stand-in org's API token
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("POST /api/v1/logs answered %d", resp.StatusCode)
	}
	return nil
}

// readDeliveries reads the deliveries in the files spec names. A file that
// holds none (a verification GET, the worker's SQS event) is skipped, and
// said so on stderr, so that `--events 'events/*.json'` sends every
// delivery there is. own has, for each delivery, the file's own value of
// the auth header when it is not the samples' dev secret (fileAuth): nil
// for the others, which are sent with the stack's secret.
func readDeliveries(spec, header string, stderr io.Writer) (bodies [][]byte, own []*string, err error) {
	for _, pat := range strings.Split(spec, ",") {
		pat = strings.TrimSpace(pat)
		if pat == "" {
			continue
		}
		paths, err := filepath.Glob(pat)
		if err != nil || len(paths) == 0 {
			return nil, nil, fmt.Errorf("%w: no file matches %q", errUsage, pat)
		}
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				return nil, nil, err
			}
			body, err := standin.DeliveryFromFile(data)
			if errors.Is(err, standin.ErrNotDelivery) {
				fmt.Fprintf(stderr, "skipping %s: %v\n", p, err)
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", p, err)
			}
			bodies = append(bodies, body)
			own = append(own, fileAuth(data, header))
		}
	}
	if len(bodies) == 0 {
		return nil, nil, fmt.Errorf("%w: no deliveries in %q", errUsage, spec)
	}
	return bodies, own, nil
}

// fileAuth is the auth header's value an API Gateway event file carries
// ("" when it carries none) if that is not the samples' dev secret: such
// a file (events/delivery-wrong-auth.json) is there to be refused, so it is
// sent with its own value. nil for a file with the dev secret, which stands
// for the stack's, and for a raw delivery, which carries no headers.
func fileAuth(data []byte, header string) *string {
	var ev struct {
		RouteKey string            `json:"routeKey"`
		Headers  map[string]string `json:"headers"`
	}
	if json.Unmarshal(data, &ev) != nil || ev.RouteKey == "" {
		return nil
	}
	// The samples carry it as authorization; a file may use the receiver's
	// own header instead.
	var value string
	for k, v := range ev.Headers {
		if strings.EqualFold(k, header) || strings.EqualFold(k, defaultAuthHeader) {
			if value = v; v == devstack.DevSecret {
				break
			}
		}
	}
	if value == devstack.DevSecret {
		return nil
	}
	return &value
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

// sendStream puts the deliveries' events on the dev stack's stand-in Okta Log
// Streaming bus, as Okta's stream would: one EventBridge event each.
func sendStream(ctx context.Context, st State, bodies [][]byte, stdout io.Writer) error {
	if st.LogStreamSource == "" {
		return errors.New("--channel stream needs a running `make dev` with its stand-in log stream")
	}
	var evs [][]byte
	for _, body := range bodies {
		d, err := okta.ParseDelivery(body)
		if err != nil {
			return fmt.Errorf("stream: %w", err)
		}
		for _, ev := range d.Events {
			evs = append(evs, ev.Raw)
		}
	}
	stream := standin.LogStream{Client: devstack.NewClients(st.Endpoint).EventBridge, Source: st.LogStreamSource}
	start := time.Now()
	if err := stream.Send(ctx, evs...); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "STREAM %d events on %s (%v): the streamer queues those of a subscribed type not queued yet\n",
		len(evs), st.LogStreamSource, time.Since(start).Round(time.Millisecond))
	return nil
}

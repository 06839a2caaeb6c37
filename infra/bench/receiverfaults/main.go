// Command receiverfaults measures the receiver bootstrap under faults, the
// way Lambda runs it: aws-lambda-rie with the template's timeout, kumo behind
// loopback proxies (`make bench-faults`).
//
//   - For each added SQS latency: the largest delivery (in events, and bytes)
//     answered 200 within the function timeout. Deliveries grow by doubling,
//     then a binary search finds the edge; a failure is a non-200 status or a
//     timeout.
//   - Under a flood of requests with a wrong auth value: how many
//     GetSecretValue calls the receiver makes a minute (counted by an HTTP
//     proxy in front of kumo's Secrets Manager).
//
// It runs any receiver bootstrap (--bootstrap), so the same command measures
// an older build for a before/after comparison.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/hookline/hookline/internal/devstack"
	"github.com/hookline/hookline/internal/faultproxy"
	"github.com/hookline/hookline/internal/standin"
)

const secret = "bench-secret-0123456789abcdef0123456789abcdef"

func main() {
	bin := flag.String("bin", ".bin", "directory with kumo and aws-lambda-rie")
	bootstrap := flag.String("bootstrap", ".bin/receiver/bootstrap", "receiver bootstrap to measure")
	latencies := flag.String("latencies", "20ms,100ms", "added SQS latencies to measure, comma-separated")
	timeout := flag.Int("timeout", 2, "function timeout in seconds (template.yaml: 2)")
	maxBody := flag.Int("max-body", 1<<20, "largest delivery body to try (the receiver's MAX_BODY_BYTES)")
	flood := flag.Duration("flood", time.Minute, "how long to send wrong auth values; 0 skips")
	flag.Parse()
	ctx := context.Background()

	// The template's resources and the receiver's environment, as deployed;
	// the receiver's SQS and Secrets Manager calls go through the proxies.
	stack, err := devstack.Start(ctx, devstack.Options{Template: "template.yaml", KumoBin: filepath.Join(*bin, "kumo"), Secret: secret})
	if err != nil {
		log.Fatal(err)
	}
	defer stack.Stop()
	kumoAddr := strings.TrimPrefix(stack.Kumo.Endpoint, "http://")
	sqsProxy, err := faultproxy.Start(kumoAddr)
	if err != nil {
		log.Fatal(err)
	}
	defer sqsProxy.Close()
	smCalls, smURL := countingProxy(stack.Kumo.Endpoint)

	rie, err := stack.StartRIE("receiver", filepath.Join(*bin, "aws-lambda-rie"), *bootstrap, []string{
		"AWS_ENDPOINT_URL_SQS=" + sqsProxy.URL(),
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=" + smURL,
		"AWS_LAMBDA_FUNCTION_TIMEOUT=" + strconv.Itoa(*timeout),
		"LOG_LEVEL=warn",
	}, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer rie.Stop()
	fmt.Printf("bootstrap %s, function timeout %d s, events of ~%d bytes\n", *bootstrap, *timeout, len(eventsOf(1)[0]))

	for _, l := range strings.Split(*latencies, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(l))
		if err != nil {
			log.Fatalf("latency %q: %v", l, err)
		}
		sqsProxy.SetLatency(d)
		best, bestBytes, fail, failWhy := largest(ctx, rie, *maxBody)
		line := fmt.Sprintf("SQS +%v: largest delivery answered 200: %d events (%d KiB)", d, best, bestBytes>>10)
		if fail > 0 {
			line += fmt.Sprintf("; %d events: %s", fail, failWhy)
		} else {
			line += " (every size up to the body limit)"
		}
		fmt.Println(line)
	}
	sqsProxy.SetLatency(0)

	if *flood > 0 {
		before := smCalls.Load()
		start := time.Now()
		n, statuses := 0, map[string]int{}
		for time.Since(start) < *flood {
			status, _, err := invoke(ctx, rie, "wrong-value-"+strconv.Itoa(n), body(eventsOf(1)))
			if err != nil {
				log.Fatal(err)
			}
			statuses[status]++
			n++
		}
		took := time.Since(start)
		calls := smCalls.Load() - before
		fmt.Printf("flood of wrong auth values: %d requests in %v (statuses %v), %d GetSecretValue calls = %.1f a minute\n",
			n, took.Round(time.Second), statuses, calls, float64(calls)/took.Minutes())
	}
}

// largest finds the largest delivery answered 200; fail is the smallest
// failing size seen (0 if none), with what happened.
func largest(ctx context.Context, rie *devstack.RIE, maxBody int) (best, bestBytes, fail int, why string) {
	// try sends a delivery of n events, fewer if n would not fit the body
	// limit, and returns how many it sent.
	try := func(n int) (int, bool, int, string) {
		evs := eventsOf(n)
		b := body(evs)
		for len(b) > maxBody {
			evs = evs[:len(evs)*maxBody/len(b)]
			b = body(evs)
		}
		status, took, err := invoke(ctx, rie, secret, b)
		if err != nil {
			log.Fatal(err)
		}
		return len(evs), status == "200", len(b), fmt.Sprintf("%s after %v", status, took.Round(10*time.Millisecond))
	}
	lo, hi := 0, 0
	for n := 50; ; n *= 2 {
		sent, ok, size, w := try(n)
		if !ok {
			hi, why = sent, w
			break
		}
		lo, bestBytes = sent, size
		if sent < n { // the body limit was reached, and answered 200
			return lo, bestBytes, 0, ""
		}
	}
	for hi-lo > max(lo/20, 1) { // 5 % resolution
		sent, ok, size, w := try((lo + hi) / 2)
		if ok {
			lo, bestBytes = sent, size
		} else {
			hi, why = sent, w
		}
	}
	return lo, bestBytes, hi, why
}

// invoke sends one POST delivery through rie and says what Okta would have
// seen: the status code, or "timeout".
func invoke(ctx context.Context, rie *devstack.RIE, auth string, b []byte) (string, time.Duration, error) {
	req := events.APIGatewayV2HTTPRequest{
		Version: "2.0", RouteKey: "POST /okta/events", RawPath: "/okta/events",
		Headers: map[string]string{"authorization": auth, "content-type": "application/json"},
		Body:    string(b),
	}
	req.RequestContext.HTTP.Method = http.MethodPost
	req.RequestContext.HTTP.SourceIP = "198.51.100.23"
	req.RequestContext.RequestID = strconv.FormatInt(time.Now().UnixNano(), 36)
	payload, _ := json.Marshal(req)
	start := time.Now()
	out, err := rie.Invoke(ctx, payload)
	took := time.Since(start)
	if err != nil {
		return "", took, err
	}
	var resp events.APIGatewayV2HTTPResponse
	if json.Unmarshal(out, &resp) != nil || resp.StatusCode == 0 {
		if strings.Contains(string(out), "timed out") {
			return "timeout", took, nil
		}
		return "error: " + string(out), took, nil
	}
	return strconv.Itoa(resp.StatusCode), took, nil
}

func eventsOf(n int) []json.RawMessage {
	evs := make([]json.RawMessage, n)
	for i := range evs {
		_, evs[i] = standin.NewEvent("user.lifecycle.create")
	}
	return evs
}

func body(evs []json.RawMessage) []byte { return standin.Delivery(standin.DevHookURL, evs...) }

// countingProxy forwards HTTP to target and counts the requests.
func countingProxy(target string) (*atomic.Int64, string) {
	u, err := url.Parse(target)
	if err != nil {
		log.Fatal(err)
	}
	calls := new(atomic.Int64)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".GetSecretValue") {
			calls.Add(1)
		}
		rp.ServeHTTP(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.Serve(ln)
	return calls, "http://" + ln.Addr().String()
}

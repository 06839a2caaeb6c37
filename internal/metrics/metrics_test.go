package metrics_test

import (
	"bytes"
	"context"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/metrics/emftest"
)

func TestDefsAreValidCloudWatchMetrics(t *testing.T) {
	if len(metrics.Defs) > metrics.MaxMetrics {
		t.Errorf("%d metrics; one directive holds at most %d", len(metrics.Defs), metrics.MaxMetrics)
	}
	seen := map[string]bool{}
	for _, d := range metrics.Defs {
		if seen[d.Name] {
			t.Errorf("%s defined twice", d.Name)
		}
		seen[d.Name] = true
		if !slices.Contains(emftest.Units, string(d.Unit)) {
			t.Errorf("%s: unit %q is not a CloudWatch unit", d.Name, d.Unit)
		}
		for _, set := range d.DimensionSets() {
			if len(set) > metrics.MaxDimensions || set[0] != metrics.DimStack {
				t.Errorf("%s: dimension set %v must start with Stack and hold at most %d", d.Name, set, metrics.MaxDimensions)
			}
		}
		if !slices.Contains([]string{"receiver", "worker", "reconciler", "streamer"}, d.Emitter) {
			t.Errorf("%s: emitter %q is not a function", d.Name, d.Emitter)
		}
		if got, ok := metrics.Find(d.Name); !ok || got.Name != d.Name {
			t.Errorf("Find(%s) = %v, %v", d.Name, got, ok)
		}
	}
	if _, ok := metrics.Find("NoSuchMetric"); ok {
		t.Error("Find found a metric that is not defined")
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{200: "2xx", 401: "4xx", 413: "4xx", 503: "5xx", 0: "other", 600: "other"} {
		if got := metrics.StatusClass(status); got != want {
			t.Errorf("StatusClass(%d) = %q, want %q", status, got, want)
		}
	}
}

// parseAll checks every line of out and returns the published metrics.
func parseAll(t *testing.T, out string) (lines int, ms []emftest.Metric) {
	t.Helper()
	for _, l := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if l == "" {
			continue
		}
		lines++
		got, err := emftest.Parse([]byte(l))
		if err != nil {
			t.Errorf("invalid EMF line %s:\n%v", l, err)
		}
		ms = append(ms, got...)
	}
	return lines, ms
}

func find(ms []emftest.Metric, name string, dims map[string]string) []emftest.Metric {
	var out []emftest.Metric
	for _, m := range ms {
		if m.Name != name {
			continue
		}
		match := true
		for k, v := range dims {
			if m.DimValues[k] != v {
				match = false
			}
		}
		if match {
			out = append(out, m)
		}
	}
	return out
}

func TestFlushWritesValidEMFWithCountersSummed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		// The bubble's clock starts in 2000 and moves only when every goroutine
		// in it waits: sleep it forward to a plausible date, then it stands still.
		time.Sleep(time.Until(time.Date(2026, 11, 26, 6, 0, 0, 0, time.UTC)))
		at := time.Now()
		r := metrics.New("Hookline", "prod-hooks", &out)
		r.Add(metrics.Deliveries, 1, metrics.Dim{Name: metrics.DimStatusClass, Value: "2xx"})
		r.Add(metrics.Deliveries, 1, metrics.Dim{Name: metrics.DimStatusClass, Value: "2xx"})
		r.Add(metrics.Deliveries, 1, metrics.Dim{Name: metrics.DimStatusClass, Value: "5xx"})
		r.Add(metrics.EventsEnqueued, 7)
		r.Add(metrics.EventsEnqueued, 3)
		r.Add(metrics.HandlerDuration, 12.5, metrics.Dim{Name: metrics.DimHandler, Value: "event-log"})
		r.Add(metrics.HandlerDuration, 40, metrics.Dim{Name: metrics.DimHandler, Value: "event-log"})
		r.Add(metrics.EndToEndLag, math.NaN())
		ctx := lambdacontext.NewContext(context.Background(), &lambdacontext.LambdaContext{AwsRequestID: "req-1"})
		if err := r.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		text := out.String()
		lines, ms := parseAll(t, text)
		if lines != 4 { // 2xx, 5xx, no dimension, Handler=event-log
			t.Errorf("%d lines, want one per set of dimension values (4):\n%s", lines, text)
		}
		for _, m := range ms {
			if m.Namespace != "Hookline" || m.DimValues["Stack"] != "prod-hooks" {
				t.Errorf("%s: namespace %q stack %q", m.Name, m.Namespace, m.DimValues["Stack"])
			}
		}
		if d := find(ms, metrics.Deliveries, map[string]string{"StatusClass": "2xx"}); len(d) != 1 || !slices.Equal(d[0].Values, []float64{2}) {
			t.Errorf("Deliveries 2xx = %+v, want one value 2", d)
		} else if len(d[0].Dimensions) != 2 {
			t.Errorf("Deliveries dimension sets %v, want by class and the Stack total", d[0].Dimensions)
		}
		if d := find(ms, metrics.EventsEnqueued, nil); len(d) != 1 || !slices.Equal(d[0].Values, []float64{10}) {
			t.Errorf("EventsEnqueued = %+v, want 10", d)
		}
		if d := find(ms, metrics.HandlerDuration, map[string]string{"Handler": "event-log"}); len(d) != 1 || !slices.Equal(d[0].Values, []float64{12.5, 40}) || d[0].Unit != "Milliseconds" {
			t.Errorf("HandlerDuration = %+v, want both values in ms", d)
		}
		if len(find(ms, metrics.EndToEndLag, nil)) != 0 {
			t.Error("a NaN was published")
		}
		if !strings.Contains(text, `"awsRequestId":"req-1"`) || !strings.Contains(text, `"Timestamp":`+strconv.FormatInt(at.UnixMilli(), 10)) {
			t.Errorf("lines lack the request id or the timestamp:\n%s", text)
		}

		out.Reset()
		if err := r.Flush(ctx); err != nil || out.Len() != 0 {
			t.Errorf("second Flush wrote %q, %v; want nothing, values are written once", out.String(), err)
		}

	})
}

func TestDistributionsAreCutIntoArraysOfAtMost100(t *testing.T) {
	var out bytes.Buffer
	r := metrics.New("Hookline", "s", &out)
	for i := range 250 {
		r.Add(metrics.EndToEndLag, float64(i))
	}
	r.Add(metrics.EventsHandled, 250)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	lines, ms := parseAll(t, out.String())
	if lines != 3 {
		t.Errorf("%d lines for 250 values, want 3", lines)
	}
	var all []float64
	for _, m := range find(ms, metrics.EndToEndLag, nil) {
		all = append(all, m.Values...)
	}
	if len(all) != 250 || all[0] != 0 || all[249] != 249 {
		t.Errorf("got %d lag values, want all 250 in order", len(all))
	}
	if h := find(ms, metrics.EventsHandled, nil); len(h) != 1 || h[0].Values[0] != 250 {
		t.Errorf("EventsHandled = %+v, want once, 250", h)
	}
}

func TestAddRefusesUnknownNamesAndDimensions(t *testing.T) {
	r := metrics.New("Hookline", "s", &bytes.Buffer{})
	for name, add := range map[string]func(){
		"unknown name":      func() { r.Add("Typo", 1) },
		"missing dimension": func() { r.Add(metrics.HandlerErrors, 1) },
		"wrong dimension":   func() { r.Add(metrics.HandlerErrors, 1, metrics.Dim{Name: "EventUuid", Value: "x"}) },
		"extra dimension":   func() { r.Add(metrics.EventsParked, 1, metrics.Dim{Name: metrics.DimHandler, Value: "x"}) },
	} {
		t.Run(name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			add()
		})
	}
}

func TestConcurrentAddsAreAllCounted(t *testing.T) {
	var out bytes.Buffer
	r := metrics.New("Hookline", "s", &out)
	done := make(chan struct{})
	for range 10 {
		go func() {
			for range 100 {
				r.Add(metrics.DuplicatesSkipped, 1)
			}
			done <- struct{}{}
		}()
	}
	for range 10 {
		<-done
	}
	_ = r.Flush(context.Background())
	_, ms := parseAll(t, out.String())
	if d := find(ms, metrics.DuplicatesSkipped, nil); len(d) != 1 || d[0].Values[0] != 1000 {
		t.Errorf("DuplicatesSkipped = %+v, want 1000", d)
	}
}

// The README's metrics table is the operator's copy of Defs: same names,
// units and emitters, in the same order.
func TestReadmeListsEveryMetric(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	section := string(data)
	start := strings.Index(section, "### Metrics\n")
	if start < 0 {
		t.Fatal("README has no ### Metrics section")
	}
	section = section[start:]
	if end := strings.Index(section[1:], "\n### "); end > 0 {
		section = section[:end+1]
	}
	var rows [][]string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 6 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		rows = append(rows, cells[1:])
	}
	if len(rows) != len(metrics.Defs) {
		t.Fatalf("README lists %d metrics, internal/metrics defines %d", len(rows), len(metrics.Defs))
	}
	for i, d := range metrics.Defs {
		if r := rows[i]; r[0] != d.Name || r[1] != string(d.Unit) || r[3] != d.Emitter {
			t.Errorf("README row %d is %v, want %s, %s, written by %s", i+1, r[:4], d.Name, d.Unit, d.Emitter)
		}
	}
}

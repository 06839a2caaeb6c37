package metrics

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"
)

// Limits of the embedded metric format.
const (
	MaxDimensions = 30  // dimensions in one dimension set
	MaxMetrics    = 100 // metrics in one directive
	MaxValues     = 100 // values in one metric's array
)

// Message is the msg field of every EMF line, so log queries can tell the
// metric lines from the others.
const Message = "metrics"

// Dim is one dimension value of a recorded value.
type Dim struct{ Name, Value string }

// Adder takes metric values, named in Defs (a *Recorder does). It is what a
// part that only counts needs (schema.Learner, hookhealth.Watch).
type Adder interface {
	Add(name string, value float64, dims ...Dim)
}

// Sink takes an invocation's metric values and writes them at its end (a
// *Recorder does): what the receiver, the worker and the reconciler are
// given. The worker calls Add from concurrent handlers.
type Sink interface {
	Adder
	Flush(ctx context.Context) error
}

// Recorder collects the values of one invocation and writes them as EMF
// lines on Flush. It is safe for concurrent use. A Lambda container runs one
// invocation at a time, so one Recorder per container, flushed at the end of
// each invocation, never mixes two.
type Recorder struct {
	Namespace string
	Stack     string
	Out       io.Writer // each line is one Write

	mu     sync.Mutex
	groups []*group
}

// group is the values recorded with one set of dimension values.
type group struct {
	dims   []Dim // besides Stack
	values map[string][]float64
	order  []string // metric names in first-recorded order
}

// New returns a Recorder writing to out.
func New(namespace, stack string, out io.Writer) *Recorder {
	return &Recorder{Namespace: namespace, Stack: stack, Out: out}
}

// Add records a value of the named metric with the metric's dimensions, in
// the order its Def lists them. Naming an unknown metric, or giving other
// dimensions, is a programming error and panics: the names are constants.
// A value that is not a finite number is dropped.
func (r *Recorder) Add(name string, value float64, dims ...Dim) {
	def, ok := Find(name)
	if !ok {
		panic("metrics: unknown metric " + name)
	}
	if len(dims) != len(def.Dimensions) {
		panic(fmt.Sprintf("metrics: %s takes dimensions %v, got %v", name, def.Dimensions, dims))
	}
	for i, d := range dims {
		if d.Name != def.Dimensions[i] {
			panic(fmt.Sprintf("metrics: %s takes dimensions %v, got %v", name, def.Dimensions, dims))
		}
	}
	if math.IsNaN(value) || math.IsInf(value, 0) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	g := r.group(dims)
	if _, seen := g.values[name]; !seen {
		g.order = append(g.order, name)
	}
	if def.Kind == Counter && len(g.values[name]) == 1 {
		g.values[name][0] += value
		return
	}
	g.values[name] = append(g.values[name], value)
}

func (r *Recorder) group(dims []Dim) *group {
	for _, g := range r.groups {
		if slicesEqual(g.dims, dims) {
			return g
		}
	}
	g := &group{dims: append([]Dim(nil), dims...), values: map[string][]float64{}}
	r.groups = append(r.groups, g)
	return g
}

func slicesEqual(a, b []Dim) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Flush writes what was recorded since the last Flush, one line per set of
// dimension values (more when a distribution holds over MaxValues values),
// and forgets it. The line carries the invocation's awsRequestId when ctx
// has one. A write error is returned; the values are gone either way, as a
// log line would be.
func (r *Recorder) Flush(ctx context.Context) error {
	r.mu.Lock()
	groups := r.groups
	r.groups = nil
	r.mu.Unlock()
	ts := time.Now().UnixMilli()
	requestID := ""
	if lc, ok := lambdacontext.FromContext(ctx); ok {
		requestID = lc.AwsRequestID
	}
	var errs []error
	for _, g := range groups {
		for _, line := range r.lines(g, ts, requestID) {
			if _, err := r.Out.Write(line); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("metrics: %d lines not written: %w", len(errs), errs[0])
	}
	return nil
}

// lines renders one group. Counters go on the first line; distributions are
// cut into chunks of MaxValues, one chunk per line.
func (r *Recorder) lines(g *group, ts int64, requestID string) [][]byte {
	chunks := 1
	for _, name := range g.order {
		chunks = max(chunks, (len(g.values[name])+MaxValues-1)/MaxValues)
	}
	var out [][]byte
	for c := range chunks {
		var names []string
		vals := map[string]any{}
		for _, name := range g.order {
			def, _ := Find(name)
			v := g.values[name]
			switch {
			case def.Kind == Counter && c == 0:
				vals[name] = v[0]
			case def.Kind == Distribution && c*MaxValues < len(v):
				part := v[c*MaxValues : min(len(v), (c+1)*MaxValues)]
				if len(part) == 1 {
					vals[name] = part[0]
				} else {
					vals[name] = part
				}
			default:
				continue
			}
			names = append(names, name)
		}
		if len(names) > 0 {
			out = append(out, r.line(g.dims, names, vals, ts, requestID))
		}
	}
	return out
}

// directive is an EMF MetricDirective.
type directive struct {
	Namespace  string       `json:"Namespace"`
	Dimensions [][]string   `json:"Dimensions"`
	Metrics    []definition `json:"Metrics"`
}

// definition is an EMF MetricDefinition.
type definition struct {
	Name string `json:"Name"`
	Unit Unit   `json:"Unit"`
}

func (r *Recorder) line(dims []Dim, names []string, vals map[string]any, ts int64, requestID string) []byte {
	// One directive per distinct list of dimension sets, at most MaxMetrics
	// metrics each.
	var dirs []*directive
	for _, name := range names {
		def, _ := Find(name)
		sets := def.DimensionSets()
		var d *directive
		for _, x := range dirs {
			if fmt.Sprint(x.Dimensions) == fmt.Sprint(sets) && len(x.Metrics) < MaxMetrics {
				d = x
				break
			}
		}
		if d == nil {
			d = &directive{Namespace: r.Namespace, Dimensions: sets}
			dirs = append(dirs, d)
		}
		d.Metrics = append(d.Metrics, definition{Name: def.Name, Unit: def.Unit})
	}
	aws, _ := json.Marshal(struct {
		Timestamp         int64        `json:"Timestamp"`
		CloudWatchMetrics []*directive `json:"CloudWatchMetrics"`
	}{ts, dirs})

	var b bytes.Buffer
	b.WriteString(`{"_aws":`)
	b.Write(aws)
	field(&b, "msg", Message)
	if requestID != "" {
		field(&b, "awsRequestId", requestID)
	}
	field(&b, DimStack, dimValue(r.Stack))
	for _, d := range dims {
		field(&b, d.Name, dimValue(d.Value))
	}
	for _, name := range names {
		field(&b, name, vals[name])
	}
	b.WriteString("}\n")
	return b.Bytes()
}

func field(b *bytes.Buffer, key string, v any) {
	k, _ := json.Marshal(key)
	val, _ := json.Marshal(v)
	b.WriteByte(',')
	b.Write(k)
	b.WriteByte(':')
	b.Write(val)
}

// dimValue keeps a dimension value within CloudWatch's rules: 1 to 1024
// characters, not only whitespace.
func dimValue(v string) string {
	if strings.TrimSpace(v) == "" {
		return "none"
	}
	if len(v) > 1024 {
		return v[:1024]
	}
	return v
}

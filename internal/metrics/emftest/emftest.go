// Package emftest checks log lines against the CloudWatch embedded metric
// format specification, for tests that run the functions and read what they
// print. It is test support: no function imports it.
package emftest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Units are the units the specification allows (CloudWatch's StandardUnit).
var Units = []string{
	"Seconds", "Microseconds", "Milliseconds",
	"Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes",
	"Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
	"Percent", "Count",
	"Bytes/Second", "Kilobytes/Second", "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second",
	"Bits/Second", "Kilobits/Second", "Megabits/Second", "Gigabits/Second", "Terabits/Second",
	"Count/Second", "None",
}

// Limits from the specification.
const (
	maxDimensions = 30
	maxMetrics    = 100
	maxValues     = 100
)

// Metric is one metric a line publishes.
type Metric struct {
	Namespace  string
	Name       string
	Unit       string
	Dimensions [][]string // dimension sets
	DimValues  map[string]string
	Values     []float64
}

// IsEMF reports whether a log line claims to be EMF (has an _aws member).
func IsEMF(line []byte) bool {
	var root map[string]json.RawMessage
	if json.Unmarshal(line, &root) != nil {
		return false
	}
	_, ok := root["_aws"]
	return ok
}

// Parse checks one log line against the specification and returns the
// metrics it publishes. Every violation is reported, joined.
func Parse(line []byte) ([]Metric, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	line = bytes.TrimRight(line, "\r\n")
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var root map[string]any
	if err := dec.Decode(&root); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	if dec.More() {
		return nil, errors.New("data after the JSON object")
	}
	if len(line) > 1<<20 {
		bad("line is %d bytes; a log event is at most 1 MiB", len(line))
	}
	aws, ok := root["_aws"].(map[string]any)
	if !ok {
		return nil, errors.New("_aws is missing or not an object")
	}
	for k := range aws {
		if k != "Timestamp" && k != "CloudWatchMetrics" && k != "LogGroupName" && k != "LogStreamName" {
			// Allowed by the spec (metadata may carry more), but not written by hookline.
			bad("_aws has an unexpected member %q", k)
		}
	}
	if ts, ok := aws["Timestamp"].(json.Number); !ok {
		bad("_aws.Timestamp is missing or not a number")
	} else if n, err := ts.Int64(); err != nil || n < 1e12 || n > 1e14 {
		bad("_aws.Timestamp %v is not epoch milliseconds", ts)
	}
	dirs, ok := aws["CloudWatchMetrics"].([]any)
	if !ok || len(dirs) == 0 {
		bad("_aws.CloudWatchMetrics is missing, not an array or empty")
	}
	var out []Metric
	for i, d := range dirs {
		at := fmt.Sprintf("CloudWatchMetrics[%d]", i)
		dir, ok := d.(map[string]any)
		if !ok {
			bad("%s is not an object", at)
			continue
		}
		for k := range dir {
			if k != "Namespace" && k != "Dimensions" && k != "Metrics" {
				bad("%s has an unknown member %q", at, k)
			}
		}
		ns, _ := dir["Namespace"].(string)
		if ns == "" || len(ns) > 255 || strings.HasPrefix(ns, ":") || strings.HasPrefix(ns, "AWS/") {
			bad("%s.Namespace %q is not a valid custom namespace", at, dir["Namespace"])
		}
		rawSets, ok := dir["Dimensions"].([]any)
		if !ok {
			bad("%s.Dimensions is missing or not an array", at)
		}
		var sets [][]string
		dimValues := map[string]string{}
		for j, s := range rawSets {
			keys, ok := s.([]any)
			if !ok {
				bad("%s.Dimensions[%d] is not an array", at, j)
				continue
			}
			if len(keys) > maxDimensions {
				bad("%s.Dimensions[%d] has %d keys; at most %d", at, j, len(keys), maxDimensions)
			}
			var set []string
			for _, k := range keys {
				key, ok := k.(string)
				if !ok {
					bad("%s.Dimensions[%d] has a key that is not a string", at, j)
					continue
				}
				v, ok := root[key].(string)
				if !ok || strings.TrimSpace(v) == "" || len(v) > 1024 {
					bad("%s: dimension %q has no string value of 1 to 1024 characters at the root", at, key)
				}
				dimValues[key] = v
				set = append(set, key)
			}
			sets = append(sets, set)
		}
		defs, ok := dir["Metrics"].([]any)
		if !ok || len(defs) == 0 {
			bad("%s.Metrics is missing, not an array or empty", at)
		}
		if len(defs) > maxMetrics {
			bad("%s.Metrics has %d metrics; at most %d", at, len(defs), maxMetrics)
		}
		for j, m := range defs {
			mat := fmt.Sprintf("%s.Metrics[%d]", at, j)
			def, ok := m.(map[string]any)
			if !ok {
				bad("%s is not an object", mat)
				continue
			}
			for k := range def {
				if k != "Name" && k != "Unit" && k != "StorageResolution" {
					bad("%s has an unknown member %q", mat, k)
				}
			}
			name, _ := def["Name"].(string)
			if name == "" || len(name) > 1024 {
				bad("%s.Name is missing or not a string of 1 to 1024 characters", mat)
				continue
			}
			unit := "None"
			if u, present := def["Unit"]; present {
				s, ok := u.(string)
				if !ok || !slices.Contains(Units, s) {
					bad("%s.Unit %v is not a CloudWatch unit", mat, u)
				}
				unit = s
			}
			if r, present := def["StorageResolution"]; present {
				if n, ok := r.(json.Number); !ok || (n.String() != "1" && n.String() != "60") {
					bad("%s.StorageResolution %v is not 1 or 60", mat, r)
				}
			}
			values, err := numbers(root[name])
			if err != nil {
				bad("%s: root member %q: %v", mat, name, err)
			}
			out = append(out, Metric{Namespace: ns, Name: name, Unit: unit, Dimensions: sets, DimValues: dimValues, Values: values})
		}
	}
	return out, errors.Join(errs...)
}

// numbers reads a metric's root value: a number, or an array of up to 100.
func numbers(v any) ([]float64, error) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return []float64{f}, err
	case []any:
		if len(x) == 0 || len(x) > maxValues {
			return nil, fmt.Errorf("array of %d values; want 1 to %d", len(x), maxValues)
		}
		out := make([]float64, 0, len(x))
		for _, e := range x {
			n, ok := e.(json.Number)
			if !ok {
				return nil, fmt.Errorf("array holds %v, not a number", e)
			}
			f, err := n.Float64()
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	case nil:
		return nil, errors.New("missing")
	default:
		return nil, fmt.Errorf("%v is not a number or an array of numbers", v)
	}
}

// Sums parses every EMF line of a log (other lines are skipped) and adds up
// each metric's values, keyed by name and its dimension values other than
// Stack: "EventsHandled", "Deliveries StatusClass=2xx",
// "HandlerErrors Handler=event-log". The first invalid line is an error.
func Sums(log []byte) (map[string]float64, error) {
	sums := map[string]float64{}
	for _, line := range bytes.Split(log, []byte("\n")) {
		if !IsEMF(line) {
			continue
		}
		ms, err := Parse(line)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", line, err)
		}
		for _, m := range ms {
			key := m.Name
			var dims []string
			for k, v := range m.DimValues {
				if k != "Stack" {
					dims = append(dims, k+"="+v)
				}
			}
			slices.Sort(dims)
			if len(dims) > 0 {
				key += " " + strings.Join(dims, ",")
			}
			for _, v := range m.Values {
				sums[key] += v
			}
		}
	}
	return sums, nil
}

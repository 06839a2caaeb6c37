package schema_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkObserve is the learner's CPU per known event: the samples in
// events/okta/ (2-3 KB, 60-90 paths each), shapes already learned, no
// store call.
func BenchmarkObserve(b *testing.B) {
	files, _ := filepath.Glob("../../events/okta/*.json")
	type sample struct {
		typ string
		raw json.RawMessage
	}
	var samples []sample
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		var ev struct{ EventType string }
		_ = json.Unmarshal(raw, &ev)
		samples = append(samples, sample{ev.EventType, raw})
	}
	r := newRig()
	l := r.learner()
	ctx := context.Background()
	for _, s := range samples {
		l.Observe(ctx, s.typ, s.raw)
	}
	saves := r.store.saves
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		s := samples[i%len(samples)]
		l.Observe(ctx, s.typ, s.raw)
	}
	b.StopTimer()
	b.ReportMetric(float64(r.store.saves-saves)/float64(b.N), "writes/event")
}

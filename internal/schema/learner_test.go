package schema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/metrics"
	"github.com/hookline/hookline/internal/schema"
)

// memStore is a Store in memory, with the conditional write of the real one,
// counting its calls.
type memStore struct {
	mu            sync.Mutex
	docs          map[string][]byte
	versions      map[string]int64
	loads, saves  int
	failSave      error
	beforeSaveOne func() // runs (unlocked) before the next Save
}

func newMemStore() *memStore {
	return &memStore{docs: map[string][]byte{}, versions: map[string]int64{}}
}

func (m *memStore) Load(_ context.Context, t string) ([]byte, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.loads++
	return m.docs[t], m.versions[t], nil
}

func (m *memStore) Save(_ context.Context, t string, doc []byte, version int64) (bool, error) {
	if f := m.beforeSaveOne; f != nil {
		m.beforeSaveOne = nil
		f()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.saves++
	if m.failSave != nil {
		return false, m.failSave
	}
	if m.versions[t] != version {
		return false, nil
	}
	m.docs[t], m.versions[t] = doc, version+1
	return true, nil
}

type counter struct {
	mu sync.Mutex
	n  map[string]float64
}

func (c *counter) Add(name string, v float64, _ ...metrics.Dim) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]float64{}
	}
	c.n[name] += v
}

type clock struct{ t time.Time }

func (c *clock) Now() time.Time { return c.t }

// logLines decodes the JSON log lines with message msg.
func logLines(buf *bytes.Buffer, msg string) []map[string]any {
	var out []map[string]any
	for _, l := range strings.Split(buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

type rig struct {
	store *memStore
	log   *bytes.Buffer
	count *counter
	clock *clock
}

func newRig() *rig {
	return &rig{store: newMemStore(), log: new(bytes.Buffer), count: &counter{}, clock: &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}}
}

func (r *rig) learner() *schema.Learner {
	return &schema.Learner{Store: r.store, Log: slog.New(slog.NewJSONHandler(r.log, nil)), Metrics: r.count, Now: r.clock.Now}
}

func observe(l *schema.Learner, typ, raw string) {
	l.Observe(context.Background(), typ, json.RawMessage(raw))
}

func TestMergesPathsTypesAndArrayElements(t *testing.T) {
	l := &schema.Learner{}
	observe(l, "t", `{"a":"x","n":1,"b":true,"o":{"k":"v"},"target":[{"id":"1","type":"User"},{"id":"2","alt":null}],"e":[]}`)
	observe(l, "t", `{"a":"y","target":[{"id":3}]}`)
	s := l.Shape("t")
	want := map[string]string{
		"a": "string", "n": "number", "b": "boolean", "o": "object", "o.k": "string",
		"target": "array", "target[]": "object", "target[].id": "string|number", "target[].type": "string",
		"target[].alt": "null", "e": "array",
	}
	if len(s.Paths) != len(want) {
		t.Errorf("paths %v, want %d", s.Sorted(), len(want))
	}
	for path, typ := range want {
		if p := s.Paths[path]; p == nil || p.Type() != typ {
			t.Errorf("%s: %v, want %s", path, p, typ)
		}
	}
	// Counted once per event, however many elements have it.
	if p := s.Paths["target[].id"]; p.Count != 2 || s.Events != 2 || s.Paths["n"].Count != 1 {
		t.Errorf("target[].id seen %d times in %d events, n %d: want 2, 2, 1", p.Count, s.Events, s.Paths["n"].Count)
	}
	if s.Paths["a"].FirstSeen.IsZero() {
		t.Error("no first-seen time")
	}
}

func TestChangeReportedOncePerChangeNotPerEvent(t *testing.T) {
	r := newRig()
	l := r.learner()
	observe(l, "user.session.start", `{"actor":{"id":"1"},"outcome":{"result":"SUCCESS"}}`)
	if n := len(logLines(r.log, "schema changed")); n != 0 {
		t.Fatalf("the first event is a first learning, not a change: %d lines", n)
	}
	if len(logLines(r.log, "schema learned")) != 1 {
		t.Fatalf("no schema learned line: %s", r.log)
	}
	for range 5 {
		observe(l, "user.session.start", `{"actor":{"id":"1","extra":"x"},"outcome":{"result":"SUCCESS","reason":{"code":7}}}`)
	}
	for range 5 {
		observe(l, "user.session.start", `{"actor":{"id":2},"outcome":{"result":"SUCCESS"}}`)
	}
	lines := logLines(r.log, "schema changed")
	if len(lines) != 2 {
		t.Fatalf("%d schema changed lines, want 2 (one per change):\n%s", len(lines), r.log)
	}
	added := strings.Join(asStrings(lines[0]["added"]), ", ")
	if lines[0]["eventType"] != "user.session.start" || added != "actor.extra: string, outcome.reason: object" {
		t.Errorf("first change %v: want actor.extra and outcome.reason (not its children) added", lines[0])
	}
	if got := strings.Join(asStrings(lines[1]["retyped"]), ", "); got != "actor.id: string -> string|number" {
		t.Errorf("second change %v", lines[1])
	}
	if r.count.n[metrics.SchemaChanges] != 3 {
		t.Errorf("SchemaChanges = %v, want 3", r.count.n[metrics.SchemaChanges])
	}
}

func asStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// No store write per event once a type's shape is known: counts wait in
// memory for a shape change, or FlushEvery.
func TestNoWritePerEventOnceKnown(t *testing.T) {
	r := newRig()
	l := r.learner()
	event := `{"actor":{"id":"1","x":null},"target":[{"id":"1"}]}`
	observe(l, "t", event)
	loads, saves := r.store.loads, r.store.saves
	for range 1000 {
		r.clock.t = r.clock.t.Add(100 * time.Millisecond)
		observe(l, "t", event)
	}
	if r.store.loads != loads || r.store.saves != saves {
		t.Fatalf("1000 known events: %d loads and %d saves, want none", r.store.loads-loads, r.store.saves-saves)
	}
	r.clock.t = r.clock.t.Add(schema.DefaultFlushEvery)
	observe(l, "t", event)
	if r.store.saves != saves+1 {
		t.Fatalf("after FlushEvery: %d saves, want 1 (the counts)", r.store.saves-saves)
	}
	stored, err := schema.Unmarshal(r.store.docs["t"], r.store.versions["t"])
	if err != nil || stored.Events != 1002 || stored.Paths["target[].id"].Count != 1002 || stored.Paths["actor.x"].Nulls != 1002 {
		t.Fatalf("stored %+v %v: want 1002 events counted", stored, err)
	}
	if len(logLines(r.log, "schema changed")) != 0 {
		t.Fatal("counts are no change")
	}
}

// Nulls are never drift: a known field turning null, a null field turning
// into a value (and the fields under it), nothing of it is reported.
func TestNullsAreNotDrift(t *testing.T) {
	r := newRig()
	l := r.learner()
	observe(l, "t", `{"a":"x","device":null,"client":{"id":null},"target":[]}`)
	observe(l, "t", `{"a":null,"device":null,"client":{"id":null},"target":[]}`)
	observe(l, "t", `{"a":"y","device":{"id":"d","name":"n"},"client":{"id":"c"},"target":[{"id":"1"}]}`)
	observe(l, "t", `{"a":"y","device":null,"client":{"id":null},"target":[],"b":null}`)
	if lines := logLines(r.log, "schema changed"); len(lines) != 0 {
		t.Fatalf("nulls reported as drift: %v", lines)
	}
	s := l.Shape("t")
	if s.Paths["a"].Type() != "string|null" || s.Paths["device.id"].Type() != "string" || s.Paths["b"].Type() != "null" {
		t.Errorf("types a=%s device.id=%s b=%s", s.Paths["a"].Type(), s.Paths["device.id"].Type(), s.Paths["b"].Type())
	}
	// A field that appeared as null is reported once it has a type.
	observe(l, "t", `{"a":"y","b":{"c":1}}`)
	lines := logLines(r.log, "schema changed")
	if len(lines) != 1 || strings.Join(asStrings(lines[0]["added"]), ",") != "b: object" {
		t.Fatalf("b's first type: %v", lines)
	}
}

// The samples in events/okta/ learn quietly, with their nulls, and events
// that fill those nulls in, or null what the samples have, report nothing.
func TestSamplesOwnNullsReportNothing(t *testing.T) {
	r := newRig()
	l := r.learner()
	files, _ := filepath.Glob("../../events/okta/*.json")
	if len(files) == 0 {
		t.Fatal("no samples in events/okta")
	}
	nulls := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev map[string]any
		if err := json.Unmarshal(b, &ev); err != nil {
			t.Fatal(err)
		}
		typ := ev["eventType"].(string)
		observe(l, typ, string(b))
		// The same event with every null that has no type yet filled in,
		// then with every string nulled.
		learned := l.Shape(typ)
		filled := mapValues("", ev, func(path string, v any) any {
			if v == nil && learned.Paths[path].Kinds == 0 {
				nulls++
				return map[string]any{"id": "x"}
			}
			return v
		})
		observe(l, typ, mustJSON(t, filled))
		nulled := mapValues("", ev, func(_ string, v any) any {
			if _, ok := v.(string); ok {
				return nil
			}
			return v
		})
		observe(l, typ, mustJSON(t, nulled))
	}
	if nulls == 0 {
		t.Fatal("the samples have no nulls: the test proves nothing")
	}
	if n := len(logLines(r.log, "schema learned")); n != len(files) {
		t.Errorf("%d types learned, want %d", n, len(files))
	}
	if lines := logLines(r.log, "schema changed"); len(lines) != 0 {
		t.Fatalf("the samples' own nulls reported: %v", lines)
	}
}

func mapValues(path string, v any, f func(string, any) any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, c := range x {
			out[k] = mapValues(strings.TrimPrefix(path+"."+k, "."), c, f)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, c := range x {
			out[i] = mapValues(path+"[]", c, f)
		}
		return out
	}
	return f(path, v)
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A path absent from every event of its type for RemovalAfter and
// RemovalMinEvents events is reported once as possibly removed; one under a
// null or an empty array is not absent; one seen again is back.
func TestPossibleRemovalAfterLongAbsence(t *testing.T) {
	r := newRig()
	l := r.learner()
	l.RemovalAfter, l.RemovalMinEvents = 30*24*time.Hour, 10
	observe(l, "t", `{"a":"x","gone":{"x":1,"y":2},"under":{"k":"v"},"list":[{"id":"1"}]}`)
	for day := range 40 {
		r.clock.t = r.clock.t.Add(24 * time.Hour)
		// under is null and list empty: their children are not missing.
		observe(l, "t", `{"a":"x","under":null,"list":[]}`)
		if day == 20 {
			if lines := logLines(r.log, "schema changed"); len(lines) != 0 {
				t.Fatalf("reported before RemovalAfter: %v", lines)
			}
		}
	}
	lines := logLines(r.log, "schema changed")
	if len(lines) != 1 {
		t.Fatalf("%d schema changed lines, want 1:\n%s", len(lines), r.log)
	}
	removed := asStrings(lines[0]["possiblyRemoved"])
	if len(removed) != 1 || !strings.HasPrefix(removed[0], "gone (last seen 2026-01-01") {
		t.Fatalf("possibly removed %v, want only gone (not its children, nor what is under a null or an empty array)", removed)
	}
	s := l.Shape("t")
	if !s.Gone("gone") || !s.Gone("gone.x") || s.Gone("under.k") || s.Gone("list[].id") {
		t.Errorf("gone marks: gone=%v gone.x=%v under.k=%v list[].id=%v", s.Gone("gone"), s.Gone("gone.x"), s.Gone("under.k"), s.Gone("list[].id"))
	}
	r.clock.t = r.clock.t.Add(time.Hour)
	observe(l, "t", `{"a":"x","gone":{"x":1}}`)
	if s := l.Shape("t"); s.Gone("gone") || s.Gone("gone.x") {
		t.Error("a path seen again is still gone")
	}
	if n := len(logLines(r.log, "schema changed")); n != 1 {
		t.Errorf("%d lines after the path came back, want still 1", n)
	}
}

// Not enough events since: a type that is just quiet has nothing removed.
func TestNoRemovalWithoutEnoughEvents(t *testing.T) {
	r := newRig()
	l := r.learner()
	observe(l, "t", `{"a":"x","b":"y"}`)
	r.clock.t = r.clock.t.Add(60 * 24 * time.Hour)
	observe(l, "t", `{"a":"x"}`)
	if lines := logLines(r.log, "schema changed"); len(lines) != 0 {
		t.Fatalf("removal reported after 1 event: %v", lines)
	}
}

// Two learners (two containers) on one store: each keeps the other's
// learning, and each change is logged by the one whose write stored it.
func TestTwoLearnersKeepEachOthersChanges(t *testing.T) {
	r := newRig()
	a, b := r.learner(), r.learner()
	observe(a, "t", `{"base":"x"}`)
	observe(b, "t", `{"base":"x"}`) // b reads a's shape
	// a learns "fromA", but b writes "fromB" just before a's write.
	r.store.beforeSaveOne = func() { observe(b, "t", `{"base":"x","fromB":1}`) }
	observe(a, "t", `{"base":"x","fromA":"s"}`)
	stored, err := schema.Unmarshal(r.store.docs["t"], r.store.versions["t"])
	if err != nil {
		t.Fatal(err)
	}
	if stored.Paths["fromA"] == nil || stored.Paths["fromB"] == nil {
		t.Fatalf("stored paths %v: a change was lost", stored.Sorted())
	}
	if stored.Events != 4 || stored.Paths["base"].Count != 4 {
		t.Errorf("stored %d events, base %d: want 4 and 4", stored.Events, stored.Paths["base"].Count)
	}
	lines := logLines(r.log, "schema changed")
	if len(lines) != 2 {
		t.Fatalf("%d lines, want 2: %s", len(lines), r.log)
	}
	// b sees fromA next time without reporting it again.
	observe(b, "t", `{"base":"x","fromA":"s","fromB":1}`)
	observe(b, "t", `{"base":"x","fromA":"s","fromB":1}`)
	if n := len(logLines(r.log, "schema changed")); n != 2 {
		t.Fatalf("%d lines after b met a's change, want still 2: %s", n, r.log)
	}
}

// A store that fails is logged, never fails the caller, and is not called
// per event while it is down; the change is reported once it is saved.
func TestStoreFailureWaitsInMemory(t *testing.T) {
	r := newRig()
	l := r.learner()
	observe(l, "t", `{"a":"x"}`)
	r.store.failSave = errors.New("throttled")
	observe(l, "t", `{"a":"x","b":"y"}`)
	saves := r.store.saves
	for range 100 {
		observe(l, "t", `{"a":"x","b":"y"}`)
	}
	if r.store.saves != saves {
		t.Errorf("%d saves while the store is down, want none before a minute", r.store.saves-saves)
	}
	if len(logLines(r.log, "schema not saved; retrying with a later event")) != 1 {
		t.Errorf("want one warning: %s", r.log)
	}
	r.store.failSave = nil
	r.clock.t = r.clock.t.Add(2 * time.Minute)
	observe(l, "t", `{"a":"x","b":"y"}`)
	if lines := logLines(r.log, "schema changed"); len(lines) != 1 || asStrings(lines[0]["added"])[0] != "b: string" {
		t.Fatalf("after recovery: %v", lines)
	}
}

// The path limit bounds a shape that keeps growing (keys that are ids).
func TestPathLimit(t *testing.T) {
	r := newRig()
	l := r.learner()
	l.MaxPaths = 10
	for i := range 50 {
		observe(l, "t", `{"m":{"k`+strings.Repeat("x", i)+`":1}}`)
	}
	if n := len(l.Shape("t").Paths); n != 10 {
		t.Errorf("%d paths, want the limit 10", n)
	}
	if len(logLines(r.log, "schema path limit reached; new paths of this type are not learned")) != 1 {
		t.Errorf("want one warning: %s", r.log)
	}
}

func TestConcurrentObserve(t *testing.T) {
	r := newRig()
	l := r.learner()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				observe(l, "t", `{"a":"x","w`+string(rune('0'+i))+`":1}`)
			}
		}()
	}
	wg.Wait()
	if s := l.Shape("t"); s.Events != 800 || len(s.Paths) != 9 {
		t.Errorf("%d events, %d paths: want 800, 9", s.Events, len(s.Paths))
	}
}

// A change two containers both see is written and reported by the first;
// the second, refused, finds it stored and writes nothing more.
func TestSameChangeInTwoLearnersWrittenOnce(t *testing.T) {
	r := newRig()
	a, b := r.learner(), r.learner()
	observe(a, "t", `{"base":"x"}`)
	observe(b, "t", `{"base":"x"}`)
	observe(a, "t", `{"base":"x","new":1}`)
	saves := r.store.saves
	observe(b, "t", `{"base":"x","new":1}`)
	if r.store.saves != saves+1 || r.store.versions["t"] != 2 {
		t.Errorf("b: %d save calls, version %d: want 1 (refused) and still 2", r.store.saves-saves, r.store.versions["t"])
	}
	if n := len(logLines(r.log, "schema changed")); n != 1 {
		t.Errorf("%d schema changed lines, want 1", n)
	}
	for range 10 {
		observe(b, "t", `{"base":"x","new":1}`)
	}
	if r.store.saves != saves+1 {
		t.Errorf("b kept writing: %d save calls", r.store.saves-saves)
	}
}

// However many types a sender invents, one learner keeps at most 1,000.
func TestTypeLimit(t *testing.T) {
	r := newRig()
	l := r.learner()
	for i := range 1100 {
		observe(l, "made.up."+strings.Repeat("x", i%7)+string(rune('a'+i%26))+strings.Repeat("y", i/26), `{"a":1}`)
	}
	observe(l, strings.Repeat("t", 201), `{"a":1}`)
	if n := len(r.store.versions); n != 1000 {
		t.Errorf("%d types stored, want 1000", n)
	}
	if len(logLines(r.log, "schema type limit reached; new event types are not learned")) != 1 {
		t.Error("want one warning")
	}
}

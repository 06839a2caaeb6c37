package schema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/ledger"
	"github.com/hookline/hookline/internal/schema"
)

// syncBuffer is a log both learners write to.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// Two workers (two learners, as two containers) learning one type at once
// on the ledger table in kumo: no change is lost, each is logged once.
func TestTwoWorkersLearnConcurrentlyOnKumo(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	store := &ledger.Schemas{Client: s.Clients.DynamoDB, Table: s.Resources.Tables["LedgerTable"]}
	logs := new(syncBuffer)
	newLearner := func() *schema.Learner {
		return &schema.Learner{Store: store, Log: slog.New(slog.NewJSONHandler(logs, nil))}
	}
	a, b := newLearner(), newLearner()
	ctx := context.Background()
	a.Observe(ctx, "user.session.start", json.RawMessage(`{"base":"x"}`))
	b.Observe(ctx, "user.session.start", json.RawMessage(`{"base":"x"}`))

	var wg sync.WaitGroup
	for name, l := range map[string]*schema.Learner{"a": a, "b": b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10 {
				// Its own new path each time, and one new path both see.
				l.Observe(ctx, "user.session.start", json.RawMessage(fmt.Sprintf(`{"base":"x","%s%d":"v","shared":1}`, name, i)))
			}
		}()
	}
	wg.Wait()
	// What lost a race waits in memory for the learner's next event.
	a.Observe(ctx, "user.session.start", json.RawMessage(`{"base":"x"}`))
	b.Observe(ctx, "user.session.start", json.RawMessage(`{"base":"x"}`))

	doc, version, err := store.Load(ctx, "user.session.start")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := schema.Unmarshal(doc, version)
	if err != nil {
		t.Fatal(err)
	}
	var reported []string
	for _, l := range logLines(&logs.b, "schema changed") {
		reported = append(reported, asStrings(l["added"])...)
	}
	slices.Sort(reported)
	for _, p := range []string{"shared", "a0", "a9", "b0", "b9"} {
		if stored.Paths[p] == nil {
			t.Errorf("stored shape lacks %s: %v", p, stored.Sorted())
		}
	}
	if len(stored.Paths) != 22 {
		t.Errorf("stored %d paths, want 22: %v", len(stored.Paths), stored.Sorted())
	}
	if len(reported) != 21 || len(slices.Compact(slices.Clone(reported))) != 21 {
		t.Errorf("reported %d additions (%v), want each of the 21 once", len(reported), reported)
	}
	if stored.Events < 2 || stored.Events > 24 {
		t.Errorf("stored %d events, want 2 to 24 (counts of events without a change wait for FlushEvery)", stored.Events)
	}
	if got, err := store.Types(ctx); err != nil || !slices.Equal(got, []string{"user.session.start"}) {
		t.Errorf("index %v %v", got, err)
	}
}

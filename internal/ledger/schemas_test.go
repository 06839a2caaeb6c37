package ledger_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/hookline/hookline/internal/devstack/devstacktest"
	"github.com/hookline/hookline/internal/ledger"
)

// Shapes are written only over the version read: a second writer of the
// same version is refused, not lost; the index lists every type stored.
func TestSchemasVersionedWritesOnKumo(t *testing.T) {
	s := devstacktest.Start(t, devstacktest.Options{})
	st := &ledger.Schemas{Client: s.Clients.DynamoDB, Table: s.Resources.Tables["LedgerTable"]}
	ctx := t.Context()

	doc, v, err := st.Load(ctx, "user.session.start")
	if err != nil || v != 0 || doc != nil {
		t.Fatalf("nothing stored: got %q v%d %v", doc, v, err)
	}
	if ok, err := st.Save(ctx, "user.session.start", []byte(`{"a":1}`), 0); !ok || err != nil {
		t.Fatalf("first save: %v %v", ok, err)
	}
	if ok, err := st.Save(ctx, "user.session.start", []byte(`{"lost":1}`), 0); ok || err != nil {
		t.Fatalf("a second first save must be refused: %v %v", ok, err)
	}
	if ok, err := st.Save(ctx, "user.session.start", []byte(`{"a":2}`), 1); !ok || err != nil {
		t.Fatalf("save over v1: %v %v", ok, err)
	}
	if ok, err := st.Save(ctx, "user.session.start", []byte(`{"stale":1}`), 1); ok || err != nil {
		t.Fatalf("a stale save must be refused: %v %v", ok, err)
	}
	doc, v, err = st.Load(ctx, "user.session.start")
	if err != nil || v != 2 || string(doc) != `{"a":2}` {
		t.Fatalf("stored %q v%d %v, want {\"a\":2} v2", doc, v, err)
	}

	// Concurrent first saves of different types all reach the index.
	var wg sync.WaitGroup
	types := []string{"a.one", "b.two", "c.three", "d.four"}
	for _, typ := range types {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := st.Save(ctx, typ, []byte(`{}`), 0); !ok || err != nil {
				t.Errorf("%s: %v %v", typ, ok, err)
			}
		}()
	}
	wg.Wait()
	got, err := st.Types(ctx)
	want := "[a.one b.two c.three d.four user.session.start]"
	if err != nil || len(got) != 5 || fmt.Sprint(got) != want {
		t.Fatalf("types %v %v, want %s", got, err, want)
	}
}

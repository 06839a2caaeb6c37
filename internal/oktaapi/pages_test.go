package oktaapi_test

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookline/hookline/internal/oktaapi"
	"github.com/hookline/hookline/internal/samtemplate"
	"github.com/hookline/hookline/internal/standin"
)

func TestCheckPageURLAcceptsOnlyTheOrgsSystemLog(t *testing.T) {
	org := standin.Start(t.Cleanup)
	c, err := oktaapi.New(oktaapi.Credentials{OrgURL: org.URL, APIToken: "t"}, oktaapi.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(org.URL)
	const canary = "canary-q7x"
	if err := c.CheckPageURL(org.URL + "/api/v1/logs?after=" + canary + "&limit=10"); err != nil {
		t.Fatalf("the org's own page refused: %v", err)
	}
	for _, bad := range []string{
		"http://198.51.100.1/api/v1/logs?after=" + canary,
		"https://" + u.Host + "/api/v1/logs?after=" + canary,              // the https twin
		"http://" + u.Hostname() + ":1/api/v1/logs?after=" + canary,       // another port
		"http://" + canary + ":" + canary + "@" + u.Host + "/api/v1/logs", // userinfo
		org.URL + "/api/v1/logs?after=x#" + canary,                        // fragment
		org.URL + "/api/v1/users?after=" + canary,                         // another API
		org.URL + "/api/v1/%6cogs?after=" + canary,                        // the path, escaped
		org.URL + "/api/v1/logs/../users?after=" + canary,                 // a dot segment
		"http:" + canary,                               // opaque
		"http://[::1" + canary,                         // no parse
		"//" + u.Host + "/api/v1/logs?after=" + canary, // no scheme
	} {
		err := c.CheckPageURL(bad)
		if !errors.Is(err, oktaapi.ErrOrgURL) {
			t.Errorf("%s: error %v, want ErrOrgURL", bad, err)
			continue
		}
		// The host is named; never the query, userinfo or fragment.
		if strings.Contains(err.Error(), canary) {
			t.Errorf("%s: error quotes more than the host: %v", bad, err)
		}
		if _, err := c.Logs(t.Context(), bad); !errors.Is(err, oktaapi.ErrOrgURL) {
			t.Errorf("%s: Logs error %v", bad, err)
		}
	}
	if org.LogsRequests() != 0 {
		t.Fatalf("%d requests sent to refused URLs", org.LogsRequests())
	}
}

// bigEvent is a LogEvent of about size bytes, shaped as Okta writes them:
// the padding is many debugData members.
func bigEvent(uuid string, size int) []byte {
	base := standin.Event(uuid, "user.lifecycle.create", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	var b bytes.Buffer
	b.Write(base[:len(base)-1])
	b.WriteString(`,"debugContext":{"debugData":{`)
	for i := 0; b.Len() < size-40; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"k%d":"value %d of the debug data, as Okta writes it"`, i, i)
	}
	b.WriteString(`}}}`)
	return b.Bytes()
}

// logsServer answers /api/v1/logs with page(limit) and a next link that
// keeps the request's query with after=next.
func logsServer(t *testing.T, page func(limit int) []byte) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
		q := r.URL.Query()
		q.Set("after", "next")
		w.Header().Set("Link", `<http://`+r.Host+`/api/v1/logs?`+q.Encode()+`>; rel="next"`)
		w.Header().Set("Content-Type", "application/json")
		w.Write(page(limit))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func array(evs ...[]byte) []byte {
	return append(append([]byte("["), bytes.Join(evs, []byte(","))...), ']')
}

func TestAPageOverTheBoundIsReadAgainWithASmallerLimit(t *testing.T) {
	ev := bigEvent("big", 64<<10)
	srv, requests := logsServer(t, func(limit int) []byte {
		evs := make([][]byte, limit)
		for i := range evs {
			evs[i] = ev
		}
		return array(evs...) // 64 KiB a event: over the bound from 257 events
	})
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: srv.URL, APIToken: "t"}, oktaapi.Settings{})
	first := c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Types: []string{"user.lifecycle.create"}, Limit: 1000})
	p, err := c.Logs(t.Context(), first)
	if err != nil {
		t.Fatal(err)
	}
	if p.Limit != 250 || len(p.Events) != 250 || requests.Load() != 2 {
		t.Fatalf("read %d events with limit %d in %d requests, want 250 with limit 250 in 2", len(p.Events), p.Limit, requests.Load())
	}
	if p.URL != first {
		t.Fatalf("page URL %s, want the one asked for", p.URL)
	}
	next, _ := url.Parse(p.Next)
	if next.Query().Get("limit") != "1000" || next.Query().Get("after") != "next" || c.CheckPageURL(p.Next) != nil {
		t.Fatalf("next %s does not ask for the first limit again", p.Next)
	}
}

func TestAPageOverTheBoundEvenForOneEventIsAClearError(t *testing.T) {
	huge := array(bigEvent("huge", oktaapi.MaxPageBytes+1024))
	srv, requests := logsServer(t, func(int) []byte { return huge })
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: srv.URL, APIToken: "t"}, oktaapi.Settings{})
	_, err := c.Logs(t.Context(), c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Limit: 1000}))
	if !errors.Is(err, oktaapi.ErrPageTooLarge) || !strings.Contains(err.Error(), "16 MiB for a page of one event") {
		t.Fatalf("error %v", err)
	}
	// 1000, 250, 62, 15, 3, 1.
	if requests.Load() != 6 {
		t.Fatalf("%d requests, want 6", requests.Load())
	}
}

// pageHeap serves one page of about MaxPageBytes made of events of about
// eventBytes and returns how many bytes the client allocates to read it,
// per byte of MaxPageBytes: the whole read, body and parse, as the
// reconciler does it. That is an upper bound of the heap the read adds at
// its peak (what is freed mid-read counts too).
func pageHeap(tb testing.TB, eventBytes int) float64 {
	ev := bigEvent("e", eventBytes)
	n := min(oktaapi.MaxPageBytes/(len(ev)+1), oktaapi.DefaultLimit)
	evs := make([][]byte, n)
	for i := range evs {
		evs[i] = ev
	}
	body := array(evs...)
	if len(body) > oktaapi.MaxPageBytes || len(body) < oktaapi.MaxPageBytes*9/10 {
		tb.Fatalf("page of %d bytes is not just under the bound", len(body))
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	defer srv.Close()
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: srv.URL, APIToken: "t"}, oktaapi.Settings{})
	pageURL := c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Limit: 1000})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	p, err := c.Logs(tb.Context(), pageURL)
	runtime.ReadMemStats(&after)
	if err != nil || len(p.Events) != len(evs) {
		tb.Fatalf("read %d events: %v", len(p.Events), err)
	}
	return float64(after.TotalAlloc-before.TotalAlloc) / oktaapi.MaxPageBytes
}

// pageShapes are pages just under the bound: Okta's most events of 16 KiB,
// fewer and larger events, and one event alone.
var pageShapes = map[string]int{"1000x16KiB": 16 << 10, "100x160KiB": 160 << 10, "1x16MiB": oktaapi.MaxPageBytes - 64}

// TestThePageBoundFitsTheReconcilersMemory: reading a page of MaxPageBytes
// must need less than half of the reconciler's MemorySize (template.yaml),
// leaving the rest to the runtime, the SDK clients and the queueing of the
// page's events.
func TestThePageBoundFitsTheReconcilersMemory(t *testing.T) {
	tpl, err := samtemplate.Load("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	memMB, err := tpl.IntProp("ReconcilerFunction", "MemorySize")
	if err != nil {
		t.Fatal(err)
	}
	for shape, size := range pageShapes {
		perByte := pageHeap(t, size)
		need := perByte * oktaapi.MaxPageBytes
		t.Logf("%s: reading a page of MaxPageBytes allocates %.2f× its size, %.0f MiB; MemorySize %d MB", shape, perByte, need/(1<<20), memMB)
		if limit := float64(memMB) * 1e6 / 2; need >= limit {
			t.Errorf("%s: reading a page of %d MiB allocates %.0f MiB (%.2f× the page), not under half of the reconciler's %d MB: lower MaxPageBytes or raise MemorySize",
				shape, oktaapi.MaxPageBytes>>20, need/(1<<20), perByte, memMB)
		}
	}
}

// BenchmarkPageHeap reports the bytes allocated per byte of a System Log
// page of about MaxPageBytes (go test -run '^$' -bench PageHeap ./internal/oktaapi).
func BenchmarkPageHeap(b *testing.B) {
	for shape, size := range pageShapes {
		b.Run(shape, func(b *testing.B) {
			var perByte float64
			for b.Loop() {
				perByte = pageHeap(b, size)
			}
			b.ReportMetric(perByte, "heap-bytes/page-byte")
			b.ReportMetric(perByte*oktaapi.MaxPageBytes/(1<<20), "MiB/max-page")
		})
	}
}

func TestEveryElementIsKeptRawAndNoMoreThanTheLimit(t *testing.T) {
	elems := []string{`null`, ` 1.5e3`, `"s \"q\" \\"`, `{"uuid":"a","x":[1,{"y":"]"}]}`, `[1, 2]`, `true`}
	page := []byte("[" + strings.Join(elems, " ,\n") + " ]")
	srv, _ := logsServer(t, func(int) []byte { return page })
	c, _ := oktaapi.New(oktaapi.Credentials{OrgURL: srv.URL, APIToken: "t"}, oktaapi.Settings{})
	p, err := c.Logs(t.Context(), c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Limit: 6}))
	if err != nil || len(p.Events) != len(elems) {
		t.Fatalf("%d events, error %v", len(p.Events), err)
	}
	for i, ev := range p.Events {
		if string(ev.Raw) != strings.TrimSpace(elems[i]) {
			t.Errorf("element %d is %s, want %s", i, ev.Raw, elems[i])
		}
	}
	if p.Events[3].UUID != "a" {
		t.Errorf("uuid %q", p.Events[3].UUID)
	}
	_ = append(p.Events[0].Raw, "XXXX"...) // must not write over the next element
	if string(p.Events[1].Raw) != "1.5e3" {
		t.Fatalf("an append to one event changed the next: %s", p.Events[1].Raw)
	}
	// One element more than the page asked for: refused before parsing.
	_, err = c.Logs(t.Context(), c.LogsURL(oktaapi.LogsQuery{Since: time.Now().Add(-time.Hour), Limit: 5}))
	if !errors.Is(err, oktaapi.ErrOrgURL) || !strings.Contains(err.Error(), "more than the 5 events") {
		t.Fatalf("error %v", err)
	}
}

package pull

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store"
)

// fakeProm answers /api/v1/query for range selectors with the samples it
// holds, as Prometheus does: every sample in [time−range, time].
type fakeProm struct {
	mu     sync.Mutex
	series []metrics.Series
	// fail, when set, answers a request instead of the data: its status
	// and body, or 0 to answer normally.
	fail func(n int) (int, string)
	// delay holds each answer back this long.
	delay    time.Duration
	requests int
	queries  []string
	headers  []http.Header
}

var rangeQuery = regexp.MustCompile(`^(.*)\[(\d+)ms\]$`)

func (f *fakeProm) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/api/v1/query" || r.Method != http.MethodPost {
		http.Error(w, "not here", http.StatusNotFound)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.requests++
	n := f.requests
	f.queries = append(f.queries, r.PostForm.Get("query"))
	f.headers = append(f.headers, r.Header.Clone())
	fail, delay := f.fail, f.delay
	f.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if fail != nil {
		if code, body := fail(n); code != 0 {
			w.WriteHeader(code)
			fmt.Fprint(w, body)
			return
		}
	}
	m := rangeQuery.FindStringSubmatch(r.PostForm.Get("query"))
	if m == nil {
		apiFail(w, http.StatusBadRequest, "bad_data", "not a range selector")
		return
	}
	sel, err := metrics.ParseSelector(m[1])
	if err != nil {
		apiFail(w, http.StatusBadRequest, "bad_data", err.Error())
		return
	}
	span, _ := strconv.ParseInt(m[2], 10, 64)
	at, err := strconv.ParseFloat(r.PostForm.Get("time"), 64)
	if err != nil {
		apiFail(w, http.StatusBadRequest, "bad_data", "time: "+err.Error())
		return
	}
	end := int64(at*1000 + 0.5)
	type result struct {
		Metric map[string]string `json:"metric"`
		Values [][2]any          `json:"values"`
	}
	out := []result{}
	f.mu.Lock()
	for _, s := range f.series {
		if !sel.Matches(s.Labels) {
			continue
		}
		res := result{Metric: map[string]string{}}
		for _, l := range s.Labels {
			res.Metric[l.Name] = l.Value
		}
		for _, smp := range s.Samples {
			if smp.T >= end-span && smp.T <= end && !metrics.IsStaleNaN(smp.V) {
				res.Values = append(res.Values, [2]any{json.Number(formatTime(time.UnixMilli(smp.T))), strconv.FormatFloat(smp.V, 'g', -1, 64)})
			}
		}
		if len(res.Values) > 0 {
			out = append(out, res)
		}
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"status": "success", "data": map[string]any{"resultType": "matrix", "result": out}})
}

func apiFail(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"status": "error", "errorType": typ, "error": msg})
}

func (f *fakeProm) add(s ...metrics.Series) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.series = append(f.series, s...)
}

func (f *fakeProm) stats() (int, []string, []http.Header) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests, slices.Clone(f.queries), slices.Clone(f.headers)
}

// fakeEngine keeps what the runner stores: rollups merged per SLO and
// quantum, and state, committed together or not at all.
type fakeEngine struct {
	mu      sync.Mutex
	slos    []*slo.SLO
	rollups map[string]map[int64]slo.Rollup
	state   map[string][]byte
	commits []string // "live" or "backfill", one a commit
	// failCommits makes that many commits fail.
	failCommits int
	// lateBefore, when set, is the oldest quantum start the live path
	// takes; older rollups are refused as late, as the engine's MaxLag does.
	lateBefore int64
}

func newFakeEngine(slos ...*slo.SLO) *fakeEngine {
	return &fakeEngine{slos: slos, rollups: map[string]map[int64]slo.Rollup{}, state: map[string][]byte{}}
}

func (e *fakeEngine) SLOs() []*slo.SLO {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.slos)
}

func (e *fakeEngine) Commit(ctx context.Context, b *engine.Batch) (map[string]engine.AppendResult, error) {
	return e.commit(b, "live")
}

func (e *fakeEngine) CommitBackfill(ctx context.Context, b *engine.Batch) (map[string]engine.AppendResult, error) {
	return e.commit(b, "backfill")
}

func (e *fakeEngine) commit(b *engine.Batch, how string) (map[string]engine.AppendResult, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.failCommits > 0 {
		e.failCommits--
		return nil, fmt.Errorf("storing %s batch: %w", b.Source, store.ErrUnavailable)
	}
	e.commits = append(e.commits, how)
	out := map[string]engine.AppendResult{}
	for name, s := range b.Series {
		if e.rollups[name] == nil {
			e.rollups[name] = map[int64]slo.Rollup{}
		}
		var res engine.AppendResult
		for _, r := range s.Rollups {
			if how == "live" && r.Start < e.lateBefore {
				res.Late++
				continue
			}
			res.Accepted++
			if old, ok := e.rollups[name][r.Start]; ok {
				if err := old.Merge(&r); err != nil {
					return nil, err
				}
				e.rollups[name][r.Start] = old
			} else {
				var c slo.Rollup
				r.CopyTo(&c)
				e.rollups[name][r.Start] = c
			}
		}
		out[name] = res
	}
	maps.Copy(e.state, b.State)
	return out, nil
}

func (e *fakeEngine) GetState(ctx context.Context, key string) ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	v, ok := e.state[key]
	if !ok {
		return nil, fmt.Errorf("state %s: %w", key, store.ErrNotFound)
	}
	return slices.Clone(v), nil
}

func (e *fakeEngine) of(name string) map[int64]slo.Rollup {
	e.mu.Lock()
	defer e.mu.Unlock()
	return maps.Clone(e.rollups[name])
}

// clock is a settable time.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// loadSLO loads one native spec document, with {{url}} replaced by url.
func loadSLO(t testing.TB, url, doc string) *slo.SLO {
	t.Helper()
	slos, _, err := spec.Load("test.yaml", []byte(strings.ReplaceAll(doc, "{{url}}", url)))
	if err != nil {
		t.Fatalf("loading the test's spec: %v", err)
	}
	return slos[0]
}

func errUnavailable() error { return store.ErrUnavailable }

func (e *fakeEngine) Rollups(ctx context.Context, sli string, quantum time.Duration, from, to int64) store.RollupIterator {
	e.mu.Lock()
	defer e.mu.Unlock()
	it := &sliceIter{}
	for _, k := range slices.Sorted(maps.Keys(e.rollups[sli])) {
		if k >= from && k < to {
			it.rs = append(it.rs, e.rollups[sli][k])
		}
	}
	return it
}

// sliceIter walks rollups held in a slice.
type sliceIter struct {
	rs []slo.Rollup
	i  int
}

func (it *sliceIter) Next() bool {
	if it.i >= len(it.rs) {
		return false
	}
	it.i++
	return true
}

func (it *sliceIter) At() *slo.Rollup { return &it.rs[it.i-1] }
func (it *sliceIter) Err() error      { return nil }
func (it *sliceIter) Close() error    { return nil }

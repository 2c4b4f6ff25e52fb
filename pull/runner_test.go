package pull

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// scrape makes a counter series scraped every 15 s (with jitter) from
// start for n scrapes, each adding inc(i); resets restart the count at 0
// at those scrapes, and gaps drop those scrapes.
func scrape(rng *rand.Rand, ls metrics.Labels, start time.Time, n int, inc func(i int) float64, resets, gaps map[int]bool) metrics.Series {
	s := metrics.Series{Labels: ls}
	v := float64(rng.IntN(1000))
	for i := range n {
		v += inc(i)
		if resets[i] {
			v = inc(i)
		}
		if gaps[i] {
			continue
		}
		t := start.Add(time.Duration(i)*15*time.Second + time.Duration(rng.IntN(900))*time.Millisecond)
		s.Samples = append(s.Samples, metrics.Sample{T: t.UnixMilli(), V: v})
	}
	return s
}

func labels(kv ...string) metrics.Labels {
	var ls metrics.Labels
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, metrics.Label{Name: kv[i], Value: kv[i+1]})
	}
	slices.SortFunc(ls, func(a, b metrics.Label) int { return strings.Compare(a.Name, b.Name) })
	return ls
}

// direct is what remote write makes of the same samples: every sample
// before horizon fed to one Collector, in time order as Prometheus sends
// them, flushed at horizon.
func direct(t *testing.T, s *slo.SLO, series []metrics.Series, horizon time.Time) map[int64]slo.Rollup {
	t.Helper()
	src, err := metrics.SourceOf(s.Name, s.SLI)
	if err != nil {
		t.Fatal(err)
	}
	c, err := metrics.NewCollector(metrics.Config{Sources: []metrics.SLISource{src}, Quantum: s.Quantum})
	if err != nil {
		t.Fatal(err)
	}
	// One request a 15 s scrape round, as remote write sends them.
	var lo int64 = 1<<63 - 1
	var hi int64
	for _, ser := range series {
		for _, smp := range ser.Samples {
			lo, hi = min(lo, smp.T), max(hi, smp.T)
		}
	}
	for from := lo; from <= hi && from < horizon.UnixMilli(); from += 15000 {
		var req []metrics.Series
		for _, ser := range series {
			var part []metrics.Sample
			for _, smp := range ser.Samples {
				if smp.T >= from && smp.T < from+15000 && smp.T < horizon.UnixMilli() {
					part = append(part, smp)
				}
			}
			if len(part) > 0 {
				req = append(req, metrics.Series{Labels: ser.Labels, Samples: part})
			}
		}
		c.Add(req)
	}
	res, _ := c.Flush(horizon.UnixNano())
	out := map[int64]slo.Rollup{}
	for _, r := range res {
		out[r.Rollup.Start] = r.Rollup
	}
	return out
}

// sameFrom compares got with want for the quanta in [from, to).
func sameFrom(t *testing.T, got, want map[int64]slo.Rollup, from, to time.Time) {
	t.Helper()
	n := 0
	for q := from; q.Before(to); q = q.Add(time.Minute) {
		g, gok := got[q.UnixNano()]
		w, wok := want[q.UnixNano()]
		if gok != wok {
			t.Errorf("quantum %s: pulled %v, remote write %v (present)", q.Format(time.TimeOnly), gok, wok)
			continue
		}
		if !gok {
			continue
		}
		n++
		g.Latency, w.Latency = slo.Rollup{}.Latency, slo.Rollup{}.Latency
		if !reflect.DeepEqual(g, w) {
			t.Errorf("quantum %s: pulled %+v, remote write %+v", q.Format(time.TimeOnly), g, w)
		}
	}
	for k := range got {
		if k < from.UnixNano() || k >= to.UnixNano() {
			t.Errorf("a rollup at %s, outside [%s, %s)", time.Unix(0, k).UTC().Format(time.TimeOnly), from.Format(time.TimeOnly), to.Format(time.TimeOnly))
		}
	}
	if n == 0 {
		t.Fatalf("no quanta compared in [%s, %s)", from.Format(time.TimeOnly), to.Format(time.TimeOnly))
	}
}

const counterSpec = `name: checkout
service: checkout
sli:
  good: {status: "<500"}
  source:
    prometheus:
      url: {{url}}
      bad: 'http_requests_total{service="checkout", code=~"5.."}'
      total: 'http_requests_total{service="checkout"}'
objective: 99
window: {rolling: 2h}
`

const histogramSpec = `name: search
service: search
sli:
  good: {status: "<500", latency: "<=250ms"}
  source:
    prometheus:
      url: {{url}}
      histogram: 'http_request_duration_seconds{service="search"}'
      errors: '{code=~"5.."}'
objective: 99
window: {rolling: 2h}
`

func newRunner(t *testing.T, e *fakeEngine, clk *clock, edit func(*Config)) *Runner {
	t.Helper()
	cfg := Config{Engine: e, Store: e, Now: clk.Now, NewClient: func(api slo.PromAPI) *Client {
		c := NewClient(api, nil)
		c.Backoff, c.Timeout = time.Millisecond, 2*time.Second
		return c
	}}
	if edit != nil {
		edit(&cfg)
	}
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// counterData is three hours of a checkout service's counters, with
// resets and missed scrapes, and series the SLO does not select.
func counterData(rng *rand.Rand, start time.Time, n int) []metrics.Series {
	ok := func(i int) float64 { return float64(10 + i%7) }
	bad := func(i int) float64 { return float64(i % 3) }
	return []metrics.Series{
		scrape(rng, labels("__name__", "http_requests_total", "service", "checkout", "code", "200", "instance", "a"), start, n, ok, map[int]bool{100: true, 400: true}, map[int]bool{50: true, 51: true, 300: true}),
		scrape(rng, labels("__name__", "http_requests_total", "service", "checkout", "code", "200", "instance", "b"), start, n, ok, map[int]bool{250: true}, nil),
		scrape(rng, labels("__name__", "http_requests_total", "service", "checkout", "code", "503", "instance", "a"), start, n, bad, map[int]bool{100: true}, map[int]bool{50: true}),
		scrape(rng, labels("__name__", "http_requests_total", "service", "search", "code", "200", "instance", "a"), start, n, ok, nil, nil),
	}
}

// counterFixture is a fake Prometheus holding four hours of counterData
// (seeded with a and b), the checkout SLO read from it, a fake engine and
// a clock at 3 h 40 s past t0: the first step backfills two hours.
type counterFixture struct {
	prom *fakeProm
	data []metrics.Series
	s    *slo.SLO
	e    *fakeEngine
	clk  *clock
}

func newCounterFixture(t *testing.T, a, b uint64) *counterFixture {
	t.Helper()
	prom := &fakeProm{}
	srv := httptest.NewServer(prom)
	t.Cleanup(srv.Close)
	data := counterData(rand.New(rand.NewPCG(a, b)), t0, 4*240)
	prom.add(data...)
	s := loadSLO(t, srv.URL, counterSpec)
	return &counterFixture{prom: prom, data: data, s: s, e: newFakeEngine(s), clk: &clock{t: t0.Add(3 * time.Hour).Add(40 * time.Second)}}
}

// Pulled from a query API, counters give the rollups remote write gives
// for the same samples: resets, missed scrapes and all, in the backfill
// of the window and in each minute's advance after it.
func TestPulledCountersEqualRemoteWrite(t *testing.T) {
	f := newCounterFixture(t, 1, 2)
	data, s, e, clk := f.data, f.s, f.e, f.clk
	r := newRunner(t, e, clk, nil)
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	horizon := t0.Add(3 * time.Hour)
	windowStart := horizon.Add(-2 * time.Hour)
	sameFrom(t, e.of("checkout"), direct(t, s, data, horizon), windowStart, horizon)
	for i := range 10 {
		clk.set(clk.Now().Add(time.Minute))
		if err := r.Step(context.Background()); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	horizon = horizon.Add(10 * time.Minute)
	sameFrom(t, e.of("checkout"), direct(t, s, data, horizon), windowStart, horizon)
	if got := e.commits[len(e.commits)-1]; got != "live" {
		t.Errorf("the last minute's rollups went in by %s; want the live path", got)
	}
	st, _ := r.SourceStatus("checkout")
	if got := st.(Status); got.State != "live" || got.Error != "" || !got.Through.Equal(horizon) {
		t.Errorf("status %+v; want live through %s", got, horizon)
	}
}

// Classic histogram buckets are read as remote write reads them: the
// threshold bucket exact, errors by their label.
func TestPulledHistogramsEqualRemoteWrite(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	prom := &fakeProm{}
	srv := httptest.NewServer(prom)
	defer srv.Close()
	var data []metrics.Series
	for _, code := range []string{"200", "500"} {
		cum := 0.0
		for _, le := range []string{"0.1", "0.25", "0.5", "+Inf"} {
			share := map[string]float64{"0.1": 5, "0.25": 3, "0.5": 1, "+Inf": 1}[le]
			cum += share
			k := cum
			data = append(data, scrape(rng, labels("__name__", "http_request_duration_seconds_bucket", "service", "search", "code", code, "le", le),
				t0, 4*200, func(i int) float64 { return k * float64(1+i%4) }, map[int]bool{333: true}, nil))
		}
	}
	// The jitter must be one a scrape for all buckets of an instance, as
	// Prometheus stamps a scrape once.
	for i := range data {
		for j := range data[i].Samples {
			data[i].Samples[j].T = data[0].Samples[j].T
		}
	}
	prom.add(data...)
	s := loadSLO(t, srv.URL, histogramSpec)
	e := newFakeEngine(s)
	clk := &clock{t: t0.Add(3 * time.Hour).Add(30 * time.Second)}
	r := newRunner(t, e, clk, nil)
	for range 5 {
		if err := r.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.set(clk.Now().Add(time.Minute))
	}
	horizon := t0.Add(3*time.Hour + 4*time.Minute)
	got, want := e.of("search"), direct(t, s, data, horizon)
	sameFrom(t, got, want, horizon.Add(-2*time.Hour-4*time.Minute), horizon)
	for k, w := range want {
		if g, ok := got[k]; ok && g.Latency.Count() != w.Latency.Count() {
			t.Errorf("quantum %d: %d latencies pulled, %d by remote write", k, g.Latency.Count(), w.Latency.Count())
		}
	}
	var slow uint64
	for _, g := range got {
		slow += g.Slow
	}
	if slow == 0 {
		t.Fatal("no slow requests counted; the test's data should have some")
	}
}

// Many SLOs on one metric cost one query a step: the matchers they share,
// the rest applied by nines.
func TestSLOsOnOneMetricShareAQuery(t *testing.T) {
	prom := &fakeProm{}
	srv := httptest.NewServer(prom)
	defer srv.Close()
	var slos []*slo.SLO
	for i := range 50 {
		doc := strings.NewReplacer("name: checkout", fmt.Sprintf("name: svc-%d", i), `service="checkout"`, fmt.Sprintf(`service="s%d", job="api"`, i)).Replace(counterSpec)
		slos = append(slos, loadSLO(t, srv.URL, doc))
	}
	e := newFakeEngine(slos...)
	clk := &clock{t: t0.Add(40 * time.Second)}
	r := newRunner(t, e, clk, func(c *Config) { c.Lookback = time.Minute })
	// The first step backfills; the second moves the SLOs to the live
	// reader, which reads its lookback again.
	for range 2 {
		if err := r.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		clk.set(clk.Now().Add(time.Minute))
	}
	n, _, _ := prom.stats()
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	n2, qs2, _ := prom.stats()
	if n2-n != 1 {
		t.Fatalf("a step of 50 SLOs sent %d queries (%q); want 1", n2-n, qs2[n:])
	}
	if want := `http_requests_total{job="api"}[60000ms]`; qs2[n] != want {
		t.Errorf("query %q; want %q", qs2[n], want)
	}
}

// A query that fails is tried again; one that keeps failing fails the
// step, names the query and the answer in the SLO's status, and leaves
// its quanta to the next step, which reads them once the API is back.
func TestFailingQueriesAreRetriedThenReportedAndReadLater(t *testing.T) {
	tests := []struct {
		name     string
		fail     func(n int) (int, string)
		delay    time.Duration
		attempts int // per query while failing
		wantErr  string
	}{
		{name: "a 503 answer is tried again", fail: func(int) (int, string) { return 503, "overloaded" }, attempts: 3, wantErr: "503 Service Unavailable"},
		{name: "an API error names its type", fail: func(int) (int, string) {
			return 422, `{"status":"error","errorType":"execution","error":"query processing would load too many samples into memory"}`
		}, attempts: 1, wantErr: "execution: query processing would load too many samples"},
		{name: "a timeout is tried again", delay: 3 * time.Second, attempts: 3, wantErr: "timed out"},
		{name: "a partial answer is tried again", fail: func(int) (int, string) {
			return 200, `{"status":"success","warnings":["store eu-1 unreachable"],"data":{"resultType":"matrix","result":[]}}`
		}, attempts: 3, wantErr: "partial answer (warnings: store eu-1 unreachable)"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newCounterFixture(t, 5, uint64(i))
			prom, data, s, e, clk := f.prom, f.data, f.s, f.e, f.clk
			r := newRunner(t, e, clk, func(c *Config) {
				c.NewClient = func(api slo.PromAPI) *Client {
					c := NewClient(api, nil)
					c.Backoff, c.Timeout = time.Millisecond, 200*time.Millisecond
					return c
				}
			})
			if err := r.Step(context.Background()); err != nil {
				t.Fatal(err)
			}
			prom.mu.Lock()
			prom.fail, prom.delay = tc.fail, tc.delay
			before := prom.requests
			prom.mu.Unlock()
			for range 3 {
				clk.set(clk.Now().Add(time.Minute))
				err := r.Step(context.Background())
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("step while failing: %v; want an error with %q", err, tc.wantErr)
				}
			}
			n, _, _ := prom.stats()
			if got := n - before; got != 3*tc.attempts {
				t.Errorf("%d requests in 3 failing steps; want %d (%d attempts each)", got, 3*tc.attempts, tc.attempts)
			}
			if note, failing := r.SourceNote("checkout"); !failing || !strings.Contains(note, tc.wantErr) {
				t.Errorf("page note while failing: %q (failing %v); want the error", note, failing)
			}
			st, _ := r.SourceStatus("checkout")
			status := st.(Status)
			if status.State != "failing" || !strings.Contains(status.Error, tc.wantErr) || !strings.Contains(status.Error, "http_requests_total") || status.FailingSince.IsZero() {
				t.Errorf("status while failing: %+v; want failing, naming the query and %q", status, tc.wantErr)
			}
			stored := e.of("checkout")
			// The quanta of the failing minutes are not stored: unmeasured.
			horizon := t0.Add(3 * time.Hour)
			for q := horizon; q.Before(horizon.Add(3 * time.Minute)); q = q.Add(time.Minute) {
				if _, ok := stored[q.UnixNano()]; ok {
					t.Errorf("quantum %s stored while the API failed", q.Format(time.TimeOnly))
				}
			}
			prom.mu.Lock()
			prom.fail, prom.delay = nil, 0
			prom.mu.Unlock()
			clk.set(clk.Now().Add(time.Minute))
			if err := r.Step(context.Background()); err != nil {
				t.Fatalf("step after recovery: %v", err)
			}
			end := horizon.Add(4 * time.Minute)
			sameFrom(t, e.of("checkout"), direct(t, s, data, end), horizon.Add(-2*time.Hour), end)
			st, _ = r.SourceStatus("checkout")
			if status := st.(Status); status.State != "live" || status.Error != "" {
				t.Errorf("status after recovery: %+v; want live without an error", status)
			}
		})
	}
}

// A store that refuses the rollups leaves the Collector as it was: the
// next step reads the same samples and counts them once.
func TestAFailedCommitCountsItsSamplesOnceWhenRetried(t *testing.T) {
	f := newCounterFixture(t, 7, 8)
	data, s, e, clk := f.data, f.s, f.e, f.clk
	r := newRunner(t, e, clk, nil)
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.failCommits = 2
	for range 2 {
		clk.set(clk.Now().Add(time.Minute))
		if err := r.Step(context.Background()); err == nil || !errors.Is(err, errUnavailable()) {
			t.Fatalf("step with a failing store: %v", err)
		}
	}
	clk.set(clk.Now().Add(time.Minute))
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(3*time.Hour + 3*time.Minute)
	sameFrom(t, e.of("checkout"), direct(t, s, data, end), end.Add(-2*time.Hour-3*time.Minute), end)
}

// A restarted nines resumes each SLO where its stored rollups end: no
// quantum is stored twice, none is skipped.
func TestARestartResumesFromTheStoredCursor(t *testing.T) {
	f := newCounterFixture(t, 9, 10)
	data, s, e, clk := f.data, f.s, f.e, f.clk
	if err := newRunner(t, e, clk, nil).Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Down for 20 minutes: more than the engine takes live.
	clk.set(clk.Now().Add(20 * time.Minute))
	r := newRunner(t, e, clk, nil)
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(3*time.Hour + 20*time.Minute)
	sameFrom(t, e.of("checkout"), direct(t, s, data, end), end.Add(-2*time.Hour-20*time.Minute), end)
	if !slices.Contains(e.commits[1:], "backfill") {
		t.Errorf("commits %v: the 20 minutes missed should go in as history", e.commits)
	}
}

// Of several replicas only the leader reads: a follower's step stores
// nothing, and one that leads again resumes from the cursor the leader
// of the meantime stored, so no quantum is stored twice.
func TestOnlyTheLeaderReads(t *testing.T) {
	f := newCounterFixture(t, 9, 10)
	data, s, e, clk := f.data, f.s, f.e, f.clk
	leading := true
	r := newRunner(t, e, clk, func(c *Config) { c.Leading = func() bool { return leading } })
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	commits := len(e.commits)
	leading = false
	clk.set(clk.Now().Add(20 * time.Minute))
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(e.commits) != commits {
		t.Fatalf("a follower's step committed %v", e.commits[commits:])
	}
	// Another replica led meanwhile and read the 20 minutes.
	if err := newRunner(t, e, clk, nil).Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	leading = true
	clk.set(clk.Now().Add(5 * time.Minute))
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(3*time.Hour + 25*time.Minute)
	sameFrom(t, e.of("checkout"), direct(t, s, data, end), end.Add(-2*time.Hour-25*time.Minute), end)
}

// Credentials and tenant headers go with every query; the secrets are
// read from their files at each query, so a rotated token is used.
func TestQueriesCarryHeadersAndCredentialsFromFiles(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	pw := filepath.Join(dir, "password")
	os.WriteFile(tok, []byte("s3cret\n"), 0o600)
	os.WriteFile(pw, []byte("hunter2\n"), 0o600)
	prom := &fakeProm{}
	srv := httptest.NewServer(prom)
	defer srv.Close()
	for _, tc := range []struct {
		name string
		api  slo.PromAPI
		want map[string]string
	}{
		{"a bearer token", slo.PromAPI{BearerTokenFile: tok, Headers: map[string]string{"X-Scope-OrgID": "team-a"}},
			map[string]string{"Authorization": "Bearer s3cret", "X-Scope-Orgid": "team-a"}},
		{"basic auth", slo.PromAPI{BasicAuthUser: "nines", BasicAuthPasswordFile: pw},
			map[string]string{"Authorization": "Basic bmluZXM6aHVudGVyMg=="}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.api.URL = srv.URL
			c := NewClient(tc.api, nil)
			if _, err := c.Raw(context.Background(), "up", time.Minute, t0); err != nil {
				t.Fatal(err)
			}
			_, _, hs := prom.stats()
			for k, v := range tc.want {
				if got := hs[len(hs)-1].Get(k); got != v {
					t.Errorf("header %s = %q; want %q", k, got, v)
				}
			}
		})
	}
	t.Run("a missing token file fails at once, naming it", func(t *testing.T) {
		c := NewClient(slo.PromAPI{URL: srv.URL, BearerTokenFile: filepath.Join(dir, "nope")}, nil)
		n, _, _ := prom.stats()
		_, err := c.Raw(context.Background(), "up", time.Minute, t0)
		var qe *QueryError
		if !errors.As(err, &qe) || qe.Attempts != 1 || !strings.Contains(err.Error(), "nope") {
			t.Fatalf("Raw = %v; want one attempt naming the file", err)
		}
		if n2, _, _ := prom.stats(); n2 != n {
			t.Errorf("%d requests sent without credentials", n2-n)
		}
	})
}

func TestRawSamplesAreReadExactly(t *testing.T) {
	tests := []struct {
		name, in string
		want     []metrics.Sample
		err      string
	}{
		{"millisecond times stay exact", `[[1700000000.123,"1"],[1700000000.999,"2.5"],[1700000001,"3e3"]]`,
			[]metrics.Sample{{T: 1700000000123, V: 1}, {T: 1700000000999, V: 2.5}, {T: 1700000001000, V: 3000}}, ""},
		{"a time with fewer decimals", `[ [ 1700000000.1 , "7" ] ]`, []metrics.Sample{{T: 1700000000100, V: 7}}, ""},
		{"special values parse", `[[1,"NaN"],[2,"+Inf"]]`, nil, ""},
		{"no values", `[]`, []metrics.Sample{}, ""},
		{"a value that is no number", `[[1,"x"]]`, nil, "value"},
		{"a time finer than a millisecond", `[[1.0001,"1"]]`, nil, "finer than a millisecond"},
		{"a cut answer", `[[1,"1"`, nil, "want ]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readValues([]byte(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("readValues = %v, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("readValues = %v; want %v", got, tc.want)
			}
		})
	}
}

// An SLO that already has rollups (it was read by remote write until its
// spec named the API) is read from the end of them: what was received
// stays, and nothing is counted twice.
func TestAnSLOMovedFromRemoteWriteKeepsItsRollups(t *testing.T) {
	f := newCounterFixture(t, 11, 12)
	data, s, e := f.data, f.s, f.e
	received := t0.Add(2*time.Hour + 30*time.Minute)
	e.rollups["checkout"] = map[int64]slo.Rollup{}
	for q, r := range direct(t, s, data, received) {
		if q >= t0.Add(time.Hour).UnixNano() {
			e.rollups["checkout"][q] = r
		}
	}
	if err := newRunner(t, e, f.clk, nil).Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	end := t0.Add(3 * time.Hour)
	sameFrom(t, e.of("checkout"), direct(t, s, data, end), t0.Add(time.Hour), end)
}

// Rollups the engine refuses (older than its --ingest.max-lag) are named
// in the SLO's status, not lost quietly.
func TestRollupsTheEngineRefusesAreReported(t *testing.T) {
	f := newCounterFixture(t, 13, 14)
	e, clk := f.e, f.clk
	r := newRunner(t, e, clk, func(c *Config) { c.MaxLag = time.Hour })
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.lateBefore = clk.Now().UnixNano() // the engine takes nothing live
	clk.set(clk.Now().Add(time.Minute))
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	st, _ := r.SourceStatus("checkout")
	if p := strings.Join(st.(Status).Problems, "; "); !strings.Contains(p, "refused 1 late") {
		t.Errorf("problems %q; want the refused rollup named", p)
	}
}

// A reload that leaves an SLO as it was keeps its reader, baselines and
// all: the next step reads one minute, not the lookback again.
func TestAReloadOfTheSameSLOsKeepsTheirReader(t *testing.T) {
	f := newCounterFixture(t, 15, 16)
	r := newRunner(t, f.e, f.clk, nil)
	for range 2 {
		if err := r.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
		f.clk.set(f.clk.Now().Add(time.Minute))
	}
	url := f.s.SLI.Source.Prometheus.URL
	f.e.mu.Lock()
	f.e.slos = []*slo.SLO{loadSLO(t, url, counterSpec)} // a reload: new values, same meaning
	f.e.mu.Unlock()
	n, _, _ := f.prom.stats()
	if err := r.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, qs, _ := f.prom.stats()
	if got := qs[n:]; len(got) != 1 || !strings.HasSuffix(got[0], "[60000ms]") {
		t.Errorf("queries after the reload %q; want one of the last minute", got)
	}
}

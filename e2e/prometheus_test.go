package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// needPrometheus returns the Prometheus binary, /usr/bin/prometheus or
// $E2E_PROMETHEUS (see needBinary).
func needPrometheus(t testing.TB) string {
	t.Helper()
	return needBinary(t, "/usr/bin/prometheus", "E2E_PROMETHEUS", "prometheus")
}

// needBinary returns the binary at path, or at $env when set, or skips
// the test without it; in CI (CI=true) a missing binary fails the test
// instead. pkg is the Debian package that ships it.
func needBinary(t testing.TB, path, env, pkg string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		path = p
	}
	if fileExists(path) {
		return path
	}
	msg := path + " is missing: apt-get install " + pkg + " (the Debian package; .ci/run installs it), or set " + env
	if inCI() {
		t.Fatal("CI=true and " + msg)
	}
	t.Skip(msg)
	return ""
}

// startPrometheus runs Prometheus with config (a prometheus.yml text) and
// its TSDB in a temporary directory, on a free port, and waits until it is
// ready. extra are more flags.
func startPrometheus(t testing.TB, config string, extra ...string) (*proc, string) {
	t.Helper()
	bin := needPrometheus(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	args := append([]string{
		"--config.file=" + cfg,
		"--storage.tsdb.path=" + filepath.Join(dir, "tsdb"),
		"--web.listen-address=" + strings.TrimPrefix(url, "http://"),
		"--storage.remote.flush-deadline=10s",
		"--log.level=info",
	}, extra...)
	p := startProc(t, "prometheus", exec.Command(bin, args...))
	waitFor(t, 30*time.Second, "Prometheus /-/ready", func() (bool, string) {
		resp, err := client.Get(url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	}, p)
	return p, url
}

// target is a scrape target serving hand-written Prometheus exposition
// text: http_requests_total and a classic histogram
// http_request_duration_seconds by status code. Every scrape first adds
// the next step of made-up traffic, so each scrape shows new values.
type target struct {
	mu      sync.Mutex
	scrapes int
	// counts[code][i] is the cumulative count of requests of code in
	// bucket i, (les[i-1], les[i]]: not cumulative over buckets.
	counts map[string][]float64
}

var (
	les   = []string{"0.05", "0.1", "0.25", "0.5", "1", "+Inf"}
	codes = []string{"200", "404", "500", "503"}
)

func newTarget() *target {
	tg := &target{counts: map[string][]float64{}}
	// Large starting values: a first scrape read as an increase rather
	// than a baseline would stand out.
	for i, c := range codes {
		tg.counts[c] = make([]float64, len(les))
		for b := range les {
			tg.counts[c][b] = float64(1000*(len(codes)-i) + 37*b)
		}
	}
	return tg
}

// step adds scrape k's traffic: per code, a few requests in each latency
// bucket, varying with k so that no two scrapes add the same. 0.25 s is
// the SLO's threshold: bucket 2 is good, 3 and above slow.
func (tg *target) step(k int) {
	add := func(code string, bucket, n int) { tg.counts[code][bucket] += float64(n) }
	add("200", 0, 20+k%7)
	add("200", 1, 3+k%4)
	add("200", 2, 1+k%3) // (0.1, 0.25]: good, at the threshold's bucket
	add("200", 3, k%4)   // (0.25, 0.5]: slow
	add("200", 5, k%5/4) // over 1 s: slow, every fifth scrape
	add("404", 0, 2)
	add("404", 4, k%2) // slow 404s: status is fine, latency is not
	add("500", 0, k%3)
	add("500", 3, k%2) // a slow error is an error
	add("503", 5, k%6/5)
}

func (tg *target) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	tg.mu.Lock()
	tg.scrapes++
	if tg.scrapes > 1 {
		tg.step(tg.scrapes)
	}
	var b strings.Builder
	b.WriteString("# HELP http_requests_total Requests served.\n# TYPE http_requests_total counter\n")
	for _, c := range codes {
		fmt.Fprintf(&b, "http_requests_total{code=%q} %g\n", c, sum(tg.counts[c]))
	}
	b.WriteString("# HELP http_request_duration_seconds Request latency.\n# TYPE http_request_duration_seconds histogram\n")
	for _, c := range codes {
		cum := 0.0
		for i, le := range les {
			cum += tg.counts[c][i]
			fmt.Fprintf(&b, "http_request_duration_seconds_bucket{code=%q,le=%q} %g\n", c, le, cum)
		}
		fmt.Fprintf(&b, "http_request_duration_seconds_sum{code=%q} %g\n", c, cum*0.07)
		fmt.Fprintf(&b, "http_request_duration_seconds_count{code=%q} %g\n", c, cum)
	}
	tg.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	w.Write([]byte(b.String()))
}

func sum(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s
}

// Two SLOs read the target's metrics with 10 s quanta, so that a run of
// half a minute crosses several quantum boundaries; a third is the first
// with nines' default quantum, a minute.
const promSpecs = `name: e2e-latency
service: e2e
sli:
  good:
    status: "<500"
    latency: "<=250ms"
  source:
    histogram: 'http_request_duration_seconds{job="e2e"}'
    statusLabel: code
objective: 99
method: transactions
quantum: 10s
window:
  rolling: 1h
---
name: e2e-requests
service: e2e
sli:
  good:
    status: "<500"
  source:
    bad: 'http_requests_total{job="e2e", code=~"5.."}'
    total: 'http_requests_total{job="e2e"}'
objective: 99
method: transactions
quantum: 10s
window:
  rolling: 1h
---
name: e2e-latency-1m
service: e2e
sli:
  good:
    status: "<500"
    latency: "<=250ms"
  source:
    histogram: 'http_request_duration_seconds{job="e2e"}'
    statusLabel: code
objective: 99
method: transactions
window:
  rolling: 1h
`

const promQuantum = 10 * time.Second

// expectedQuantum is what the test expects of one quantum of each SLO.
type expectedQuantum struct {
	latency  quantum // good, errors (5xx), slow (non-5xx over 250 ms)
	requests quantum // good, errors (5xx)
}

// expect derives each quantum's expected counts from the samples nines
// acknowledged, by the same counter rules nines documents (see
// increases): a classic histogram's requests are its le="+Inf" bucket,
// the good ones of a non-5xx series those of le="0.25", the rest slow.
func expect(series []rwSeries, q time.Duration) map[time.Time]*expectedQuantum {
	out := map[time.Time]*expectedQuantum{}
	at := func(q time.Time) *expectedQuantum {
		if out[q] == nil {
			out[q] = &expectedQuantum{}
		}
		return out[q]
	}
	for i := range series {
		s := &series[i]
		isErr := strings.HasPrefix(s.Labels["code"], "5")
		for q, inc := range increases(s, q) {
			n := uint64(inc)
			e := at(q)
			switch name, le := s.Labels["__name__"], s.Labels["le"]; {
			case name == "http_requests_total":
				e.requests.Attempted += n
				if isErr {
					e.requests.Errors += n
				}
			case name == "http_request_duration_seconds_bucket" && le == "+Inf":
				e.latency.Attempted += n
				if isErr {
					e.latency.Errors += n
				}
			case name == "http_request_duration_seconds_bucket" && le == "0.25" && !isErr:
				e.latency.Good += n
			}
		}
	}
	for _, e := range out {
		e.requests.Good = e.requests.Attempted - e.requests.Errors
		e.latency.Slow = e.latency.Attempted - e.latency.Errors - e.latency.Good
	}
	return out
}

// promPipeline runs a target, a recorder in front of the nines at
// ninesURL, and a Prometheus that scrapes the target every second and
// remote-writes through the recorder in shards, at most samplesPerSend
// samples a request, retrying every 50 to 500 ms.
func promPipeline(t *testing.T, ninesURL string, shards, samplesPerSend int) (*target, *rwRecorder, *proc, string) {
	t.Helper()
	tg := newTarget()
	targetSrv := httptest.NewServer(tg)
	t.Cleanup(targetSrv.Close)
	rec := &rwRecorder{next: ninesURL + "/api/v1/write", series: map[string]*rwSeries{},
		keep: func(ls map[string]string) bool {
			return ls["job"] == "e2e" && strings.HasPrefix(ls["__name__"], "http_")
		}}
	recSrv := httptest.NewServer(rec)
	t.Cleanup(recSrv.Close)
	prom, promURL := startPrometheus(t, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 900ms
  evaluation_interval: 1m
scrape_configs:
  - job_name: e2e
    static_configs:
      - targets: [%q]
remote_write:
  - url: %s/api/v1/write
    remote_timeout: 10s
    queue_config:
      capacity: 2500
      min_shards: %d
      max_shards: %d
      max_samples_per_send: %d
      batch_send_deadline: 1s
      min_backoff: 50ms
      max_backoff: 500ms
`, strings.TrimPrefix(targetSrv.URL, "http://"), recSrv.URL, shards, shards, samplesPerSend))
	return tg, rec, prom, promURL
}

// TestPrometheusRemoteWrite runs a real Prometheus that scrapes a target
// every second and remote-writes to nines through a recorder, for long
// enough to cross quantum boundaries, and checks that every quantum of
// the SLOs holds exactly what the acknowledged samples say: counter
// baselines, bucket arithmetic at the threshold, status judged from the
// code label, and the split of increases across quanta.
//
// It runs twice: with one remote write request per scrape (one shard,
// batches larger than a scrape), and the way a busy Prometheus sends,
// with the series of one histogram spread over several requests (four
// shards, which Prometheus assigns by series hash, and small batches).
func TestPrometheusRemoteWrite(t *testing.T) {
	needPrometheus(t)
	t.Parallel()
	for _, c := range []struct {
		name                   string
		shards, samplesPerSend int
	}{
		{"one request per scrape", 1, 500},
		{"histograms split over requests", 4, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			testPrometheusRemoteWrite(t, c.shards, c.samplesPerSend)
		})
	}
}

func testPrometheusRemoteWrite(t *testing.T, shards, samplesPerSend int) {
	n := startNines(t, t.TempDir(), writeSpecs(t, map[string]string{"e2e.yaml": promSpecs}))
	tg, rec, prom, promURL := promPipeline(t, n.url, shards, samplesPerSend)
	t.Logf("Prometheus at %s, nines at %s", promURL, n.url)

	// Run until nines has acknowledged at least 20 scrapes whose increases
	// fall in three quanta (across two boundaries) or more.
	const minScrapes, minQuanta = 20, 3
	waitFor(t, 90*time.Second, fmt.Sprintf("%d scrapes over %d quanta acknowledged by nines", minScrapes, minQuanta), func() (bool, string) {
		snap := rec.snapshot()
		if len(snap.refused) > 0 {
			t.Fatalf("nines refused remote write requests: %q", snap.refused)
		}
		scrapes := map[int64]bool{}
		for _, s := range snap.series {
			for _, smp := range s.Samples {
				scrapes[smp.T] = true
			}
		}
		// Quanta with increases: the first scrape is a baseline only.
		quanta := len(expect(snap.series, promQuantum))
		return len(scrapes) >= minScrapes && quanta >= minQuanta,
			fmt.Sprintf("%d scrapes with increases in %d quanta, in %d requests (target scraped %d times)", len(scrapes), quanta, snap.requests, tg.scraped())
	}, prom, n.proc)

	// SIGTERM: Prometheus flushes its remote write queue before it exits,
	// so afterwards the recorder holds everything it will ever send.
	prom.stop(t, 20*time.Second)
	// nines holds a remote-write quantum open --ingest.remote-write-hold
	// (3 s here) after it ends, for the rest of a histogram's buckets, and
	// stores it on the next tick (1 s): wait for the last quantum.
	time.Sleep(time.Until(time.Now().Truncate(promQuantum).Add(promQuantum + 5*time.Second)))
	snap := rec.snapshot()
	if len(snap.refused) > 0 {
		t.Fatalf("nines refused remote write requests: %q", snap.refused)
	}
	if len(snap.dropped) > 0 {
		t.Errorf("nines acknowledged %d of %d requests but did not count all their samples (X-Nines-Dropped), first: %q",
			len(snap.dropped), snap.requests, snap.dropped[:min(3, len(snap.dropped))])
	}
	series, requests := snap.series, snap.requests
	want10s := expect(series, promQuantum)
	if len(want10s) < minQuanta {
		t.Fatalf("expected data in %d quanta, want at least %d", len(want10s), minQuanta)
	}
	var total expectedQuantum
	total.latency.Measured, total.requests.Measured = true, true
	for _, e := range want10s {
		total.latency.add(e.latency)
		total.requests.add(e.requests)
	}
	t.Logf("%d remote write requests, %d target scrapes; latency SLO %s; requests SLO %s",
		requests, tg.scraped(), total.latency, total.requests)
	if total.latency.Slow == 0 || total.latency.Errors == 0 || total.requests.Errors == 0 {
		t.Fatalf("the traffic should have slow requests and errors: %+v", total)
	}

	// Per quantum, as stored: the quanta endpoint reads the rollups.
	want1m := expect(series, time.Minute)
	for _, c := range []struct {
		slo  string
		q    time.Duration
		want map[time.Time]*expectedQuantum
		of   func(*expectedQuantum) quantum
	}{
		{"e2e-latency", promQuantum, want10s, func(e *expectedQuantum) quantum { return e.latency }},
		{"e2e-requests", promQuantum, want10s, func(e *expectedQuantum) quantum { return e.requests }},
		{"e2e-latency-1m", time.Minute, want1m, func(e *expectedQuantum) quantum { return e.latency }},
	} {
		// Whole minutes, so that counts in the wrong quantum show.
		qs := slices.SortedFunc(maps.Keys(c.want), time.Time.Compare)
		from, to := qs[0].Truncate(time.Minute), qs[len(qs)-1].Add(time.Minute).Truncate(time.Minute)
		got := n.quanta(t, c.slo, from, to)
		if len(got) != int(to.Sub(from)/c.q) {
			t.Fatalf("%s: %d quanta from %s to %s, want %d", c.slo, len(got), from, to, to.Sub(from)/c.q)
		}
		for _, g := range got {
			w := quantum{Start: g.Start}
			if e := c.want[g.Start]; e != nil {
				w = c.of(e)
				w.Start, w.Measured = g.Start, true
			}
			if g != w {
				t.Errorf("%s quantum %s: got %s, want %s", c.slo, g.Start.Format("15:04:05"), g, w)
			}
		}
	}

	// The status document of the window ending with the last 10 s
	// quantum, evaluated from the stored rollups (?at=): the quanta of the
	// last minute have not settled yet.
	qs := slices.SortedFunc(maps.Keys(want10s), time.Time.Compare)
	at := qs[len(qs)-1].Add(promQuantum)
	sleepUntil(at)
	for _, c := range []struct {
		slo  string
		want events
	}{
		{"e2e-latency", events{Total: total.latency.Attempted, Good: total.latency.Good,
			Failed: total.latency.Errors + total.latency.Slow, Errors: total.latency.Errors, Slow: total.latency.Slow}},
		{"e2e-requests", events{Total: total.requests.Attempted, Good: total.requests.Good,
			Failed: total.requests.Errors, Errors: total.requests.Errors}},
	} {
		if got := n.status(t, c.slo, at); got != c.want {
			t.Errorf("%s status at %s: events %+v, want %+v", c.slo, at.Format(time.RFC3339), got, c.want)
		}
	}
	if v := n.metric(t, "nines_ingest_rejected_total{reason=\"late\"}"); v != "" && v != "0" {
		t.Errorf("nines counted %s late rollups", v)
	}
}

func (tg *target) scraped() int {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	return tg.scrapes
}

func (q quantum) String() string {
	if !q.Measured {
		return "unmeasured"
	}
	return fmt.Sprintf("attempted %d = good %d + errors %d + slow %d", q.Attempted, q.Good, q.Errors, q.Slow)
}

func (q *quantum) add(o quantum) {
	q.Attempted += o.Attempted
	q.Good += o.Good
	q.Errors += o.Errors
	q.Slow += o.Slow
}

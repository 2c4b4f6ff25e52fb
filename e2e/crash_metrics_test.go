package e2e

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// The metric kinds of the crash suite. nines holds remote-write quanta
// open past their end (--ingest.remote-write-hold, 3 s here) and keeps
// every counter's last value: a request is answered only once all that
// it changed is stored, so a kill loses none of it.

// rwCrashSpecs read a request counter and a classic latency histogram by
// remote write, in 1 s quanta so that a held quantum is stored seconds
// after it ends.
const rwCrashSpecs = `name: rw-requests
service: crash
sli:
  good:
    status: "<500"
  source:
    bad: 'crash_requests_total{code="500"}'
    total: 'crash_requests_total'
objective: 99
method: transactions
quantum: 1s
window:
  rolling: 1h
---
name: rw-latency
service: crash
sli:
  good:
    status: "<500"
    latency: "<=250ms"
  source:
    histogram: 'crash_latency_seconds'
    statusLabel: code
objective: 99
method: transactions
quantum: 1s
window:
  rolling: 1h
`

// otlpCrashSpecs read a cumulative and a delta counter by OTLP.
const otlpCrashSpecs = `name: otlp-requests
service: crash
sli:
  good:
    status: "<500"
  source:
    bad: 'crash.requests{code="500"}'
    total: 'crash.requests'
objective: 99
method: transactions
quantum: 1s
window:
  rolling: 1h
---
name: otlp-delta
service: crash
sli:
  good:
    status: "<500"
  source:
    bad: 'crash.delta{code="500"}'
    total: 'crash.delta'
objective: 99
method: transactions
quantum: 1s
window:
  rolling: 1h
`

// scrapeReq is one request of a scrape.
type scrapeReq struct {
	path, ctype string
	header      map[string]string
	body        []byte
}

// scraper sends scrapes of made-up counters in order, each as one or more
// requests, as a Prometheus shard or an OTLP exporter does: a request the
// server died under is sent again, first, once it is back.
type scraper struct {
	build   func(i int, ms int64) []scrapeReq
	pending []scrapeReq // of the current scrape, not acknowledged yet
	scrapes int         // scrapes wholly acknowledged
	lastMs  int64
}

// run sends scrapes to url until stop is closed or the server dies (the
// request it died under stays pending). A 2xx that dropped samples, or
// any other answer, is an error.
func (s *scraper) run(url string, stop <-chan struct{}) error {
	c := &http.Client{Timeout: 10 * time.Second}
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		if len(s.pending) == 0 {
			ms := max(time.Now().UnixMilli(), s.lastMs+1)
			s.lastMs = ms
			s.pending = s.build(s.scrapes, ms)
		}
		for len(s.pending) > 0 {
			dead, err := s.send(c, url, false)
			if dead || err != nil {
				return err
			}
		}
		s.scrapes++
		time.Sleep(20 * time.Millisecond)
	}
}

// send sends the first pending request. A resend may be answered with
// its samples dropped as duplicates: the server may have stored it before
// it died (the counts the caller checks then tell).
func (s *scraper) send(c *http.Client, url string, resend bool) (dead bool, err error) {
	r := s.pending[0]
	req, err := http.NewRequest("POST", url+r.path, bytes.NewReader(r.body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", r.ctype)
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return true, nil
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	dropped := resp.Header.Get("X-Nines-Dropped")
	switch {
	case resp.StatusCode/100 != 2:
		return false, fmt.Errorf("POST %s: %s %s", r.path, resp.Status, body)
	case dropped != "" && !resend:
		return false, fmt.Errorf("POST %s: acknowledged, but dropped %s", r.path, dropped)
	}
	s.pending = s.pending[1:]
	return false, nil
}

// finish sends what the server died under to the restarted server.
func (s *scraper) finish(t *testing.T, url string) {
	t.Helper()
	if len(s.pending) == 0 {
		return // it died between two scrapes
	}
	c := &http.Client{Timeout: 10 * time.Second}
	first := true
	for len(s.pending) > 0 {
		dead, err := s.send(c, url, first)
		first = false
		if dead || err != nil {
			t.Fatalf("sending again what nines died under: dead %v, %v", dead, err)
		}
	}
	s.scrapes++
}

// The made-up counters of scrape i: 200s, 500s, and the latency buckets
// of the 200s.
func c200(i int) float64  { return float64(1000 + 97*i) }
func c500(i int) float64  { return float64(10 + 3*i) }
func le01(i int) float64  { return float64(800 + 60*i) }
func le025(i int) float64 { return float64(900 + 80*i) }

// rwScrape is scrape i as two remote-write requests that split the
// histogram's buckets, so that a quantum is held open between them.
func rwScrape(i int, ms int64) []scrapeReq {
	series := func(name string, v float64, kv ...string) []byte {
		ls := [][2]string{{"__name__", name}}
		for j := 0; j < len(kv); j += 2 {
			ls = append(ls, [2]string{kv[j], kv[j+1]})
		}
		slices.SortFunc(ls, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
		return appendRWSeries(nil, ls, v, ms)
	}
	req := func(ts ...[]byte) scrapeReq {
		var b []byte
		for _, s := range ts {
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendBytes(b, s)
		}
		return scrapeReq{"/api/v1/write", "application/x-protobuf",
			map[string]string{"Content-Encoding": "snappy", "X-Prometheus-Remote-Write-Version": "0.1.0"}, snappy.Encode(nil, b)}
	}
	return []scrapeReq{
		req(series("crash_requests_total", c200(i), "code", "200"), series("crash_requests_total", c500(i), "code", "500"),
			series("crash_latency_seconds_bucket", le01(i), "code", "200", "le", "0.1")),
		req(series("crash_latency_seconds_bucket", le025(i), "code", "200", "le", "0.25"),
			series("crash_latency_seconds_bucket", c200(i), "code", "200", "le", "+Inf")),
	}
}

// rwWant is what scrapes 0..n-1 count: the first sets the baselines.
func rwWant(n int) (requests, latency events) {
	k := uint64(n - 1)
	requests = events{Total: 100 * k, Good: 97 * k, Failed: 3 * k, Errors: 3 * k}
	latency = events{Total: 97 * k, Good: 80 * k, Failed: 17 * k, Slow: 17 * k}
	return requests, latency
}

// otlpStart is the start time of the cumulative counters.
var otlpStart = time.Now().Add(-time.Hour)

// otlpScrape is scrape i as one OTLP/HTTP JSON export: the cumulative
// counter and a delta counter of the requests since the last export.
func otlpScrape(prevMs int64) func(i int, ms int64) []scrapeReq {
	return func(i int, ms int64) []scrapeReq {
		point := func(code string, start, at int64, v float64) string {
			return fmt.Sprintf(`{"attributes": [{"key": "code", "value": {"stringValue": %q}}], "startTimeUnixNano": "%d", "timeUnixNano": "%d", "asInt": "%d"}`,
				code, start, at, int64(v))
		}
		at := ms * 1e6
		sum := func(name string, temporality int, pts ...string) string {
			return fmt.Sprintf(`{"name": %q, "sum": {"aggregationTemporality": %d, "isMonotonic": true, "dataPoints": [%s]}}`, name, temporality, strings.Join(pts, ", "))
		}
		d200, d500 := deltas(i)
		body := `{"resourceMetrics": [{"scopeMetrics": [{"metrics": [` +
			sum("crash.requests", 2, point("200", otlpStart.UnixNano(), at, c200(i)), point("500", otlpStart.UnixNano(), at, c500(i))) + `, ` +
			sum("crash.delta", 1, point("200", prevMs*1e6, at, d200), point("500", prevMs*1e6, at, d500)) + `]}]}]}`
		prevMs = ms
		return []scrapeReq{{"/v1/metrics", "application/json", nil, []byte(body)}}
	}
}

func deltas(i int) (ok, bad float64) { return float64(5 + i%4), float64(i % 2) }

// otlpWant is what exports 0..n-1 count: the cumulative counter from the
// second on, every delta.
func otlpWant(n int) (cumulative, delta events) {
	k := uint64(n - 1)
	cumulative = events{Total: 100 * k, Good: 97 * k, Failed: 3 * k, Errors: 3 * k}
	for i := range n {
		ok, bad := deltas(i)
		delta.Total += uint64(ok + bad)
		delta.Errors += uint64(bad)
	}
	delta.Good, delta.Failed = delta.Total-delta.Errors, delta.Errors
	return cumulative, delta
}

// waitQuanta waits until the stored quanta of slo since from add up to
// want: remote-write quanta are stored once their hold has passed.
func waitQuanta(t *testing.T, n *nines, trial int, slo string, from time.Time, want events) {
	t.Helper()
	var got events
	deadline := time.Now().Add(20 * time.Second)
	for {
		got = n.sumQuanta(t, slo, from, time.Now().Add(time.Minute))
		if got == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got != want {
		t.Fatalf("trial %d: %s stored %+v, want %+v: acknowledged samples lost or counted twice", trial, slo, got, want)
	}
}

// crashScrapes runs trials of a scraper killed under: after each kill,
// nines restarts, gets what it died under again (as the sender would
// send it), and must hold exactly what every scrape sent brings.
func crashScrapes(t *testing.T, trials int, specs string, sc *scraper, check func(t *testing.T, n *nines, trial int, from time.Time, scrapes int)) {
	data, slos := t.TempDir(), writeSpecs(t, map[string]string{"metrics.yaml": specs})
	rng := newRNG(t)
	from := time.Now().Truncate(time.Minute)
	n := startNines(t, data, slos)
	for trial := 1; trial <= trials; trial++ {
		var err error
		killUnder(t, n, rng, func(stop <-chan struct{}) { err = sc.run(n.url, stop) })
		if err != nil {
			t.Fatalf("trial %d: %v", trial, err)
		}
		unsent := len(sc.pending)
		n = startNines(t, data, slos)
		sc.finish(t, n.url)
		check(t, n, trial, from, sc.scrapes)
		t.Logf("trial %d: %d scrapes sent in all; nines died with %d requests of a scrape unanswered", trial, sc.scrapes, unsent)
	}
}

// crashRemoteWrite: a client sending remote write as one Prometheus shard
// does, each scrape in two requests.
func crashRemoteWrite(t *testing.T, trials int) {
	crashScrapes(t, trials, rwCrashSpecs, &scraper{build: rwScrape}, func(t *testing.T, n *nines, trial int, from time.Time, scrapes int) {
		requests, latency := rwWant(scrapes)
		waitQuanta(t, n, trial, "rw-requests", from, requests)
		waitQuanta(t, n, trial, "rw-latency", from, latency)
	})
}

// crashOTLP: an OTLP exporter of a cumulative and a delta counter.
func crashOTLP(t *testing.T, trials int) {
	crashScrapes(t, trials, otlpCrashSpecs, &scraper{build: otlpScrape(time.Now().Add(-time.Second).UnixMilli())}, func(t *testing.T, n *nines, trial int, from time.Time, scrapes int) {
		cumulative, delta := otlpWant(scrapes)
		waitQuanta(t, n, trial, "otlp-requests", from, cumulative)
		waitQuanta(t, n, trial, "otlp-delta", from, delta)
	})
}

// crashReloads: remote write and events while the SLO set is reloaded
// over and over (an SLO reading the same counters comes and goes, so the
// collector is rebuilt with every reload).
func crashReloads(t *testing.T, trials int) {
	const extra = `name: rw-extra
service: crash
sli:
  good:
    status: "<500"
  source:
    total: 'crash_requests_total{code="200"}'
    bad: 'crash_requests_total{code="500"}'
objective: 99
method: transactions
quantum: 1s
window:
  rolling: 1h
`
	data := t.TempDir()
	slos := writeSpecs(t, map[string]string{"metrics.yaml": rwCrashSpecs, "crash.yaml": crashSpec})
	base := time.Now().Truncate(time.Minute).Add(-2 * time.Minute)
	from := time.Now().Truncate(time.Minute)
	rng := newRNG(t)
	sc := &scraper{build: rwScrape}
	var seqs counter
	counted := 0
	n := startNines(t, data, slos)
	for trial := 1; trial <= trials; trial++ {
		var l, reloads ledger
		var scrapeErr error
		var reloadSeq counter
		killUnder(t, n, rng,
			func(stop <-chan struct{}) { scrapeErr = sc.run(n.url, stop) },
			func(stop <-chan struct{}) {
				sendUntil(stop, &l, seqs.next, func(seq int) (*http.Request, error) {
					return eventsRequest(n.url, batchBody(seq, base))
				}, eventsTaken)
			},
			func(stop <-chan struct{}) {
				sendUntil(stop, &reloads, reloadSeq.next, func(seq int) (*http.Request, error) {
					path := filepath.Join(slos, "extra.yaml")
					var err error
					if seq%2 == 1 {
						err = os.WriteFile(path, []byte(extra), 0o644)
					} else {
						err = os.Remove(path)
					}
					if err != nil {
						return nil, err
					}
					time.Sleep(100 * time.Millisecond)
					return http.NewRequest("POST", n.url+"/api/v1/-/reload", nil)
				}, func([]byte) error { return nil })
			})
		if scrapeErr != nil {
			t.Fatalf("trial %d: %v", trial, scrapeErr)
		}
		acked, unknown, problems := l.snapshot()
		reloaded, _, reloadProblems := reloads.snapshot()
		if len(problems)+len(reloadProblems) > 0 || len(acked) == 0 || len(reloaded) == 0 {
			t.Fatalf("trial %d: %d event batches and %d reloads acknowledged; problems %q %q", trial, len(acked), len(reloaded), problems, reloadProblems)
		}
		counted += len(acked)
		n = startNines(t, data, slos)
		sc.finish(t, n.url)
		got := n.status(t, "crash", time.Time{})
		landed := landedCount(t, trial, "events", got.Total, batchSize, counted, len(unknown))
		counted += landed
		requests, latency := rwWant(sc.scrapes)
		waitQuanta(t, n, trial, "rw-requests", from, requests)
		waitQuanta(t, n, trial, "rw-latency", from, latency)
		t.Logf("trial %d: %d reloads, %d event batches acknowledged, %d scrapes in all", trial, len(reloaded), len(acked), sc.scrapes)
	}
}

// promCrashSpecs are promSpecs in 2 s quanta, the two whose quanta the
// test checks.
var promCrashSpecs = strings.ReplaceAll(promSpecs[:strings.Index(promSpecs, "---\nname: e2e-latency-1m")], "quantum: 10s", "quantum: 2s")

const promCrashQuantum = 2 * time.Second

// crashPrometheus: a real Prometheus scraping a target every second and
// remote-writing to nines through a recorder, which keeps what nines
// acknowledged. nines is killed under it, restarted on another port
// (where the recorder then sends), and Prometheus sends again what got no
// answer. Every quantum that Prometheus has sent wholly must then hold
// exactly the increases of the samples nines acknowledged.
func crashPrometheus(t *testing.T, trials int) {
	data, slos := t.TempDir(), writeSpecs(t, map[string]string{"e2e.yaml": promCrashSpecs})
	n := startNines(t, data, slos)
	// One shard and batches larger than a scrape: a histogram's buckets
	// stay in one request (see TestPrometheusRemoteWrite for split ones).
	_, rec, prom, _ := promPipeline(t, n.url, 1, 500)
	waitFor(t, 60*time.Second, "Prometheus to send three scrapes", func() (bool, string) {
		return acknowledgedScrapes(rec) >= 3, fmt.Sprintf("%d scrapes", acknowledgedScrapes(rec))
	}, prom, n.proc)

	rng := newRNG(t)
	for trial := 1; trial <= trials; trial++ {
		time.Sleep(killAfter(rng))
		if n.exited() {
			t.Fatalf("nines exited by itself: %v", n.err)
		}
		n.kill()
		killed := time.Now()
		n = startNines(t, data, slos)
		rec.setNext(n.url + "/api/v1/write")
		checkPromQuanta(t, trial, n, rec, killed, prom)
	}
	prom.stop(t, 20*time.Second)
}

// acknowledgedScrapes is the number of scrape times with acknowledged
// samples.
func acknowledgedScrapes(rec *rwRecorder) int {
	ts := map[int64]bool{}
	for _, s := range rec.snapshot().series {
		for _, smp := range s.Samples {
			ts[smp.T] = true
		}
	}
	return len(ts)
}

// checkPromQuanta waits until Prometheus has sent every quantum up to the
// kill wholly and nines has stored them, then compares each quantum the
// recorder holds wholly (every series has an acknowledged sample at or
// after its end: Prometheus sends a series' samples in order and resends
// a failed request before the next) with what nines stored.
func checkPromQuanta(t *testing.T, trial int, n *nines, rec *rwRecorder, killed time.Time, procs ...*proc) {
	t.Helper()
	var last string
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) {
		snap := rec.snapshot()
		for _, r := range snap.refused {
			if !strings.HasPrefix(r, "forwarding: ") {
				t.Fatalf("trial %d: nines refused a remote write request: %s", trial, r)
			}
		}
		if len(snap.dropped) > 0 {
			t.Fatalf("trial %d: nines acknowledged a request but did not count all its samples: %q", trial, snap.dropped)
		}
		whole := int64(1<<62 - 1)
		for _, s := range snap.series {
			whole = min(whole, s.Samples[len(s.Samples)-1].T)
		}
		// nines stores a quantum 3 s (--ingest.remote-write-hold) after it
		// ends, at its next tick (1 s).
		end := time.UnixMilli(min(whole, time.Now().Add(-5*time.Second).UnixMilli())).Truncate(promCrashQuantum)
		if end.Before(killed.Add(promCrashQuantum)) {
			last = fmt.Sprintf("Prometheus has sent every series up to %s only", end.Format("15:04:05.000"))
			time.Sleep(200 * time.Millisecond)
			continue
		}
		want := expect(snap.series, promCrashQuantum)
		qs := slices.SortedFunc(maps.Keys(want), time.Time.Compare)
		bad := ""
		for _, c := range []struct {
			slo string
			of  func(*expectedQuantum) quantum
		}{
			{"e2e-latency", func(e *expectedQuantum) quantum { return e.latency }},
			{"e2e-requests", func(e *expectedQuantum) quantum { return e.requests }},
		} {
			for _, q := range n.quanta(t, c.slo, qs[0].Add(-time.Minute), end) {
				var w quantum
				if e := want[q.Start.UTC()]; e != nil {
					w = c.of(e)
				}
				if g := (quantum{Attempted: q.Attempted, Good: q.Good, Errors: q.Errors, Slow: q.Slow}); g != w {
					bad = fmt.Sprintf("%s quantum %s: stored %s, want %s", c.slo, q.Start.Format("15:04:05"), g.counts(), w.counts())
					break
				}
			}
		}
		if bad == "" {
			t.Logf("trial %d: every quantum up to %s holds exactly the acknowledged samples", trial, end.Format("15:04:05"))
			return
		}
		last = bad
		time.Sleep(300 * time.Millisecond)
		for _, p := range procs {
			if p.exited() {
				t.Fatalf("trial %d: %s exited (%v)", trial, p.name, p.err)
			}
		}
	}
	t.Fatalf("trial %d: after the restart, %s: acknowledged samples lost or counted twice", trial, last)
}

func (q quantum) counts() string {
	return fmt.Sprintf("attempted %d = good %d + errors %d + slow %d", q.Attempted, q.Good, q.Errors, q.Slow)
}

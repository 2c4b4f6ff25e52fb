package e2e

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"google.golang.org/protobuf/encoding/protowire"
)

// The pull source's benchmarks read a real Prometheus whose TSDB holds
// made-up history, sent to its remote write receiver: 30 days of one
// SLO's histogram for the backfill, and three hours of 1,000 services'
// counters for the advance. A proxy in front of Prometheus times every
// query.

// queryTimer is a reverse proxy that adds up the time Prometheus takes to
// answer, body included.
type queryTimer struct {
	proxy *httputil.ReverseProxy
	mu    sync.Mutex
	calls []queryCall
}

type queryCall struct {
	start time.Time
	took  time.Duration
	bytes int64
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.n += int64(n)
	return n, err
}

func (q *queryTimer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	cw := &countingWriter{ResponseWriter: w}
	q.proxy.ServeHTTP(cw, r)
	q.mu.Lock()
	q.calls = append(q.calls, queryCall{start, time.Since(start), cw.n})
	q.mu.Unlock()
}

// since sums the calls that started at or after t, and says when the
// first began and the last ended.
func (q *queryTimer) since(t time.Time) (n int, took time.Duration, bytes int64, first, last time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, c := range q.calls {
		if !c.start.Before(t) {
			n, took, bytes = n+1, took+c.took, bytes+c.bytes
			if first.IsZero() {
				first = c.start
			}
			last = c.start.Add(c.took)
		}
	}
	return
}

// historyWriter sends made-up history to Prometheus' remote write
// receiver in time order, many samples a series a request, as a
// Prometheus catching up would: a fresh TSDB takes any past in order, and
// compacts it into blocks as it goes.
type historyWriter struct {
	url    string
	err    error // the first refusal
	series map[string]*histSeries
	order  []string
	n      int
}

type histSeries struct {
	labels  [][2]string
	samples []byte // encoded prometheus.Sample messages
}

// add appends a sample; labels are name/value pairs after the metric name.
func (h *historyWriter) add(name string, t time.Time, v float64, kv ...string) {
	ls := [][2]string{{"__name__", name}}
	for i := 0; i+1 < len(kv); i += 2 {
		ls = append(ls, [2]string{kv[i], kv[i+1]})
	}
	slices.SortFunc(ls, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	key := fmt.Sprint(ls)
	s := h.series[key]
	if s == nil {
		s = &histSeries{labels: ls}
		h.series[key] = s
		h.order = append(h.order, key)
	}
	var smp []byte
	smp = protowire.AppendTag(smp, 1, protowire.Fixed64Type)
	smp = protowire.AppendFixed64(smp, math.Float64bits(v))
	smp = protowire.AppendTag(smp, 2, protowire.VarintType)
	smp = protowire.AppendVarint(smp, uint64(t.UnixMilli()))
	s.samples = protowire.AppendTag(s.samples, 2, protowire.BytesType)
	s.samples = protowire.AppendBytes(s.samples, smp)
	if h.n++; h.n >= 50000 {
		h.flush()
	}
}

func (h *historyWriter) flush() {
	if h.n == 0 {
		return
	}
	var req []byte
	for _, key := range h.order {
		s := h.series[key]
		if len(s.samples) == 0 {
			continue
		}
		var ts []byte
		for _, kv := range s.labels {
			var l []byte
			l = protowire.AppendTag(l, 1, protowire.BytesType)
			l = protowire.AppendString(l, kv[0])
			l = protowire.AppendTag(l, 2, protowire.BytesType)
			l = protowire.AppendString(l, kv[1])
			ts = protowire.AppendTag(ts, 1, protowire.BytesType)
			ts = protowire.AppendBytes(ts, l)
		}
		ts = append(ts, s.samples...)
		req = protowire.AppendTag(req, 1, protowire.BytesType)
		req = protowire.AppendBytes(req, ts)
		s.samples = s.samples[:0]
	}
	h.n = 0
	r, _ := http.NewRequest("POST", h.url+"/api/v1/write", bytes.NewReader(snappy.Encode(nil, req)))
	r.Header.Set("Content-Type", "application/x-protobuf")
	r.Header.Set("Content-Encoding", "snappy")
	r.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	resp, err := client.Do(r)
	if err != nil {
		h.err = cmp.Or(h.err, err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		h.err = cmp.Or(h.err, fmt.Errorf("Prometheus refused history: %s: %s", resp.Status, body))
	}
}

// promWithHistory starts Prometheus with the remote write receiver on, has
// gen write its history, and puts a queryTimer in front of it. It
// returns the proxy's URL.
func promWithHistory(b *testing.B, gen func(h *historyWriter)) (string, *queryTimer, *proc) {
	b.Helper()
	bin := needPrometheus(b)
	dir := b.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte("global: {}\n"), 0o644)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	p := startProc(b, "prometheus", exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "tsdb"),
		"--storage.tsdb.retention.time=60d", "--web.listen-address="+addr, "--web.enable-remote-write-receiver", "--log.level=warn"))
	waitFor(b, 60*time.Second, "Prometheus /-/ready", func() (bool, string) {
		resp, err := client.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	}, p)
	start := time.Now()
	h := &historyWriter{url: "http://" + addr, series: map[string]*histSeries{}}
	gen(h)
	h.flush()
	if h.err != nil {
		b.Fatal(h.err)
	}
	b.Logf("Prometheus took the history in %s", time.Since(start).Round(time.Second))
	target, _ := url.Parse("http://" + addr)
	qt := &queryTimer{proxy: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(qt)
	b.Cleanup(srv.Close)
	return srv.URL, qt, p
}

// BenchmarkPullBackfill30Days times nines serve's backfill of one SLO's
// 30-day window from Prometheus: a classic latency histogram of 6 buckets
// for 2 status codes scraped every 15 s (2.4 M samples), from the start of
// nines serve until the SLO is live.
func BenchmarkPullBackfill30Days(b *testing.B) {
	end := time.Now()
	start := end.Add(-31 * 24 * time.Hour)
	les := []string{"0.05", "0.1", "0.25", "0.5", "1", "+Inf"}
	promURL, qt, _ := promWithHistory(b, func(h *historyWriter) {
		var k int64
		for t := start; t.Before(end); t = t.Add(15 * time.Second) {
			k++
			for _, code := range []string{"200", "500"} {
				cum := int64(0)
				for i, le := range les {
					cum += k * int64(10-i) / 3
					if code == "500" {
						cum = k * int64(i+1) / 7
					}
					h.add("http_request_duration_seconds_bucket", t, float64(cum), "code", code, "le", le)
				}
				h.add("http_request_duration_seconds_count", t, float64(cum), "code", code)
			}
		}
	})
	spec := strings.ReplaceAll(`name: backfill
service: bench
sli:
  good: {status: "<500", latency: "<=250ms"}
  source:
    prometheus:
      url: {{url}}
      histogram: 'http_request_duration_seconds'
      statusLabel: code
objective: 99.9
window: {rolling: 30d}
`, "{{url}}", promURL)
	specs := writeSpecs(b, map[string]string{"backfill.yaml": spec})
	ninesBinary(b) // built before the clock starts
	for b.Loop() {
		t0 := time.Now()
		n := startNines(b, b.TempDir(), specs)
		waitFor(b, 5*time.Minute, "the backfill to end", func() (bool, string) {
			state, through := sourceState(b, n, "backfill")
			return state == "live", fmt.Sprintf("%s through %s", state, through)
		}, n.proc)
		wall := time.Since(t0)
		queries, took, bytes, first, last := qt.since(t0)
		b.ReportMetric(wall.Seconds(), "s-start-to-live")
		b.ReportMetric(time.Since(first).Seconds(), "s-first-query-to-live")
		b.ReportMetric(last.Sub(first).Seconds(), "s-first-to-last-query")
		b.ReportMetric(took.Seconds(), "s-prometheus")
		b.ReportMetric(float64(queries), "queries")
		b.ReportMetric(float64(bytes)/(1<<20), "MiB-answers")
		n.proc.kill()
	}
}

// BenchmarkPullAdvance1000SLOs times the per-minute advance of 1,000 pull
// SLOs, each reading http_requests_total{service="sN"} (two codes, so
// 2,000 series scraped every 15 s, two hours of history and a scrape
// every 15 s while it runs): the Prometheus query time of one minute's
// step once all are live.
func BenchmarkPullAdvance1000SLOs(b *testing.B) {
	const services = 1000
	end := time.Now()
	start := end.Add(-2 * time.Hour)
	var k int64
	scrape := func(h *historyWriter, t time.Time) {
		k++
		for s := range services {
			svc := fmt.Sprintf("s%d", s)
			h.add("http_requests_total", t, float64(k*int64(50+s%17)), "service", svc, "code", "200")
			h.add("http_requests_total", t, float64(k*int64(s%3)), "service", svc, "code", "503")
		}
		h.flush()
	}
	var live *historyWriter
	promURL, qt, _ := promWithHistory(b, func(h *historyWriter) {
		live = h
		for t := start; t.Before(end); t = t.Add(15 * time.Second) {
			scrape(h, t)
		}
	})
	// Then a scrape every 15 s, as it happens.
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop) })
	go func() {
		tick := time.NewTicker(15 * time.Second)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case t := <-tick.C:
				scrape(live, t)
			}
		}
	}()
	var spec strings.Builder
	for s := range services {
		fmt.Fprintf(&spec, `name: svc-%d
service: s%d
sli:
  good: {status: "<500"}
  source:
    prometheus:
      url: %s
      bad: 'http_requests_total{service="s%d", code=~"5.."}'
      total: 'http_requests_total{service="s%d"}'
objective: 99.9
window: {rolling: 1h}
---
`, s, s, promURL, s, s)
	}
	specs := writeSpecs(b, map[string]string{"many.yaml": strings.TrimSuffix(spec.String(), "---\n")})
	n := startNines(b, b.TempDir(), specs)
	waitFor(b, 5*time.Minute, "1,000 SLOs to be live", func() (bool, string) {
		for _, s := range []string{"svc-0", "svc-999"} {
			if state, through := sourceState(b, n, s); state != "live" {
				return false, fmt.Sprintf("%s %s through %s", s, state, through)
			}
		}
		return true, ""
	}, n.proc)
	// The step after the SLOs turned live reads the readers' lookback
	// again; measure the steps after it, one a minute.
	_, first := sourceState(b, n, "svc-0")
	waitFor(b, 3*time.Minute, "a step past going live", func() (bool, string) {
		_, through := sourceState(b, n, "svc-0")
		return through.After(first), through.String()
	}, n.proc)
	for b.Loop() {
		_, before := sourceState(b, n, "svc-0")
		t0 := time.Now()
		waitFor(b, 3*time.Minute, "the next minute's step", func() (bool, string) {
			_, through := sourceState(b, n, "svc-999")
			return through.After(before), through.String()
		}, n.proc)
		stored := time.Now()
		queries, took, bytes, first, last := qt.since(t0)
		b.ReportMetric(last.Sub(first).Seconds(), "s-step-queries-span")
		b.ReportMetric(stored.Sub(first).Seconds(), "s-step-first-query-to-stored")
		b.ReportMetric(took.Seconds(), "s-prometheus/minute")
		b.ReportMetric(float64(queries), "queries/minute")
		b.ReportMetric(float64(bytes)/(1<<10), "KiB-gzip-answers/minute")
	}
	b.StopTimer()
	// The steps measured must have read traffic, not empty ranges.
	_, through := sourceState(b, n, "svc-7")
	qs := n.quanta(b, "svc-7", through.Add(-3*time.Minute), through)
	for _, q := range qs {
		if !q.Measured || q.Attempted == 0 {
			b.Fatalf("svc-7's quanta before %s: %v; want requests in each", through, qs)
		}
	}
}

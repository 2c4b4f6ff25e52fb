package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The pull source's benchmarks read a real Prometheus whose TSDB holds
// made-up history, written by promtool as blocks: 30 days of one SLO's
// histogram for the backfill, and three hours of 1,000 services' counters
// (reaching a few minutes past now, so that each minute's advance reads
// fresh samples) for the advance. A proxy in front of Prometheus times
// every query.

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

// since sums the calls that started at or after t.
func (q *queryTimer) since(t time.Time) (n int, took time.Duration, bytes int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, c := range q.calls {
		if !c.start.Before(t) {
			n, took, bytes = n+1, took+c.took, bytes+c.bytes
		}
	}
	return
}

// promWithHistory writes OpenMetrics text by gen, turns it into blocks
// with promtool and starts Prometheus on them, behind a queryTimer. It
// returns the proxy's URL.
func promWithHistory(b *testing.B, gen func(w *bufio.Writer)) (string, *queryTimer, *proc) {
	b.Helper()
	bin := needPrometheus(b)
	promtool := needBinary(b, "/usr/bin/promtool", "E2E_PROMTOOL", "prometheus")
	dir := b.TempDir()
	om := filepath.Join(dir, "history.om")
	f, err := os.Create(om)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	gen(w)
	fmt.Fprintln(w, "# EOF")
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	tsdb := filepath.Join(dir, "tsdb")
	start := time.Now()
	if out, err := exec.Command(promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", om, tsdb).CombinedOutput(); err != nil {
		b.Fatalf("promtool: %v\n%s", err, out)
	}
	b.Logf("promtool wrote the blocks in %s", time.Since(start).Round(time.Second))
	os.Remove(om)
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte("global: {}\n"), 0o644)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(b))
	p := startProc(b, "prometheus", exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+tsdb,
		"--storage.tsdb.retention.time=60d", "--web.listen-address="+addr, "--log.level=warn"))
	waitFor(b, 60*time.Second, "Prometheus /-/ready", func() (bool, string) {
		resp, err := client.Get("http://" + addr + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	}, p)
	target, _ := url.Parse("http://" + addr)
	qt := &queryTimer{proxy: httputil.NewSingleHostReverseProxy(target)}
	srv := httptest.NewServer(qt)
	b.Cleanup(srv.Close)
	return srv.URL, qt, p
}

// sourceState reads the pull source's state of an SLO.
func sourceState(b *testing.B, n *nines, slo string) (state string, through time.Time) {
	var doc struct {
		Source struct {
			State   string    `json:"state"`
			Through time.Time `json:"through"`
			Error   string    `json:"error"`
		} `json:"source"`
	}
	getJSON(b, n.url+"/api/v1/slos/"+slo, &doc)
	if doc.Source.Error != "" {
		b.Fatalf("SLO %s: the pull source failed: %s", slo, doc.Source.Error)
	}
	return doc.Source.State, doc.Source.Through
}

// BenchmarkPullBackfill30Days times nines serve's backfill of one SLO's
// 30-day window from Prometheus: a classic latency histogram of 6 buckets
// for 2 status codes scraped every 15 s (2.4 M samples), from the start of
// nines serve until the SLO is live.
func BenchmarkPullBackfill30Days(b *testing.B) {
	end := time.Now().Truncate(time.Minute).Add(5 * time.Minute)
	start := end.Add(-31 * 24 * time.Hour)
	les := []string{"0.05", "0.1", "0.25", "0.5", "1", "+Inf"}
	promURL, qt, _ := promWithHistory(b, func(w *bufio.Writer) {
		fmt.Fprintln(w, "# TYPE http_request_duration_seconds histogram")
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
					fmt.Fprintf(w, "http_request_duration_seconds_bucket{code=%q,le=%q} %d %d\n", code, le, cum, t.Unix())
				}
				fmt.Fprintf(w, "http_request_duration_seconds_count{code=%q} %d %d\n", code, cum, t.Unix())
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
	for b.Loop() {
		t0 := time.Now()
		n := startNines(b, b.TempDir(), specs)
		waitFor(b, 5*time.Minute, "the backfill to end", func() (bool, string) {
			state, through := sourceState(b, n, "backfill")
			return state == "live", fmt.Sprintf("%s through %s", state, through)
		}, n.proc)
		wall := time.Since(t0)
		queries, took, bytes := qt.since(t0)
		b.ReportMetric(wall.Seconds(), "s-to-live")
		b.ReportMetric(took.Seconds(), "s-prometheus")
		b.ReportMetric(float64(queries), "queries")
		b.ReportMetric(float64(bytes)/(1<<20), "MiB-answers")
		n.proc.kill()
	}
}

// BenchmarkPullAdvance1000SLOs times the per-minute advance of 1,000 pull
// SLOs, each reading http_requests_total{service="sN"} (two codes, so
// 2,000 series scraped every 15 s): the Prometheus query time of one
// minute's step once all are live.
func BenchmarkPullAdvance1000SLOs(b *testing.B) {
	const services = 1000
	end := time.Now().Truncate(time.Minute).Add(10 * time.Minute)
	start := end.Add(-3 * time.Hour)
	promURL, qt, _ := promWithHistory(b, func(w *bufio.Writer) {
		fmt.Fprintln(w, "# TYPE http_requests counter")
		var k int64
		for t := start; t.Before(end); t = t.Add(15 * time.Second) {
			k++
			for s := range services {
				fmt.Fprintf(w, "http_requests_total{service=\"s%d\",code=\"200\"} %d %d\n", s, k*int64(50+s%17), t.Unix())
				fmt.Fprintf(w, "http_requests_total{service=\"s%d\",code=\"503\"} %d %d\n", s, k*int64(s%3), t.Unix())
			}
		}
	})
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
		queries, took, bytes := qt.since(t0)
		b.ReportMetric(took.Seconds(), "s-prometheus/minute")
		b.ReportMetric(float64(queries), "queries/minute")
		b.ReportMetric(float64(bytes)/(1<<10), "KiB-answers/minute")
	}
}

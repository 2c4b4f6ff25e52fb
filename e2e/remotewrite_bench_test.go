package e2e

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/nines-sre/nines/internal/pgtest"
	"google.golang.org/protobuf/encoding/protowire"
)

// BenchmarkRemoteWrite sends the same remote write payloads to nines serve
// and to Prometheus (--web.enable-remote-write-receiver), one after the
// other on the same machine, and reports ingestion throughput, the
// server's CPU time per sample and its peak RSS. One op is the whole
// workload against a fresh server, so run it with -benchtime 1x:
//
//	go test -run '^$' -bench RemoteWrite -benchtime 1x -count 3 ./e2e/
//
// The workload (see rwWorkload) is what a Prometheus with 4 shards sends
// for 200 scrape targets (or $E2E_RW_TARGETS), each with 10 routes × 4
// status codes of a request counter and an 8-bucket classic latency
// histogram: 440 series a target, scraped every 10 s for 30 scrapes, up
// to 2,000 samples a request. Every series feeds one of nines' 20 SLOs
// (two per job). docs/performance.md has the figures.
func BenchmarkRemoteWrite(b *testing.B) {
	needPrometheus(b)
	w := newRWWorkload(time.Now())
	b.Logf("workload: %d series, %d samples in %d requests (%.1f MB snappy) over %d shards",
		w.series, w.samples, w.requests(), float64(w.bytes())/1e6, len(w.shards))

	b.Run("server=nines", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			slos := writeSpecs(b, map[string]string{"bench.yaml": w.specs()})
			n := startNines(b, b.TempDir(), slos, "--ingest.max-lag", "1h")
			b.StartTimer()
			w.run(b, n.proc, n.url+"/api/v1/write")
			b.StopTimer()
			n.kill()
		}
	})
	b.Run("server=prometheus", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			p, url := startPrometheus(b, "global:\n  scrape_interval: 1m\n", "--web.enable-remote-write-receiver")
			b.StartTimer()
			w.run(b, p, url+"/api/v1/write")
			b.StopTimer()
			p.kill()
		}
	})
}

const (
	rwRoutes         = 10
	rwJobs           = 10
	rwScrapes        = 30
	rwInterval       = 10 * time.Second
	rwShards         = 4
	rwPerRequest     = 2000
	rwGroup          = 11 // the series of one route and code: counter, 8 buckets, _count, _sum
	rwFirstScrapeAgo = 30 * time.Minute
)

// rwWorkload is a set of encoded remote write requests in shards: each
// series belongs to one shard, and a shard's requests are sent in order by
// one client, as Prometheus' queue manager does. Unlike Prometheus, which
// shards by series, the workload keeps the series of one histogram in the
// same request: nines drops histograms whose buckets are split over
// requests (see TestPrometheusRemoteWrite).
type rwWorkload struct {
	shards          [][][]byte
	series, samples int
}

func (w *rwWorkload) requests() int {
	n := 0
	for _, s := range w.shards {
		n += len(s)
	}
	return n
}

func (w *rwWorkload) bytes() int {
	n := 0
	for _, s := range w.shards {
		for _, r := range s {
			n += len(r)
		}
	}
	return n
}

// rwSeriesDef is a series of the workload and how it grows per scrape.
type rwSeriesDef struct {
	labels [][2]string // sorted by name
	value  func(scrape int) float64
}

func newRWWorkload(now time.Time) *rwWorkload {
	var defs []rwSeriesDef
	codes := []string{"200", "404", "500", "503"}
	bounds := []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1", "+Inf"}
	targets := 200
	if v, err := strconv.Atoi(os.Getenv("E2E_RW_TARGETS")); err == nil && v > 0 {
		targets = v
	}
	for tg := range targets {
		job := fmt.Sprintf("svc%02d", tg%rwJobs)
		inst := fmt.Sprintf("10.0.%d.%d:8080", tg/250, tg%250)
		for r := range rwRoutes {
			route := fmt.Sprintf("/api/v1/r%02d", r)
			for ci, code := range codes {
				// Requests of this series per scrape: many 200s, few errors.
				rate := float64(1+(tg*7+r*3)%13) * []float64{50, 5, 1, 0.2}[ci]
				base := []string{"__name__", "", "code", code, "instance", inst, "job", job, "route", route}
				lbl := func(name string, extra ...string) [][2]string {
					kv := slices.Clone(base)
					kv[1] = name
					kv = append(kv, extra...)
					var ls [][2]string
					for i := 0; i < len(kv); i += 2 {
						ls = append(ls, [2]string{kv[i], kv[i+1]})
					}
					slices.SortFunc(ls, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
					return ls
				}
				total := func(s int) float64 { return math.Floor(rate*float64(s) + 1000) }
				defs = append(defs, rwSeriesDef{lbl("http_requests_total"), total})
				for bi, le := range bounds {
					share := 1.0
					if le != "+Inf" {
						share = 1 - math.Exp(-float64(bi+1)*0.7)
					}
					defs = append(defs, rwSeriesDef{lbl("http_request_duration_seconds_bucket", "le", le),
						func(s int) float64 { return math.Floor(total(s) * share) }})
				}
				defs = append(defs,
					rwSeriesDef{lbl("http_request_duration_seconds_count"), total},
					rwSeriesDef{lbl("http_request_duration_seconds_sum"), func(s int) float64 { return total(s) * 0.042 }})
			}
		}
	}
	w := &rwWorkload{shards: make([][][]byte, rwShards), series: len(defs), samples: len(defs) * rwScrapes}
	first := now.Add(-rwFirstScrapeAgo).Truncate(time.Second)
	var pending [rwShards][]byte
	var count [rwShards]int
	flush := func(sh int) {
		if count[sh] > 0 {
			w.shards[sh] = append(w.shards[sh], snappy.Encode(nil, pending[sh]))
			pending[sh], count[sh] = nil, 0
		}
	}
	var ts []byte
	for s := range rwScrapes {
		t := first.Add(time.Duration(s) * rwInterval).UnixMilli()
		for g := 0; g < len(defs); g += rwGroup {
			sh := g / rwGroup % rwShards
			if count[sh]+rwGroup > rwPerRequest {
				flush(sh)
			}
			for _, d := range defs[g : g+rwGroup] {
				ts = appendRWSeries(ts[:0], d.labels, d.value(s), t)
				pending[sh] = protowire.AppendTag(pending[sh], 1, protowire.BytesType)
				pending[sh] = protowire.AppendBytes(pending[sh], ts)
			}
			count[sh] += rwGroup
		}
		// Prometheus sends a batch when it is full or its deadline
		// passes: a scrape's tail goes before the next scrape's samples.
		for sh := range rwShards {
			flush(sh)
		}
	}
	return w
}

// appendRWSeries appends a prometheus.TimeSeries with one sample.
func appendRWSeries(b []byte, labels [][2]string, v float64, t int64) []byte {
	var l []byte
	for _, kv := range labels {
		l = l[:0]
		l = protowire.AppendTag(l, 1, protowire.BytesType)
		l = protowire.AppendString(l, kv[0])
		l = protowire.AppendTag(l, 2, protowire.BytesType)
		l = protowire.AppendString(l, kv[1])
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendBytes(b, l)
	}
	var s []byte
	s = protowire.AppendTag(s, 1, protowire.Fixed64Type)
	s = protowire.AppendFixed64(s, math.Float64bits(v))
	s = protowire.AppendTag(s, 2, protowire.VarintType)
	s = protowire.AppendVarint(s, uint64(t))
	b = protowire.AppendTag(b, 2, protowire.BytesType)
	return protowire.AppendBytes(b, s)
}

// specs are nines' SLOs for the workload: per job, a latency SLO on the
// histogram and a counter SLO.
func (w *rwWorkload) specs() string {
	var b strings.Builder
	for j := range rwJobs {
		job := fmt.Sprintf("svc%02d", j)
		fmt.Fprintf(&b, `name: %[1]s-latency
service: %[1]s
sli:
  good:
    status: "<500"
    latency: "<=250ms"
  source:
    histogram: 'http_request_duration_seconds{job="%[1]s"}'
    statusLabel: code
objective: 99
method: transactions
window:
  rolling: 1d
---
name: %[1]s-requests
service: %[1]s
sli:
  good:
    status: "<500"
  source:
    bad: 'http_requests_total{job="%[1]s", code=~"5.."}'
    total: 'http_requests_total{job="%[1]s"}'
objective: 99
method: transactions
window:
  rolling: 1d
---
`, job)
	}
	return b.String()
}

// run sends the workload to url, a shard per client, and reports samples/s
// and the server's peak RSS and CPU time.
func (w *rwWorkload) run(b *testing.B, p *proc, url string) {
	b.Helper()
	pid := p.cmd.Process.Pid
	cpu0 := procCPU(b, pid)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(w.shards))
	for _, shard := range w.shards {
		wg.Go(func() {
			c := &http.Client{Timeout: time.Minute}
			for i, body := range shard {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
				req.Header.Set("Content-Encoding", "snappy")
				req.Header.Set("Content-Type", "application/x-protobuf")
				req.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
				resp, err := c.Do(req)
				if err != nil {
					errs <- fmt.Errorf("request %d: %w", i, err)
					return
				}
				answer, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode/100 != 2 || resp.Header.Get("X-Nines-Dropped") != "" {
					errs <- fmt.Errorf("request %d: %s %s (dropped: %q)", i, resp.Status, answer, resp.Header.Get("X-Nines-Dropped"))
					return
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatalf("%s: %v", p.name, err)
	}
	cpu := procCPU(b, pid) - cpu0
	b.ReportMetric(float64(w.samples)/elapsed.Seconds(), "samples/s")
	b.ReportMetric(procHWM(b, pid)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(cpu.Seconds()/float64(w.samples)*1e9, "cpu-ns/sample")
}

// procHWM is a process's peak resident set size in bytes (VmHWM).
func procHWM(b *testing.B, pid int) float64 {
	b.Helper()
	st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(st), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				b.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb * 1024
		}
	}
	b.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// procCPU is the CPU time a process has used (user + system).
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	st, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are fields 14 and 15 of the line, 12 and 13 after ") ".
	s := string(st)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(ut+stime) * time.Second / ticks
}

// BenchmarkRemoteWriteReplicas sends the workload of BenchmarkRemoteWrite
// to two nines serve on one PostgreSQL, once to the leader and once to
// the follower, which sends every request on to the leader: the cost of
// the extra hop. CPU and peak RSS are the leader's.
//
//	CI=true go test -run '^$' -bench RemoteWriteReplicas -benchtime 1x -count 3 ./e2e/
func BenchmarkRemoteWriteReplicas(b *testing.B) {
	w := newRWWorkload(time.Now())
	for _, via := range []string{"leader", "follower"} {
		b.Run("to="+via, func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				url := pgtest.URL(b)
				slos := writeSpecs(b, map[string]string{"bench.yaml": w.specs()})
				// Two replicas: one leads, one follows.
				var reps []*nines
				for range 2 {
					reps = append(reps, startNines(b, b.TempDir(), slos, "--store", url, "--ingest.max-lag", "1h"))
				}
				var lead int
				waitFor(b, 30*time.Second, "one replica to lead", func() (bool, string) {
					at, n := leaderOf(reps)
					lead = at
					return n == 1 && at >= 0, fmt.Sprintf("%d leaders", n)
				})
				// The new leader reads what the last one left before it takes
				// samples (a 503 meanwhile, which Prometheus retries); the
				// workload counts a 503 as a failure, so give it the moment.
				time.Sleep(2 * time.Second)
				target := reps[lead]
				if via == "follower" {
					target = reps[1-lead]
					waitFor(b, 10*time.Second, "the follower to know the leader", func() (bool, string) {
						r := role(target)
						return r == "follower", r
					})
				}
				b.StartTimer()
				w.run(b, reps[lead].proc, target.url+"/api/v1/write")
				b.StopTimer()
				for _, r := range reps {
					r.kill()
				}
			}
		})
	}
}

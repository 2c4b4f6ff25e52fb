package metrics_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/ingest/promrw"
	"github.com/nines-sre/nines/slo"
)

// benchScrapes returns k consecutive remote write bodies, 15 s apart, of
// 1,000 series with one sample each, shaped like what a Prometheus sends
// for a small fleet:
//
//   - 40 request counters (8 instances × 5 status codes), read by a
//     good/total SLI;
//   - 20 classic latency histograms (12 buckets + _count + _sum = 280
//     series), read by a "<=250ms" histogram SLI;
//   - 680 other series (node, Go runtime and process metrics) that no SLI
//     names.
//
// Labels are sorted, with realistic names and values.
func benchScrapes(k int) [][]byte {
	rng := rand.New(rand.NewPCG(3, 4))
	type series struct {
		labels metrics.Labels
		rate   float64 // increase per scrape
		v      float64
	}
	var all []series
	add := func(l metrics.Labels, rate float64) {
		all = append(all, series{labels: l, rate: rate, v: rng.Float64() * 1e6})
	}
	codes := []string{"200", "201", "404", "500", "503"}
	for i := range 8 {
		for j, code := range codes {
			add(ls("http_requests_total", "code", code, "instance", fmt.Sprintf("checkout-%d:8080", i), "job", "checkout",
				"method", "GET", "namespace", "shop"), float64(1000/(j+1)))
		}
	}
	les := []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"}
	for i := range 20 {
		extra := []string{"handler", fmt.Sprintf("/api/v1/route%d", i%5), "instance", fmt.Sprintf("checkout-%d:8080", i/5), "job", "checkout", "namespace", "shop"}
		for j, le := range les {
			add(ls("http_request_duration_seconds_bucket", append(extra, "le", le)...), float64(100*(j+1)))
		}
		add(ls("http_request_duration_seconds_count", extra...), 1200)
		add(ls("http_request_duration_seconds_sum", extra...), 35)
	}
	names := []string{"node_cpu_seconds_total", "node_network_receive_bytes_total", "go_gc_duration_seconds", "process_resident_memory_bytes",
		"go_goroutines", "node_filesystem_avail_bytes", "node_disk_io_time_seconds_total", "go_memstats_alloc_bytes_total"}
	for i := 0; len(all) < 1000; i++ {
		add(ls(names[i%len(names)], "cpu", fmt.Sprint(i%16), "instance", fmt.Sprintf("node-%d:9100", i/64), "job", "node",
			"mode", []string{"idle", "user", "system", "iowait"}[i%4]), rng.Float64()*100)
	}
	bodies := make([][]byte, k)
	for s := range k {
		req := &promrw.WriteRequest{}
		for i := range all {
			all[i].v += all[i].rate
			req.Series = append(req.Series, metrics.Series{Labels: all[i].labels,
				Samples: []metrics.Sample{{T: t0 + int64(s)*15*sec, V: math.Round(all[i].v)}}})
		}
		bodies[s] = promrw.Encode(req)
	}
	return bodies
}

func benchSources(b *testing.B) []metrics.SLISource {
	r, err := slo.ParseLatencyRule("<=250ms")
	if err != nil {
		b.Fatal(err)
	}
	return []metrics.SLISource{
		{Name: "availability", Good: sel(`http_requests_total{job="checkout", code!~"5.."}`), Total: sel(`http_requests_total{job="checkout"}`)},
		{Name: "latency", SLI: slo.SLI{Latency: &r}, Histogram: sel(`http_request_duration_seconds{job="checkout"}`)},
	}
}

// BenchmarkRemoteWrite measures a 1,000-series request through Decode, the
// Collector, and both, the way a server handles it (Flush at the
// watermark after each request). Bytes are the compressed body.
func BenchmarkRemoteWrite(b *testing.B) {
	const k = 64 // scrapes before the timestamps repeat
	bodies := benchScrapes(k)
	decoded := make([][]metrics.Series, k)
	for i, body := range bodies {
		req, err := promrw.Decode(body, "snappy")
		if err != nil {
			b.Fatal(err)
		}
		decoded[i] = req.Series
	}
	srcs := benchSources(b)
	newC := func() *metrics.Collector {
		c, err := metrics.NewCollector(metrics.Config{Sources: srcs})
		if err != nil {
			b.Fatal(err)
		}
		c.Add(decoded[0]) // baselines, as in a running server
		return c
	}
	var sink int
	report := func(b *testing.B) {
		b.ReportMetric(float64(b.N)*1000/b.Elapsed().Seconds(), "samples/s")
	}

	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(bodies[1])))
		for i := 0; b.Loop(); i++ {
			req, err := promrw.Decode(bodies[i%k], "snappy")
			if err != nil {
				b.Fatal(err)
			}
			sink += len(req.Series)
		}
		report(b)
	})
	b.Run("DecodeInto", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(bodies[1])))
		var d promrw.Decoder
		var req promrw.WriteRequest
		for i := 0; b.Loop(); i++ {
			if err := d.DecodeInto(&req, bodies[i%k], "snappy"); err != nil {
				b.Fatal(err)
			}
			sink += len(req.Series)
		}
		report(b)
	})
	b.Run("Collector", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(bodies[1])))
		c := newC()
		for i := 0; b.Loop(); i++ {
			j := 1 + i%(k-1)
			if j == 1 && i > 0 {
				b.StopTimer()
				c = newC()
				b.StartTimer()
			}
			rep := c.Add(decoded[j])
			res, _ := c.Flush(c.Watermark())
			sink += int(rep.Accepted) + len(res)
		}
		report(b)
	})
	b.Run("DecodeAndCollect", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(bodies[1])))
		c := newC()
		for i := 0; b.Loop(); i++ {
			j := 1 + i%(k-1)
			if j == 1 && i > 0 {
				b.StopTimer()
				c = newC()
				b.StartTimer()
			}
			req, err := promrw.Decode(bodies[j], "snappy")
			if err != nil {
				b.Fatal(err)
			}
			rep := c.Add(req.Series)
			res, _ := c.Flush(c.Watermark())
			sink += int(rep.Accepted) + len(res)
		}
		report(b)
	})
	// The way a server should run it: a reused WriteRequest.
	b.Run("DecodeIntoAndCollect", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(bodies[1])))
		c := newC()
		var d promrw.Decoder
		var req promrw.WriteRequest
		for i := 0; b.Loop(); i++ {
			j := 1 + i%(k-1)
			if j == 1 && i > 0 {
				b.StopTimer()
				c = newC()
				b.StartTimer()
			}
			if err := d.DecodeInto(&req, bodies[j], "snappy"); err != nil {
				b.Fatal(err)
			}
			rep := c.Add(req.Series)
			res, _ := c.Flush(c.Watermark())
			sink += int(rep.Accepted) + len(res)
		}
		report(b)
	})
	if sink == -1 {
		b.Log(sink)
	}
}

// TestBenchScrapesFlow checks the benchmark's stream reads as intended, so
// the numbers measure the real path and not an error path.
func TestBenchScrapesFlow(t *testing.T) {
	bodies := benchScrapes(6)
	srcs := benchSources(&testing.B{})
	c, err := metrics.NewCollector(metrics.Config{Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	var rep metrics.Report
	for _, body := range bodies {
		req, err := promrw.Decode(body, "snappy")
		if err != nil {
			t.Fatal(err)
		}
		if len(req.Series) != 1000 {
			t.Fatalf("%d series", len(req.Series))
		}
		r := c.Add(req.Series)
		rep.Merge(&r)
	}
	if rep.Samples != 6000 || rep.Count(metrics.UnknownSeries) != 6*680 || rep.Count(metrics.Unused) != 6*40 ||
		rep.Accepted != 6*(40+240) || rep.Count(metrics.FirstSample) != 280 {
		t.Errorf("report %s", rep.String())
	}
	res, fr := c.Flush(math.MaxInt64)
	if len(res) != 4 || fr.Dropped() != 0 || fr.Count(metrics.Inconsistent) != 0 {
		t.Errorf("%d results, flush report %s %v", len(res), fr.String(), fr.Problems)
	}
	for _, r := range res {
		if r.Rollup.Attempted == 0 || r.Rollup.Good == 0 {
			t.Errorf("%s: %+v", r.SLI, flatten([]metrics.Result{r}))
		}
	}
}

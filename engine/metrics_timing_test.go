package engine

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/store/sqlite"
)

// BenchmarkIngestRemoteWrite sends the workload of e2e's
// BenchmarkRemoteWrite (200 targets, 88,000 series, a request counter
// and an 8-bucket classic histogram per route and code, every series read
// by one of 20 SLOs) through IngestMetrics on a SQLite store, without
// HTTP and decoding: 30 scrapes in requests of at most 2,000 samples, each
// stored with its record before the next. One op is the whole workload
// on a fresh store.
//
//	go test -run '^$' -bench IngestRemoteWrite -benchtime 1x -count 3 ./engine/
func BenchmarkIngestRemoteWrite(b *testing.B) {
	const (
		targets, routes, jobs, scrapes, perRequest = 200, 10, 10, 30, 2000
	)
	// Stamped 30 to 25 minutes ago, on the wall clock the engine runs on,
	// as in e2e: what is saved every so often is saved as often here.
	start := time.Now().Add(-30 * time.Minute).Truncate(time.Minute)
	codes := []string{"200", "404", "500", "503"}
	bounds := []string{"0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "1", "+Inf"}
	type def struct {
		labels metrics.Labels
		value  func(s int) float64
	}
	var defs []def
	for tg := range targets {
		job := fmt.Sprintf("svc%02d", tg%jobs)
		inst := fmt.Sprintf("10.0.%d.%d:8080", tg/250, tg%250)
		for r := range routes {
			route := fmt.Sprintf("/api/v1/r%02d", r)
			for ci, code := range codes {
				rate := float64(1+(tg*7+r*3)%13) * []float64{50, 5, 1, 0.2}[ci]
				total := func(s int) float64 { return math.Floor(rate*float64(s) + 1000) }
				lbl := func(name string, le string) metrics.Labels {
					ls := metrics.Labels{{Name: "__name__", Value: name}, {Name: "code", Value: code}, {Name: "instance", Value: inst}, {Name: "job", Value: job}}
					if le != "" {
						ls = append(ls, metrics.Label{Name: "le", Value: le})
					}
					return append(ls, metrics.Label{Name: "route", Value: route})
				}
				defs = append(defs, def{lbl("http_requests_total", ""), total})
				for bi, le := range bounds {
					share := 1.0
					if le != "+Inf" {
						share = 1 - math.Exp(-float64(bi+1)*0.7)
					}
					defs = append(defs, def{lbl("http_request_duration_seconds_bucket", le), func(s int) float64 { return math.Floor(total(s) * share) }})
				}
			}
		}
	}
	const group = 9 // a counter and 8 buckets
	var reqs [][]metrics.Series
	for s := range scrapes {
		at := start.Add(time.Duration(s) * 10 * time.Second)
		var req []metrics.Series
		for g := 0; g < len(defs); g += group {
			if len(req)+group > perRequest {
				reqs, req = append(reqs, req), nil
			}
			for _, d := range defs[g : g+group] {
				req = append(req, metrics.Series{Labels: d.labels, Samples: []metrics.Sample{{T: at.UnixMilli(), V: d.value(s)}}})
			}
		}
		reqs = append(reqs, req)
	}
	var specs strings.Builder
	for j := range jobs {
		fmt.Fprintf(&specs, `name: svc%02[1]d-latency
service: svc%02[1]d
sli:
  good:
    status: "<500"
    latency: "<=250ms"
  source:
    histogram: 'http_request_duration_seconds{job="svc%02[1]d"}'
    statusLabel: code
objective: 99
method: transactions
window:
  rolling: 1d
---
name: svc%02[1]d-requests
service: svc%02[1]d
sli:
  good:
    status: "<500"
  source:
    bad: 'http_requests_total{job="svc%02[1]d", code=~"5.."}'
    total: 'http_requests_total{job="svc%02[1]d"}'
objective: 99
method: transactions
window:
  rolling: 1d
---
`, j)
	}
	ctx := context.Background()
	samples := 0
	for _, r := range reqs {
		samples += len(r)
	}
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{})
		if err != nil {
			b.Fatal(err)
		}
		e, err := New(ctx, Config{Store: db, MaxLag: time.Hour})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Load(ctx, map[string][]byte{"bench.yaml": []byte(specs.String())}); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		for i, r := range reqs {
			res, err := e.IngestMetrics(ctx, "remote-write", r)
			if err != nil {
				b.Fatal(err)
			}
			if d := res.Report.Dropped(); d > 0 {
				b.Fatalf("request %d: %d samples dropped: %v", i, d, res.Report.Problems)
			}
		}
		b.StopTimer()
		db.Close()
	}
	b.ReportMetric(float64(samples*b.N)/b.Elapsed().Seconds(), "samples/s")
}

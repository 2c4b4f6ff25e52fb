package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/internal/pgtest"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// benchSpec is a 30-day SLO judged by status and latency, the shape of
// docs/performance.md's serve figures.
const benchSpec = `name: checkout-availability
service: checkout
sli:
  good:
    status: "<500"
    latency: "<=250ms"
objective: 99.9
method: quanta
quantum: 1m
window:
  rolling: 30d
`

// BenchmarkServeStore compares nines serve on SQLite (synchronous=FULL)
// and on PostgreSQL (fsync and synchronous_commit on, a unix socket) on
// the same machine in one run: events over HTTP in batches of 10,000,
// and the status of a 30-day window read from a month of stored rollups
// (with the size of that month in the store, uncompacted).
//
//	go test -run '^$' -bench ServeStore -benchtime 20x ./cmd/nines
func BenchmarkServeStore(b *testing.B) {
	srv, err := pgtest.Start(pgtest.Options{Fsync: true})
	if err != nil {
		b.Skip(err)
	}
	defer srv.Stop()
	dir := b.TempDir()
	spec := filepath.Join(dir, "slo.yaml")
	if err := os.WriteFile(spec, []byte(benchSpec), 0o644); err != nil {
		b.Fatal(err)
	}
	// Every run of a benchmark function (the testing package calls each
	// with b.N = 1 first) gets a new, empty store of its kind.
	n := 0
	fresh := map[string]func(b *testing.B) string{
		"sqlite": func(b *testing.B) string {
			n++
			return filepath.Join(dir, fmt.Sprint("sqlite", n))
		},
		"postgres": func(b *testing.B) string {
			n++
			url, err := srv.CreateDatabase(context.Background(), fmt.Sprint("bench", n))
			if err != nil {
				b.Fatal(err)
			}
			return url
		},
	}
	for _, bench := range []struct {
		name string
		fn   func(b *testing.B, store, spec string)
	}{{"EventsHTTP", benchEventsHTTP}, {"Status30Days", benchStatus30Days}} {
		b.Run(bench.name, func(b *testing.B) {
			for _, kind := range []string{"sqlite", "postgres"} {
				b.Run(kind, func(b *testing.B) { bench.fn(b, fresh[kind](b), spec) })
			}
		})
	}
}

func benchEventsHTTP(b *testing.B, storeArg, spec string) {
	addr, stop := startServe(b, "--store", storeArg, "--slos", spec)
	defer stop()
	const batch = 10_000
	base := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	var body strings.Builder
	for i := range batch {
		status := 200
		if i%500 == 0 {
			status = 503
		}
		fmt.Fprintf(&body, `{"time": %q, "status": %d, "latency_ms": %d.%d}`+"\n",
			base.Add(time.Duration(i)*6*time.Millisecond).Format(time.RFC3339Nano), status, 1+i%9, i%10)
	}
	payload := body.String()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Post("http://"+addr+"/api/v1/events?slo=checkout-availability", "application/x-ndjson", strings.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func benchStatus30Days(b *testing.B, storeArg, spec string) {
	// A month of minutes, written straight into the store as the engine
	// would have: each with a 20-bin histogram and counts per status.
	ctx := context.Background()
	db, _, err := openStore(ctx, storeArg, "")
	if err != nil {
		b.Fatal(err)
	}
	end := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	app := db.Appender(ctx)
	for m := 30 * 24 * 60; m > 0; m-- {
		start := end.Add(-time.Duration(m) * time.Minute).UnixNano()
		r := &slo.Rollup{Start: start, Measured: true}
		ok := slo.StatusCount{Code: 200}
		bad := slo.StatusCount{Code: 503}
		for i := range 20 {
			v, k := 0.001*float64(1+(i*7+m)%300), uint64(1+i%5)
			if err := ok.Latency.InsertN(v, k); err != nil {
				b.Fatal(err)
			}
			ok.Count, ok.Timed = ok.Count+k, ok.Timed+k
			if v > 0.25 {
				ok.Over += k
				r.OverThreshold += k
				r.Slow += k
			} else {
				r.Good += k
			}
		}
		bad.Count, bad.Timed = 1, 1
		if err := bad.Latency.InsertN(0.002, 1); err != nil {
			b.Fatal(err)
		}
		r.Errors = 1
		r.Attempted = ok.Count + 1
		r.Latency.Merge(&ok.Latency)
		r.Latency.Merge(&bad.Latency)
		r.Statuses = []slo.StatusCount{ok, bad}
		if err := app.Append("checkout-availability", time.Minute, r); err != nil {
			b.Fatal(err)
		}
		if m%5000 == 0 {
			if err := app.Commit(); err != nil {
				b.Fatal(err)
			}
			app = db.Appender(ctx)
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	// As nines serve does every hour (on PostgreSQL it analyses the
	// tables too, which a bulk load leaves without statistics).
	if _, err := db.Compact(ctx, end, store.Retention{}); err != nil {
		b.Fatal(err)
	}
	size, err := db.Size(ctx)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	addr, stop := startServe(b, "--store", storeArg, "--slos", spec)
	defer stop()
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Get("http://" + addr + "/api/v1/slos/checkout-availability/status")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(size)/1e6, "MB/month")
}

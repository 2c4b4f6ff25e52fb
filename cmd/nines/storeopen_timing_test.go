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
// the same machine: events over HTTP in batches of 10,000, and the status
// of a 30-day window read from a month of stored rollups. Each iteration
// does the same request to both servers, one after the other, so that
// both see the same machine (other work on it changes the figures by
// more than the stores differ); it reports each one's rate or time and
// the ratio, PostgreSQL's over SQLite's.
//
//	go test -run '^$' -bench ServeStore -benchtime 40x ./cmd/nines
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
	// with b.N = 1 first) gets new, empty stores.
	n := 0
	stores := func(b *testing.B) [2]string {
		n++
		url, err := srv.CreateDatabase(context.Background(), fmt.Sprint("bench", n))
		if err != nil {
			b.Fatal(err)
		}
		return [2]string{filepath.Join(dir, fmt.Sprint("sqlite", n)), url}
	}
	b.Run("EventsHTTP", func(b *testing.B) { benchEventsHTTP(b, stores(b), spec) })
	b.Run("Status30Days", func(b *testing.B) { benchStatus30Days(b, stores(b), spec) })
}

// timeBoth runs each iteration's request on both servers, alternating
// which goes first, and returns the time each took in all.
func timeBoth(b *testing.B, addrs [2]string, do func(addr string)) (took [2]time.Duration) {
	i := 0
	for b.Loop() {
		for j := range 2 {
			k := (i + j) % 2
			start := time.Now()
			do(addrs[k])
			took[k] += time.Since(start)
		}
		i++
	}
	return took
}

// want200 reads and closes a response, failing b unless it is a 200.
func want200(b *testing.B) func(*http.Response, error) {
	return func(resp *http.Response, err error) {
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func benchEventsHTTP(b *testing.B, stores [2]string, spec string) {
	var addrs [2]string
	for i, st := range stores {
		addr, stop := startServe(b, "--store", st, "--slos", spec)
		defer stop()
		addrs[i] = addr
	}
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
	took := timeBoth(b, addrs, func(addr string) {
		want200(b)(http.Post("http://"+addr+"/api/v1/events?slo=checkout-availability", "application/x-ndjson", strings.NewReader(payload)))
	})
	rate := func(d time.Duration) float64 { return float64(batch) * float64(b.N) / d.Seconds() }
	b.ReportMetric(rate(took[0]), "sqlite-events/s")
	b.ReportMetric(rate(took[1]), "postgres-events/s")
	b.ReportMetric(rate(took[1])/rate(took[0]), "ratio")
}

func benchStatus30Days(b *testing.B, stores [2]string, spec string) {
	end := time.Now().UTC().Truncate(time.Minute).Add(-2 * time.Minute)
	var addrs [2]string
	var sizes [2]int64
	for i, st := range stores {
		sizes[i] = loadMonth(b, st, end)
		addr, stop := startServe(b, "--store", st, "--slos", spec)
		defer stop()
		addrs[i] = addr
	}
	took := timeBoth(b, addrs, func(addr string) {
		want200(b)(http.Get("http://" + addr + "/api/v1/slos/checkout-availability/status"))
	})
	ms := func(d time.Duration) float64 { return float64(d.Milliseconds()) / float64(b.N) }
	b.ReportMetric(ms(took[0]), "sqlite-ms/read")
	b.ReportMetric(ms(took[1]), "postgres-ms/read")
	b.ReportMetric(float64(took[1])/float64(took[0]), "ratio")
	b.ReportMetric(float64(sizes[0])/1e6, "sqlite-MB/month")
	b.ReportMetric(float64(sizes[1])/1e6, "postgres-MB/month")
}

// loadMonth writes a month of minutes ending at end straight into the
// store, as the engine would have: each with a 20-bin histogram and
// counts per status. It returns the store's size then.
func loadMonth(b *testing.B, storeArg string, end time.Time) int64 {
	ctx := context.Background()
	db, _, err := openStore(ctx, storeArg, "")
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
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
	return size
}

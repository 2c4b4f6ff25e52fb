package postgres

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/internal/pgtest"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store"
)

// BenchmarkQuery30Days reads 30 days of one SLI's minutes (43,200
// rollups with ~100-bin histograms), as the SQLite store's benchmark of
// the same name does.
func BenchmarkQuery30Days(b *testing.B) {
	const n = 30 * 24 * 60
	from := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC).UnixNano()
	to := from + n*int64(time.Minute)
	ctx := context.Background()
	db, err := Open(ctx, pgtest.URL(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	app := db.Appender(ctx)
	for m := from; m < to; m += int64(time.Minute) {
		rng := rand.New(rand.NewPCG(1, uint64(m)))
		r := &slo.Rollup{Start: m, Measured: true}
		for r.Latency.NumBins() < 100 {
			v := 0.02 * math.Exp(1.2*rng.NormFloat64())
			k := 1 + rng.Uint64N(40)
			if r.Latency.InsertN(v, k) != nil {
				continue
			}
			r.Attempted += k
			r.Good += k
		}
		if err := app.Append("checkout", time.Minute, r); err != nil {
			b.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	// As nines serve does every hour; it analyses the tables too.
	if _, err := db.Compact(ctx, time.Unix(0, to), store.Retention{}); err != nil {
		b.Fatal(err)
	}
	// With -v, the plan of the read: an index scan along the primary key,
	// no sort.
	if testing.Verbose() {
		rows, err := db.pool.Query(ctx, `EXPLAIN (ANALYZE, BUFFERS) SELECT start_ns, `+rollupCols+` FROM rollups
			WHERE series = (SELECT id FROM series WHERE sli = $1 AND quantum_ns = $2) AND start_ns >= $3 AND start_ns < $4
			ORDER BY start_ns`, []byte("checkout"), int64(time.Minute), from, to)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
			var line string
			_ = rows.Scan(&line)
			b.Log(line)
		}
		rows.Close()
	}
	b.ReportAllocs()
	b.ResetTimer()
	var sink uint64
	for b.Loop() {
		it := db.Rollups(ctx, "checkout", time.Minute, from, to)
		k := 0
		for it.Next() {
			sink += it.At().Latency.Count()
			k++
		}
		if err := it.Err(); err != nil || k != n {
			b.Fatalf("%d rollups, %v", k, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/rollup")
	_ = sink
}

// BenchmarkDiskBytes reports the bytes per SLI-minute of the demo's
// traffic (three SLOs, two days of minutes each, with per-status counts)
// as stored, then after Compact has moved every histogram to hourly ones
// and VACUUM FULL has rewritten the tables without free space, and the
// size of an SLI-year from them: 35 days of full minutes (the default
// Full retention) and 330 of compacted ones. The timed loop is empty:
// the metrics are the result.
func BenchmarkDiskBytes(b *testing.B) {
	ctx := context.Background()
	slos, _, err := spec.Load("demo.yaml", []byte(demo.Specs))
	if err != nil {
		b.Fatal(err)
	}
	db, err := Open(ctx, pgtest.URL(b), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	const minutes = 2 * 24 * 60
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	for h := range minutes / 60 {
		app := db.Appender(ctx)
		for _, s := range slos {
			for m := range 60 {
				r, ok := demo.Rollup(s, day.Add(time.Duration(60*h+m)*time.Minute), 1)
				if !ok {
					b.Fatalf("%s is not a demo SLO", s.Name)
				}
				if err := app.Append(s.Name, s.Quantum, &r); err != nil {
					b.Fatal(err)
				}
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	size := func() float64 {
		if _, err := db.pool.Exec(ctx, `VACUUM FULL`); err != nil {
			b.Fatal(err)
		}
		n, err := db.Size(ctx)
		if err != nil {
			b.Fatal(err)
		}
		return float64(n) / float64(len(slos)*minutes)
	}
	full := size()
	end := day.Add(minutes * time.Minute)
	if _, err := db.Compact(ctx, end.Add(store.DefaultFull+time.Hour), store.Retention{}); err != nil {
		b.Fatal(err)
	}
	compacted := size()
	for b.Loop() {
		if _, err := db.Size(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(full, "full-B/SLI-min")
	b.ReportMetric(compacted, "compacted-B/SLI-min")
	b.ReportMetric((35*full+330*compacted)*24*60/1e6, "MB/SLI-year")
}

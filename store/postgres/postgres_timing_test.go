package postgres

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nines-sre/nines/internal/pgtest"
	"github.com/nines-sre/nines/slo"
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

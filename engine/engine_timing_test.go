package engine

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

// BenchmarkSummary1000SLOs is the status of 1,000 SLOs over 30-day
// windows, as GET /api/v1/slos and /metrics ask for it: one op is all
// 1,000. It reports the per-SLO p99 too.
func BenchmarkSummary1000SLOs(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	e, err := New(ctx, Config{Store: db, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	files := map[string][]byte{}
	for i := range 1000 {
		files[fmt.Sprintf("slo-%04d.yaml", i)] = []byte(fmt.Sprintf(`name: slo-%04d
service: svc-%d
sli:
  good:
    status: "<500"
    latency: "<=250ms"
objective: 99.9
window:
  rolling: 30d
`, i, i%50))
	}
	if _, err := e.Load(ctx, files); err != nil {
		b.Fatal(err)
	}
	// An hour of traffic for every SLO, so the sums are not all zero.
	for _, s := range e.SLOs() {
		series := &slo.Series{Quantum: time.Minute}
		for m := range 4 {
			r := slo.Rollup{Start: now.Truncate(time.Minute).Add(-time.Duration(5-m) * time.Minute).UnixNano(), Attempted: 100, Good: 99, Errors: 1, Measured: true}
			r.Latency.InsertN(0.01, 100)
			series.Rollups = append(series.Rollups, r)
		}
		if _, err := e.Append(ctx, s.Name, series, "bench"); err != nil {
			b.Fatal(err)
		}
	}
	slos := e.SLOs()
	per := make([]time.Duration, 0, len(slos))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		per = per[:0]
		for _, s := range slos {
			t0 := time.Now()
			if _, err := e.Summary(s.Name); err != nil {
				b.Fatal(err)
			}
			per = append(per, time.Since(t0))
		}
	}
	sort.Slice(per, func(i, j int) bool { return per[i] < per[j] })
	b.ReportMetric(float64(per[len(per)*99/100].Nanoseconds()), "p99-ns/slo")
}

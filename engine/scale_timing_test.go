package engine

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// scaleRuns are n runs of 30-day SLOs (the four methods in turn, 99.9 %)
// standing at at, each holding the day of traffic before at that
// dayOfTraffic makes up: what nines serve holds for n SLOs a day after
// they started.
func scaleRuns(tb testing.TB, n int, at time.Time) []*run {
	tb.Helper()
	runs := make([]*run, n)
	for i := range runs {
		s := &slo.SLO{Name: fmt.Sprintf("slo-%05d", i), Objective: slo.Ratio{Num: 999, Den: 1000}, Method: slo.Method(i % 4),
			Quantum: time.Minute, Window: slo.WindowSpec{Rolling: 30 * 24 * time.Hour}}
		r, err := newRun(s, at, at.Add(-24*time.Hour).UnixNano())
		if err != nil {
			tb.Fatal(err)
		}
		for _, ro := range dayOfTraffic(uint64(i), at) {
			r.tracker.Update(&ro)
		}
		runs[i] = r
	}
	return runs
}

// dayOfTraffic is a day of made-up per-minute rollups before at: 60–140
// requests a minute, a failure in one minute of ten, a minute nothing
// reported for in one of two hundred, and a 20-minute outage.
func dayOfTraffic(seed uint64, at time.Time) []slo.Rollup {
	r := rand.New(rand.NewPCG(seed, 1))
	out := make([]slo.Rollup, 0, 24*60)
	outage := r.IntN(24*60 - 20)
	for m := range 24 * 60 {
		if r.IntN(200) == 0 {
			continue
		}
		ro := slo.Rollup{Start: at.Add(time.Duration(m-24*60) * time.Minute).UnixNano(), Measured: true,
			Attempted: 60 + uint64(r.IntN(81))}
		switch {
		case m >= outage && m < outage+20:
			ro.Errors = ro.Attempted / 2
		case r.IntN(10) == 0:
			ro.Errors = 1 + uint64(r.IntN(3))
		}
		ro.Good = ro.Attempted - ro.Errors
		out = append(out, ro)
	}
	return out
}

// BenchmarkAlertCycle is one cycle of nines serve's evaluation for
// 1,000 and 10,000 30-day SLOs with a day of traffic each: every tracker
// steps one quantum, takes that quantum's rollup, and every tier of
// every SLO's alerts is evaluated. It reports the trackers' and alert
// states' heap per SLO.
func BenchmarkAlertCycle(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("%d SLOs", n), func(b *testing.B) { alertCycle(b, n) })
	}
}

func alertCycle(b *testing.B, n int) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	runs := scaleRuns(b, n, at)
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	ro := slo.Rollup{Attempted: 100, Good: 99, Errors: 1, Measured: true}
	b.ResetTimer()
	for b.Loop() {
		at = at.Add(time.Minute)
		ro.Start = at.Add(-time.Minute).UnixNano()
		for _, r := range runs {
			if err := r.step(at, func(int64) { r.tracker.Update(&ro) }); err != nil {
				b.Fatal(err)
			}
			if _, err := r.evaluate(true); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(heap, "heap-B/slo")
	runtime.KeepAlive(runs)
}

// TestTenThousandSLOsFitInMemory holds the trackers and alert states of
// 30-day SLOs with a day of traffic each to what lets 10,000 of them take
// a quarter of the 2 GiB nines serve may use in all: 512 MiB, measured on
// 1,000 (a contribution per quantum took 2.8 MB an SLO, 27 GiB for
// 10,000).
func TestTenThousandSLOsFitInMemory(t *testing.T) {
	const n, goal = 1000, 10000
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	runs := scaleRuns(t, n, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC))
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("%.0f bytes of heap per SLO, %.0f MiB for %d", per, per*goal/(1<<20), goal)
	if per*goal > 512<<20 {
		t.Errorf("%d SLOs would hold %.0f MiB of heap, want at most 512 MiB", goal, per*goal/(1<<20))
	}
	runtime.KeepAlive(runs)
}

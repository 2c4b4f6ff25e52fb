package slo

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// thirtyDays builds 30 days of one-minute rollups, each with 200 requests'
// latencies, as a busy service would leave them.
func thirtyDays(b *testing.B) (*SLO, *Series, Window) {
	b.Helper()
	rule := LatencyRule{Threshold: 0.005, Inclusive: true}
	s := &SLO{
		Name: "bench", SLI: SLI{Latency: &rule}, Objective: Ratio{999, 1000},
		Method: Quanta, Quantum: time.Minute, Window: WindowSpec{Rolling: 30 * 24 * time.Hour},
	}
	end := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	w := s.Window.Containing(end)
	r := rand.New(rand.NewPCG(1, 2))
	agg := NewAggregator(&s.SLI, s.Quantum)
	for t := w.Start; t.Before(w.End); t = t.Add(time.Minute) {
		for i := range 200 {
			e := Event{Time: t.Add(time.Duration(i) * 300 * time.Millisecond).UnixNano(), Status: 200, Count: 1,
				Latency: 0.002 * math.Exp(0.5*r.NormFloat64())}
			agg.Add(&e)
		}
	}
	return s, agg.Series(), w
}

// BenchmarkEvaluate30Days is a full report of a 30-day window: every
// quantum judged, histograms merged, quantiles computed.
func BenchmarkEvaluate30Days(b *testing.B) {
	s, series, w := thirtyDays(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Evaluate(s, series, w, w.End); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBurnRate1Hour is one burn-rate span, as an alert rule asks.
func BenchmarkBurnRate1Hour(b *testing.B) {
	s, series, w := thirtyDays(b)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := BurnRate(s, series, w.End.Add(-time.Hour), w.End); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTrackerResult30Days is the same 30-day status as
// BenchmarkEvaluate30Days, without latency, from a Tracker's running sums.
func BenchmarkTrackerResult30Days(b *testing.B) {
	s, series, w := thirtyDays(b)
	tr, err := NewTracker(s, w.End)
	if err != nil {
		b.Fatal(err)
	}
	for i := range series.Rollups {
		tr.Update(&series.Rollups[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if r := tr.Result(); r.Quanta.Good == 0 {
			b.Fatal("empty status")
		}
	}
}

// BenchmarkTrackerAdvance is the work as one quantum closes: advance the
// window by a quantum and record its rollup.
func BenchmarkTrackerAdvance(b *testing.B) {
	s, series, w := thirtyDays(b)
	tr, err := NewTracker(s, w.End)
	if err != nil {
		b.Fatal(err)
	}
	at := w.End
	r := series.Rollups[0]
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		at = at.Add(time.Minute)
		if err := tr.AdvanceTo(at); err != nil {
			b.Fatal(err)
		}
		r.Start = at.Add(-time.Minute).UnixNano()
		tr.Update(&r)
	}
}

package slo

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkAggregatorAdd is the cost of one event folded into its rollup,
// on traffic shaped like an API's: mostly 200, some 404 and 5xx, lognormal
// latencies; with per-status counts (what nines serve stores) and without
// (what nines eval needs).
func BenchmarkAggregatorAdd(b *testing.B) {
	sli := mustSLI(b, "<500", "<=5ms")
	rng := rand.New(rand.NewPCG(1, 2))
	events := make([]Event, 4096)
	t0 := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC).UnixNano()
	for i := range events {
		code := 200
		switch rng.IntN(100) {
		case 0:
			code = 503
		case 1, 2:
			code = 404
		}
		events[i] = Event{Time: t0 + int64(i)*int64(15*time.Millisecond), Status: code, Count: 1,
			Latency: math.Round(2*math.Exp(0.5*rng.NormFloat64())*1000) / 1e6}
	}
	for _, keep := range []bool{false, true} {
		name := "plain"
		if keep {
			name = "statuses"
		}
		b.Run(name, func(b *testing.B) {
			agg := NewAggregator(sli, time.Minute)
			if keep {
				agg.KeepStatuses()
			}
			for i := range b.N {
				agg.Add(&events[i%len(events)])
			}
		})
	}
}

// BenchmarkRejudge is the cost of judging one busy minute again under a
// new threshold: what re-judging 35 days of an SLO pays 50,400 times.
func BenchmarkRejudge(b *testing.B) {
	rng := rand.New(rand.NewPCG(3, 4))
	events := make([]Event, 0, 2000)
	for range 2000 {
		code := 200
		if rng.IntN(50) == 0 {
			code = 404
		}
		events = append(events, Event{Status: code, Count: 1, Latency: math.Round(2*math.Exp(0.5*rng.NormFloat64())*1000) / 1e6})
	}
	r := aggregate(b, mustSLI(b, "<500", "<=5ms"), events)
	to := mustSLI(b, "<400", "<=10ms")
	for b.Loop() {
		if _, err := to.Rejudge(r); err != nil {
			b.Fatal(err)
		}
	}
}

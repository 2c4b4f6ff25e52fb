package slo

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// TestLatencyWorkedCase reproduces docs/reference.md §2 through events, rollups and
// Evaluate: about 60,000 requests, q(0.99) = 3.37 ms against a 5 ms
// objective; 99.4597 % of the requests were faster than 5 ms, so 324 were
// too slow. Against a 99 % objective that is 0.46 points of headroom.
func TestLatencyWorkedCase(t *testing.T) {
	const (
		n    = 59967
		slow = 324
	)
	rule, err := ParseLatencyRule("<5ms") // "faster than 5 ms"
	if err != nil {
		t.Fatal(err)
	}
	objective, _ := ParsePercent("99")
	s := &SLO{
		Name: "latency", SLI: SLI{Latency: &rule}, Objective: objective,
		Method: Transactions, Quantum: time.Minute, Window: WindowSpec{Rolling: time.Hour},
	}
	start := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(7, 7))
	agg := NewAggregator(&s.SLI, s.Quantum)
	add := func(i int, latency float64) {
		e := Event{Time: start.Add(time.Duration(i) * time.Hour / n).UnixNano(), Status: 200, Latency: latency, Count: 1}
		agg.Add(&e)
	}
	// 59,368 requests (⌈0.99·n⌉) at or under 3.37 ms, the largest exactly
	// 3.37 ms; the rest of the fast ones between q(0.99) and 5 ms; the slow
	// ones from exactly 5 ms (slow under "<5ms") up.
	for i := range n {
		var v float64
		switch {
		case i == 0:
			v = 0.00337
		case i < 59368:
			v = math.Min(0.0012*math.Exp(0.4*r.NormFloat64()), 0.00337)
		case i < n-slow:
			v = 0.00337 + (0.005-0.00337)*(0.001+0.998*r.Float64())
		case i < n-slow+24:
			v = 0.005
		default:
			v = 0.0051 * math.Exp(math.Abs(r.NormFloat64()))
		}
		add(i, v)
	}
	res, err := Evaluate(s, agg.Series(), s.Window.Containing(start.Add(time.Hour)), start.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	l := res.Latency
	if l.Measured != n || l.Measured-l.AtOrUnder != slow || res.Events.Slow != slow {
		t.Fatalf("measured %d, over the threshold %d, slow events %d; want %d, %d, %d",
			l.Measured, l.Measured-l.AtOrUnder, res.Events.Slow, n, slow, slow)
	}
	if got := math.Round(l.InverseQuantile*1e6) / 1e6; got != 0.994597 {
		t.Fatalf("inverse quantile = %.7f, want 0.994597", l.InverseQuantile)
	}
	if got := math.Round(l.Headroom*1e4) / 1e4; got != 0.0046 {
		t.Fatalf("headroom = %.6f, want 0.0046 above the 99 %% objective", l.Headroom)
	}
	// A percentile is only known to its bin: 3.37 ms lies in [3.3, 3.4) ms.
	var p99 float64
	for _, q := range l.Quantiles {
		if q.Q == 0.99 {
			p99 = q.Seconds
		}
	}
	if p99 < 0.0033 || p99 >= 0.0034 {
		t.Fatalf("q(0.99) = %v s, want within the bin of 3.37 ms", p99)
	}
	// The histogram agrees with the exact counts at a two-digit threshold.
	if got := l.Histogram.CountBelow(0.005); got != n-slow {
		t.Fatalf("histogram counts %d below 5 ms, want %d", got, n-slow)
	}
}

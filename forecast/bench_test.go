package forecast

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// BenchmarkForecast1000SLOs forecasts 1,000 SLOs (the budget with its
// interval and backtest, and the anomalies of the last day), each with a
// rolling 30-day window and 37 days of per-minute history (the window, a
// week of backtest origins and their 6-hour spans): 53,280 quanta each.
// The SLOs take turns over 10 distinct histories so that the benchmark
// holds 10, not 1,000, of them in memory; each forecast reads its history
// whole. Half the SLOs count quanta and half transactions, and their
// failures are drawn so that some run out, some never.
func BenchmarkForecast1000SLOs(b *testing.B) {
	const distinct = 10
	type input struct {
		s *slo.SLO
		h *History
	}
	var ins [distinct]input
	r := rand.New(rand.NewPCG(1, 2))
	for k := range ins {
		o, _ := slo.ParsePercent("99.9")
		method := slo.Quanta
		if k%2 == 1 {
			method = slo.Transactions
		}
		s := &slo.SLO{Name: "bench", Objective: o, Method: method, Quantum: time.Minute, Window: slo.WindowSpec{Rolling: 30 * 24 * time.Hour}}
		h := flatHistory(37, 0)
		rate := 0.0002 * float64(k+1)
		for i := range h.Quanta {
			at := h.Start.Add(time.Duration(i) * time.Minute)
			a := 300 + 200*float64(at.Hour()%12)
			f := 0.0
			if r.Float64() < rate*a {
				f = 1
			}
			q := &h.Quanta[i]
			q.Attempted, q.Failed = a, f
			q.Spent = f
			if method == slo.Quanta {
				q.Spent = 0
				if f > 0 && r.Float64() < 0.1 {
					q.Spent = 1
				}
			}
		}
		ins[k] = input{s, h}
	}
	// The machine is shared: the CPU time the process spent is reported
	// beside the wall time, which other programs stretch.
	cpu0 := cpuTime(b)
	for b.Loop() {
		for i := range 1000 {
			in := ins[i%distinct]
			if _, err := ForecastSLO(in.s, in.h, testAt); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric((cpuTime(b)-cpu0).Seconds()/float64(b.N), "cpu-s/op")
}

// cpuTime is the user and system time of the process so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCapacity forecasts one service from 6 weeks of per-minute
// traffic: six models, each fitted on an 80-point grid of smoothing constants for two held-out
// weeks and once more on the whole.
func BenchmarkCapacity(b *testing.B) {
	tr := synthetic(6, 600, 0.05, 0.1, 42)
	for b.Loop() {
		if _, err := ForecastCapacity(CapacityInput{Service: "shop", Traffic: tr}); err != nil {
			b.Fatal(err)
		}
	}
}

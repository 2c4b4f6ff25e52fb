package forecast

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// BenchmarkBudget1000 forecasts the budgets of 1,000 SLOs, each with a
// rolling 30-day window and 37 days of per-minute history (the window, a
// week of backtest origins and their 6-hour spans): 53,280 quanta each.
// The SLOs take turns over 10 distinct histories so that the benchmark
// holds 10, not 1,000, of them in memory; each forecast reads its history
// whole. Half the SLOs count quanta and half transactions, and their
// failures are drawn so that some run out, some never.
func BenchmarkBudget1000(b *testing.B) {
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
	b.ResetTimer()
	for b.Loop() {
		for i := range 1000 {
			in := ins[i%distinct]
			if _, err := ForecastBudget(in.s, in.h, testAt); err != nil {
				b.Fatal(err)
			}
		}
	}
}

package slo

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestBudgetHistoryMatchesEvaluate checks every point of a burn-down
// against a full evaluation of its window at its time.
func TestBudgetHistoryMatchesEvaluate(t *testing.T) {
	for _, w := range []WindowSpec{{Rolling: 6 * time.Hour}, {Calendar: Day, Location: time.UTC}} {
		for _, m := range []Method{Quanta, TimeQuanta, Transactions, DowntimeMinutes} {
			s := &SLO{Name: "x", Objective: Ratio{99, 100}, Method: m, Quantum: time.Minute, Window: w, NoData: NoDataBad}
			r := rand.New(rand.NewPCG(3, uint64(m)))
			from := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)
			a := NewAggregator(&s.SLI, s.Quantum)
			for q := from.Add(-6 * time.Hour); q.Before(from.Add(8 * time.Hour)); q = q.Add(time.Minute) {
				if r.IntN(20) == 0 {
					continue // unmeasured
				}
				ro := Rollup{Start: q.UnixNano(), Measured: true, Attempted: uint64(r.IntN(30))}
				ro.Good = ro.Attempted - uint64(r.IntN(int(ro.Attempted)/10+1))
				a.AddRollup(&ro)
			}
			series := a.Series()
			points, err := BudgetHistory(s, series, from, from.Add(8*time.Hour), 20*time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if len(points) != 25 {
				t.Fatalf("%d points, want 25", len(points))
			}
			for _, p := range points {
				res, err := Evaluate(s, series, p.Window, p.At)
				if err != nil {
					t.Fatal(err)
				}
				if !close(p.Budget.Spent, res.Budget.Spent) || !close(p.Budget.Total, res.Budget.Total) || !close(p.Availability, res.Availability) {
					t.Fatalf("%s %s at %s: history %+v avail %v, evaluate %+v avail %v", w, m, p.At, p.Budget, p.Availability, res.Budget, res.Availability)
				}
			}
		}
	}
}

func TestBudgetHistoryRejectsBadSteps(t *testing.T) {
	s := &SLO{Name: "x", Objective: Ratio{99, 100}, Quantum: time.Minute, Window: WindowSpec{Rolling: time.Hour}}
	series := &Series{Quantum: time.Minute}
	at := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		from, to time.Time
		step     time.Duration
	}{
		{at, at.Add(time.Hour), 90 * time.Second},
		{at, at.Add(time.Hour), 0},
		{at.Add(time.Hour), at, time.Minute},
		{at, at.Add(365 * 24 * time.Hour), time.Minute},
	} {
		if _, err := BudgetHistory(s, series, c.from, c.to, c.step); err == nil {
			t.Errorf("BudgetHistory(%v, %v, %v) accepted it", c.from, c.to, c.step)
		}
	}
}

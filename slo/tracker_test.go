package slo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestTrackerMatchesEvaluate feeds the same random rollups, partly late
// and out of order, to a Tracker and to Evaluate, and checks at every step
// that the incremental status is the one a full rescan gives.
func TestTrackerMatchesEvaluate(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	cases := []struct {
		name   string
		window WindowSpec
		method Method
		noData NoData
		start  time.Time
	}{
		{"rolling 2h quanta", WindowSpec{Rolling: 2 * time.Hour}, Quanta, NoDataBad, time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
		{"rolling 2h time-quanta skip", WindowSpec{Rolling: 2 * time.Hour}, TimeQuanta, NoDataSkip, time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
		{"rolling 2h transactions", WindowSpec{Rolling: 2 * time.Hour}, Transactions, NoDataGood, time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
		{"rolling 2h downtime", WindowSpec{Rolling: 2 * time.Hour}, DowntimeMinutes, NoDataBad, time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
		{"calendar day across midnight", WindowSpec{Calendar: Day, Location: time.UTC}, Quanta, NoDataBad, time.Date(2026, 11, 24, 22, 30, 0, 0, time.UTC)},
		{"calendar day Berlin DST", WindowSpec{Calendar: Day, Location: berlin}, DowntimeMinutes, NoDataGood, time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &SLO{Name: "x", Objective: Ratio{99, 100}, QuantumObjective: Ratio{9, 10}, Method: c.method,
				Quantum: time.Minute, Window: c.window, NoData: c.noData,
				SLI: SLI{Latency: &LatencyRule{Threshold: 0.005, Inclusive: true}}}
			r := rand.New(rand.NewPCG(11, uint64(len(c.name))))
			tr, err := NewTracker(s, c.start)
			if err != nil {
				t.Fatal(err)
			}
			all := map[int64]Rollup{}
			at := c.start
			for step := range 240 {
				at = at.Add(time.Minute)
				if err := tr.AdvanceTo(at); err != nil {
					t.Fatal(err)
				}
				// Most quanta report on time; some late, up to 10 minutes;
				// some never; some twice (a second source).
				for range 1 + r.IntN(2) {
					if r.IntN(10) == 0 {
						continue
					}
					q := at.Add(-time.Minute - time.Duration(r.IntN(3)*r.IntN(4))*time.Minute).Truncate(time.Minute)
					ro := Rollup{Start: q.UnixNano(), Measured: true}
					if r.IntN(8) > 0 {
						ro.Attempted = uint64(r.IntN(50))
						ro.Good = ro.Attempted - uint64(r.IntN(int(ro.Attempted)/8+1))
						ro.Errors = ro.Attempted - ro.Good
						for range ro.Attempted / 2 {
							v := []float64{0.001, 0.005, 0.0051, 0.02}[r.IntN(4)]
							ro.Latency.Insert(v)
							if v > 0.005 {
								ro.OverThreshold++
							}
						}
					}
					merged := all[ro.Start]
					merged.Start = ro.Start
					merged.Merge(&ro)
					all[ro.Start] = merged
					// Half the time the tracker gets the merged rollup as a
					// store would return it, half the time only the delta.
					if r.IntN(2) == 0 {
						tr.Update(&merged)
					} else {
						tr.Add(&ro)
					}
				}
				want := evaluateMap(t, s, all, tr.Window(), at)
				got := tr.Result()
				compareResults(t, step, got, want)
				if gv, wv := tr.Violations(), want.Violations; !slices.Equal(gv, wv) {
					t.Fatalf("step %d: violations %v, rescan says %v", step, gv, wv)
				}
				for _, span := range []time.Duration{5 * time.Minute, time.Hour} {
					from := at.Add(-span)
					if from.Before(tr.Window().Start) {
						continue
					}
					series := seriesOf(s, all)
					wb, _ := BurnRate(s, series, from, at)
					if gb := tr.BurnRate(span); !close(gb, wb) {
						t.Fatalf("step %d: burn rate over %v = %v, rescan says %v", step, span, gb, wb)
					}
				}
			}
		})
	}
}

func seriesOf(s *SLO, all map[int64]Rollup) *Series {
	a := NewAggregator(&s.SLI, s.Quantum)
	for _, r := range all {
		a.AddRollup(&r)
	}
	return a.Series()
}

func evaluateMap(t *testing.T, s *SLO, all map[int64]Rollup, w Window, at time.Time) *Result {
	t.Helper()
	res, err := Evaluate(s, seriesOf(s, all), w, at)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func close(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

func compareResults(t *testing.T, step int, got, want *Result) {
	t.Helper()
	if got.Window != want.Window || got.Complete != want.Complete || got.Quanta != want.Quanta ||
		got.Events != want.Events || got.Met != want.Met || got.Budget.Unit != want.Budget.Unit ||
		!close(got.Availability, want.Availability) || !close(got.Budget.Total, want.Budget.Total) ||
		!close(got.Budget.Spent, want.Budget.Spent) || !close(got.Budget.Remaining, want.Budget.Remaining) ||
		math.Abs(float64(got.Downtime-want.Downtime)) > float64(time.Microsecond) ||
		got.Latency.Measured != want.Latency.Measured || got.Latency.AtOrUnder != want.Latency.AtOrUnder ||
		!close(got.Latency.InverseQuantile, want.Latency.InverseQuantile) || !close(got.Latency.Headroom, want.Latency.Headroom) {
		t.Fatalf("step %d: tracker and rescan disagree\ntracker %+v\nrescan  %+v", step, *got, *want)
	}
}

func TestTrackerRefusesWindowsItCannotHold(t *testing.T) {
	s := &SLO{Name: "x", Objective: Ratio{999, 1000}, Quantum: 10 * time.Second, Window: WindowSpec{Rolling: 365 * 24 * time.Hour}}
	if _, err := NewTracker(s, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Fatal("a year of 10-second quanta should be refused, not allocated")
	}
}

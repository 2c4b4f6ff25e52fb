package forecast

import (
	"math"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// testAt is the forecast time of the constructed histories: a Monday noon.
var testAt = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func testSLO(t *testing.T, objective string, method slo.Method, w slo.WindowSpec) *slo.SLO {
	t.Helper()
	o, err := slo.ParsePercent(objective)
	if err != nil {
		t.Fatal(err)
	}
	return &slo.SLO{Name: "checkout", Service: "shop", Objective: o, Method: method, Quantum: time.Minute, Window: w}
}

// flatHistory is days of quanta before testAt, each with attempted
// events, all good, ending at testAt.
func flatHistory(days int, attempted float64) *History {
	n := days * 1440
	h := &History{Start: testAt.Add(-time.Duration(n) * time.Minute), Quantum: time.Minute, Quanta: make([]Quantum, n)}
	for i := range h.Quanta {
		h.Quanta[i] = Quantum{Attempted: attempted, Measured: true}
	}
	return h
}

func mustForecast(t *testing.T, s *slo.SLO, h *History, at time.Time) *Budget {
	t.Helper()
	b, err := ForecastBudget(s, h, at)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wantAt(t *testing.T, name string, e Estimate, want time.Time) {
	t.Helper()
	if e.Outcome != RunsOut || e.At == nil || !e.At.Equal(want) {
		got := "none"
		if e.At != nil {
			got = e.At.Format(time.RFC3339)
		}
		t.Errorf("%s: %s at %s (burn %g), want runs-out at %s", name, e.Outcome, got, e.Burn, want.Format(time.RFC3339))
	}
}

// On a constant burn over flat traffic, with a clean history before the
// burn began (so nothing the window rolls off gives budget back before
// it runs out), the time left is the closed form remaining ÷ (burn ×
// budget per quantum), to the minute.
func TestConstantBurnMatchesTheClosedForm(t *testing.T) {
	rolling30 := slo.WindowSpec{Rolling: 30 * 24 * time.Hour}
	for _, tc := range []struct {
		name   string
		method slo.Method
	}{
		{"A quanta SLO with every 20th minute bad for three days runs out three days later.", slo.Quanta},
		{"A transactions SLO failing 5 % of flat traffic for three days runs out three days later.", slo.Transactions},
		{"A downtime-minutes SLO down a twentieth of each minute runs out three days later.", slo.DowntimeMinutes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSLO(t, "99", tc.method, rolling30)
			h := flatHistory(40, 100)
			n := len(h.Quanta)
			for i := n - 3*1440; i < n; i++ {
				q := &h.Quanta[i]
				switch tc.method {
				case slo.Quanta:
					if (n-i)%20 == 0 {
						q.Spent, q.Failed = 1, 100
					}
				case slo.Transactions:
					q.Failed, q.Spent = 5, 5
				case slo.DowntimeMinutes:
					q.Failed, q.Spent = 5, 0.05
				}
			}
			b := mustForecast(t, s, h, testAt)
			if got := b.Point.Burn; math.Abs(got-5) > 1e-9 {
				t.Fatalf("point burn %g, want 5", got)
			}
			perQuantum := b.Total / float64(30*1440)
			minutes := math.Ceil(b.Remaining/(b.Point.Burn*perQuantum) - 1e-9)
			if minutes != 3*1440 {
				t.Fatalf("closed form gives %g minutes, want 4320 (remaining %g of %g)", minutes, b.Remaining, b.Total)
			}
			want := testAt.Add(time.Duration(minutes) * time.Minute)
			wantAt(t, "point", b.Point, want)
			wantAt(t, "earliest", b.Earliest, want)
			wantAt(t, "latest", b.Latest, want)
		})
	}
}

// A window of an hour at 90 % holds 6 quanta of budget. Its five oldest
// quanta were bad: 1 remains. At a burn of 3 (0.3 of a quantum a minute)
// the budget would be out in 4 minutes without roll-off; but for 5
// minutes each leaving bad quantum gives back 1 while 0.3 is spent (4.5
// left), and then 0.3 a minute goes for 15 more: out after 20 minutes.
func TestRollOffGivesBudgetBack(t *testing.T) {
	s := testSLO(t, "90", slo.Quanta, slo.WindowSpec{Rolling: time.Hour})
	h := flatHistory(1, 10)
	n := len(h.Quanta)
	for i := n - 60; i < n-55; i++ {
		h.Quanta[i].Spent = 1
	}
	m, err := newBudgetModel(s, h, n)
	if err != nil {
		t.Fatal(err)
	}
	total, rem := m.state(n)
	if math.Abs(total-6) > 1e-12 || math.Abs(rem-1) > 1e-12 {
		t.Fatalf("budget %g of %g, want 1 of 6", rem, total)
	}
	wantAt(t, "burn 3", m.estimate(n, rem, 3), testAt.Add(20*time.Minute))
	if e := m.estimate(n, rem, 0.5); e.Outcome != Never {
		t.Errorf("at burn 0.5 the window settles at half its budget: got %s, want never", e.Outcome)
	}
}

func TestCalendarWindows(t *testing.T) {
	day := slo.WindowSpec{Calendar: slo.Day, Location: time.UTC}
	for _, tc := range []struct {
		name  string
		every int
		want  Outcome
		at    time.Time
	}{
		// 90 % of 1,440 quanta is 144 of budget; 90 of the 720 minutes
		// since midnight were bad (54 left), and 0.125 a minute more run
		// it out in 432 minutes.
		{"Every 8th minute bad since midnight runs a daily budget out at 19:12.", 8, RunsOut, testAt.Add(432 * time.Minute)},
		// 36 spent, 108 left at 0.05 a minute: 2,160 minutes, past midnight.
		{"Every 20th minute bad lasts until the day resets.", 20, NotBeforeReset, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := testSLO(t, "90", slo.Quanta, day)
			h := flatHistory(8, 10)
			n := len(h.Quanta)
			for i := n - 720; i < n; i++ {
				if (n-i)%tc.every == 0 {
					h.Quanta[i].Spent = 1
				}
			}
			b := mustForecast(t, s, h, testAt)
			if tc.want == RunsOut {
				wantAt(t, "point", b.Point, tc.at)
				return
			}
			if b.Point.Outcome != tc.want || b.Point.At != nil {
				t.Errorf("got %s, want %s", b.Point.Outcome, tc.want)
			}
		})
	}
}

// The same error ratio burns more budget at peak: a transactions SLO
// whose traffic is ten times higher in the afternoon runs out sooner when
// the afternoon is ahead than a flat profile of the same daily total
// would say.
func TestPeakTrafficBurnsFaster(t *testing.T) {
	s := testSLO(t, "99", slo.Transactions, slo.WindowSpec{Calendar: slo.Week, Location: time.UTC})
	build := func(seasonal bool) *History {
		h := flatHistory(42, 100)
		for i := range h.Quanta {
			t := h.Start.Add(time.Duration(i) * time.Minute)
			if seasonal {
				h.Quanta[i].Attempted = 25
				if hr := t.Hour(); hr >= 12 && hr < 18 {
					h.Quanta[i].Attempted = 250 // 6 h × 250 + 18 h × 25 = 24 h × 81.25
				}
			}
			if i >= len(h.Quanta)-60 {
				// The last hour fails 10 %: a burn of 1.67 over 6 h.
				h.Quanta[i].Failed = h.Quanta[i].Attempted * 0.1
				h.Quanta[i].Spent = h.Quanta[i].Failed
			}
		}
		return h
	}
	flat := mustForecast(t, s, build(false), testAt)
	seasonal := mustForecast(t, s, build(true), testAt)
	if flat.Point.Outcome != RunsOut || seasonal.Point.Outcome != RunsOut {
		t.Fatalf("outcomes %s and %s, want both runs-out", flat.Point.Outcome, seasonal.Point.Outcome)
	}
	// Flat: 120 events left, 0.67 a minute: 180 minutes. Seasonal: 30
	// left, and the afternoon's 250 a minute spend 1.67: 18 minutes.
	wantAt(t, "flat", flat.Point, testAt.Add(180*time.Minute))
	wantAt(t, "seasonal", seasonal.Point, testAt.Add(18*time.Minute))
}

// Total and Remaining are the budget slo.Evaluate reports for the same
// rollups, for every method.
func TestBudgetAgreesWithEvaluate(t *testing.T) {
	for _, method := range []slo.Method{slo.Quanta, slo.TimeQuanta, slo.Transactions, slo.DowntimeMinutes} {
		for _, w := range []slo.WindowSpec{{Rolling: 7 * 24 * time.Hour}, {Calendar: slo.Month, Location: time.UTC}} {
			t.Run(method.String()+" over "+w.String()+" agrees with slo.Evaluate.", func(t *testing.T) {
				s := testSLO(t, "99.5", method, w)
				s.NoData = slo.NoDataSkip
				from := testAt.Add(-10 * 24 * time.Hour)
				series := &slo.Series{Quantum: time.Minute}
				for i := range 10 * 1440 {
					if i%97 == 5 {
						continue // unmeasured: skipped
					}
					a := uint64(50 + i%30)
					good := a
					if i%13 == 0 {
						good = a - uint64(i%7)
					}
					series.Rollups = append(series.Rollups, slo.Rollup{Start: from.Add(time.Duration(i) * time.Minute).UnixNano(), Attempted: a, Good: good, Errors: a - good, Measured: true})
				}
				h, err := FromSeries(s, series, from, testAt)
				if err != nil {
					t.Fatal(err)
				}
				cw := w.Containing(testAt)
				res, err := slo.Evaluate(s, series, cw, testAt)
				if err != nil {
					t.Fatal(err)
				}
				b := mustForecast(t, s, h, testAt)
				if !close(b.Total, res.Budget.Total) || !close(b.Remaining, res.Budget.Remaining) {
					t.Errorf("forecast budget %g of %g, Evaluate %g of %g", b.Remaining, b.Total, res.Budget.Remaining, res.Budget.Total)
				}
				want, err := slo.BurnRate(s, series, testAt.Add(-PointSpan), testAt)
				if err != nil {
					t.Fatal(err)
				}
				if !close(b.Point.Burn, want) {
					t.Errorf("point burn %g, slo.BurnRate %g", b.Point.Burn, want)
				}
			})
		}
	}
}

func close(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

func TestForecastBudgetRefusesBadInput(t *testing.T) {
	s := testSLO(t, "99", slo.Quanta, slo.WindowSpec{Rolling: 30 * 24 * time.Hour})
	for _, tc := range []struct {
		name string
		h    *History
		at   time.Time
	}{
		{"A history shorter than the window is refused.", flatHistory(10, 1), testAt},
		{"A time off the quantum grid is refused.", flatHistory(40, 1), testAt.Add(time.Second)},
		{"A time after the history is refused.", flatHistory(40, 1), testAt.Add(time.Hour)},
		{"A history with a negative count is refused.", func() *History { h := flatHistory(40, 1); h.Quanta[7].Failed = -1; return h }(), testAt},
		{"A history with a NaN is refused.", func() *History { h := flatHistory(40, 1); h.Quanta[7].Spent = math.NaN(); return h }(), testAt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ForecastBudget(s, tc.h, tc.at); err == nil {
				t.Error("no error")
			}
		})
	}
}

package alert_test

import (
	"fmt"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
)

// burning is a Source with fixed burn rates per span, 4,000 events in
// each, and 38 % of the budget left.
type burning map[time.Duration]float64

func (b burning) Burn(span time.Duration) (float64, uint64, bool) { return b[span], 4000, true }
func (burning) Unmeasured(time.Duration) bool                     { return false }
func (burning) Budget() (float64, bool)                           { return 0.38, true }

func ExampleEvaluate() {
	p := alert.Policy{Window: slo.WindowSpec{Rolling: 30 * 24 * time.Hour}}
	src := burning{time.Hour: 16.7, 5 * time.Minute: 20.1, 6 * time.Hour: 4, 30 * time.Minute: 12}
	now := time.Date(2026, 11, 25, 10, 1, 0, 0, time.UTC)

	state, changes, err := alert.Evaluate(p, src, alert.State{}, now)
	if err != nil {
		panic(err)
	}
	for _, tr := range changes {
		fmt.Printf("%s %s %s: %s\n", tr.Kind, tr.Severity, tr.Alert, tr.Reason)
	}
	for _, c := range state.Checks {
		fmt.Printf("%-11s %-6s %s\n", c.Alert, c.Severity, c.Status)
	}
	// Output:
	// fire page page-fast: burning 16.7× the budget over 1h (14.4× pages), 20.1× over 5m; 38 % of the 30-day budget left, exhausted in 16h 22m at this rate
	// page-fast   page   firing
	// page-slow   page   ok
	// ticket-fast ticket ok
	// ticket-slow ticket ok
	// no-data     ticket ok
}

// The factors of the default tiers for three SLO windows: the workbook's
// for 30 days, and for shorter windows the same budget shares, with
// factors under 1 raised to 1.
func ExamplePolicy_Complete() {
	for _, days := range []time.Duration{30, 28, 7} {
		p, err := alert.Policy{Window: slo.WindowSpec{Rolling: days * 24 * time.Hour}}.Complete()
		if err != nil {
			panic(err)
		}
		fmt.Printf("%2dd:", days)
		for _, t := range p.Tiers {
			fmt.Printf(" %s %.4g×/%s", t.Name, t.Factor, slo.FormatDuration(t.Long))
		}
		fmt.Println()
	}
	// Output:
	// 30d: page-fast 14.4×/1h page-slow 6×/6h ticket-fast 3×/1d ticket-slow 1×/3d
	// 28d: page-fast 13.44×/1h page-slow 5.6×/6h ticket-fast 2.8×/1d ticket-slow 1×/3d
	//  7d: page-fast 3.36×/1h page-slow 1.4×/6h ticket-fast 1×/1d ticket-slow 1×/3d
}

// Replaying stored rollups: a 99.9 % SLO over 7 days, 100 requests a
// minute, all failing from 10:00 to 10:10, evaluated every minute. With a
// 7-day window the factors are 3.36, 1.4, 1 and 1, so one bad minute is
// already enough for both pages (16.7× over 1h, 2.8× over 6h).
func ExampleHistory() {
	s := &slo.SLO{Name: "checkout", Objective: slo.Ratio{Num: 999, Den: 1000}, Quantum: time.Minute,
		Window: slo.WindowSpec{Rolling: 7 * 24 * time.Hour}}
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	series := &slo.Series{Quantum: time.Minute}
	for t := start.Add(-7 * 24 * time.Hour); t.Before(start.Add(2 * time.Hour)); t = t.Add(time.Minute) {
		r := slo.Rollup{Start: t.UnixNano(), Attempted: 100, Good: 100, Measured: true}
		if !t.Before(start) && t.Before(start.Add(10*time.Minute)) {
			r.Good = 0
		}
		series.Rollups = append(series.Rollups, r)
	}

	p := alert.PolicyFor(s)
	h, err := alert.NewHistory(s, series, start)
	if err != nil {
		panic(err)
	}
	var state alert.State
	for now := start; now.Before(start.Add(time.Hour)); now = now.Add(time.Minute) {
		src, err := h.At(now)
		if err != nil {
			panic(err)
		}
		var changes []alert.Transition
		state, changes, err = alert.Evaluate(p, src, state, now)
		if err != nil {
			panic(err)
		}
		for _, tr := range changes {
			fmt.Println(now.Format("15:04"), tr.Kind, tr.Alert, tr.Severity)
		}
	}
	// Output:
	// 10:01 fire page-fast page
	// 10:01 fire page-slow page
	// 10:02 fire ticket-fast ticket
	// 10:05 fire ticket-slow ticket
	// 10:20 resolve page-fast page
	// 10:45 resolve page-slow page
}

package slo

import (
	"fmt"
	"time"
)

// BudgetPoint is the error budget of the window in force at one time.
type BudgetPoint struct {
	At     time.Time
	Window Window
	Budget Budget
	// Availability so far in that window, as Evaluate would report it.
	Availability float64
}

// maxHistoryPoints bounds a budget history: a point every minute of a
// month is already more than any chart shows.
const maxHistoryPoints = 50_000

// BudgetHistory returns the error budget at every step from from to to
// (both included when on a step), each point evaluated over the SLO's
// window in force at that time: the calendar window containing it, or the
// rolling window ending at it. Quanta before series.Since are outside the
// SLO's life and spend nothing, so a burn-down starts at the full budget. It makes one pass over the quanta with
// prefix sums, so a burn-down chart of a 30-day window costs about one
// Evaluate, not one per point.
func BudgetHistory(s *SLO, series *Series, from, to time.Time, step time.Duration) ([]BudgetPoint, error) {
	if step < s.Quantum || step%s.Quantum != 0 {
		return nil, fmt.Errorf("budget history: step %s must be a whole number of %s quanta", FormatDuration(step), FormatDuration(s.Quantum))
	}
	from, to = ceilTime(from, s.Quantum), ceilTime(to, s.Quantum)
	if to.Before(from) {
		return nil, fmt.Errorf("budget history: %s is after %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	if n := to.Sub(from)/step + 1; n > maxHistoryPoints {
		return nil, fmt.Errorf("budget history: %d points; at most %d (use a larger step)", n, maxHistoryPoints)
	}
	var times []time.Time
	var windows []Window
	lo := from
	for t := from; !t.After(to); t = t.Add(step) {
		w := s.Window.Containing(t)
		if s.Window.Calendar != NotCalendar && t.Equal(w.Start) && t.After(from) {
			// At a calendar boundary the chart shows the window that just
			// ended, in full, rather than the empty one that begins.
			w = s.Window.Containing(t.Add(-s.Quantum))
		}
		times, windows = append(times, t), append(windows, w)
		lo = minTime(lo, w.Start)
	}
	if err := s.checkSpan(series, lo, to); err != nil {
		return nil, err
	}
	// prefix[i] sums the quanta [lo, lo + i·q).
	q := int64(s.Quantum)
	n := int((to.UnixNano() - lo.UnixNano()) / q)
	prefix := make([]tally, n+1)
	rs := series.Range(lo.UnixNano(), to.UnixNano())
	j := 0
	for i := range n {
		start := lo.UnixNano() + int64(i)*q
		var r *Rollup
		if j < len(rs) && rs[j].Start == start {
			r = &rs[j]
			j++
		}
		p := prefix[i]
		if start < series.Since {
			prefix[i+1] = p // outside the SLO's life: it spends nothing
			continue
		}
		v, down := s.judge(r)
		switch v {
		case quantumGood:
			p.quanta.Good++
		case quantumBad:
			p.quanta.Bad++
		case quantumSkipped:
			p.quanta.Skipped++
		}
		p.downtime += down
		if r != nil {
			p.events.Total += r.Attempted
			p.events.Good += r.Good
		}
		prefix[i+1] = p
	}
	index := func(t time.Time) int { return int((t.UnixNano() - lo.UnixNano()) / q) }
	points := make([]BudgetPoint, 0, len(times))
	for k, t := range times {
		w := windows[k]
		end := minTime(t, w.End)
		if s.Window.Calendar != NotCalendar && t.Equal(w.End) {
			end = w.End
		}
		a, b := prefix[index(w.Start)], prefix[index(end)]
		d := tally{downtime: b.downtime - a.downtime}
		d.quanta = QuantumCounts{Good: b.quanta.Good - a.quanta.Good, Bad: b.quanta.Bad - a.quanta.Bad, Skipped: b.quanta.Skipped - a.quanta.Skipped}
		d.events = EventCounts{Total: b.events.Total - a.events.Total, Good: b.events.Good - a.events.Good}
		d.events.Failed = d.events.Total - d.events.Good
		budget, _ := s.budget(&d, int(w.Duration()/s.Quantum))
		points = append(points, BudgetPoint{At: t, Window: w, Budget: budget, Availability: s.availability(&d)})
	}
	return points, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

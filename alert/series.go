package alert

import (
	"fmt"
	"math"
	"time"

	"github.com/nines-sre/nines/slo"
)

// FromSeries is a Source over stored rollups, for replaying history and
// for tests: the SLO s as known at at, from series. Its evaluation time
// is the end of the last quantum that closed by at, as a slo.Tracker
// advanced to at has it; quanta without a rollup are unmeasured. Burn is
// slo.BurnRate over the span, Budget slo.Evaluate's over the SLO window
// holding the evaluation time (it reads every quantum of the window, so
// Evaluate asks only when an alert fires).
//
// Spans run back across a calendar window's start, unlike
// slo.Tracker.BurnRate, which cuts them there. A burn rate does not depend
// on the window, and cut spans would make every tier hair-trigger at the
// start of a window: one bad minute at 00:03 on the 1st would be a 333×
// burn "over 3 days" and open both tickets and both pages, where the same
// minute on the 2nd fires only the 1-hour page (testdata/calendar-month.replay).
func FromSeries(s *slo.SLO, series *slo.Series, at time.Time) (Source, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("alert source for SLO %s: %w", s.Name, err)
	}
	if series.Quantum != s.Quantum {
		return nil, fmt.Errorf("alert source for SLO %s: %w: series %s, SLO %s", s.Name, slo.ErrQuantumMismatch,
			slo.FormatDuration(series.Quantum), slo.FormatDuration(s.Quantum))
	}
	end := time.Unix(0, slo.QuantumStart(at.UnixNano(), s.Quantum)).UTC()
	return &seriesSource{slo: s, series: series, end: end, window: s.Window.Containing(end)}, nil
}

type seriesSource struct {
	slo    *slo.SLO
	series *slo.Series
	// end is the evaluation time; window the SLO window ending at it
	// (rolling) or holding it (calendar), for the budget.
	end    time.Time
	window slo.Window
}

// from is the start of the last span, on a quantum boundary.
func (s *seriesSource) from(span time.Duration) time.Time {
	return time.Unix(0, slo.QuantumStart(s.end.Add(-span).UnixNano(), s.slo.Quantum)).UTC()
}

func (s *seriesSource) Burn(span time.Duration) (float64, uint64, bool) {
	from := s.from(span)
	rate, err := slo.BurnRate(s.slo, s.series, from, s.end)
	if err != nil {
		// FromSeries checked the quantum and both ends are on quantum
		// boundaries, so this cannot happen; count it as nothing known.
		return rate, 0, false
	}
	var attempted uint64
	for _, r := range s.series.Range(from.UnixNano(), s.end.UnixNano()) {
		attempted += r.Attempted
	}
	return rate, attempted, !math.IsNaN(rate)
}

func (s *seriesSource) Unmeasured(span time.Duration) bool {
	from := s.from(span).UnixNano()
	if from >= s.end.UnixNano() {
		return false
	}
	for _, r := range s.series.Range(from, s.end.UnixNano()) {
		if r.Measured {
			return false
		}
	}
	return true
}

func (s *seriesSource) Budget() (float64, bool) {
	res, err := slo.Evaluate(s.slo, s.series, s.window, s.end)
	if err != nil {
		return 0, false
	}
	return res.Budget.RemainingShare(), true
}

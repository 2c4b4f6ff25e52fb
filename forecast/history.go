// Package forecast looks ahead from an SLO's rollups: when its error
// budget runs out at the rate it burns (with the window's roll-off and the
// weekly pattern of traffic), how a service's peak request rate grows
// against its tested capacity (Holt-Winters chosen by backtest against a
// seasonal-naive forecast), and which stretches of an SLI left their
// seasonal band (marked as annotations, never pages). Every forecast
// carries its own backtest error. The package does no I/O: callers pass
// the history and the time (docs/forecasts.md).
package forecast

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nines-sre/nines/slo"
)

// ErrInvalid marks input a forecast cannot be made from; the message says
// how to fix it.
var ErrInvalid = errors.New("forecast")

// MaxQuanta bounds a history: a year and a half of minutes. A longer
// one is refused rather than allocated.
const MaxQuanta = 800_000

// Quantum is what a forecast keeps of one quantum of an SLO's history.
type Quantum struct {
	// Attempted and Failed are the quantum's events.
	Attempted, Failed float64
	// Spent is the error budget the quantum spent, in the SLO's budget
	// unit (slo.Method.BudgetUnit): 1 for a bad quantum, the minutes of
	// downtime, or the failed events.
	Spent float64
	// Measured is false when nothing reported for the quantum.
	Measured bool
	// Skipped is an unmeasured quantum left out under noData: skip.
	Skipped bool
}

// History is the quanta of one SLO from Start, one per quantum, with no
// gaps: a quantum nothing reported for is there, judged by the SLO's
// no-data policy, and a quantum before the SLO's life began spent
// nothing, as slo.Evaluate counts them.
type History struct {
	Start   time.Time
	Quantum time.Duration
	Quanta  []Quantum
}

// End is the end of the last quantum.
func (h *History) End() time.Time {
	return h.Start.Add(time.Duration(len(h.Quanta)) * h.Quantum)
}

// check refuses a history whose counts no rollup could hold: negative,
// infinite or NaN. FromSeries makes none; a caller that builds a History
// itself is told which quantum is wrong.
func (h *History) check() error {
	if h.Quantum <= 0 {
		return fmt.Errorf("%w: a history without a quantum", ErrInvalid)
	}
	if len(h.Quanta) > MaxQuanta {
		return fmt.Errorf("%w: a history of %d quanta; want at most %d", ErrInvalid, len(h.Quanta), MaxQuanta)
	}
	return h.checkRange(0, len(h.Quanta))
}

// checkRange is check of the quanta [from, to).
func (h *History) checkRange(from, to int) error {
	var total float64
	for i := from; i < to; i++ {
		q := &h.Quanta[i]
		// !(v >= 0) is true for NaN too; an infinity shows in the total.
		if !(q.Attempted >= 0) || !(q.Failed >= 0) || !(q.Spent >= 0) {
			return fmt.Errorf("%w: quantum %d (%s) of the history holds %g attempted, %g failed, %g spent; counts are finite and at least 0",
				ErrInvalid, i, h.Start.Add(time.Duration(i)*h.Quantum).Format(time.RFC3339), q.Attempted, q.Failed, q.Spent)
		}
		total += q.Attempted + q.Failed + q.Spent
	}
	if math.IsInf(total, 0) {
		return fmt.Errorf("%w: the history's counts add up to infinity; counts are finite", ErrInvalid)
	}
	return nil
}

// index is the position of the quantum starting at t, which may lie
// outside the history; ok is false when t is not on a quantum boundary
// of the history.
func (h *History) index(t time.Time) (int, bool) {
	d := t.Sub(h.Start)
	return int(d / h.Quantum), d%h.Quantum == 0
}

// FromSeries reads the quanta of series in [from, to) as s judges them
// (slo.SLO.Judge), with series.Since as the start of the SLO's life.
func FromSeries(s *slo.SLO, series *slo.Series, from, to time.Time) (*History, error) {
	if s.Quantum <= 0 || series.Quantum != s.Quantum {
		return nil, fmt.Errorf("%w: SLO %s: the series quantum %s differs from the SLO's %s", ErrInvalid, s.Name, series.Quantum, s.Quantum)
	}
	q := int64(s.Quantum)
	if from.UnixNano()%q != 0 || to.UnixNano()%q != 0 {
		return nil, fmt.Errorf("%w: SLO %s: history %s–%s is not on %s quantum boundaries", ErrInvalid, s.Name, from.Format(time.RFC3339), to.Format(time.RFC3339), slo.FormatDuration(s.Quantum))
	}
	n := to.Sub(from) / s.Quantum
	if n <= 0 || n > MaxQuanta {
		return nil, fmt.Errorf("%w: SLO %s: a history of %d quanta; want 1 to %d", ErrInvalid, s.Name, n, MaxQuanta)
	}
	h := &History{Start: from.UTC(), Quantum: s.Quantum, Quanta: make([]Quantum, n)}
	rs := series.Range(from.UnixNano(), to.UnixNano())
	perQuantum := s.Quantum.Minutes()
	for i := range h.Quanta {
		start := from.UnixNano() + int64(i)*q
		for len(rs) > 0 && rs[0].Start < start {
			rs = rs[1:]
		}
		if start < series.Since {
			continue // before the life: spent nothing, like a clean quantum
		}
		var r *slo.Rollup
		if len(rs) > 0 && rs[0].Start == start {
			r = &rs[0]
		}
		verdict, down := s.Judge(r)
		qu := &h.Quanta[i]
		qu.Skipped = verdict == "skipped"
		if r != nil {
			qu.Attempted, qu.Failed, qu.Measured = float64(r.Attempted), float64(r.Failed()), r.Measured
		}
		switch s.Method {
		case slo.Transactions:
			qu.Spent = qu.Failed
		case slo.DowntimeMinutes:
			qu.Spent = down * perQuantum
		default:
			if verdict == "bad" {
				qu.Spent = 1
			}
		}
	}
	return h, nil
}

// checkSLO refuses an SLO whose budget cannot be forecast.
func checkSLO(s *slo.SLO) error {
	if s == nil {
		return fmt.Errorf("%w: no SLO", ErrInvalid)
	}
	if s.Quantum <= 0 || s.Objective.IsZero() {
		return fmt.Errorf("%w: SLO %s: no quantum or objective; load it through spec so that defaults are set", ErrInvalid, s.Name)
	}
	if err := s.Window.Validate(); err != nil {
		return fmt.Errorf("%w: SLO %s: %w", ErrInvalid, s.Name, err)
	}
	if b := s.Objective.Complement(); !(b > 0) || math.IsNaN(b) {
		return fmt.Errorf("%w: SLO %s: an objective of 100 %% has no budget to run out", ErrInvalid, s.Name)
	}
	return nil
}

package alert

import (
	"fmt"
	"math"
	"time"

	"github.com/nines-sre/nines/slo"
)

// TrackerSource is the Source nines serve evaluates alerts on: an SLO's
// slo.Tracker, advanced to the evaluation time. Burn rates come from the
// tracker's spans, which reach back across a calendar window's start as
// far as the tracker's lookback (Lookback) and count time before the
// SLO's life as having spent nothing; nines replay and History read the
// same source, so a replay decides exactly as the server did.
type TrackerSource struct {
	Tracker *slo.Tracker
	SLO     *slo.SLO
}

// Burn implements Source.
func (s TrackerSource) Burn(span time.Duration) (float64, uint64, bool) {
	st := s.Tracker.Span(span)
	return st.Burn, st.Attempted, !math.IsNaN(st.Burn)
}

// Unmeasured implements Source. It holds only for a span wholly inside
// the SLO's life: silence before the life began is not a reason for a
// no-data alert.
func (s TrackerSource) Unmeasured(span time.Duration) bool {
	st := s.Tracker.Span(span)
	return st.BeforeStart == 0 && st.Quanta > 0 && st.Unmeasured == st.Quanta
}

// Budget implements Source.
func (s TrackerSource) Budget() (float64, bool) {
	b := s.Tracker.Result().Budget
	return b.RemainingShare(), b.Total > 0 || b.Spent > 0
}

// ImpactStart implements ImpactSource.
func (s TrackerSource) ImpactStart(span time.Duration) (time.Time, bool) {
	return s.Tracker.ImpactStart(span)
}

// Lookback is the longest span the alerts of s measure: its longest
// enabled tier, or the no-data alert's wait. A tracker for them keeps
// that much history before a calendar window (slo.NewTrackerLookback),
// so that burn rates early in a month see the end of the last one.
func Lookback(s *slo.SLO) time.Duration {
	p, err := PolicyFor(s).Complete()
	if err != nil {
		return 0 // the policy is reported when alerts are evaluated
	}
	longest := max(p.NoData.After, 0)
	for _, t := range p.Tiers {
		if !t.Disabled {
			longest = max(longest, t.Long)
		}
	}
	return longest
}

// History is a TrackerSource stepped over a whole series, for replaying
// stored rollups and for tests: At(now) advances one tracker to the end
// of the last quantum that closed by now and hands it the rollups of the
// quanta it reached, as nines serve's tracker receives them when every
// rollup arrives before its quantum settles. Quanta without a rollup are
// unmeasured; series.Since is the start of the SLO's life. Times must not
// go backwards. A History is not safe for concurrent use.
type History struct {
	slo     *slo.SLO
	series  *slo.Series
	tracker *slo.Tracker
	next    int // the first rollup not handed over yet
}

// NewHistory returns a History of s over series whose first evaluation
// is at from or later.
func NewHistory(s *slo.SLO, series *slo.Series, from time.Time) (*History, error) {
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("alert source for SLO %s: %w", s.Name, err)
	}
	if series.Quantum != s.Quantum {
		return nil, fmt.Errorf("alert source for SLO %s: %w: series %s, SLO %s", s.Name, slo.ErrQuantumMismatch,
			slo.FormatDuration(series.Quantum), slo.FormatDuration(s.Quantum))
	}
	at := time.Unix(0, slo.QuantumStart(from.UnixNano(), s.Quantum)).UTC()
	t, err := slo.NewTrackerLookback(s, at, Lookback(s))
	if err != nil {
		return nil, fmt.Errorf("alert source for SLO %s: %w", s.Name, err)
	}
	t.SetSince(series.Since)
	if s.Window.Calendar != slo.NotCalendar {
		t.OpenHistory(t.Window().Start.Add(-Lookback(s)))
	}
	h := &History{slo: s, series: series, tracker: t}
	h.feed()
	return h, nil
}

// At returns the source as of now.
func (h *History) At(now time.Time) (Source, error) {
	end := time.Unix(0, slo.QuantumStart(now.UnixNano(), h.slo.Quantum)).UTC()
	if err := h.tracker.AdvanceTo(end); err != nil {
		return nil, err
	}
	h.feed()
	return TrackerSource{Tracker: h.tracker, SLO: h.slo}, nil
}

// feed hands the tracker the rollups of the quanta it has reached.
func (h *History) feed() {
	elapsed := h.tracker.Elapsed().UnixNano()
	rs := h.series.Rollups
	for h.next < len(rs) && rs[h.next].Start < elapsed {
		h.tracker.Update(&rs[h.next])
		h.next++
	}
}

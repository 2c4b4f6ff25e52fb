package slo

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"time"

	"github.com/nines-sre/nines/hist"
)

// QuantumCounts counts the quanta of a window. Elapsed = Good + Bad +
// Skipped; Unmeasured counts the elapsed quanta nothing reported for,
// whichever way the no-data policy then judged them. BeforeStart counts
// the quanta up to the evaluation time that fell before the SLO's life
// began (Series.Since): they are in none of the other counts.
type QuantumCounts struct {
	Total       int // quanta in the whole window
	Elapsed     int // lived quanta up to the evaluation time
	Good, Bad   int
	Skipped     int // unmeasured quanta left out under noData: skip
	Unmeasured  int
	BeforeStart int
}

// Counted is the number of elapsed quanta that count towards availability.
func (q QuantumCounts) Counted() int { return q.Good + q.Bad }

// EventCounts counts the events of a window. Failed = Total − Good; Errors
// and Slow split it by reason where the source said why.
type EventCounts struct {
	Total, Good, Failed uint64
	Errors, Slow        uint64
}

// Budget is the error budget of a window in the unit the method implies:
// quanta, events or minutes. Total is the budget of the whole window (for
// the transactions method, of the events seen so far, since future traffic
// is unknown); Remaining goes negative once the objective is violated.
type Budget struct {
	Unit                    string
	Total, Spent, Remaining float64
}

// RemainingShare is the remaining budget as a share of the total: 1 when
// untouched, 0 when exhausted, negative when overspent.
func (b Budget) RemainingShare() float64 {
	if b.Total == 0 {
		if b.Spent == 0 {
			return 1
		}
		return math.Inf(-1)
	}
	return b.Remaining / b.Total
}

// Quantile is one latency quantile.
type Quantile struct {
	Q       float64
	Seconds float64
}

// ReportedQuantiles are the latency quantiles every report carries.
var ReportedQuantiles = [...]float64{0.5, 0.9, 0.99, 0.999}

// Latency summarises a window's latencies against the SLI threshold.
type Latency struct {
	// Rule is the SLI's latency rule, nil when latency does not count.
	Rule *LatencyRule
	// Measured counts events that carried a latency; AtOrUnder those that
	// met the threshold (exact, from the rollups' counts).
	Measured, AtOrUnder uint64
	// InverseQuantile is AtOrUnder / Measured: the share of requests that
	// met the threshold. NaN without a rule or without measurements.
	InverseQuantile float64
	// Headroom is InverseQuantile minus the objective as a share: the
	// "risk dial". Little headroom means slow down changes.
	Headroom  float64
	Quantiles []Quantile
	// Histogram is the merged histogram of the window, in seconds.
	Histogram hist.Histogram
}

// Result is the evaluation of one SLO over one window at one time.
type Result struct {
	Window Window
	// At is the evaluation time; the window is Complete when At ≥ End.
	At       time.Time
	Complete bool
	Quanta   QuantumCounts
	Events   EventCounts
	// Availability is the share (0–1) by the SLO's method over the elapsed
	// part of the window; NaN when nothing could be counted.
	Availability float64
	// Met is true while the error budget of the whole window is not
	// overspent. For a complete window it is exactly "availability reached
	// the objective", decided in integers where the method allows.
	Met    bool
	Budget Budget
	// Downtime is the downtime-minutes measure of the elapsed part (every
	// method reports it; it is the budget unit of downtime-minutes).
	Downtime time.Duration
	// Violations are the runs of consecutive bad quanta.
	Violations []Window
	Latency    Latency
}

// ErrQuantumMismatch is returned when a series was rolled up with another
// quantum than the SLO's.
var ErrQuantumMismatch = errors.New("series quantum differs from the SLO's")

// Evaluate measures s over window w as known at time at, from the rollups
// of series. The part of w after at is not judged, but the budget is that
// of the whole window, so an unfinished window shows what is left of it.
func Evaluate(s *SLO, series *Series, w Window, at time.Time) (*Result, error) {
	if err := CheckWindow(s, series, w, at); err != nil {
		return nil, err
	}
	end := w.End
	complete := !at.Before(w.End)
	if !complete {
		end = ceilTime(at, s.Quantum)
	}
	t := s.tally(series, w.Start.UnixNano(), end.UnixNano(), true)

	res := &Result{
		Window:     w,
		At:         at,
		Complete:   complete,
		Quanta:     t.quanta,
		Events:     t.events,
		Downtime:   t.downtime.duration(s.Quantum),
		Violations: t.violations,
	}
	res.Quanta.Total = int(w.Duration() / s.Quantum)
	res.Availability = s.availability(&t)
	res.Budget, res.Met = s.budget(&t, res.Quanta.Total)
	res.Latency = s.latency(&t)
	return res, nil
}

// BurnRate is the speed of budget spend over [from, to) relative to
// spending exactly the budget over the window: 1 empties the budget just as
// the window ends, 14.4 empties a 30-day budget in about two days. NaN when
// nothing in the span could be counted.
//
// Quanta of the span before the SLO's life began (Series.Since) spent
// nothing, as in a clean history: for the quanta-based methods they count
// in the span's length and in none of its spend, so a young SLO's burn
// rate over 3 days is the budget its first hours spent, measured against
// what 3 days may spend. (The transactions method counts events, and there
// are none before the start.)
func BurnRate(s *SLO, series *Series, from, to time.Time) (float64, error) {
	if err := s.checkSpan(series, from, to); err != nil {
		return math.NaN(), err
	}
	t := s.tally(series, from.UnixNano(), to.UnixNano(), false)
	return s.burn(&t), nil
}

// burn is the burn rate of a tallied span (see BurnRate).
func (s *SLO) burn(t *tally) float64 {
	return s.failedShare(t, t.quanta.BeforeStart) / s.Objective.Complement()
}

// checkSpan rejects spans that do not fall on quantum boundaries: rollups
// are aligned to the epoch, so such a span would cut quanta in two.
func (s *SLO) checkSpan(series *Series, from, to time.Time) error {
	if series.Quantum != s.Quantum {
		return fmt.Errorf("%w: series %s, SLO %s", ErrQuantumMismatch, FormatDuration(series.Quantum), FormatDuration(s.Quantum))
	}
	q := int64(s.Quantum)
	for _, t := range [...]time.Time{from, to} {
		if t.UnixNano()%q != 0 {
			return fmt.Errorf("window edge %s is not on a %s quantum boundary (quanta start at whole multiples of the quantum since 1970-01-01 UTC; pick a quantum that divides the time zone's offset)", t.Format(time.RFC3339), FormatDuration(s.Quantum))
		}
	}
	if to.Before(from) {
		return fmt.Errorf("span %s–%s runs backwards", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	return nil
}

func ceilTime(t time.Time, q time.Duration) time.Time {
	ns := t.UnixNano()
	start := QuantumStart(ns, q)
	if start != ns {
		start += int64(q)
	}
	return time.Unix(0, start).In(t.Location())
}

// verdict is what a quantum counts as.
type verdict uint8

const (
	quantumGood verdict = iota
	quantumBad
	quantumSkipped
	// quantumOutside is a quantum before the SLO's life began (Tracker).
	quantumOutside
)

// downtime is an amount of downtime in fixed point: downUnit is one whole
// quantum. Each quantum's share is rounded once, to 10^-12 of a quantum,
// and the sums are integers, so every way of adding a window's quanta up
// (a tracker's running sums, a fresh tally, prefix sums) gives exactly the
// same number, and a year of minutes still fits an int64.
type downtime int64

const downUnit downtime = 1e12

// downShare is failed/attempted of a quantum, to the nearest downUnit.
func downShare(failed, attempted uint64) downtime {
	if attempted == 0 || failed == 0 {
		return 0
	}
	hi, lo := bits.Mul64(failed, uint64(downUnit))
	lo, carry := bits.Add64(lo, attempted/2, 0)
	q, _ := bits.Div64(hi+carry, lo, attempted) // failed ≤ attempted, so no overflow
	return downtime(q)
}

// quanta is d in quanta.
func (d downtime) quanta() float64 { return float64(d) / float64(downUnit) }

// quantaTimes is d in quanta times n, with one rounding.
func (d downtime) quantaTimes(n float64) float64 { return float64(d) * n / float64(downUnit) }

// duration is d as time, for quanta of length q.
func (d downtime) duration(q time.Duration) time.Duration {
	hi, lo := bits.Mul64(uint64(max(d, 0)), uint64(q))
	lo, carry := bits.Add64(lo, uint64(downUnit)/2, 0) // to the nearest nanosecond
	if hi+carry >= uint64(downUnit) {
		return math.MaxInt64 // beyond any window's length
	}
	v, _ := bits.Div64(hi+carry, lo, uint64(downUnit))
	return time.Duration(min(v, math.MaxInt64))
}

// judge decides one quantum and its downtime as a share of the quantum.
// r is nil for a quantum nothing reported for.
func (s *SLO) judge(r *Rollup) (verdict, downtime) {
	if r == nil || !r.Measured {
		switch s.NoData {
		case NoDataGood:
			return quantumGood, 0
		case NoDataSkip:
			return quantumSkipped, 0
		}
		return quantumBad, downUnit
	}
	if r.Attempted == 0 {
		// An explicit report of no traffic: nothing failed.
		return quantumGood, 0
	}
	down := downShare(r.Failed(), r.Attempted)
	var bad bool
	switch s.Method {
	case TimeQuanta, DowntimeMinutes:
		bad = r.Good < r.Attempted
	default:
		bad = !s.quantumObjective().Meets(r.Good, r.Attempted)
	}
	if bad {
		return quantumBad, down
	}
	return quantumGood, down
}

// Judge says how the SLO counts one quantum: "good", "bad" or "skipped"
// (an unmeasured quantum under noData: skip), and the share of the quantum
// that was down. r is nil for a quantum nothing reported for.
func (s *SLO) Judge(r *Rollup) (verdict string, downtime float64) {
	v, down := s.judge(r)
	return [...]string{"good", "bad", "skipped"}[v], down.quanta()
}

// tally is the sum of a span of quanta.
type tally struct {
	quanta        QuantumCounts
	events        EventCounts
	overThreshold uint64
	downtime      downtime
	latency       hist.Histogram
	violations    []Window
}

// tally walks every quantum of [from, to), rollup or not, because a
// missing rollup is itself information: the quantum was not measured.
// detail also merges histograms and records violation runs.
func (s *SLO) tally(series *Series, from, to int64, detail bool) tally {
	var t tally
	q := int64(s.Quantum)
	cur := series.cursor(from, to)
	runStart := int64(-1)
	closeRun := func(end int64) {
		if runStart >= 0 {
			t.violations = append(t.violations, Window{Start: time.Unix(0, runStart).UTC(), End: time.Unix(0, end).UTC()})
			runStart = -1
		}
	}
	for start := from; start < to; start += q {
		r := cur.at(start)
		if start < series.Since {
			// Outside the SLO's life: no verdict, no events, and it breaks
			// no run of violations because it is not in the window yet.
			t.quanta.BeforeStart++
			continue
		}
		v, down := s.judge(r)
		t.quanta.Elapsed++
		if r == nil || !r.Measured {
			t.quanta.Unmeasured++
		}
		switch v {
		case quantumGood:
			t.quanta.Good++
		case quantumBad:
			t.quanta.Bad++
		case quantumSkipped:
			t.quanta.Skipped++
		}
		t.downtime += down
		if detail {
			if v == quantumBad {
				if runStart < 0 {
					runStart = start
				}
			} else {
				closeRun(start)
			}
		}
		if r == nil {
			continue
		}
		t.events.Total += r.Attempted
		t.events.Good += r.Good
		t.events.Errors += r.Errors
		t.events.Slow += r.Slow
		t.overThreshold += r.OverThreshold
		if detail {
			cur.mergeLatency(&t.latency)
		}
	}
	if detail {
		cur.flush(&t.latency)
		closeRun(to)
	}
	t.events.Failed = t.events.Total - t.events.Good
	return t
}

// badShare is the share of the span that failed, by the SLO's method,
// over its lived quanta.
func (s *SLO) badShare(t *tally) float64 { return s.failedShare(t, 0) }

// failedShare is badShare with extra quanta in the denominator that spent
// nothing (for the quanta-based methods; events have no such quanta).
func (s *SLO) failedShare(t *tally, extra int) float64 {
	if s.Method == Transactions {
		if t.events.Total == 0 {
			return math.NaN()
		}
		return float64(t.events.Failed) / float64(t.events.Total)
	}
	n := t.quanta.Counted()
	if n == 0 {
		return math.NaN()
	}
	if s.Method == DowntimeMinutes {
		return t.downtime.quanta() / float64(n+extra)
	}
	return float64(t.quanta.Bad) / float64(n+extra)
}

func (s *SLO) availability(t *tally) float64 { return 1 - s.badShare(t) }

// budget returns the error budget of the window and whether it holds.
// totalQuanta is the length of the whole window in quanta.
func (s *SLO) budget(t *tally, totalQuanta int) (Budget, bool) {
	b := Budget{Unit: s.Method.BudgetUnit()}
	o := s.Objective
	// The budget share (Den−Num)/Den is applied as a product before the
	// division so that 0.1 % of 1,440 is 1.44, not 1.4400000000000013.
	share := func(n float64) float64 { return float64(o.Den-o.Num) * n / float64(o.Den) }
	countable := totalQuanta - t.quanta.Skipped
	var met bool
	switch s.Method {
	case Transactions:
		b.Total = share(float64(t.events.Total))
		b.Spent = float64(t.events.Failed)
		met = o.WithinBudget(t.events.Failed, t.events.Total)
	case DowntimeMinutes:
		perQuantum := s.Quantum.Minutes()
		b.Total = share(float64(countable) * perQuantum)
		b.Spent = t.downtime.quantaTimes(perQuantum)
		// Downtime is a sum of fractions, so it is compared with a tolerance
		// far below a millisecond of downtime.
		met = b.Spent <= b.Total*(1+1e-12)
	default:
		b.Total = share(float64(countable))
		b.Spent = float64(t.quanta.Bad)
		met = countable >= 0 && o.WithinBudget(uint64(t.quanta.Bad), uint64(max(countable, 0)))
	}
	b.Remaining = b.Total - b.Spent
	return b, met
}

// headroom is atOrUnder/measured − objective, computed as one fraction so
// that 100 % against 99.9 % is 0.001 and not 0.0010000000000000009.
func headroom(atOrUnder, measured uint64, o Ratio) float64 {
	hiA, loA := bits.Mul64(atOrUnder, o.Den)
	hiB, loB := bits.Mul64(o.Num, measured)
	sign := 1.0
	if hiA < hiB || (hiA == hiB && loA < loB) {
		hiA, loA, hiB, loB, sign = hiB, loB, hiA, loA, -1
	}
	lo, borrow := bits.Sub64(loA, loB, 0)
	hi, _ := bits.Sub64(hiA, hiB, borrow)
	hiD, loD := bits.Mul64(measured, o.Den)
	return sign * u128(hi, lo) / u128(hiD, loD)
}

// u128 converts a 128-bit unsigned integer to the nearest float64 (exact
// below 2^53, which real counts times a ten-power denominator stay under).
func u128(hi, lo uint64) float64 { return float64(hi)*0x1p64 + float64(lo) }

func (s *SLO) latency(t *tally) Latency {
	l := Latency{
		Rule:            s.SLI.Latency,
		Measured:        t.latency.Count(),
		InverseQuantile: math.NaN(),
		Headroom:        math.NaN(),
		Histogram:       t.latency,
	}
	if l.Measured > 0 {
		for _, q := range ReportedQuantiles {
			l.Quantiles = append(l.Quantiles, Quantile{Q: q, Seconds: t.latency.Quantile(q)})
		}
		if l.Rule != nil {
			l.AtOrUnder = l.Measured - min(t.overThreshold, l.Measured)
			l.InverseQuantile = float64(l.AtOrUnder) / float64(l.Measured)
			l.Headroom = headroom(l.AtOrUnder, l.Measured, s.Objective)
		}
	}
	return l
}

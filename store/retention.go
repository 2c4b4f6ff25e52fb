package store

import (
	"fmt"
	"math"
	"time"

	"github.com/nines-sre/nines/slo"
)

// Default retention horizons. A month plus a few days of full rollups
// covers every 28- or 30-day rolling window and the calendar month with
// room to look back; a year plus a month of counts covers calendar years
// and year-on-year comparison of the quanta methods.
const (
	DefaultFull   = 35 * 24 * time.Hour
	DefaultCounts = 400 * 24 * time.Hour
)

// Hour is the span of the histograms Compact keeps past the Full horizon.
const Hour = time.Hour

// Retention says how long each level of detail is kept. Zero fields take
// their defaults.
//
//	age:      0 ─────── Full ───────────── Counts / HourlyHistograms ──▶
//	counts:   per quantum ───────────────────────┤ deleted
//	latency:  per quantum ─┤ merged per hour ─────┤ deleted
type Retention struct {
	// Full is how long rollups keep their latency histograms (default
	// DefaultFull). Past it, a quantum's histogram is merged into the
	// hourly histogram of its hour and dropped from the rollup; the cut is
	// rounded down to an hour so that an hour moves as a whole.
	Full time.Duration
	// Counts is how long rollups are kept at all (default DefaultCounts):
	// attempted, good, errors, slow, over-threshold and measured stay
	// available per quantum for the quanta methods, without histograms.
	Counts time.Duration
	// HourlyHistograms is how long hourly histograms are kept (default:
	// Counts).
	HourlyHistograms time.Duration
	// IdempotencyKeys is how long the keys of idempotent batches are
	// remembered (default DefaultIdempotencyKeys): a retry within it is
	// recognised, one after it counts again.
	IdempotencyKeys time.Duration
}

// WithDefaults returns p with zero fields set to their defaults.
func (p Retention) WithDefaults() Retention {
	if p.Full == 0 {
		p.Full = DefaultFull
	}
	if p.Counts == 0 {
		p.Counts = DefaultCounts
	}
	if p.HourlyHistograms == 0 {
		p.HourlyHistograms = p.Counts
	}
	if p.IdempotencyKeys == 0 {
		p.IdempotencyKeys = DefaultIdempotencyKeys
	}
	return p
}

// Cutoffs validates p (after defaults) and returns, for a compaction at
// now, the Unix-ns bounds below which quanta lose their histograms (full,
// a whole hour), rollups are deleted (counts) and hourly histograms are
// deleted (hourly). Every backend cuts with these numbers, so they agree
// on what a compaction keeps.
func (p Retention) Cutoffs(now time.Time) (full, counts, hourly int64, err error) {
	p = p.WithDefaults()
	if p.Full < 0 || p.Counts < 0 || p.HourlyHistograms < 0 || p.IdempotencyKeys < 0 {
		return 0, 0, 0, fmt.Errorf("%w: retention %+v: negative duration", ErrInvalid, p)
	}
	if p.Counts < p.Full {
		// Deleting counts while their histograms are still kept would leave
		// latencies without the traffic they belong to.
		return 0, 0, 0, fmt.Errorf("%w: retention: counts (%v) shorter than full rollups (%v)", ErrInvalid, p.Counts, p.Full)
	}
	n := now.UnixNano()
	full = HourOf(before(n, p.Full))
	counts = before(n, p.Counts)
	hourly = HourOf(before(n, p.HourlyHistograms))
	return full, counts, hourly, nil
}

// KeysCutoff returns, for a compaction at now, the Unix-ns bound below
// which idempotency keys are forgotten. Cutoffs validates p.
func (p Retention) KeysCutoff(now time.Time) int64 {
	return before(now.UnixNano(), p.WithDefaults().IdempotencyKeys)
}

// before returns n − d, or math.MinInt64 if that is out of range: a
// retention of centuries keeps everything rather than wrapping around to
// delete everything.
func before(n int64, d time.Duration) int64 {
	if n < math.MinInt64+int64(d) {
		return math.MinInt64
	}
	return n - int64(d)
}

// CompactStats tells what one Compact did.
type CompactStats struct {
	// Moved counts quantum histograms merged into hourly ones and dropped.
	Moved int64
	// Hours counts hourly histograms created or updated.
	Hours int64
	// DeletedRollups and DeletedHourly count rows removed by age.
	DeletedRollups, DeletedHourly int64
	// DeletedKeys counts idempotency keys forgotten by age.
	DeletedKeys int64
	// Batches counts the transactions that changed something.
	Batches int
}

// HourOf returns the start of the hour a quantum starting at start counts
// in for hourly histograms. Instants in the first, partial hour of the
// int64 range (before 1677) count in an hour starting at math.MinInt64.
func HourOf(start int64) int64 {
	if start < math.MinInt64+int64(Hour) {
		return math.MinInt64
	}
	return slo.QuantumStart(start, Hour)
}

// CheckSeries returns an ErrInvalid error unless sli and quantum can name
// a series of rollups.
func CheckSeries(sli string, quantum time.Duration) error {
	if sli == "" {
		return fmt.Errorf("%w: empty SLI name", ErrInvalid)
	}
	if quantum <= 0 {
		return fmt.Errorf("%w: SLI %q: quantum %v is not positive", ErrInvalid, sli, quantum)
	}
	return nil
}

// CheckRollup returns an ErrInvalid error unless r can be appended to
// (sli, quantum): its Start must be the start of a quantum, in the range
// of times nines stores (CheckTimeNs).
func CheckRollup(sli string, quantum time.Duration, r *slo.Rollup) error {
	if err := CheckSeries(sli, quantum); err != nil {
		return err
	}
	if r == nil {
		return fmt.Errorf("%w: SLI %q: nil rollup", ErrInvalid, sli)
	}
	if err := CheckTimeNs(fmt.Sprintf("SLI %q: rollup start", sli), r.Start); err != nil {
		return err
	}
	if slo.QuantumStart(r.Start, quantum) != r.Start {
		return fmt.Errorf("%w: SLI %q: rollup start %d is not on a %v quantum boundary", ErrInvalid, sli, r.Start, quantum)
	}
	if err := r.CheckStatuses(); err != nil {
		return fmt.Errorf("%w: SLI %q: %w", ErrInvalid, sli, err)
	}
	return nil
}

// CheckCounts returns an ErrInvalid error unless r's verdicts can replace
// those of a stored rollup (Appender.SetCounts): r must pass CheckRollup
// but for its histograms, which SetCounts ignores, and Good, Errors and
// Slow together, or OverThreshold alone, may not exceed Attempted.
func CheckCounts(sli string, quantum time.Duration, r *slo.Rollup) error {
	if r != nil {
		r = CountsOf(r)
	}
	if err := CheckRollup(sli, quantum, r); err != nil {
		return err
	}
	judged := r.Good + r.Errors
	if judged < r.Good || judged+r.Slow < judged || judged+r.Slow > r.Attempted || r.OverThreshold > r.Attempted {
		return fmt.Errorf("%w: SLI %q, quantum %d: %d good, %d errors, %d slow and %d over the threshold of %d events",
			ErrInvalid, sli, r.Start, r.Good, r.Errors, r.Slow, r.OverThreshold, r.Attempted)
	}
	return nil
}

// CountsOf returns a copy of r without its histograms or its statuses':
// what SetCounts writes.
func CountsOf(r *slo.Rollup) *slo.Rollup {
	c := &slo.Rollup{Start: r.Start, Attempted: r.Attempted, Good: r.Good, Errors: r.Errors, Slow: r.Slow,
		OverThreshold: r.OverThreshold, Measured: r.Measured}
	if r.Statuses != nil {
		c.Statuses = make([]slo.StatusCount, len(r.Statuses))
		for i, s := range r.Statuses {
			c.Statuses[i] = slo.StatusCount{Code: s.Code, Count: s.Count, Timed: s.Timed, Over: s.Over}
		}
	}
	return c
}

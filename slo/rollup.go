package slo

import (
	"math"
	"slices"
	"time"

	"github.com/nines-sre/nines/hist"
)

// Rollup is everything nines keeps of one SLI over one quantum. Raw events
// are folded into it and dropped; evaluation reads nothing else.
type Rollup struct {
	// Start is the quantum's first instant in Unix nanoseconds.
	Start int64
	// Attempted counts every event; Good those the SLI accepted.
	Attempted, Good uint64
	// Errors and Slow are the failures by reason. Sources that only report
	// good and total counts leave them zero, so Attempted − Good may exceed
	// their sum.
	Errors, Slow uint64
	// OverThreshold counts events whose latency broke the SLI's threshold
	// whatever their status. With Latency.Count() it gives the exact share
	// of requests at or under the threshold, which a histogram bin alone
	// cannot when samples share the threshold's bin.
	OverThreshold uint64
	// Latency holds every measured latency of the quantum, in seconds.
	Latency hist.Histogram
	// Measured is false when nothing reported for the quantum: the
	// measuring path may have been down, so "no events" is not "no traffic".
	Measured bool
}

// Failed is the number of events the SLI rejected.
func (r *Rollup) Failed() uint64 { return r.Attempted - r.Good }

// Merge adds o into r. Both must describe the same SLI and quantum.
func (r *Rollup) Merge(o *Rollup) {
	r.Attempted += o.Attempted
	r.Good += o.Good
	r.Errors += o.Errors
	r.Slow += o.Slow
	r.OverThreshold += o.OverThreshold
	r.Latency.Merge(&o.Latency)
	r.Measured = r.Measured || o.Measured
}

// Series is the rollups of one SLI, sorted by Start, one per quantum at
// most. Quanta without a rollup were not measured.
type Series struct {
	Quantum time.Duration
	Rollups []Rollup
	// Since is the start of the SLI's life in Unix nanoseconds: the first
	// instant evaluation counts. Quanta before it are outside the life: not
	// good, bad, unmeasured or skipped, but treated like time that has not
	// come yet (see Evaluate and BurnRate), and their rollups are ignored.
	// The zero value counts every quantum since 1970; NotStarted counts
	// none. LifeStart says how a whole history sets it.
	Since int64
}

// NotStarted is the Series.Since of an SLI that has no data and no
// explicit start yet: every quantum is outside its life.
const NotStarted = math.MaxInt64

// LifeStart is when the life of s begins on the history series: the
// spec's explicit Since when it has one (on a quantum boundary), else the
// start of the first measured quantum, else NotStarted. Only a caller
// that holds the whole history can ask; a range read from a store must be
// given the start the store keeps.
func LifeStart(s *SLO, series *Series) int64 {
	if !s.Since.IsZero() {
		return QuantumStart(s.Since.UnixNano(), s.Quantum)
	}
	for i := range series.Rollups {
		if series.Rollups[i].Measured {
			return series.Rollups[i].Start
		}
	}
	return NotStarted
}

// Range returns the rollups whose quantum starts in [from, to), in Unix
// nanoseconds.
func (s *Series) Range(from, to int64) []Rollup {
	lo, _ := slices.BinarySearchFunc(s.Rollups, from, func(r Rollup, t int64) int { return cmpInt64(r.Start, t) })
	hi, _ := slices.BinarySearchFunc(s.Rollups, to, func(r Rollup, t int64) int { return cmpInt64(r.Start, t) })
	if hi < lo {
		return nil
	}
	return s.Rollups[lo:hi]
}

// Span returns the first quantum's start and the last quantum's end, or
// ok false for an empty series.
func (s *Series) Span() (from, to int64, ok bool) {
	if len(s.Rollups) == 0 {
		return 0, 0, false
	}
	return s.Rollups[0].Start, s.Rollups[len(s.Rollups)-1].Start + int64(s.Quantum), true
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Aggregator folds events into the rollups of one SLI. Events may come in
// any order. It is not safe for concurrent use: give each goroutine its own
// and Merge them.
type Aggregator struct {
	sli     *SLI
	quantum int64
	rollups map[int64]*Rollup
	// last short-cuts the map for the common case of events in time order.
	last *Rollup
}

// NewAggregator returns an Aggregator for sli with the given quantum.
func NewAggregator(sli *SLI, quantum time.Duration) *Aggregator {
	return &Aggregator{sli: sli, quantum: int64(quantum), rollups: make(map[int64]*Rollup)}
}

// QuantumStart returns the start of the quantum containing t (Unix
// nanoseconds). Quanta are aligned to the Unix epoch, so rollups from
// different sources and hosts line up and merge.
func QuantumStart(t int64, quantum time.Duration) int64 {
	q := int64(quantum)
	s := t / q * q
	if t < 0 && s != t {
		s -= q
	}
	return s
}

// Add folds e into the rollup of its quantum. Ingestion must have rejected
// negative, infinite and NaN-but-present latencies already; Add keeps any
// latency the histogram cannot hold out of it rather than fail the event.
func (a *Aggregator) Add(e *Event) {
	start := QuantumStart(e.Time, time.Duration(a.quantum))
	r := a.last
	if r == nil || r.Start != start {
		r = a.rollups[start]
		if r == nil {
			r = &Rollup{Start: start}
			a.rollups[start] = r
		}
		a.last = r
	}
	r.Measured = true
	n := e.Count
	if n == 0 {
		return
	}
	r.Attempted += n
	switch a.sli.Classify(e) {
	case Good:
		r.Good += n
	case FailedError:
		r.Errors += n
	case FailedSlow:
		r.Slow += n
	}
	if lat := e.Latency; !math.IsNaN(lat) {
		if r.Latency.InsertN(lat, n) == nil && a.sli.Latency != nil && a.sli.Latency.Slow(lat) {
			r.OverThreshold += n
		}
	}
}

// AddRollup merges a pre-aggregated rollup into its quantum.
func (a *Aggregator) AddRollup(r *Rollup) {
	start := QuantumStart(r.Start, time.Duration(a.quantum))
	dst := a.rollups[start]
	if dst == nil {
		dst = &Rollup{Start: start}
		a.rollups[start] = dst
	}
	dst.Merge(r)
}

// Merge moves everything b holds into a; b must not be used afterwards.
func (a *Aggregator) Merge(b *Aggregator) {
	for start, r := range b.rollups {
		if dst := a.rollups[start]; dst != nil {
			dst.Merge(r)
		} else {
			a.rollups[start] = r
		}
	}
	b.rollups, b.last = nil, nil
}

// Len is the number of quanta seen so far.
func (a *Aggregator) Len() int { return len(a.rollups) }

// Series returns the rollups as a sorted Series. The Aggregator keeps
// ownership of nothing afterwards and must not be used again.
func (a *Aggregator) Series() *Series {
	s := &Series{Quantum: time.Duration(a.quantum), Rollups: make([]Rollup, 0, len(a.rollups))}
	for _, r := range a.rollups {
		s.Rollups = append(s.Rollups, *r)
	}
	slices.SortFunc(s.Rollups, func(x, y Rollup) int { return cmpInt64(x.Start, y.Start) })
	a.rollups, a.last = nil, nil
	return s
}

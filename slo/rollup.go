package slo

import (
	"errors"
	"fmt"
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
	// Statuses splits the quantum's events by status, sorted by Code, so
	// that an edited status rule or latency threshold can be judged again
	// from the rollup alone (SLI.Rejudge). It is nil when the source kept
	// none; its counts fall short of Attempted when such a source was
	// merged in, which Rejudge refuses.
	Statuses []StatusCount
}

// StatusCount is what a rollup keeps of the events of one status key.
type StatusCount struct {
	// Code is the HTTP status 0–999, NoStatus for events without one (and
	// for codes outside 0–999, which every status rule judges alike), or
	// StatusOKTrue / StatusOKFalse for events an explicit ok flag judged.
	Code int
	// Count is the events (each Event counts Event.Count).
	Count uint64
	// Timed counts the events, of Count, that carried a latency.
	Timed uint64
	// Over counts the timed events over the SLI's latency threshold, as
	// Rollup.OverThreshold does.
	Over uint64
	// Latency holds the latencies of the timed events. The store empties it
	// when it compacts the per-quantum histograms, and then Timed exceeds
	// Latency.Count(): the counts stay, a new threshold cannot be judged.
	Latency hist.Histogram
}

// Status keys of events judged by an explicit ok flag rather than by their
// status code (Event.OK wins over Event.Status). They lie outside 0–999,
// like NoStatus.
const (
	StatusOKTrue  = -2
	StatusOKFalse = -3
)

// CheckStatuses returns an error unless r.Statuses could describe r's
// events: codes in 0–999 or one of NoStatus, StatusOKTrue, StatusOKFalse,
// each once and ascending; Timed ≤ Count, Over ≤ Timed and
// Latency.Count() ≤ Timed in each; no more events in all than Attempted,
// and no more latencies than r.Latency holds. They may account for fewer
// events than Attempted (a source that keeps no statuses was merged in):
// such a rollup can be stored, not re-judged.
func (r *Rollup) CheckStatuses() error {
	var events, latencies uint64
	for i := range r.Statuses {
		s := &r.Statuses[i]
		switch {
		case !ValidStatusKey(s.Code):
			return fmt.Errorf("quantum %s: status %d: want a code 0-999, %d (none), %d (ok=true) or %d (ok=false)",
				quantumTime(r.Start), s.Code, NoStatus, StatusOKTrue, StatusOKFalse)
		case i > 0 && s.Code <= r.Statuses[i-1].Code:
			return fmt.Errorf("quantum %s: status %s after %s: want each status once, in ascending order",
				quantumTime(r.Start), StatusName(s.Code), StatusName(r.Statuses[i-1].Code))
		case s.Timed > s.Count || s.Over > s.Timed || s.Latency.Count() > s.Timed:
			return fmt.Errorf("quantum %s, status %s: %d events, %d timed, %d over, %d latencies: want over ≤ timed ≤ events and no more latencies than timed",
				quantumTime(r.Start), StatusName(s.Code), s.Count, s.Timed, s.Over, s.Latency.Count())
		}
		events += s.Count
		latencies += s.Latency.Count()
		if events < s.Count || latencies < s.Latency.Count() {
			return fmt.Errorf("quantum %s: status counts overflow", quantumTime(r.Start))
		}
	}
	switch {
	case events > r.Attempted:
		return fmt.Errorf("quantum %s: statuses count %d events, the rollup %d", quantumTime(r.Start), events, r.Attempted)
	case latencies > r.Latency.Count():
		return fmt.Errorf("quantum %s: statuses hold %d latencies, the rollup's histogram %d", quantumTime(r.Start), latencies, r.Latency.Count())
	}
	return nil
}

// ValidStatusKey reports whether code can be a StatusCount's Code.
func ValidStatusKey(code int) bool {
	return code >= StatusOKFalse && code <= maxStatus
}

// statusKey is the Code under which e is counted.
func statusKey(e *Event) int {
	switch {
	case e.OK == FlagTrue:
		return StatusOKTrue
	case e.OK == FlagFalse:
		return StatusOKFalse
	case e.Status < 0 || e.Status > maxStatus:
		// StatusRule.Good answers the same for every code outside 0–999.
		return NoStatus
	}
	return e.Status
}

// statusIndex returns the index of code in r.Statuses, adding an entry in
// order if there is none.
func (r *Rollup) statusIndex(code int) int { return r.statusIndexFrom(0, code) }

// statusIndexFrom is statusIndex for a code known to sort at or after
// r.Statuses[from].
func (r *Rollup) statusIndexFrom(from, code int) int {
	// Rollups hold a handful of statuses: a scan beats a binary search.
	i := from
	for i < len(r.Statuses) && r.Statuses[i].Code < code {
		i++
	}
	if i == len(r.Statuses) || r.Statuses[i].Code != code {
		r.Statuses = slices.Insert(r.Statuses, i, StatusCount{Code: code})
	}
	return i
}

// Failed is the number of events the SLI rejected.
func (r *Rollup) Failed() uint64 { return r.Attempted - r.Good }

// ErrOverflow is wrapped by the error for a merge or an event that would
// take a count of one quantum past 2^64−1, the most a Rollup holds.
// Nothing is changed then: a count that wrapped around would read as a
// handful of events, and as an availability below zero.
var ErrOverflow = errors.New("a count of one quantum would pass 2^64-1")

// CheckMerge returns an error wrapping ErrOverflow if merging o into r
// would take one of r's counts, or of its statuses', past 2^64−1, and
// nil when Merge can add o. Histograms saturate instead (hist), so they
// are not checked.
func (r *Rollup) CheckMerge(o *Rollup) error {
	for _, c := range [...]struct {
		name   string
		dst, n uint64
	}{
		{"attempted", r.Attempted, o.Attempted}, {"good", r.Good, o.Good}, {"errors", r.Errors, o.Errors},
		{"slow", r.Slow, o.Slow}, {"over_threshold", r.OverThreshold, o.OverThreshold},
	} {
		if c.dst > math.MaxUint64-c.n {
			return overflow(r.Start, c.name, c.dst, c.n)
		}
	}
	at := 0
	for i := range o.Statuses {
		src := &o.Statuses[i]
		for at < len(r.Statuses) && r.Statuses[at].Code < src.Code {
			at++
		}
		if at == len(r.Statuses) || r.Statuses[at].Code != src.Code {
			continue
		}
		dst := &r.Statuses[at]
		for _, c := range [...]struct {
			name   string
			dst, n uint64
		}{{"count", dst.Count, src.Count}, {"timed", dst.Timed, src.Timed}, {"over", dst.Over, src.Over}} {
			if c.dst > math.MaxUint64-c.n {
				return overflow(r.Start, "status "+StatusName(src.Code)+" "+c.name, c.dst, c.n)
			}
		}
	}
	return nil
}

func overflow(start int64, what string, have, add uint64) error {
	return fmt.Errorf("quantum %s: %s %d + %d: %w; check the counts sent",
		quantumTime(start), what, have, add, ErrOverflow)
}

// Merge adds o into r. Both must describe the same SLI and quantum. If a
// count would overflow (CheckMerge), it changes nothing and returns an
// error wrapping ErrOverflow.
func (r *Rollup) Merge(o *Rollup) error {
	if err := r.CheckMerge(o); err != nil {
		return err
	}
	r.Attempted += o.Attempted
	r.Good += o.Good
	r.Errors += o.Errors
	r.Slow += o.Slow
	r.OverThreshold += o.OverThreshold
	r.Latency.Merge(&o.Latency)
	r.Measured = r.Measured || o.Measured
	at := 0 // both are sorted: each status is found after the previous one
	for i := range o.Statuses {
		src := &o.Statuses[i]
		at = r.statusIndexFrom(at, src.Code)
		dst := &r.Statuses[at]
		dst.Count += src.Count
		dst.Timed += src.Timed
		dst.Over += src.Over
		dst.Latency.Merge(&src.Latency)
	}
	return nil
}

// CopyTo makes dst an exact copy of r, histograms included, reusing dst's
// storage, so that neither shares anything with the other afterwards.
func (r *Rollup) CopyTo(dst *Rollup) {
	if dst == r {
		return
	}
	lat, sts := dst.Latency, dst.Statuses
	*dst = *r
	dst.Latency = lat
	r.Latency.CopyTo(&dst.Latency)
	if r.Statuses == nil {
		dst.Statuses = nil
		return
	}
	if cap(sts) < len(r.Statuses) {
		sts = append(sts[:cap(sts)], make([]StatusCount, len(r.Statuses)-cap(sts))...)
	}
	dst.Statuses = sts[:len(r.Statuses)]
	for i := range r.Statuses {
		d, s := &dst.Statuses[i], &r.Statuses[i]
		h := d.Latency
		*d = *s
		d.Latency = h
		s.Latency.CopyTo(&d.Latency)
	}
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
	// compact, when set, holds the rollups instead of Rollups
	// (Compact.Seal).
	compact *Compact
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
	if series.compact != nil {
		return series.compact.firstMeasured
	}
	for i := range series.Rollups {
		if series.Rollups[i].Measured {
			return series.Rollups[i].Start
		}
	}
	return NotStarted
}

// Range returns the rollups whose quantum starts in [from, to), in Unix
// nanoseconds. A Series read from a Compact has none to return.
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
	if c := s.compact; c != nil {
		return c.first, c.last + int64(s.Quantum), len(c.keys) > 0
	}
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
	sli      *SLI
	quantum  int64
	statuses bool
	rollups  map[int64]*Rollup
	// last short-cuts the map for the common case of events in time order.
	last *Rollup
	// hint is the index in last.Statuses of the previous event's status:
	// most events share the status of the one before (a 200).
	hint int
	// merged is set once AddRollup or Merge brought in rollups, whose
	// counts may exceed their Attempted: until then Add, which counts an
	// event at most once in each count, leaves none above Attempted, and
	// checking Attempted alone for overflow is enough.
	merged bool
	// spill, when set, takes the rollups every spillAfter quanta
	// (SpillTo); order holds the rollups it has in the order newRollup
	// made them, free the spilled ones for reuse, spillBuf their records
	// on the way.
	spill    *Compact
	order    []*Rollup
	free     []*Rollup
	spillBuf []byte
	// sparse holds the latencies of quanta with few events, as bin codes,
	// when spilling (see spillLatency).
	sparse *sparseLatencies
}

// NewAggregator returns an Aggregator for sli with the given quantum.
func NewAggregator(sli *SLI, quantum time.Duration) *Aggregator {
	return &Aggregator{sli: sli, quantum: int64(quantum), rollups: make(map[int64]*Rollup)}
}

// KeepStatuses makes Add fill Rollup.Statuses, which is what re-judging
// an edited SLI needs (SLI.Rejudge). It costs a second histogram insert
// per event, so only the paths that store rollups ask for it; call it
// before the first Add.
func (a *Aggregator) KeepStatuses() { a.statuses = true }

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
// An event whose count would take one of its quantum's counts past
// 2^64−1 is refused whole, with an error wrapping ErrOverflow.
func (a *Aggregator) Add(e *Event) error {
	start := QuantumStart(e.Time, time.Duration(a.quantum))
	r := a.last
	if r == nil || r.Start != start {
		r = a.rollups[start]
		if r == nil {
			r = a.newRollup(start)
		}
		a.last = r
	}
	n := e.Count
	if n == 0 {
		r.Measured = true
		return nil
	}
	if err := a.checkAdd(r, e); err != nil {
		return err
	}
	r.Measured = true
	r.Attempted += n
	switch a.sli.Classify(e) {
	case Good:
		r.Good += n
	case FailedError:
		r.Errors += n
	case FailedSlow:
		r.Slow += n
	}
	timed, over := false, false
	if lat := e.Latency; !math.IsNaN(lat) {
		if a.sparse == nil || r.Attempted-n > sparseEvents {
			timed = r.Latency.InsertN(lat, n) == nil
		} else {
			timed = a.spillLatency(r, lat, n) // a quantum of few events so far
		}
		over = timed && a.sli.Latency != nil && a.sli.Latency.Slow(lat)
		if over {
			r.OverThreshold += n
		}
	}
	if !a.statuses {
		return nil
	}
	code := statusKey(e)
	if a.hint >= len(r.Statuses) || r.Statuses[a.hint].Code != code {
		a.hint = r.statusIndex(code)
	}
	s := &r.Statuses[a.hint]
	s.Count += n
	if timed {
		s.Timed += n
		_ = s.Latency.InsertN(e.Latency, n) // cannot fail: r.Latency took it
		if over {
			s.Over += n
		}
	}
	return nil
}

// checkAdd returns an error wrapping ErrOverflow if adding e's count to r
// could take one of the counts Add raises past 2^64−1. Each is at most
// Attempted while only Add filled r; otherwise it checks them all,
// whichever e raises.
func (a *Aggregator) checkAdd(r *Rollup, e *Event) error {
	n := e.Count
	hi := r.Attempted
	if !a.merged {
		if hi > math.MaxUint64-n {
			return overflow(r.Start, "an event's count", hi, n)
		}
		return nil
	}
	hi = max(hi, r.Good, r.Errors, r.Slow, r.OverThreshold)
	if a.statuses {
		code := statusKey(e)
		for i := range r.Statuses {
			if s := &r.Statuses[i]; s.Code == code {
				hi = max(hi, s.Count, s.Timed, s.Over)
				break
			}
		}
	}
	if hi > math.MaxUint64-n {
		return overflow(r.Start, "an event's count", hi, n)
	}
	return nil
}

// AddRollup merges a pre-aggregated rollup into its quantum, or returns
// an error wrapping ErrOverflow, and changes nothing, if a count would
// overflow (Rollup.Merge).
func (a *Aggregator) AddRollup(r *Rollup) error {
	a.merged = true
	start := QuantumStart(r.Start, time.Duration(a.quantum))
	dst := a.rollups[start]
	if dst == nil {
		dst = &Rollup{Start: start}
		if err := dst.Merge(r); err != nil {
			return err
		}
		a.rollups[start] = dst
		return nil
	}
	return dst.Merge(r)
}

// Merge moves everything b holds into a; b must not be used afterwards.
// If a quantum's counts would overflow (Rollup.Merge), it returns an error
// wrapping ErrOverflow and a is left as it was.
func (a *Aggregator) Merge(b *Aggregator) error {
	if b.spill != nil {
		// Its rollups go where a's go; Compact.Seal checks the counts.
		b.flush()
		b.rollups, b.free, b.order = nil, nil, nil
		return nil
	}
	a.merged = a.merged || b.merged
	for start, r := range b.rollups {
		if dst := a.rollups[start]; dst != nil {
			if err := dst.CheckMerge(r); err != nil {
				return err
			}
		}
	}
	for start, r := range b.rollups {
		if dst := a.rollups[start]; dst != nil {
			_ = dst.Merge(r) // checked above
		} else {
			a.rollups[start] = r
		}
	}
	b.rollups, b.last = nil, nil
	return nil
}

// Len is the number of quanta seen so far.
func (a *Aggregator) Len() int { return len(a.rollups) }

// Series returns the rollups as a sorted Series. The Aggregator keeps
// ownership of nothing afterwards and must not be used again. An
// aggregator that spills (SpillTo) hands its rollups over with
// CompactSeries instead.
func (a *Aggregator) Series() *Series {
	s := &Series{Quantum: time.Duration(a.quantum), Rollups: make([]Rollup, 0, len(a.rollups))}
	for _, r := range a.rollups {
		s.Rollups = append(s.Rollups, *r)
	}
	slices.SortFunc(s.Rollups, func(x, y Rollup) int { return cmpInt64(x.Start, y.Start) })
	a.rollups, a.last = nil, nil
	return s
}

package metrics

import (
	"fmt"
	"strconv"
	"strings"
)

// Reason says what became of a sample the Collector did not simply use,
// or what it noticed while using it.
type Reason uint8

// Reasons. Those marked "dropped" mean the sample (or, for
// NoThresholdBucket, the quantum's counts of a histogram) did not reach a
// rollup; the others are notes on samples that did, or that set a baseline.
const (
	// Late (dropped): older than MaxLag behind the newest sample of its
	// series.
	Late Reason = iota
	// UnknownSeries (dropped): selected by no SLI source.
	UnknownSeries
	// BadValue (dropped): NaN (other than the stale marker), infinite,
	// negative, an invalid histogram, a timestamp out of range, or an "le"
	// label that is not a number.
	BadValue
	// WrongType (dropped): a gauge or summary where a counter is wanted, a
	// float sample where a histogram is wanted or the reverse, or a unit
	// that is not a time.
	WrongType
	// NoThresholdBucket (dropped): a classic or custom-bucket histogram has
	// no bucket bound equal to the SLI's latency threshold, so its good
	// count cannot be read exactly.
	NoThresholdBucket
	// Duplicate (dropped): same timestamp as the newest sample of the
	// series (for a delta too: a resend would count it twice), or classic
	// buckets of a histogram that also arrives native.
	Duplicate
	// Unused (dropped): a series a source names but does not need, such as
	// a histogram's _count and _sum.
	Unused
	// Reset: a counter went down (or its start time moved); the new value
	// was taken as the increase, as Prometheus' rate() does.
	Reset
	// FirstSample: the first sample of a series, or the first after a
	// stale marker, only sets the baseline: the increase before it is
	// unknown.
	FirstSample
	// Stale: a stale marker ended the series; its next sample is a first
	// sample again.
	Stale
	// OutOfOrder: older than the newest sample of its series but within
	// MaxLag. A cumulative value carries nothing new (the increase across
	// it was already counted with the later sample); a delta is counted.
	OutOfOrder
	// Approximate: a native or exponential histogram's bucket straddles
	// the latency threshold, so its share over the threshold was
	// interpolated and the rollup is marked Approximate.
	Approximate
	// Inconsistent: counts that should agree did not (good above total,
	// cumulative buckets going down, no +Inf bucket) and were clamped.
	Inconsistent
	// Reopened: the sample fell in a quantum already flushed; its rollup
	// is emitted again by the next Flush and must be merged.
	Reopened

	NumReasons
)

var reasonNames = [NumReasons]string{
	"late", "unknown_series", "bad_value", "wrong_type", "no_threshold_bucket",
	"duplicate", "unused", "reset", "first_sample", "stale", "out_of_order",
	"approximate", "inconsistent", "reopened",
}

func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "Reason(" + strconv.Itoa(int(r)) + ")"
}

// Dropping reports whether samples counted under r never reach a rollup.
func (r Reason) Dropping() bool { return r <= Unused }

// Report tells what one call to Add or Flush did. Nothing is dropped
// without being counted here.
type Report struct {
	// Samples counts the float samples and histogram samples seen;
	// Accepted those whose value was used (as an increase or as a
	// baseline).
	Samples, Accepted uint64
	// Counts are by Reason; a sample can be counted under a dropping
	// reason or under notes, or both (FirstSample and Reset are notes on
	// accepted samples).
	Counts [NumReasons]uint64
	// Problems describe the first few dropped or inconsistent items,
	// naming the series.
	Problems []error
}

// Count returns the count for one reason.
func (r *Report) Count(reason Reason) uint64 {
	if reason < NumReasons {
		return r.Counts[reason]
	}
	return 0
}

// Dropped is the number of samples counted under a dropping reason.
func (r *Report) Dropped() uint64 {
	var n uint64
	for i := range Unused + 1 {
		n += r.Counts[i]
	}
	return n
}

// Merge adds o into r.
func (r *Report) Merge(o *Report) {
	r.Samples += o.Samples
	r.Accepted += o.Accepted
	for i := range r.Counts {
		r.Counts[i] += o.Counts[i]
	}
	for _, p := range o.Problems {
		if len(r.Problems) >= MaxProblems {
			break
		}
		r.Problems = append(r.Problems, p)
	}
}

// note counts n under reason and keeps err, if not nil, while there is
// room.
func (r *Report) note(reason Reason, n uint64, err error) {
	r.Counts[reason] += n
	if err != nil && len(r.Problems) < MaxProblems {
		r.Problems = append(r.Problems, err)
	}
}

// noteSeries is note for a problem with series st; the SeriesError (and
// the labels' text) is only built while there is room for it.
func (r *Report) noteSeries(st *seriesState, reason Reason, n uint64, err error) {
	r.Counts[reason] += n
	if err != nil && len(r.Problems) < MaxProblems {
		r.Problems = append(r.Problems, &SeriesError{Series: st.labels.String(), Reason: reason, Err: err})
	}
}

// String summarises the report on one line: "12 samples, 10 accepted,
// late 1, unknown_series 1".
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d samples, %d accepted", r.Samples, r.Accepted)
	for i, n := range r.Counts {
		if n > 0 {
			fmt.Fprintf(&b, ", %s %d", Reason(i), n)
		}
	}
	return b.String()
}

// SeriesError is a problem with one series, named by its labels.
type SeriesError struct {
	Series string
	Reason Reason
	Err    error
}

func (e *SeriesError) Error() string {
	return fmt.Sprintf("series %s: %s: %v", e.Series, e.Reason, e.Err)
}

func (e *SeriesError) Unwrap() error { return e.Err }

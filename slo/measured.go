package slo

import (
	"fmt"
	"slices"
	"time"
)

// CheckWindow returns the error Evaluate(s, series, w, at) returns, or
// nil when it would evaluate w, without reading a quantum.
func CheckWindow(s *SLO, series *Series, w Window, at time.Time) error {
	if err := s.checkSpan(series, w.Start, w.End); err != nil {
		return err
	}
	if at.Before(w.Start) {
		return fmt.Errorf("evaluation time %s is before the window %s", at.Format(time.RFC3339), w)
	}
	return nil
}

// Measured reports whether Evaluate(s, series, w, at) would find a
// measured quantum in w: its Result has Quanta.Elapsed greater than
// Quanta.Unmeasured exactly when Measured is true. It reads no
// histogram and stops at the first measured quantum, so that a caller
// can refuse a window with no data in it before evaluating any (nines
// eval writes nothing rather than half a report). The window must pass
// Evaluate's checks.
func Measured(s *SLO, series *Series, w Window, at time.Time) bool {
	end := w.End
	if at.Before(w.End) {
		end = ceilTime(at, s.Quantum)
	}
	return series.measuredIn(max(w.Start.UnixNano(), series.Since), end.UnixNano())
}

// measuredIn reports whether a quantum starting in [from, to) has a
// measured rollup.
func (s *Series) measuredIn(from, to int64) bool {
	if from >= to {
		return false
	}
	if c := s.compact; c != nil {
		return c.measuredIn(from, to)
	}
	for _, r := range s.Range(from, to) {
		if r.Measured {
			return true
		}
	}
	return false
}

func (c *Compact) measuredIn(from, to int64) bool {
	lo, hi := quantumNumber(from, c.quantum), quantumNumber(to, c.quantum)
	if lo*c.quantum < from {
		lo++
	}
	if hi*c.quantum < to {
		hi++
	}
	// Quantum numbers [lo, hi).
	k, _ := slices.BinarySearch(c.keys, lo>>pageBits)
	var parts [][]byte
	var buf []byte
	for ; k < len(c.keys) && c.keys[k]<<pageBits < hi; k++ {
		base := c.keys[k] << pageBits
		var err error
		if parts, buf, err = c.load(c.segs[c.starts[k]:c.starts[k+1]], parts, buf); err != nil {
			c.readFailed(err)
		}
		for _, seg := range parts {
			var rec record
			for b := seg; len(b) > 0; {
				var err error
				if b, err = rec.next(b); err != nil {
					break // Seal has read every record already.
				}
				if n := base + int64(rec.slot); n >= lo && n < hi && rec.measured {
					return true
				}
			}
		}
	}
	return false
}

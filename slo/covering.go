package slo

import (
	"iter"
	"time"
)

// CoveringSeq yields the windows Covering returns, one at a time, so
// that a caller walking a century of calendar days holds none of them.
func (s WindowSpec) CoveringSeq(from, to time.Time) iter.Seq[Window] {
	return func(yield func(Window) bool) {
		if s.Calendar == NotCalendar {
			yield(s.Containing(to))
			return
		}
		for w := s.Containing(from); w.Start.Before(to); w = s.Next(w) {
			if !yield(w) {
				return
			}
		}
	}
}

package store

import (
	"math"

	"github.com/nines-sre/nines/hist"
)

// CeilHour returns the first hour start at or after t, or MaxInt64 if
// there is none in range.
func CeilHour(t int64) int64 {
	h := HourOf(t)
	if h < t {
		if h > math.MaxInt64-int64(Hour) {
			return math.MaxInt64
		}
		h += int64(Hour)
	}
	return h
}

// HourMerger sums histograms read in start order into one an hour, with
// one row of look-ahead: what a backend's HistogramIterator does over its
// hourly rows of compacted quanta and the histograms of quanta not
// compacted yet, which its query returns together in start order.
type HourMerger struct {
	hour    int64
	cur     hist.Histogram
	pending hist.Histogram // the first row of the next hour, already read
	pstart  int64
	havePen bool
}

// Next sums the next hour. read decodes the next row into h and returns
// its start; it returns false at the end and on an error, which the
// caller keeps. Next reports whether an hour was summed before that, so
// a caller answers Next(read) && err == nil.
func (m *HourMerger) Next(read func(h *hist.Histogram) (start int64, ok bool)) bool {
	if !m.havePen && !m.read(read) {
		return false
	}
	m.hour = HourOf(m.pstart)
	m.pending.CopyTo(&m.cur)
	m.havePen = false
	for m.read(read) {
		if HourOf(m.pstart) != m.hour {
			return true
		}
		m.cur.Merge(&m.pending)
		m.havePen = false
	}
	return true
}

func (m *HourMerger) read(read func(h *hist.Histogram) (int64, bool)) bool {
	start, ok := read(&m.pending)
	if ok {
		m.pstart = start
	}
	m.havePen = ok
	return ok
}

// At returns the hour the last Next summed and its histogram.
func (m *HourMerger) At() (int64, *hist.Histogram) { return m.hour, &m.cur }

package postgres

import (
	"errors"
	"fmt"
	"slices"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
)

// rollupCols are the columns of a rollup's value, in the order of
// rollupRow.values.
const rollupCols = `attempted, good, errors, slow, over_threshold, measured, hist, statuses, status_hists, status_derived`

// rollupRow is a rollup as its columns hold it (see the rollups table in
// schema.go). Scanning into it reuses its slices.
type rollupRow struct {
	c        [5]int64
	measured bool
	hist     []byte
	statuses []int64  // code, count, timed, over of each status
	hists    [][]byte // each status's histogram; nil when all are empty
	derived  int16    // i+1: status i's histogram is hist minus the others'
	scratch  hist.Histogram
}

// dest returns the scan destinations of rollupCols.
func (w *rollupRow) dest() []any {
	return []any{&w.c[0], &w.c[1], &w.c[2], &w.c[3], &w.c[4], &w.measured, &w.hist, &w.statuses, &w.hists, &w.derived}
}

// values returns the values of rollupCols. A nil slice is SQL NULL.
func (w *rollupRow) values() []any {
	return []any{w.c[0], w.c[1], w.c[2], w.c[3], w.c[4], w.measured, w.hist, w.statuses, w.hists, w.derived}
}

// set fills w from r. Histograms are encoded into fresh slices: w is
// handed to the driver.
//
// Nearly every event of a minute has one status (200), whose histogram is
// then nearly the rollup's: when it is exactly the rollup's minus the
// other statuses', it is not written (status_derived names it), which
// keeps a rollup's statuses to a few dozen bytes.
func (w *rollupRow) set(r *slo.Rollup) {
	w.c = [5]int64{int64(r.Attempted), int64(r.Good), int64(r.Errors), int64(r.Slow), int64(r.OverThreshold)}
	w.measured = r.Measured
	w.hist = encodeHist(&r.Latency)
	w.statuses, w.hists, w.derived = nil, nil, 0
	if len(r.Statuses) == 0 {
		return
	}
	w.derived = int16(w.derivable(r))
	w.statuses = make([]int64, 0, 4*len(r.Statuses))
	hists := make([][]byte, len(r.Statuses))
	anyHist := false
	for i := range r.Statuses {
		s := &r.Statuses[i]
		w.statuses = append(w.statuses, int64(s.Code), int64(s.Count), int64(s.Timed), int64(s.Over))
		if i+1 != int(w.derived) {
			if hists[i] = encodeHist(&s.Latency); hists[i] != nil {
				anyHist = true
			}
		}
	}
	if anyHist {
		w.hists = hists
	}
}

// derivable returns i+1 when the histogram of status i, the one with the
// most latencies, is exactly r.Latency minus the other statuses', or 0.
func (w *rollupRow) derivable(r *slo.Rollup) int {
	best := -1
	for i := range r.Statuses {
		if n := r.Statuses[i].Latency.Count(); n > 0 && (best < 0 || n > r.Statuses[best].Latency.Count()) {
			best = i
		}
	}
	if best < 0 {
		return 0
	}
	r.Latency.CopyTo(&w.scratch)
	for i := range r.Statuses {
		if i != best && w.scratch.Sub(&r.Statuses[i].Latency) != nil {
			return 0
		}
	}
	if !w.scratch.Equal(&r.Statuses[best].Latency) {
		return 0
	}
	return best + 1
}

func encodeHist(h *hist.Histogram) []byte {
	if h.Count() == 0 {
		return nil
	}
	return h.AppendBinary(nil)
}

func decodeHist(h *hist.Histogram, b []byte) error {
	if b == nil {
		h.Reset()
		return nil
	}
	return h.UnmarshalBinary(b)
}

var errStatuses = errors.New("corrupt per-status counts")

// rollup decodes w into r (Start is left alone), reusing r's storage.
func (w *rollupRow) rollup(r *slo.Rollup) error {
	r.Attempted, r.Good, r.Errors, r.Slow, r.OverThreshold = uint64(w.c[0]), uint64(w.c[1]), uint64(w.c[2]), uint64(w.c[3]), uint64(w.c[4])
	r.Measured = w.measured
	if err := decodeHist(&r.Latency, w.hist); err != nil {
		return fmt.Errorf("histogram: %w", err)
	}
	if w.statuses == nil {
		r.Statuses = nil
		return nil
	}
	n := len(w.statuses) / 4
	switch {
	case n == 0 || len(w.statuses)%4 != 0:
		return fmt.Errorf("%w: %d numbers, not 4 per status", errStatuses, len(w.statuses))
	case w.hists != nil && len(w.hists) != n:
		return fmt.Errorf("%w: %d histograms of %d statuses", errStatuses, len(w.hists), n)
	case w.derived < 0 || int(w.derived) > n:
		return fmt.Errorf("%w: derived histogram %d of %d statuses", errStatuses, w.derived, n)
	}
	sts := r.Statuses[:0]
	if cap(sts) < n {
		sts = slices.Grow(sts, n)
	}
	sts = sts[:n]
	for i := range n {
		s, v := &sts[i], w.statuses[4*i:4*i+4]
		s.Code, s.Count, s.Timed, s.Over = int(v[0]), uint64(v[1]), uint64(v[2]), uint64(v[3])
		if v[0] != int64(s.Code) || !slo.ValidStatusKey(s.Code) || s.Timed > s.Count || s.Over > s.Timed || (i > 0 && s.Code <= sts[i-1].Code) {
			return fmt.Errorf("%w: status %d of %d", errStatuses, i, n)
		}
		var b []byte
		if w.hists != nil {
			b = w.hists[i]
		}
		if err := decodeHist(&s.Latency, b); err != nil {
			return fmt.Errorf("%w: histogram of status %s: %w", errStatuses, slo.StatusName(s.Code), err)
		}
	}
	if w.derived > 0 {
		d := &sts[w.derived-1]
		r.Latency.CopyTo(&d.Latency)
		for i := range sts {
			if i != int(w.derived)-1 {
				if err := d.Latency.Sub(&sts[i].Latency); err != nil {
					return fmt.Errorf("%w: histogram of status %s: %w", errStatuses, slo.StatusName(d.Code), err)
				}
			}
		}
	}
	for i := range sts {
		if s := &sts[i]; s.Latency.Count() > s.Timed {
			return fmt.Errorf("%w: status %s: %d latencies of %d timed events", errStatuses, slo.StatusName(s.Code), s.Latency.Count(), s.Timed)
		}
	}
	r.Statuses = sts
	return nil
}

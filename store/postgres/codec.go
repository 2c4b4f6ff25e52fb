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
const rollupCols = `attempted, good, errors, slow, over_threshold, measured, hist, status_codes, status_counts, status_timed, status_over, status_hists`

// rollupRow is a rollup as its columns hold it. Scanning into it reuses
// its slices.
type rollupRow struct {
	c        [5]int64
	measured bool
	hist     []byte
	codes    []int32
	counts   []int64
	timed    []int64
	over     []int64
	hists    [][]byte
}

// dest returns the scan destinations of rollupCols.
func (w *rollupRow) dest() []any {
	return []any{&w.c[0], &w.c[1], &w.c[2], &w.c[3], &w.c[4], &w.measured, &w.hist, &w.codes, &w.counts, &w.timed, &w.over, &w.hists}
}

// values returns the values of rollupCols.
func (w *rollupRow) values() []any {
	// A nil slice is SQL NULL; a typed nil keeps pgx from guessing.
	return []any{w.c[0], w.c[1], w.c[2], w.c[3], w.c[4], w.measured, w.hist, w.codes, w.counts, w.timed, w.over, w.hists}
}

// set fills w from r. Histograms are encoded into fresh slices: w is
// handed to the driver.
func (w *rollupRow) set(r *slo.Rollup) {
	w.c = [5]int64{int64(r.Attempted), int64(r.Good), int64(r.Errors), int64(r.Slow), int64(r.OverThreshold)}
	w.measured = r.Measured
	w.hist = encodeHist(&r.Latency)
	w.codes, w.counts, w.timed, w.over, w.hists = nil, nil, nil, nil, nil
	if len(r.Statuses) == 0 {
		return
	}
	n := len(r.Statuses)
	w.codes, w.counts, w.timed, w.over = make([]int32, n), make([]int64, n), make([]int64, n), make([]int64, n)
	anyHist := false
	hists := make([][]byte, n)
	for i := range r.Statuses {
		s := &r.Statuses[i]
		w.codes[i], w.counts[i], w.timed[i], w.over[i] = int32(s.Code), int64(s.Count), int64(s.Timed), int64(s.Over)
		if hists[i] = encodeHist(&s.Latency); hists[i] != nil {
			anyHist = true
		}
	}
	if anyHist {
		// NULL when every status's histogram is empty, as after Compact.
		w.hists = hists
	}
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
	if w.codes == nil {
		r.Statuses = nil
		return nil
	}
	n := len(w.codes)
	if len(w.counts) != n || len(w.timed) != n || len(w.over) != n || (w.hists != nil && len(w.hists) != n) {
		return fmt.Errorf("%w: arrays of unequal length", errStatuses)
	}
	sts := r.Statuses[:0]
	if cap(sts) < n {
		sts = slices.Grow(sts, n)
	}
	sts = sts[:n]
	for i := range n {
		s := &sts[i]
		s.Code, s.Count, s.Timed, s.Over = int(w.codes[i]), uint64(w.counts[i]), uint64(w.timed[i]), uint64(w.over[i])
		if !slo.ValidStatusKey(s.Code) || s.Timed > s.Count || s.Over > s.Timed || (i > 0 && s.Code <= sts[i-1].Code) {
			return fmt.Errorf("%w: status %d of %d", errStatuses, i, n)
		}
		var b []byte
		if w.hists != nil {
			b = w.hists[i]
		}
		if err := decodeHist(&s.Latency, b); err != nil {
			return fmt.Errorf("%w: histogram of status %s: %w", errStatuses, slo.StatusName(s.Code), err)
		}
		if s.Latency.Count() > s.Timed {
			return fmt.Errorf("%w: status %s: %d latencies of %d timed events", errStatuses, slo.StatusName(s.Code), s.Latency.Count(), s.Timed)
		}
	}
	r.Statuses = sts
	return nil
}

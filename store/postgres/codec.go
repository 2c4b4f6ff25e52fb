package postgres

import (
	"encoding/binary"
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
	packed   []byte   // the statuses column (packStatuses)
	statuses []int64  // code, count, timed, over of each status
	hists    [][]byte // each status's histogram; nil when all are empty
	derived  int16    // i+1: status i's histogram is hist minus the others'
	scratch  hist.Histogram
}

// dest returns the scan destinations of rollupCols.
func (w *rollupRow) dest() []any {
	return []any{&w.c[0], &w.c[1], &w.c[2], &w.c[3], &w.c[4], &w.measured, &w.hist, &w.packed, &w.hists, &w.derived}
}

// values returns the values of rollupCols. A nil slice is SQL NULL.
func (w *rollupRow) values() []any {
	return []any{w.c[0], w.c[1], w.c[2], w.c[3], w.c[4], w.measured, w.hist, packStatuses(w.statuses), w.hists, w.derived}
}

// statusesVersion is the first byte of the statuses column.
const statusesVersion = 1

// packStatuses encodes the statuses (four numbers each: code, count,
// timed, over) for the statuses column: a version byte, then for each
// status its code (signed varint), count, count − timed and over
// (unsigned varints), a few bytes a status where an array of bigint
// would take 32 and a header. nil stays nil (SQL NULL).
func packStatuses(sts []int64) []byte {
	if sts == nil {
		return nil
	}
	b := make([]byte, 0, 1+4*len(sts))
	b = append(b, statusesVersion)
	for i := 0; i+3 < len(sts); i += 4 {
		b = binary.AppendVarint(b, sts[i])
		b = binary.AppendUvarint(b, uint64(sts[i+1]))
		b = binary.AppendUvarint(b, uint64(sts[i+1])-uint64(sts[i+2]))
		b = binary.AppendUvarint(b, uint64(sts[i+3]))
	}
	return b
}

// unpackStatuses decodes packStatuses' form into dst[:0]; nil stays nil.
func unpackStatuses(dst []int64, b []byte) ([]int64, error) {
	if b == nil {
		return nil, nil
	}
	if len(b) == 0 || b[0] != statusesVersion {
		return nil, fmt.Errorf("%w: unknown format", errStatuses)
	}
	dst, b = dst[:0], b[1:]
	for len(b) > 0 {
		code, n := binary.Varint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: truncated", errStatuses)
		}
		b = b[n:]
		var v [3]uint64
		for i := range v {
			if v[i], n = binary.Uvarint(b); n <= 0 {
				return nil, fmt.Errorf("%w: truncated", errStatuses)
			}
			b = b[n:]
		}
		count, untimed, over := v[0], v[1], v[2]
		if untimed > count {
			return nil, fmt.Errorf("%w: %d events without a latency of %d", errStatuses, untimed, count)
		}
		dst = append(dst, code, int64(count), int64(count-untimed), int64(over))
	}
	return dst, nil
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
	var err error
	if w.statuses, err = unpackStatuses(w.statuses, w.packed); err != nil {
		return err
	}
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
	case n == 0:
		return fmt.Errorf("%w: none in the column", errStatuses)
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

package sqlite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// Compacted quanta (those starting before their series' hist_before_ns)
// keep their counts in blocks, one row per series and hour, and their
// histograms in hourly, one row per series and hour. Both tables are
// rowid tables keyed by hourKey: the series id in the high bits and the
// hour since 1970 in the low hourBits, so a row carries no key besides
// its rowid, and the rows of one series are one range of it.
//
// A row of its own per quantum cost about 35 bytes a minute of key and
// record overhead (the SLI's name and the quantum repeated in each), and
// rewriting each smaller in place left the pages it shrank half empty; a
// block of an hour of minutes is about 10 bytes a minute and is written
// once, in key order, when its hour is compacted.
//
// A block is the quanta of the hour in start order, each as
//
//	uvarint  gap<<2 | statuses<<1 | measured
//	uvarint  attempted, good, errors, slow, over_threshold
//	[uvarint len, statuses]  if statuses: their counts, as statuses.go
//	                         stores them without histograms
//
// where gap is the number of quanta skipped since the previous one (for
// the first, since the first quantum starting in the hour).

// hourBits is how many low bits of a key count hours: 2^21 hours reach
// past store.MaxTimeNs (2200).
const hourBits = 21

const hourNs = int64(store.Hour)

// maxSeriesID keeps hourKey from overflowing.
const maxSeriesID = math.MaxInt64 >> hourBits

// hourIndex returns the hours from 1970 to t, clamped to [0, 2^hourBits]:
// the bound of a key range.
func hourIndex(t int64) int64 {
	switch {
	case t <= 0:
		return 0
	case t/hourNs >= 1<<hourBits:
		return 1 << hourBits
	}
	return t / hourNs
}

// hourKey is the key of series id's row of the hour starting at hour.
func hourKey(id, hour int64) int64 { return id<<hourBits + hourIndex(hour) }

// keyHour is the start of the hour of key.
func keyHour(key int64) int64 { return (key & (1<<hourBits - 1)) * hourNs }

// hourRange returns the hour indexes [lo, hi) of the hours that quanta
// starting in [from, to) fall in: the keys of a series' rows for them
// are hourKey(id, 0) plus those.
func hourRange(from, to int64) (lo, hi int64) {
	if to <= from || to <= 0 {
		return 0, 0
	}
	return hourIndex(from), min(hourIndex(to-1)+1, 1<<hourBits)
}

// blockEntry is a compacted quantum.
type blockEntry struct {
	start    int64
	c        [5]uint64 // attempted, good, errors, slow, over_threshold
	measured bool
	statuses []byte // statuses.go's form without histograms; nil for none
}

var errBlock = errors.New("corrupt block of compacted counts")

// firstQuantum is the start of the first quantum starting in the hour.
func firstQuantum(hour, quantum int64) int64 {
	f := slo.QuantumStart(hour, time.Duration(quantum))
	if f < hour {
		f += quantum
	}
	return f
}

// encodeBlock appends the block of es (sorted by start, all in the hour
// starting at hour, on quantum boundaries) to dst.
func encodeBlock(dst []byte, hour, quantum int64, es []blockEntry) []byte {
	next := firstQuantum(hour, quantum)
	for i := range es {
		e := &es[i]
		head := uint64((e.start-next)/quantum) << 2
		if e.measured {
			head |= 1
		}
		if e.statuses != nil {
			head |= 2
		}
		dst = binary.AppendUvarint(dst, head)
		for _, c := range e.c {
			dst = binary.AppendUvarint(dst, c)
		}
		if e.statuses != nil {
			dst = binary.AppendUvarint(dst, uint64(len(e.statuses)))
			dst = append(dst, e.statuses...)
		}
		next = e.start + quantum
	}
	return dst
}

// decodeBlock appends the quanta of blob, the block of the hour starting
// at hour, to dst. The entries' statuses alias blob.
func decodeBlock(dst []blockEntry, blob []byte, hour, quantum int64) ([]blockEntry, error) {
	next := firstQuantum(hour, quantum)
	uv := func() (uint64, bool) {
		v, n := binary.Uvarint(blob)
		if n <= 0 {
			return 0, false
		}
		blob = blob[n:]
		return v, true
	}
	for len(blob) > 0 {
		head, ok := uv()
		if !ok {
			return dst, fmt.Errorf("%w: truncated quantum after %d", errBlock, len(dst))
		}
		gap := head >> 2
		if gap > uint64(hourNs/quantum) || next+int64(gap)*quantum >= hour+hourNs {
			return dst, fmt.Errorf("%w: quantum %d starts past its hour", errBlock, len(dst))
		}
		e := blockEntry{start: next + int64(gap)*quantum, measured: head&1 != 0}
		for i := range e.c {
			if e.c[i], ok = uv(); !ok {
				return dst, fmt.Errorf("%w: truncated counts of quantum %d", errBlock, e.start)
			}
		}
		if head&2 != 0 {
			n, ok := uv()
			if !ok || n > uint64(len(blob)) {
				return dst, fmt.Errorf("%w: truncated statuses of quantum %d", errBlock, e.start)
			}
			e.statuses, blob = blob[:n:n], blob[n:]
		}
		dst = append(dst, e)
		next = e.start + quantum
	}
	return dst, nil
}

// find returns the index of the entry of es starting at start, or where
// it would go, and whether it is there.
func findEntry(es []blockEntry, start int64) (int, bool) {
	return slices.BinarySearchFunc(es, start, func(e blockEntry, s int64) int {
		switch {
		case e.start < s:
			return -1
		case e.start > s:
			return 1
		}
		return 0
	})
}

// toRollup sets r to e's counts and statuses; r's histogram is left
// empty, as a compacted quantum has none.
func (e *blockEntry) toRollup(r *slo.Rollup, sc *statusCodec) error {
	*r = slo.Rollup{Start: e.start, Attempted: e.c[0], Good: e.c[1], Errors: e.c[2], Slow: e.c[3], OverThreshold: e.c[4],
		Measured: e.measured, Latency: r.Latency, Statuses: r.Statuses}
	r.Latency.Reset()
	if err := sc.decode(r, e.statuses); err != nil {
		return fmt.Errorf("statuses of quantum %d: %w", e.start, err)
	}
	return nil
}

// fromRollup sets e to r's counts and statuses, without their histograms.
func (e *blockEntry) fromRollup(r *slo.Rollup, sc *statusCodec) error {
	e.start, e.measured = r.Start, r.Measured
	e.c = [5]uint64{r.Attempted, r.Good, r.Errors, r.Slow, r.OverThreshold}
	st, err := sc.strip(nil, sc.encode(nil, r))
	if err != nil {
		return fmt.Errorf("statuses of quantum %d: %w", r.Start, err)
	}
	e.statuses = st
	return nil
}

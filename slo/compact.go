package slo

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/nines-sre/nines/hist"
)

// Compact keeps the rollups of one SLI over any span of time in a few
// dozen bytes a quantum, where a Rollup with its histogram takes about
// 2 KiB: a year of one-minute quanta is 525,600 of them. Aggregators
// spill their rollups into it (SpillTo) every few dozen quanta, each as a
// record of varint counts and the histogram's compact form; Seal then
// merges the records of each quantum into one, and the Series it returns
// reads them back one quantum at a time, so that evaluation holds only
// the histogram it is summing. It is safe for concurrent use by the
// aggregators spilling into it.
//
// It keeps no per-status counts (Rollup.Statuses): it is for evaluating
// a file (nines eval), not for storing rollups to judge again.
type Compact struct {
	quantum int64

	mu sync.Mutex
	// segs are the segments of every page (quantum number >> pageBits):
	// each a run of records of one page in ascending slot order, one per
	// aggregator's spill and page, in the order they were spilled. After
	// Seal they are sorted by page, and a page's segments read in slot
	// order one after the other with each slot once; keys are the pages,
	// sorted, and the segments of keys[k] are segs[starts[k]:starts[k+1]].
	// One flat list rather than a map of lists: a sparse log over decades
	// has a page for every few records. A record is
	//
	//	uvarint  slot: the quantum number mod pageLen
	//	byte     flags: which counts follow, and Measured (see appendRecord)
	//	uvarint  Attempted, then Good, Errors, Slow and OverThreshold
	//	         unless the flags say they are Attempted, 0, 0 and 0
	//	uvarint  length of the histogram's compact form
	//	         Latency.AppendCompact
	//
	// A quantum of a few requests takes about 13 bytes. Segments are cut
	// from slabs (store) rather than appended to a growing page: copying a
	// page each time it grew cost more than encoding the records.
	segs   []segment
	keys   []int64
	starts []int
	sealed bool
	// slabs hold the segments: in memory, or past the budget in file
	// (pagefile.go); inMemory is the bytes of those in memory, written
	// the number of slabs before the first still in memory.
	slabs    []slab
	file     PageFile
	budget   int
	inMemory int
	written  int
	fileEnd  int64
	// err is the first failure to write the file, readErr to read it.
	err, readErr error
	// scratch holds a merged histogram's compact form in Seal.
	scratch []byte
	// first and last are the first and last quantum with a rollup (once
	// seen), firstMeasured the first measured one (or NotStarted), kept
	// as rollups are added.
	seen          bool
	first, last   int64
	firstMeasured int64
}

const (
	pageBits = 10
	pageLen  = 1 << pageBits
	// spillAfter is how many quanta an Aggregator holds before it spills
	// them: about 600 KiB of histograms for a busy service, and over four
	// hours of one-minute quanta, so that a file's quanta are rarely
	// spilled before their last event. Spilling a quarter as often as at
	// 64 took 6 % off reading a sparse year-long log: the aggregators
	// meet at the Compact's lock less often.
	spillAfter = 256
	// slabSize is the size of the slabs segments are cut from: large
	// enough that allocating them costs nothing next to filling them,
	// small enough that the last one's unused tail does not matter.
	slabSize = 64 << 10
)

// NewCompact returns an empty store for rollups of the given quantum.
func NewCompact(quantum time.Duration) *Compact {
	return &Compact{quantum: int64(quantum), firstMeasured: NotStarted}
}

// SpillTo makes a keep at most spillAfter rollups and write the others
// into c; CompactSeries, not Series, then returns them. Aggregators that
// are merged must spill into the same Compact, and must not keep statuses
// (KeepStatuses), which c does not hold. Call it before the first Add.
//
// A quantum spilled more than once has its counts added up in Seal, so a
// count past 2^64−1 there ends the read (ErrOverflow) rather than
// refusing the one event that took it over, as Add does.
func (a *Aggregator) SpillTo(c *Compact) {
	a.spill = c
	a.sparse = &sparseLatencies{}
}

// newRollup adds an empty rollup for the quantum at start, spilling the
// ones a holds first if there are enough of them. It reuses the rollups
// (and their histograms' storage) of the last spill.
func (a *Aggregator) newRollup(start int64) *Rollup {
	if a.spill != nil && len(a.rollups) >= spillAfter {
		a.flush()
	}
	var r *Rollup
	if n := len(a.free); n > 0 {
		r, a.free = a.free[n-1], a.free[:n-1]
		lat := r.Latency
		lat.Reset()
		*r = Rollup{Start: start, Latency: lat}
	} else {
		r = &Rollup{Start: start}
	}
	a.rollups[start] = r
	if a.spill != nil {
		a.order = append(a.order, r)
	}
	return r
}

// flush writes every rollup a holds into its Compact and empties a.
func (a *Aggregator) flush() {
	spilled := a.order
	if len(spilled) != len(a.rollups) {
		// AddRollup brought in rollups newRollup did not make.
		spilled = spilled[:0]
		for _, r := range a.rollups {
			spilled = append(spilled, r)
		}
	}
	// In time order, so that a page written by one aggregator needs no
	// sorting in Seal. Made in order of their events, they mostly are.
	byStart := func(x, y *Rollup) int { return cmpInt64(x.Start, y.Start) }
	if !slices.IsSortedFunc(spilled, byStart) {
		slices.SortFunc(spilled, byStart)
	}
	sp := a.sparse
	if !slices.IsSortedFunc(sp.samples, bySampleStart) {
		slices.SortStableFunc(sp.samples, bySampleStart)
	}
	a.spillBuf = a.spill.add(spilled, sp, a.spillBuf)
	sp.samples = sp.samples[:0]
	a.free = append(a.free, spilled...)
	clear(a.rollups)
	a.order = spilled[:0]
	a.last = nil
}

// sparseLatencies keeps the latencies of a spilling aggregator's quanta
// while they have had few events, as the codes of their histogram bins,
// and writes those quanta's compact histograms from the codes. A
// histogram costs a block of counters cleared, and all of them scanned to
// write its compact form, for each quantum: for a year of quanta of a
// request or two that was the larger part of reading the file.
type sparseLatencies struct {
	// samples are the latencies in order of Add, until the next spill.
	samples []sample
	// codes caches the bin code of recent latency values: logs write
	// latencies to the millisecond or microsecond, so few values recur.
	codes [1 << codeCacheBits]codeEntry
	// one finds a value's code: a histogram of that value alone.
	one      hist.Histogram
	enc, rec []byte
	run      []sample
}

// sparseEvents is the most events a quantum may have had for its
// latencies to be kept as codes; past it they go into its histogram.
const (
	sparseEvents  = 8
	codeCacheBits = 10
)

// sample is a latency v of the quantum at start, counted n times, and
// the code of its bin.
type sample struct {
	start int64
	code  uint64
	n     uint64
	v     float64
}

type codeEntry struct {
	bits uint64
	code uint64 // 0: the histogram does not hold the value
	set  bool
}

func bySampleStart(x, y sample) int { return cmpInt64(x.start, y.start) }

// spillLatency records n latencies of v in r, the rollup Add is filling,
// and reports whether the histogram holds v, as Histogram.InsertN does.
func (a *Aggregator) spillLatency(r *Rollup, v float64, n uint64) bool {
	sp := a.sparse
	if r.Attempted > sparseEvents {
		if r.Attempted-n <= sparseEvents {
			// The quantum is busy after all: its latencies so far go into
			// its histogram, so that a busy quantum costs what it did
			// before sparse ones were kept apart. Those of its samples that
			// are not the last ones (events out of order) are merged in
			// when it is spilled.
			k := len(sp.samples)
			for ; k > 0 && sp.samples[k-1].start == r.Start; k-- {
				_ = r.Latency.InsertN(sp.samples[k-1].v, sp.samples[k-1].n) // held: it has a code
			}
			sp.samples = sp.samples[:k]
		}
		return r.Latency.InsertN(v, n) == nil
	}
	code := sp.code(v)
	if code == 0 {
		return false
	}
	sp.samples = append(sp.samples, sample{start: r.Start, code: code, n: n, v: v})
	return true
}

// code is the code of v's bin in the compact form (AppendCompact), or 0
// if a histogram does not hold v.
func (sp *sparseLatencies) code(v float64) uint64 {
	bits := math.Float64bits(v)
	e := &sp.codes[(bits*0x9E3779B97F4A7C15)>>(64-codeCacheBits)]
	if e.set && e.bits == bits {
		return e.code
	}
	code := uint64(0)
	sp.one.Reset()
	if sp.one.InsertN(v, 1) == nil {
		// The form of one sample: its code (the difference from 0), then
		// its count.
		sp.enc = sp.one.AppendCompact(sp.enc[:0])
		code, _ = binary.Uvarint(sp.enc)
	}
	*e = codeEntry{bits: bits, code: code, set: true}
	return code
}

// appendCompact appends the compact form of the histogram of r with the
// samples of its quantum, which it takes from the front of sp.samples
// (sorted by start; r's come before any of a later quantum).
func (sp *sparseLatencies) appendCompact(dst []byte, r *Rollup, samples []sample) ([]byte, []sample) {
	for len(samples) > 0 && samples[0].start < r.Start {
		samples = samples[1:] // cannot happen: every sample has its rollup
	}
	j := 0
	for j < len(samples) && samples[j].start == r.Start {
		j++
	}
	run := samples[:j]
	if len(run) == 0 {
		return r.Latency.AppendCompact(dst), samples
	}
	// Codes ascending, each once with its counts summed, as the compact
	// form writes the bins; at most sparseEvents of them.
	sp.run = append(sp.run[:0], run...)
	for i := 1; i < len(sp.run); i++ {
		for k := i; k > 0 && sp.run[k].code < sp.run[k-1].code; k-- {
			sp.run[k], sp.run[k-1] = sp.run[k-1], sp.run[k]
		}
	}
	if r.Latency.Count() == 0 {
		dst = appendCodes(dst, sp.run)
	} else {
		// Events past sparseEvents went into the histogram.
		sp.enc = appendCodes(sp.enc[:0], sp.run)
		_ = r.Latency.MergeCompact(sp.enc) // codes from AppendCompact, counts under Attempted
		dst = r.Latency.AppendCompact(dst)
	}
	return dst, samples[j:]
}

// appendCodes appends the compact form of the bins of run, sorted by
// code: each code's difference from the one before, then its count.
func appendCodes(dst []byte, run []sample) []byte {
	prev := uint64(0)
	for i := 0; i < len(run); {
		code, n := run[i].code, run[i].n
		for i++; i < len(run) && run[i].code == code; i++ {
			n += run[i].n // under the quantum's Attempted: no overflow
		}
		dst = binary.AppendUvarint(dst, code-prev)
		dst = binary.AppendUvarint(dst, n)
		prev = code
	}
	return dst
}

// CompactSeries spills what a still holds and returns its Compact's
// rollups as a Series (Compact.Seal). Every aggregator spilling into the
// same Compact must have been merged into a first; none may be used
// afterwards.
func (a *Aggregator) CompactSeries() (*Series, error) {
	if a.spill == nil {
		return nil, fmt.Errorf("slo: CompactSeries of an aggregator that does not spill (SpillTo)")
	}
	a.flush()
	a.rollups, a.free, a.order = nil, nil, nil
	return a.spill.Seal()
}

// add appends a record for each rollup, in order of Start. The records
// are encoded into buf, which it returns for reuse, and only copied into
// their pages under the lock, so that aggregators spill side by side.
func (c *Compact) add(rollups []*Rollup, sp *sparseLatencies, buf []byte) []byte {
	samples, enc := sp.samples, sp.rec
	defer func() { sp.rec = enc }()
	firstMeasured := int64(NotStarted)
	for i := 0; i < len(rollups); {
		page := quantumNumber(rollups[i].Start, c.quantum) >> pageBits
		buf = buf[:0]
		from := i
		for ; i < len(rollups); i++ {
			r := rollups[i]
			n := quantumNumber(r.Start, c.quantum)
			if n>>pageBits != page {
				break
			}
			if r.Measured {
				firstMeasured = min(firstMeasured, r.Start)
			}
			enc, samples = sp.appendCompact(enc[:0], r, samples)
			buf = appendRecord(buf, int(n&(pageLen-1)), r.Measured,
				[...]uint64{r.Attempted, r.Good, r.Errors, r.Slow, r.OverThreshold}, enc)
		}
		slot := func(r *Rollup) uint16 { return uint16(quantumNumber(r.Start, c.quantum) & (pageLen - 1)) }
		c.mu.Lock()
		seg := c.store(buf)
		seg.page, seg.first, seg.last = page, slot(rollups[from]), slot(rollups[i-1])
		c.segs = append(c.segs, seg)
		c.mu.Unlock()
	}
	if len(rollups) > 0 {
		c.mu.Lock()
		if !c.seen {
			c.first, c.last, c.seen = rollups[0].Start, rollups[len(rollups)-1].Start, true
		}
		c.first = min(c.first, rollups[0].Start)
		c.last = max(c.last, rollups[len(rollups)-1].Start)
		c.firstMeasured = min(c.firstMeasured, firstMeasured)
		c.mu.Unlock()
	}
	return buf
}

// Flags of a record: Measured, Good short of Attempted, and which of
// the failure counts are not zero. Most quanta of a healthy service need
// only Attempted.
const (
	recMeasured = 1 << iota
	recFailed
	recErrors
	recSlow
	recOver
)

// appendRecord appends one record (see Compact.pages).
func appendRecord(b []byte, slot int, measured bool, counts [5]uint64, enc []byte) []byte {
	var flags byte
	if measured {
		flags |= recMeasured
	}
	for k, bit := range [...]byte{recFailed, recErrors, recSlow, recOver} {
		if k == 0 && counts[1] != counts[0] || k > 0 && counts[k+1] != 0 {
			flags |= bit
		}
	}
	b = binary.AppendUvarint(b, uint64(slot))
	b = append(b, flags)
	b = binary.AppendUvarint(b, counts[0])
	for k, bit := range [...]byte{recFailed, recErrors, recSlow, recOver} {
		if flags&bit != 0 {
			b = binary.AppendUvarint(b, counts[k+1])
		}
	}
	b = binary.AppendUvarint(b, uint64(len(enc)))
	return append(b, enc...)
}

// quantumNumber is the number of the quantum starting at start, counted
// from the epoch (negative before it).
func quantumNumber(start, quantum int64) int64 {
	n := start / quantum
	if start < 0 && n*quantum != start {
		n--
	}
	return n
}

// record is one decoded record of a page.
type record struct {
	slot     int
	measured bool
	counts   [5]uint64 // Attempted, Good, Errors, Slow, OverThreshold
	hist     []byte    // the histogram's compact form, in the page
}

// errRecordShort is a record that ends early: a bug, since only add and
// Seal write pages.
var errRecordShort = errors.New("slo: compact rollup record cut short")

// next decodes the record at the start of b and returns the bytes after
// it. Pages are only written by add and Seal, so a short or broken record
// is a bug, reported as an error rather than a panic.
func (rec *record) next(b []byte) ([]byte, error) {
	uvarint := func() uint64 {
		x, n := binary.Uvarint(b)
		if n <= 0 {
			b = nil
			return 0
		}
		b = b[n:]
		return x
	}
	slot := uvarint()
	if len(b) == 0 || slot >= pageLen {
		return nil, errRecordShort
	}
	flags := b[0]
	b = b[1:]
	rec.slot, rec.measured = int(slot), flags&recMeasured != 0
	rec.counts = [5]uint64{uvarint()}
	rec.counts[1] = rec.counts[0]
	for k, bit := range [...]byte{recFailed, recErrors, recSlow, recOver} {
		if flags&bit != 0 {
			rec.counts[k+1] = uvarint()
		}
	}
	n := uvarint()
	if b == nil || n > uint64(len(b)) {
		return nil, errRecordShort
	}
	rec.hist = b[:n]
	return b[n:], nil
}

// Seal merges the records of each quantum into one and returns the
// rollups as a Series that reads them from c (Evaluate, BurnRate,
// LifeStart and Span know it; Range and Rollups see nothing). Nothing
// may be added afterwards. It returns an error wrapping ErrOverflow if a
// quantum's records together count more than a Rollup holds, as
// Aggregator.Merge would.
func (c *Compact) Seal() (*Series, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.sealed {
		if c.err != nil {
			return nil, c.err
		}
		if err := c.seal(); err != nil {
			return nil, err
		}
		c.sealed = true
	}
	return &Series{Quantum: time.Duration(c.quantum), compact: c}, nil
}

func (c *Compact) seal() error {
	slices.SortFunc(c.segs, func(x, y segment) int {
		if x.page != y.page {
			return cmpInt64(x.page, y.page)
		}
		return int(x.first) - int(y.first)
	})
	m := merger{c: c}
	out := make([]segment, 0, len(c.segs))
	for i := 0; i < len(c.segs); {
		page := c.segs[i].page
		j := i + 1
		for j < len(c.segs) && c.segs[j].page == page {
			j++
		}
		segs := c.segs[i:j]
		i = j
		c.keys = append(c.keys, page)
		c.starts = append(c.starts, len(out))
		// Each segment names its slots once, ascending (an aggregator's
		// spill): if the segments follow one another, the page is read
		// as they are, in order of their first slots.
		if ordered(segs) {
			out = append(out, segs...)
			continue
		}
		var err error
		if out, err = m.page(page, segs, out); err != nil {
			return err
		}
	}
	c.starts = append(c.starts, len(out))
	c.segs = out
	return c.err
}

// merger merges the records of the pages whose segments overlap, in
// Seal, reusing its buffers from page to page.
type merger struct {
	c     *Compact
	recs  []located
	parts [][]byte
	buf   []byte
	sum   hist.Histogram
	rec   []byte
}

// located is a record with where it is: its segment (an index into the
// page's) and its bytes there.
type located struct {
	record
	seg       int
	from, end int32
}

// page appends to out the segments of a page whose segments overlap,
// sorted by first slot.
func (m *merger) page(page int64, segs []segment, out []segment) ([]segment, error) {
	c := m.c
	var err error
	if m.parts, m.buf, err = c.load(segs, m.parts, m.buf); err != nil {
		return out, err
	}
	m.recs = m.recs[:0]
	for k, part := range m.parts {
		for b := part; len(b) > 0; {
			at := int32(len(part) - len(b))
			var rec record
			if b, err = rec.next(b); err != nil {
				return out, err
			}
			m.recs = append(m.recs, located{record: rec, seg: k, from: at, end: int32(len(part) - len(b))})
		}
	}
	if spliced, ok, err := m.splice(page, segs, out); ok || err != nil {
		return spliced, err
	}
	// Any other overlap (events out of order): the page is written again,
	// each slot once.
	recs := m.recs
	slices.SortStableFunc(recs, func(x, y located) int { return x.slot - y.slot })
	merged := m.rec[:0]
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].slot == recs[i].slot {
			j++
		}
		if merged, err = m.appendMerged(merged, page, recs[i:j]); err != nil {
			return out, err
		}
		i = j
	}
	m.rec = merged
	seg := c.store(merged)
	seg.page = page
	return append(out, seg), nil
}

// splice handles the common overlap: segments that follow one another
// but for one slot, where one ends and the next begins (a minute cut in
// two between the blocks two workers read). The slot's two records are
// merged into a segment of their own between the two, each cut short by
// that record, so the page is not written again. It reports false, and
// appends nothing, for any other overlap.
func (m *merger) splice(page int64, segs []segment, out []segment) ([]segment, bool, error) {
	recs := m.recs
	// bounds[k] is where segment k's records start in recs.
	bounds := make([]int, 0, len(segs)+1)
	for k := range recs {
		if k == 0 || recs[k].seg != recs[k-1].seg {
			bounds = append(bounds, k)
		}
	}
	bounds = append(bounds, len(recs))
	if len(bounds)-1 != len(segs) {
		return out, false, nil // an empty segment: not written by add
	}
	// cut[k] is how many records segment k gives up at its front: one
	// when its first slot is the previous segment's last.
	cut := make([]int, len(segs))
	for k := 1; k < len(segs); k++ {
		prevLast := recs[bounds[k]-1].slot
		first := recs[bounds[k]].slot
		switch {
		case first > prevLast:
		case first == prevLast && bounds[k]-1-(bounds[k-1]+cut[k-1]) >= 1 && bounds[k+1]-bounds[k] >= 2:
			// The previous segment keeps a record before the shared one,
			// this one a record after it.
			cut[k] = 1
		default:
			return out, false, nil
		}
	}
	start := len(out)
	for k, seg := range segs {
		from, to := bounds[k]+cut[k], bounds[k+1]
		if k+1 < len(segs) && cut[k+1] == 1 {
			to-- // its last record is merged with the next one's first
		}
		piece := seg
		piece.at += recs[from].from
		piece.n = recs[to-1].end - recs[from].from
		piece.first, piece.last = uint16(recs[from].slot), uint16(recs[to-1].slot)
		out = append(out, piece)
		if k+1 < len(segs) && cut[k+1] == 1 {
			merged, err := m.appendMerged(m.rec[:0], page, []located{recs[bounds[k+1]-1], recs[bounds[k+1]]})
			m.rec = merged
			if err != nil {
				return out[:start], false, err
			}
			one := m.c.store(merged)
			one.page, one.first, one.last = page, uint16(recs[bounds[k+1]].slot), uint16(recs[bounds[k+1]].slot)
			out = append(out, one)
		}
	}
	return out, true, nil
}

// appendMerged appends to dst one record of the quantum of recs, all of
// one slot: their counts added up (refusing a sum past 2^64−1) and their
// histograms merged.
func (m *merger) appendMerged(dst []byte, page int64, recs []located) ([]byte, error) {
	r := recs[0].record
	start := ((page << pageBits) + int64(r.slot)) * m.c.quantum
	for _, o := range recs[1:] {
		for k, v := range o.counts {
			if r.counts[k] > ^uint64(0)-v {
				return dst, overflow(start, [...]string{"attempted", "good", "errors", "slow", "over_threshold"}[k], r.counts[k], v)
			}
			r.counts[k] += v
		}
		r.measured = r.measured || o.measured
	}
	if len(recs) > 1 {
		m.sum.Reset()
		for _, o := range recs {
			if err := m.sum.MergeCompact(o.hist); err != nil {
				return dst, fmt.Errorf("slo: compact rollup of %s: %w", quantumTime(start), err)
			}
		}
		m.c.scratch = m.sum.AppendCompact(m.c.scratch[:0])
		r.hist = m.c.scratch
	}
	return appendRecord(dst, r.slot, r.measured, r.counts, r.hist), nil
}

// pageSegments returns the segments of page p after Seal.
func (c *Compact) pageSegments(p int64) []segment {
	k, ok := slices.BinarySearch(c.keys, p)
	if !ok {
		return nil
	}
	return c.segs[c.starts[k]:c.starts[k+1]]
}

// ordered reports whether segs, sorted by their first slots, each end
// before the next begins.
func ordered(segs []segment) bool {
	for k := 1; k < len(segs); k++ {
		if segs[k].first <= segs[k-1].last {
			return false
		}
	}
	return true
}

// A rollupCursor reads the rollups of a span one quantum at a time.
type rollupCursor interface {
	// at returns the rollup of the quantum at start, or nil, for starts
	// asked in ascending order. The rollup may be reused by the next call,
	// and its Latency may be left empty: mergeLatency reads it.
	at(start int64) *Rollup
	// mergeLatency adds the latencies of the rollup at last returned to
	// dst, or holds them back for flush.
	mergeLatency(dst *hist.Histogram)
	// flush adds to dst what mergeLatency held back; dst is complete once
	// it returns.
	flush(dst *hist.Histogram)
}

// cursor returns a cursor over the rollups of [from, to).
func (s *Series) cursor(from, to int64) rollupCursor {
	if s.compact != nil {
		return &compactCursor{c: s.compact, page: -1 << 62}
	}
	return &seriesCursor{rs: s.Range(from, to)}
}

type seriesCursor struct {
	rs   []Rollup
	i    int
	last *Rollup
}

func (sc *seriesCursor) at(start int64) *Rollup {
	for sc.i < len(sc.rs) && sc.rs[sc.i].Start < start {
		sc.i++
	}
	sc.last = nil
	if sc.i < len(sc.rs) && sc.rs[sc.i].Start == start {
		sc.last = &sc.rs[sc.i]
		sc.i++
	}
	return sc.last
}

func (sc *seriesCursor) mergeLatency(dst *hist.Histogram) { dst.Merge(&sc.last.Latency) }

func (sc *seriesCursor) flush(*hist.Histogram) {}

// compactCursor reads a sealed Compact. Its rollups carry no histogram:
// mergeLatency adds the record's compact histogram to the sum directly, with no
// histogram decoded for each quantum.
type compactCursor struct {
	c       *Compact
	r       Rollup
	rec     record
	page    int64
	segs    [][]byte // the page's segments after b
	b       []byte
	pending bool // rec is decoded and not yet returned
	parts   [][]byte
	buf     []byte
	sums    *codeSums
}

func (cc *compactCursor) at(start int64) *Rollup {
	n := quantumNumber(start, cc.c.quantum)
	if p := n >> pageBits; p != cc.page {
		var err error
		cc.parts, cc.buf, err = cc.c.load(cc.c.pageSegments(p), cc.parts, cc.buf)
		if err != nil {
			cc.c.readFailed(err)
		}
		cc.page, cc.segs, cc.b, cc.pending = p, cc.parts, nil, false
	}
	slot := int(n & (pageLen - 1))
	for {
		if !cc.pending {
			for len(cc.b) == 0 {
				if len(cc.segs) == 0 {
					return nil
				}
				cc.b, cc.segs = cc.segs[0], cc.segs[1:]
			}
			var err error
			if cc.b, err = cc.rec.next(cc.b); err != nil {
				// Seal has read every record already.
				cc.b, cc.segs = nil, nil
				return nil
			}
			cc.pending = true
		}
		if cc.rec.slot > slot {
			return nil
		}
		cc.pending = false
		if cc.rec.slot == slot {
			break
		}
	}
	r, c := &cc.r, &cc.rec.counts
	r.Start, r.Measured = start, cc.rec.measured
	r.Attempted, r.Good, r.Errors, r.Slow, r.OverThreshold = c[0], c[1], c[2], c[3], c[4]
	return r
}

func (cc *compactCursor) mergeLatency(dst *hist.Histogram) {
	if cc.sums == nil {
		cc.sums = &codeSums{}
	}
	cc.sums.add(cc.rec.hist, dst)
}

func (cc *compactCursor) flush(dst *hist.Histogram) {
	if cc.sums != nil {
		cc.sums.flush(dst)
	}
}

// codeSums adds up compact histograms bin by bin, so that a window's
// histogram is merged from them once rather than once a quantum: a
// merge checks its whole input before it adds any of it, which cost more
// than reading the quantum. The bins are kept by code in a small table;
// a bin whose place another holds is merged into the histogram at once.
type codeSums struct {
	slots [codeSlots]codeSum
	used  []int // the slots in use
	enc   []byte
	pairs []codeSum
}

// codeSum is a bin's code (0 for a free slot) and its count so far.
type codeSum struct{ code, n uint64 }

// codeSlots is the size of the table: a window's latencies rarely
// spread over more than a few decades of 90 bins.
const codeSlots = 512

// add adds the compact histogram b to the sums, merging a bin into dst
// where its slot is taken. The compact forms were written by add or
// Seal, whole: a broken one is skipped, as MergeCompact would refuse it.
func (cs *codeSums) add(b []byte, dst *hist.Histogram) {
	code := uint64(0)
	from := len(cs.pairs)
	for len(b) > 0 {
		delta, n := binary.Uvarint(b)
		if n <= 0 {
			cs.pairs = cs.pairs[:from]
			return
		}
		b = b[n:]
		c, m := binary.Uvarint(b)
		if m <= 0 || delta == 0 || c == 0 {
			cs.pairs = cs.pairs[:from]
			return
		}
		b = b[m:]
		code += delta
		cs.pairs = append(cs.pairs, codeSum{code, c})
	}
	for _, p := range cs.pairs[from:] {
		k := int(p.code & (codeSlots - 1))
		e := &cs.slots[k]
		switch e.code {
		case p.code:
			e.n = satAdd(e.n, p.n)
			continue
		case 0:
			cs.used = append(cs.used, k)
		default:
			_ = cs.mergeInto(dst, []codeSum{*e}) // one bin: refused only if its code is
		}
		*e = p
	}
	cs.pairs = cs.pairs[:from]
}

// flush merges the sums into dst and empties them.
func (cs *codeSums) flush(dst *hist.Histogram) {
	bins := cs.pairs[:0]
	for _, k := range cs.used {
		bins = append(bins, cs.slots[k])
		cs.slots[k] = codeSum{}
	}
	cs.used = cs.used[:0]
	slices.SortFunc(bins, func(x, y codeSum) int { return cmp.Compare(x.code, y.code) })
	total, over := uint64(0), false
	for _, b := range bins {
		total, over = total+b.n, over || total+b.n < total
	}
	if over || cs.mergeInto(dst, bins) != nil {
		// A count past 2^64−1, which a histogram holds at 2^64−1, or a
		// code it refuses: merged bin by bin, each saturating as merging
		// the quanta did, and a bad code costing only its own bin.
		for i := range bins {
			_ = cs.mergeInto(dst, bins[i:i+1])
		}
	}
	cs.pairs = bins[:0]
}

// mergeInto merges bins, sorted by code, into dst; on an error dst is
// unchanged (MergeCompact).
func (cs *codeSums) mergeInto(dst *hist.Histogram, bins []codeSum) error {
	cs.enc = cs.enc[:0]
	prev := uint64(0)
	for _, b := range bins {
		cs.enc = binary.AppendUvarint(cs.enc, b.code-prev)
		cs.enc = binary.AppendUvarint(cs.enc, b.n)
		prev = b.code
	}
	return dst.MergeCompact(cs.enc)
}

// satAdd is a+b, or 2^64−1 if that overflows, as histograms count.
func satAdd(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return ^uint64(0)
}

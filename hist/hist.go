// Package hist is a log-linear histogram in the circllhist model of
// OpenHistogram (libcircllhist): bins of two significant decimal digits, 90
// per decade and sign, exponents -128..127, and a zero bin.
//
//	value: … (-1.0,-0.99] … (-0.11,-0.10]   0   … [0.0010,0.0011) … [0.0099,0.010) [0.010,0.011) …
//	bin:   …   (-99,-1)   …    (-10,-1)    (0,0) …     (10,-3)     …     (99,-3)        (10,-2)    …
//
// Bin (val, exp), val in 10..99, holds [val/10·10^exp, (val+1)/10·10^exp);
// negative values go to (-val, exp), the mirror image, closed at the end
// nearer zero; the zero bin holds 0 and magnitudes below 1e-128.
//
// Counts at two-significant-digit thresholds are exact. A sample recorded as
// 0.005 (5 ms) is counted in the bin [5.0, 5.1) ms, never in [4.9, 5.0) ms by
// floating-point error, because a value is assigned by comparing it with a
// table of bin edges that are the float64 values nearest to the decimal
// edges. So CountBelow(0.005) counts exactly the samples below 5 ms, however
// many histograms were merged to produce it.
//
// Values are plain float64; nines records latencies in seconds. NaN, ±Inf
// and magnitudes of 1e128 or more are rejected by Insert. Magnitudes below
// 1e-128 (the smallest bin) are counted in the zero bin.
//
// The binary encoding (AppendBinary, UnmarshalBinary, Decode) is the
// libcircllhist serialization, byte for byte the same as circonusllhist's
// Serialize for the same non-negative samples. The compact form
// (AppendCompact, MergeCompact) is nines' own, for holding many small
// histograms in memory, and may change between versions.
//
// Typical costs on a per-minute latency rollup (5,000 samples, ~140 bins):
// Insert ~3.5 ns, Merge ~130 ns, CountBelow and FractionAtOrBelow ~40 ns,
// Quantile(0.99) ~90 ns, none of them allocating; see docs/performance.md.
//
// A Histogram is not safe for concurrent use: callers that share one between
// goroutines must lock around every method, including the read-only ones.
// Distinct histograms may be used concurrently.
package hist

import (
	"errors"
	"iter"
	"math"
	"math/bits"
	"slices"
)

// Errors returned by Insert and InsertN. The histogram is unchanged when
// they are returned.
var (
	// ErrNaN reports an attempt to insert NaN.
	ErrNaN = errors.New("hist: value is NaN")
	// ErrOutOfRange reports an attempt to insert ±Inf or a value whose
	// magnitude is 1e128 or more, beyond the largest bin.
	ErrOutOfRange = errors.New("hist: value out of range (|v| >= 1e128 or infinite)")
	// ErrCountOverflow reports that the total count would exceed 2^64-1.
	ErrCountOverflow = errors.New("hist: count overflows uint64")
)

// decades is the number of (sign, exponent) blocks: 256 negative, 256
// positive. Decade d < 256 holds the negative bins of exponent 127-d, so
// ascending d is ascending value; decade d ≥ 256 holds the positive bins of
// exponent d-384.
const decades = 2 * numDecades

// windowBase offsets the window's entries (Histogram.wsub) so that they
// are positive, and so that 0 or noEntry, for an octave the window does
// not serve, leaves an index beyond the 46,080 counters of every decade.
const windowBase = 1 << 30

// Histogram counts samples in log-linear bins.
//
// The zero value is an empty histogram ready to use. A Histogram must not be
// copied by value after first use if the copy and the original are both
// modified afterwards (they would share bin storage); use CopyTo or Clone.
//
// Representation: the bins of each occupied (sign, decade) pair form a dense
// block of 90 counters, and the blocks are kept in ascending value order in
// one slice. A 512-bit occupancy bitmap with per-word prefix counts turns a
// decade into its block's position with one popcount, and a window caches,
// for 32 binary octaves from that of the lowest occupied decade, what takes
// a bin to its counter, so that Insert finds a latency's counter with one
// load, made beside the bin's, and never searches.
// Per-minute latency rollups (values 1e-5..1e2 s) touch at most seven
// decades: under 6 KiB of counters, and merges and cumulative counts are
// tight loops over that slice.
type Histogram struct {
	occ    [decades / 64]uint64 // bit d set: decade d has a block
	rank   [decades / 64]uint16 // number of blocks in the words before this one
	counts []uint64             // binsPerDecade counters per occupied decade, ascending
	zero   uint64               // the zero bin
	total  uint64               // sum of all counters, including zero
	// The window: for the floats whose sign and exponent bits (vb>>52) are
	// wlo+k, wsub[k] is what takes a bin code (see subEntry) to its
	// counter's index, subtracted from code+windowBase; it is noEntry
	// when the octave's decades do not all have blocks (or, for negative
	// values, when it spans two), and 0 until a sample of the octave
	// needed it. setWindow empties it when blocks move; the zero value is
	// an empty window.
	wlo  uint16
	wsub [32]uint32
}

// New returns an empty histogram. It is the same as new(Histogram).
func New() *Histogram { return new(Histogram) }

// Insert counts one sample of value v.
//
// It returns ErrNaN for NaN, ErrOutOfRange for ±Inf and |v| ≥ 1e128, and
// ErrCountOverflow when the histogram already holds 2^64-1 samples; in all
// these cases the histogram is unchanged. It never panics.
func (h *Histogram) Insert(v float64) error { return h.InsertN(v, 1) }

// InsertN counts n samples of value v. Errors are as for Insert, and
// ErrCountOverflow when the total count would exceed 2^64-1. n = 0 only
// validates v.
func (h *Histogram) InsertN(v float64, n uint64) error {
	// The way every latency takes: a range check, the sub-bucket table
	// and the window, loaded side by side, then the counter. Every rare
	// case (a value outside the bins, an octave the window does not serve,
	// n = 0, an overflowing count) leaves by one tail call, so that nothing
	// is spilled around a call on this way (docs/performance.md).
	vb := math.Float64bits(v)
	// s is the float's sub-bucket, with the sign shifted out: strictly
	// between those of minValue and maxValue the float is in range, and
	// outside them (zero, tiny, NaN, infinite, too large, or one of the two
	// sub-buckets that hold minValue and maxValue, each part in range and
	// part not) it goes the slow way. Small constants, not the bit patterns
	// of minValue and maxValue, keep this short.
	s := uint(vb << 1 >> (subShift + 1))
	total := h.total + n
	if s-(subMin+1) >= subMax-subMin-1 || total <= h.total {
		// Also n = 0 or an overflowing count.
		return h.insertSlow(v, n)
	}
	c := tab.codeAt(s-subBase, vb)
	// The window is found from the float's sign and exponent, not from
	// its decade, so that its load does not wait for the table's. A key
	// below wlo wraps around to a large w: outside the window, as are
	// those 32 or more above it.
	w := uint(vb>>52) - uint(h.wlo)
	if w >= uint(len(h.wsub)) {
		return h.insertOutsideWindow(c, vb, n)
	}
	// An octave whose decades lack a block, or one not yet looked up,
	// has an entry (noEntry, 0) that puts i beyond every counter.
	i := c + windowBase - uint(h.wsub[w])
	if i >= uint(len(h.counts)) {
		return h.insertOutsideWindow(c, vb, n)
	}
	h.counts[i] += n
	h.total = total
	return nil
}

// insertOutsideWindow is InsertN's ending for a sample, of bin code c and
// bits vb, that the window does not place: one outside it, or one of a
// decade without a block yet.
func (h *Histogram) insertOutsideWindow(c uint, vb uint64, n uint64) error {
	d, j := locate(int(c)-posBase, math.Float64frombits(vb))
	r, ok := h.pos(d)
	if !ok {
		h.addBlock(d)
	}
	h.counts[r*binsPerDecade+j] += n
	h.total += n
	if w := uint(vb>>52) - uint(h.wlo); w < uint(len(h.wsub)) && h.wsub[w] == 0 {
		h.wsub[w] = h.windowEntry(int(vb >> 52))
	}
	return nil
}

// insertSlow is InsertN for everything but a valid value in a bin, with
// its tables built.
func (h *Histogram) insertSlow(v float64, n uint64) error {
	a := math.Abs(v)
	switch {
	case v != v:
		return ErrNaN
	case !(a < maxValue):
		return ErrOutOfRange
	case h.total+n < h.total:
		return ErrCountOverflow
	case n == 0:
		return nil
	case a >= minValue:
		// A value in the sub-bucket of minValue or of maxValue.
		vb := math.Float64bits(v)
		return h.insertOutsideWindow(tab.codeOf(vb), vb, n)
	}
	h.zero += n
	h.total += n
	return nil
}

// locate turns positive bin number p and the sign of v into the decade d and
// the offset j of the bin inside that decade's block. Within a block, bins are
// stored in ascending magnitude for both signs.
func locate(p int, v float64) (d, j int) {
	dn := p / binsPerDecade
	return decadeOfSign(dn, v < 0), p - dn*binsPerDecade
}

// decadeOfSign returns the decade that holds the magnitudes of positive
// decade dn (0..255, exponent dn-128), for positive or negative values.
func decadeOfSign(dn int, neg bool) int {
	if neg {
		return numDecades - 1 - dn
	}
	return numDecades + dn
}

// pos returns the position (block number) decade d has, or would have if it
// were occupied, and whether it is occupied.
func (h *Histogram) pos(d int) (r int, ok bool) {
	w, bit := d>>6, uint64(1)<<(d&63)
	return int(h.rank[w]) + bits.OnesCount64(h.occ[w]&(bit-1)), h.occ[w]&bit != 0
}

func (h *Histogram) addBlock(d int) {
	r, _ := h.pos(d)
	at, n := r*binsPerDecade, len(h.counts)
	h.counts = slices.Grow(h.counts, binsPerDecade)[:n+binsPerDecade]
	copy(h.counts[at+binsPerDecade:], h.counts[at:n])
	clear(h.counts[at : at+binsPerDecade])
	h.occ[d>>6] |= 1 << (d & 63)
	for w := d>>6 + 1; w < len(h.rank); w++ {
		h.rank[w]++
	}
	h.setWindow()
}

// setRanks recomputes rank and the window from occ.
func (h *Histogram) setRanks() {
	var n uint16
	for w, o := range h.occ {
		h.rank[w] = n
		n += uint16(bits.OnesCount64(o))
	}
	h.setWindow()
}

// setWindow places the window at the octave of the lowest occupied
// positive decade (of the smallest occupied negative one when there is no
// positive value) and empties it: insertOutsideWindow fills an entry when
// a sample of its octave first needs it, so that a histogram given a few
// samples, or decoded and never inserted into, does not pay for all 32.
func (h *Histogram) setWindow() {
	h.wlo, h.wsub = 0, [32]uint32{}
	neg := false
	lo := -1 // the lowest occupied positive decade, or the smallest negative
	for d := numDecades; d < decades && lo < 0; d += 64 {
		if o := h.occ[d>>6]; o != 0 {
			lo = d + bits.TrailingZeros64(o)
		}
	}
	for d := numDecades - 1; d >= 0 && lo < 0; d -= 64 {
		if o := h.occ[d>>6]; o != 0 {
			lo, neg = d>>6<<6+63-bits.LeadingZeros64(o), true
		}
	}
	if lo < 0 {
		return
	}
	dn := lo - numDecades // the positive decade whose magnitudes lo holds
	if neg {
		dn = numDecades - 1 - lo
	}
	key := int(math.Float64bits(tab.lower(dn*binsPerDecade)) >> 52)
	if neg {
		key |= 1 << 11
	}
	h.wlo = uint16(key)
}

// noEntry is the window entry of an octave the window cannot serve: like
// 0, it puts every index past the end of counts, but it tells
// insertOutsideWindow that the entry is known.
const noEntry = 1

// windowEntry returns the window's entry for the floats whose sign and
// exponent bits are key: windowBase minus what is added to a bin code of
// theirs to give its counter's index, or noEntry when there is none.
func (h *Histogram) windowEntry(key int) uint32 {
	span := tab.oct[key&(1<<11-1)]
	if span == 0 {
		return noEntry // an octave InsertN never looks up
	}
	dlo, dhi := int(span&0xff), int(span>>8&0xff) // positive decades, 0..255
	neg := key>>11 != 0
	rlo, okLo := h.pos(decadeOfSign(dlo, neg))
	rhi, okHi := h.pos(decadeOfSign(dhi, neg))
	// A code c of positive decade p has offset c - 90×(numDecades+p) in
	// its block, which starts at r×90.
	entry := func(p, r int) uint32 {
		return uint32(windowBase + (numDecades+p)*binsPerDecade - r*binsPerDecade)
	}
	switch {
	case dlo == dhi && okLo:
		return entry(dlo, rlo)
	case neg:
		// Negative blocks are in value order, their counters in magnitude
		// order: two decades are not one run of counters.
		return noEntry
	case okLo && okHi:
		// Positive decades with blocks are one run of counters: the block
		// of dhi = dlo+1 follows that of dlo, so one entry serves both.
		return entry(dlo, rlo)
	case okLo && (rlo+1)*binsPerDecade == len(h.counts):
		// The last block: dhi's codes land past the end of counts.
		return entry(dlo, rlo)
	case okHi && rhi == 0:
		// The first block: dlo's codes land before it, wrapping around
		// to past the end.
		return entry(dhi, rhi)
	}
	return noEntry
}

// Merge adds every bin count of o to h, so that h describes the union of both
// sample sets exactly. o is not modified; h.Merge(h) doubles h. A nil o is a
// no-op. Counts that would exceed 2^64-1 saturate there (no real workload
// gets near), after which the histogram is no longer exact.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.total == 0 {
		return
	}
	h.zero = addSat(h.zero, o.zero)
	h.total = addSat(h.total, o.total)
	if len(o.counts) == 0 {
		return
	}
	var union [decades / 64]uint64
	grow := false
	for w := range union {
		union[w] = h.occ[w] | o.occ[w]
		grow = grow || union[w] != h.occ[w]
	}
	if grow {
		h.mergeGrow(o, &union)
		return
	}
	// Every block of o has a counterpart in h: add in place.
	for dst, src := range h.pairedBlocks(o) {
		addBlock(dst[:], src[:])
	}
}

// pairedBlocks yields, for every decade o occupies, h's block and o's
// block of that decade. h must occupy every decade o does.
func (h *Histogram) pairedBlocks(o *Histogram) iter.Seq2[*[binsPerDecade]uint64, *[binsPerDecade]uint64] {
	return func(yield func(dst, src *[binsPerDecade]uint64) bool) {
		for w, ow := range o.occ {
			for ow != 0 {
				b := bits.TrailingZeros64(ow)
				ow &= ow - 1
				d := w<<6 | b
				hr, _ := h.pos(d)
				or, _ := o.pos(d)
				if !yield((*[binsPerDecade]uint64)(h.counts[hr*binsPerDecade:]), (*[binsPerDecade]uint64)(o.counts[or*binsPerDecade:])) {
					return
				}
			}
		}
	}
}

// mergeGrow merges o into h when o has decades h lacks. It lays out the union
// in h.counts from the top block down, moving each of h's blocks up to its new
// place before anything below it is written, so no scratch space is needed
// and nothing is allocated when h has spare capacity.
func (h *Histogram) mergeGrow(o *Histogram, union *[decades / 64]uint64) {
	n := 0
	for _, u := range union {
		n += bits.OnesCount64(u)
	}
	src := len(h.counts)/binsPerDecade - 1
	ob := len(o.counts)/binsPerDecade - 1
	h.counts = slices.Grow(h.counts, n*binsPerDecade-len(h.counts))[:n*binsPerDecade]
	dst := n - 1
	for w := len(union) - 1; w >= 0; w-- {
		for u := union[w]; u != 0; {
			b := 63 - bits.LeadingZeros64(u)
			bit := uint64(1) << b
			u &^= bit
			blk := h.counts[dst*binsPerDecade : (dst+1)*binsPerDecade]
			if h.occ[w]&bit != 0 {
				copy(blk, h.counts[src*binsPerDecade:(src+1)*binsPerDecade])
				src--
			} else {
				clear(blk)
			}
			if o.occ[w]&bit != 0 {
				addBlock(blk, o.counts[ob*binsPerDecade:])
				ob--
			}
			dst--
		}
	}
	h.occ = *union
	h.setRanks()
}

// addBlock adds the first 90 counters of src to those of dst, saturating.
func addBlock(dst, src []uint64) {
	d := (*[binsPerDecade]uint64)(dst[:binsPerDecade])
	s := (*[binsPerDecade]uint64)(src[:binsPerDecade])
	// Three counters a turn: a loop of one is so short that where the
	// linker happens to place it (within a 64-byte line or across two)
	// changed Merge's time by a quarter.
	for i := 0; i <= binsPerDecade-3; i += 3 {
		s0, c0 := bits.Add64(d[i], s[i], 0)
		s1, c1 := bits.Add64(d[i+1], s[i+1], 0)
		s2, c2 := bits.Add64(d[i+2], s[i+2], 0)
		d[i], d[i+1], d[i+2] = s0|-c0, s1|-c1, s2|-c2
	}
}

func addSat(a, b uint64) uint64 {
	sum, carry := bits.Add64(a, b, 0)
	return sum | -carry
}

// Count returns the number of samples.
func (h *Histogram) Count() uint64 { return h.total }

// Reset empties h, keeping its storage for reuse.
func (h *Histogram) Reset() {
	*h = Histogram{counts: h.counts[:0]}
}

// CopyTo makes dst an exact copy of h, reusing dst's storage. A nil dst is a
// no-op.
func (h *Histogram) CopyTo(dst *Histogram) {
	if dst == h || dst == nil {
		return
	}
	dst.occ, dst.rank, dst.zero, dst.total = h.occ, h.rank, h.zero, h.total
	dst.wlo, dst.wsub = h.wlo, h.wsub
	dst.counts = append(dst.counts[:0], h.counts...)
}

// Clone returns an exact copy of h.
func (h *Histogram) Clone() *Histogram {
	c := *h
	c.counts = slices.Clone(h.counts)
	return &c
}

// Equal reports whether h and o hold the same count in every bin. A nil o
// equals an empty histogram.
func (h *Histogram) Equal(o *Histogram) bool {
	if o == nil {
		return h.total == 0
	}
	// Every block holds at least one non-zero counter (blocks are only
	// created for a non-zero count), so equal bins means equal layout.
	return h.total == o.total && h.zero == o.zero && h.occ == o.occ &&
		slices.Equal(h.counts, o.counts)
}

// NumBins returns the number of bins with a non-zero count.
func (h *Histogram) NumBins() int {
	n := 0
	if h.zero != 0 {
		n++
	}
	for _, c := range h.counts {
		if c != 0 {
			n++
		}
	}
	return n
}

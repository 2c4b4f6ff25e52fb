package hist

import (
	"math"
	"math/bits"
	"strconv"
)

// Bin layout.
//
// A positive bin (val, exp), val in 10..99 and exp in -128..127, holds
//
//	[val/10 × 10^exp, (val+1)/10 × 10^exp)
//
// so every decade [10^exp, 10^(exp+1)) has 90 bins of equal width 10^(exp-1):
//
//	exp=-3: |1.0|1.1|1.2| … |9.8|9.9| ms   then exp=-2: |10|11| … |99| ms
//
// Bins are numbered in ascending value by p = (exp+128)*90 + (val-10), so p
// runs from 0 (val 10, exp -128) to numPos-1 (val 99, exp 127). A negative
// value is filed under the bin of its magnitude with val negated, which makes
// a negative bin (-val, exp) the interval (-(val+1)/10 × 10^exp, -val/10 × 10^exp]:
// the end nearer zero is the closed one. The zero bin (0, 0) holds 0 and every
// value whose magnitude is below minValue.
const (
	binsPerDecade = 90
	numDecades    = 256 // one per int8 exponent, for each sign
	numPos        = binsPerDecade * numDecades

	// minValue is the lower edge of the smallest positive bin (10, -128).
	// Go converts constants with correct rounding, so this equals the
	// table's edge for that bin.
	minValue = 1e-128
	// maxValue is the upper edge of the largest bin (99, 127). Magnitudes
	// at or above it have no bin and are rejected.
	maxValue = 1e128
	// minBits and maxBits are their bit patterns: a positive float (or NaN)
	// is in range exactly when its bits minus minBits, unsigned, are below
	// maxBits-minBits.
	minBits = 0x255bba08cf8c979d // math.Float64bits(minValue); TestRangeBits checks both
	maxBits = 0x5a827748f9301d32

	// A sub-bucket is the floats that share their exponent and top subBits
	// mantissa bits: relative width at most 2^-7, below the narrowest bin's
	// (1/99 of its upper edge, [9.9, 10) × 10^k), so no sub-bucket holds more
	// than one bin edge and the bin of a value is the sub-bucket's or the
	// next one.
	subBits  = 7
	subShift = 52 - subBits
	// subBase is the sub-bucket of minValue: 2^-426 ≤ 1e-128 < 2^-425, and
	// 597 is the biased exponent of 2^-426.
	subBase = 597 << subBits
	// subMin and subMax are the sub-buckets of minValue and maxValue.
	// InsertN takes the floats strictly between them, and leaves those
	// two, each part in range and part not, to a slower exact path.
	subMin = minBits >> subShift
	subMax = maxBits >> subShift
	// subLen is a power of two above the 852 × 128 sub-buckets from
	// minValue to maxValue (biased exponents 597..1448), so that a mask, not
	// a bounds check, keeps the index in range.
	subLen = 1 << 17
)

// tables holds the exact bin edges and the helpers of the fast bin search.
// tab is filled by init and never written afterwards, so readers need no
// synchronisation, and InsertN reads it at a fixed address with no check
// that it is built.
type tables struct {
	// edge[p+1] is the float64 nearest to the decimal lower edge of positive
	// bin p. edge[0] = 0 and edge[numPos+2] = +Inf are sentinels so that the
	// ±1 correction in index never leaves the array; edge[numPos+1] is
	// maxValue, the upper edge of the last bin.
	edge [numPos + 3]float64
	// sub[k] describes sub-bucket subBase+k (see subEntry): where its bin
	// starts and the edge, if any, inside it.
	sub [subLen]uint64
	// oct[e], for a biased exponent e of values in range, is dlo | dhi<<8
	// | 1<<16: the positive decades (0..255) of the smallest and largest
	// floats of that octave in range; 0 for the other exponents. The
	// histograms' windows are made from it.
	oct [1 << 11]uint32
}

// tab (tables_gen.go) is compiled into the binary, so it costs nothing
// at start and only the pages a process reads; it is read-only, so an
// insert need not ask whether the tables exist yet. TestTablesFile holds
// it equal to what build computes.
func init() {
	// No constant is +Inf.
	tab.edge[numPos+2] = math.Inf(1)
}

// getTables returns the shared, read-only tables.
func getTables() *tables { return &tab }

func (t *tables) build() {
	var buf [16]byte
	for p := range numPos {
		val, exp := p%binsPerDecade+10, p/binsPerDecade-128
		// val×10^(exp-1) written as a decimal and parsed: ParseFloat rounds
		// correctly, which is exactly the definition of the edge.
		s := strconv.AppendInt(buf[:0], int64(val), 10)
		s = append(s, 'e')
		s = strconv.AppendInt(s, int64(exp-1), 10)
		// ParseFloat cannot fail here: the strings are well formed and lie
		// between 1e-128 and 1e128. TestEdgeTable checks every entry.
		t.edge[p+1], _ = strconv.ParseFloat(string(s), 64)
	}
	t.edge[0] = 0
	t.edge[numPos+1] = maxValue
	t.edge[numPos+2] = math.Inf(1)
	p := 0
	for k := range t.sub {
		lo := uint64(subBase+k) << subShift
		for p+1 < numPos && t.lower(p+1) <= math.Float64frombits(lo) {
			p++
		}
		t.sub[k] = subEntry(p, math.Float64bits(t.lower(p+1)), lo)
	}
	for e := range t.oct {
		lo := max(math.Float64frombits(uint64(e)<<52), minValue)
		hi := min(math.Float64frombits(uint64(e+1)<<52-1), math.Nextafter(maxValue, 0))
		if lo <= hi {
			t.oct[e] = uint32(t.index(lo)/binsPerDecade | t.index(hi)/binsPerDecade<<8 | 1<<16)
		}
	}
}

// A sub-bucket entry packs, for the sub-bucket whose smallest float has
// bits lo, the bin p of that float and where the next bin's edge lies in
// the sub-bucket:
//
//	bits 0..15   c = posBase + p, the bin's code
//	bits 19..63  edge - lo - 1 when the edge lies inside the sub-bucket,
//	             else 2^subShift - 1, at or above every value of it
//
// The next edge is the only one a sub-bucket can hold, so one comparison
// finishes the lookup: a float's bits shifted left by 19 keep only its
// offset from lo, at bits 19..63, and exceed the entry exactly when that
// offset is at or past the edge's (equal offsets leave the entry's low
// bits above the float's zeros). Past it, the bin is c+1, whether or not
// that starts a new decade.
func subEntry(p int, next, lo uint64) uint64 {
	off := uint64(1) << subShift
	if next>>subShift == lo>>subShift {
		off = next - lo // ≥ 1: lo's own bin is p, not p+1
	}
	return (off-1)<<subTop | uint64(posBase+p)
}

const (
	// subTop is the number of bits above a float's in-sub-bucket offset:
	// the sign, the exponent and the subBits.
	subTop = 64 - subShift
	// posBase is the code of the smallest positive bin: codes run on from
	// the 256 negative decades' bins, as the decades do (Histogram).
	posBase = numDecades * binsPerDecade
)

// codeOf returns the code of the bin of a float with bits vb whose
// magnitude is in [minValue, maxValue), ignoring its sign: posBase + the
// number of the positive bin.
func (t *tables) codeOf(vb uint64) uint {
	return t.codeAt(uint(vb>>subShift-subBase), vb)
}

// codeAt is codeOf for a float whose sub-bucket is subBase+k.
func (t *tables) codeAt(k uint, vb uint64) uint {
	e := t.sub[k&(subLen-1)]
	// The borrow is 1 when vb is at or past the edge: one bin on, with no
	// branch for random latencies to mispredict.
	_, past := bits.Sub64(e, vb<<subTop, 0)
	return uint(e&(1<<16-1)) + uint(past)
}

// index returns the number p of the positive bin holding a, which must be in
// [minValue, maxValue): the float's exponent and top mantissa bits name
// its sub-bucket, and codeOf finishes with one comparison. The tests check
// every edge, its float neighbours and every sub-bucket start, which covers
// all places where the answer can change.
func (t *tables) index(a float64) int {
	return int(t.codeOf(math.Float64bits(a))) - posBase
}

// lower returns the lower edge of positive bin p (0 ≤ p ≤ numPos, where
// numPos gives maxValue, the upper edge of the last bin).
func (t *tables) lower(p int) float64 { return t.edge[p+1] }

// BinBounds returns the bin that Insert(v) would count v in: for v > 0 the
// half-open interval lower ≤ v < upper, for v < 0 the mirrored lower < v ≤ upper,
// and lower = upper = 0 for the zero bin. ok is false for NaN, ±Inf and
// magnitudes of 1e128 or more.
//
// A threshold x is a bin edge (so that CountBelow(x) is exact) exactly when
// BinBounds(x) returns lower == x; this holds for every value with at most two
// significant decimal digits in range, such as 0.005, 0.25 or 1.1e-3.
func BinBounds(v float64) (lower, upper float64, ok bool) {
	a := math.Abs(v)
	if !(a < maxValue) {
		return 0, 0, false
	}
	if a < minValue {
		return 0, 0, true
	}
	t := getTables()
	p := t.index(a)
	lo, hi := t.lower(p), t.lower(p+1)
	if v < 0 {
		return -hi, -lo, true
	}
	return lo, hi, true
}

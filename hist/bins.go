package hist

import (
	"math"
	"strconv"
	"sync"
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

	// pow10Bias is the index of 10^0 in tables.pow10.
	pow10Bias = 126
)

// tables holds the exact bin edges and the helpers of the fast bin search.
// It is filled once, on first use, and never written afterwards, so
// concurrent readers need no synchronisation beyond the sync.Once.
type tables struct {
	// edge[p+1] is the float64 nearest to the decimal lower edge of positive
	// bin p. edge[0] = 0 and edge[numPos+2] = +Inf are sentinels so that the
	// ±1 correction in index never leaves the array; edge[numPos+1] is
	// maxValue, the upper edge of the last bin.
	edge [numPos + 3]float64
	// pow10[pow10Bias+k] ≈ 10^k for k in -126..130. Only used for the
	// estimate, so it need not be correctly rounded. The length is a power
	// of two so that a mask, not a bounds check, keeps the index in range.
	pow10 [512]float64
	// digit maps i = ⌊v·10^(1-e)⌋ (9..199, e the estimated decimal exponent)
	// to 1 + the bin offset from (10, e): 9 → 0, 10..99 → i-9, 100..199 →
	// 81+i/10. The +1 keeps the entries unsigned.
	digit [256]uint8
}

var (
	tabOnce sync.Once
	tab     tables
)

// getTables returns the shared tables, building them on first use. Building
// takes about a millisecond; doing it lazily keeps that off the start-up of
// programs that import hist but never insert.
func getTables() *tables {
	tabOnce.Do(buildTables)
	return &tab
}

func buildTables() {
	t := &tab
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
	for k := range 257 {
		t.pow10[k] = math.Pow10(k - pow10Bias)
	}
	for i := range t.digit {
		switch {
		case i < 10:
			t.digit[i] = 0
		case i < 100:
			t.digit[i] = uint8(i - 9)
		default:
			t.digit[i] = uint8(81 + i/10)
		}
	}
}

// index returns the number p of the positive bin holding a, which must be in
// [minValue, maxValue).
//
// The estimate comes from the float bits: the binary exponent gives the
// decimal exponent e to within one, a multiplication by 10^(1-e) gives the two
// leading digits, and a small table folds the "e was one too small" case into
// the bin number. Rounding in the multiplication can leave the estimate one bin
// off near an edge; one comparison against the exact edge table on each side
// fixes it. The tests check every edge, its float neighbours and every power of
// two in range, which covers all places where the estimate can change.
func (t *tables) index(a float64) int {
	e2 := int(math.Float64bits(a)>>52) - 1023
	// ⌊e2·log10(2)⌋ for |e2| ≤ 1650 (78913 / 2^18 ≈ log10 2).
	e := (e2 * 78913) >> 18
	m := a * t.pow10[(pow10Bias+1-e)&(len(t.pow10)-1)]
	p := binsPerDecade*(e+128) - 1 + int(t.digit[uint8(int(m))])
	if a < t.edge[p+1] {
		p--
	} else if a >= t.edge[p+2] {
		p++
	}
	return p
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

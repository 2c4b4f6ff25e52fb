package hist

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"testing"
)

// decimalEdge returns the float64 nearest to val×10^(exp-1), computed with
// exact rational arithmetic: an oracle independent of strconv.ParseFloat,
// which builds the table.
func decimalEdge(t *testing.T, val, exp int) float64 {
	t.Helper()
	r, ok := new(big.Rat).SetString(fmt.Sprintf("%de%d", val, exp-1))
	if !ok {
		t.Fatalf("bad decimal %de%d", val, exp-1)
	}
	f, _ := r.Float64() // nearest, ties to even
	return f
}

func TestEdgeTable(t *testing.T) {
	tb := getTables()
	for p := range numPos {
		val, exp := p%binsPerDecade+10, p/binsPerDecade-128
		if got, want := tb.lower(p), decimalEdge(t, val, exp); got != want {
			t.Fatalf("edge of bin (%d, %d) = %v, want %v", val, exp, got, want)
		}
		if p > 0 && !(tb.lower(p-1) < tb.lower(p)) {
			t.Fatalf("edges not increasing at bin %d", p)
		}
	}
	if tb.lower(0) != minValue || tb.lower(numPos) != maxValue {
		t.Fatalf("range edges %v, %v; want %v, %v", tb.lower(0), tb.lower(numPos), float64(minValue), float64(maxValue))
	}
}

// TestIndexExhaustive checks the bin lookup at every place its answer can
// change: each edge and its float neighbours, and the first and last float
// of each sub-bucket (where the table entry changes). Between those points
// the answer is the entry's bin or the next, by one comparison with a fixed
// edge, so these checks cover every float64 in range.
func TestIndexExhaustive(t *testing.T) {
	tb := getTables()
	want := func(a float64) int { // binary search over the edges: the reference
		lo, hi := 0, numPos-1
		for lo < hi {
			mid := (lo + hi + 1) / 2
			if tb.lower(mid) <= a {
				lo = mid
			} else {
				hi = mid - 1
			}
		}
		return lo
	}
	check := func(a float64, want int) {
		t.Helper()
		if a < minValue || a >= maxValue {
			return
		}
		if got := tb.index(a); got != want {
			t.Fatalf("index(%v) = %d, want %d", a, got, want)
		}
	}
	for p := range numPos {
		e := tb.lower(p)
		check(e, p)
		check(math.Nextafter(e, 0), p-1)
		check(math.Nextafter(e, math.Inf(1)), p)
		check(math.Nextafter(tb.lower(p+1), 0), p)
		check((e+tb.lower(p+1))/2, p)
	}
	for k := range subLen {
		first := math.Float64frombits(uint64(subBase+k) << subShift)
		last := math.Nextafter(first, 0)
		for _, a := range []float64{first, last} {
			if a >= minValue && a < maxValue {
				check(a, want(a))
			}
		}
	}
}

// TestRangeConstants checks the bit patterns InsertN compares with, and
// that the sub-bucket table spans the range.
func TestRangeConstants(t *testing.T) {
	if math.Float64bits(minValue) != minBits || math.Float64bits(maxValue) != maxBits {
		t.Fatalf("minBits, maxBits = %#x, %#x; want %#x, %#x", uint64(minBits), uint64(maxBits), math.Float64bits(minValue), math.Float64bits(maxValue))
	}
	if got := math.Float64bits(minValue) >> subShift; got < subBase || got >= subBase+1<<subBits {
		t.Errorf("minValue is in sub-bucket %d, want one of the exponent of subBase %d", got, subBase)
	}
	if top := math.Float64bits(math.Nextafter(maxValue, 0))>>subShift - subBase; top >= subLen {
		t.Errorf("the sub-bucket below maxValue is entry %d, beyond the %d of the table", top, subLen)
	}
	// No sub-bucket may hold two edges: its relative width, 2^-subBits,
	// must be below the narrowest bin's, 0.1/10 of the edge 10.
	if math.Ldexp(1, -subBits) >= 0.01 {
		t.Errorf("sub-buckets of relative width 2^-%d can hold two edges", subBits)
	}
}

func TestBinBounds(t *testing.T) {
	f := func(v float64, lo, hi float64, ok bool) {
		t.Helper()
		gotLo, gotHi, gotOK := BinBounds(v)
		if gotLo != lo || gotHi != hi || gotOK != ok {
			t.Errorf("BinBounds(%v) = %v, %v, %v; want %v, %v, %v", v, gotLo, gotHi, gotOK, lo, hi, ok)
		}
	}
	f(0.005, 0.005, 0.0051, true)
	f(math.Nextafter(0.005, 0), 0.0049, 0.005, true)
	f(0.00505, 0.005, 0.0051, true)
	f(0.25, 0.25, 0.26, true)
	f(1, 1, 1.1, true)
	f(1.1e-3, 1.1e-3, 1.2e-3, true)
	f(9.9e5, 9.9e5, 1e6, true)
	f(math.Nextafter(1e6, 0), 9.9e5, 1e6, true)
	f(-0.005, -0.0051, -0.005, true)
	f(-0.00505, -0.0051, -0.005, true)
	f(0, 0, 0, true)
	f(math.Copysign(0, -1), 0, 0, true)
	f(1e-128, 1e-128, 1.1e-128, true)
	f(math.Nextafter(1e-128, 0), 0, 0, true)
	f(5e-324, 0, 0, true)
	f(math.Nextafter(1e128, 0), 9.9e127, 1e128, true)
	f(1e128, 0, 0, false)
	f(-1e128, 0, 0, false)
	f(math.Inf(1), 0, 0, false)
	f(math.Inf(-1), 0, 0, false)
	f(math.NaN(), 0, 0, false)
}

// twoDigitThresholds returns every value with two significant digits from
// 10^lo to 10^hi (exclusive), as parsed from its decimal string.
func twoDigitThresholds(t testing.TB, lo, hi int) []float64 {
	t.Helper()
	var out []float64
	for exp := lo; exp < hi; exp++ {
		for val := 10; val <= 99; val++ {
			x, err := strconv.ParseFloat(fmt.Sprintf("%de%d", val, exp-1), 64)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, x)
		}
	}
	return out
}

package metrics

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nines-sre/nines/hist"
)

// TestSpreadExactAtEdges: for buckets whose bounds are two-digit decimals
// (circllhist bin edges), every request lands in the bins whose lower
// edge is in (lo, hi], as events of those latencies would:
// CountAtOrBelow(lo) sees none and CountAtOrBelow(hi) sees all, for any
// count.
func TestSpreadExactAtEdges(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	bounds := []float64{0, 0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 60}
	for range 2000 {
		i := rng.IntN(len(bounds) - 1)
		j := i + 1 + rng.IntN(len(bounds)-1-i)
		lo, hi := bounds[i], bounds[j]
		n := uint64(rng.ExpFloat64() * 1000)
		if rng.IntN(20) == 0 {
			n = rng.Uint64N(1 << 50)
		}
		for _, how := range []interpolation{linear, exponential} {
			var h hist.Histogram
			spread(&h, lo, hi, n, how)
			if h.Count() != n {
				t.Fatalf("(%v, %v] n=%d: count %d", lo, hi, n, h.Count())
			}
			if lo > 0 && h.CountAtOrBelow(lo) != 0 {
				t.Fatalf("(%v, %v] n=%d how=%d: %d at or below lo", lo, hi, n, how, h.CountAtOrBelow(lo))
			}
			if got := h.CountAtOrBelow(hi); got != n {
				t.Fatalf("(%v, %v] n=%d how=%d: CountAtOrBelow(hi) = %d", lo, hi, n, how, got)
			}
			// The top slice at least sits at hi, not under it.
			if got, top := h.CountBelow(hi), n-n*(spreadPoints-1)/spreadPoints; n > 0 && n < 1<<50 && got > n-top {
				t.Fatalf("(%v, %v] n=%d how=%d: CountBelow(hi) = %d, want the top slice's %d at hi", lo, hi, n, how, got, top)
			}
		}
	}
}

// TestSpreadNotEdges: bounds that are not bin edges still keep every
// request inside the bins the bucket touches, and at or below hi.
func TestSpreadNotEdges(t *testing.T) {
	for _, b := range [][2]float64{{0.0125, 0.0127}, {math.Exp2(-7.5), math.Exp2(-7.25)}, {1.0000001, 1.0000002}, {0.01, math.Nextafter(0.01, 1)}} {
		lo, hi := b[0], b[1]
		for _, n := range []uint64{1, 7, 1000} {
			var h hist.Histogram
			spread(&h, lo, hi, n, exponential)
			loBin, _, _ := hist.BinBounds(lo)
			_, hiBin, _ := hist.BinBounds(math.Nextafter(hi, 0))
			if h.Count() != n || h.CountBelow(loBin) != 0 || h.CountBelow(hiBin) != n || h.CountAtOrBelow(hi) != n {
				t.Errorf("(%v, %v] n=%d: count %d, below %v: %d, below %v: %d, at or below hi: %d", lo, hi, n, h.Count(),
					loBin, h.CountBelow(loBin), hiBin, h.CountBelow(hiBin), h.CountAtOrBelow(hi))
			}
		}
	}
}

// TestSpreadShape: a bucket's requests spread evenly (linear) or evenly in
// log (exponential), so the median of one bucket is near its middle, as
// histogram_quantile would say.
func TestSpreadShape(t *testing.T) {
	var h hist.Histogram
	spread(&h, 0.1, 0.2, 1000, linear)
	if got := h.CountAtOrBelow(0.15); got != 500 {
		t.Errorf("linear: %d at or below the middle", got)
	}
	// Linear: 300 of 1000 lie at or below 0.13; the slices whose tops
	// round up to 0.13 end at 0.125, 4/16 of the bucket: the answer is
	// within a bin (0.01, a tenth of this bucket) and a slice of 300.
	if got := h.CountAtOrBelow(0.13); got < 300-100-63 || got > 300 {
		t.Errorf("linear: %d at or below 0.13", got)
	}
	h.Reset()
	spread(&h, 0.01, 1, 1000, exponential)
	if got := h.CountAtOrBelow(0.1); got != 500 {
		t.Errorf("exponential: %d at or below the geometric middle", got)
	}
	h.Reset()
	spread(&h, 0.1, 0.2, 7, linear)
	if h.NumBins() != 7 {
		t.Errorf("7 requests in %d bins, want one each", h.NumBins())
	}
	// A single request sits at the bound, in its bin, as one event of
	// exactly 0.2 s would: not below 0.2, at or below it.
	h.Reset()
	spread(&h, 0.1, 0.2, 1, linear)
	if h.CountBelow(0.2) != 0 || h.CountAtOrBelow(0.2) != 1 {
		t.Errorf("a single request: %d below 0.2, %d at or below, want 0 and 1", h.CountBelow(0.2), h.CountAtOrBelow(0.2))
	}
}

func TestSpreadSpecialBuckets(t *testing.T) {
	f := func(name string, lo, hi float64, n uint64, check func(h *hist.Histogram) bool) {
		t.Helper()
		var h hist.Histogram
		spread(&h, lo, hi, n, linear)
		if h.Count() != n || !check(&h) {
			t.Errorf("%s: count %d, min %v max %v", name, h.Count(), h.Min(), h.Max())
		}
	}
	f("at or below zero", math.Inf(-1), -1, 5, func(h *hist.Histogram) bool { return h.Max() == 0 })
	f("from -Inf", math.Inf(-1), 0.005, 5, func(h *hist.Histogram) bool { return h.CountAtOrBelow(0.005) == 5 && h.Min() >= 0 })
	f("to +Inf", 10, math.Inf(1), 5, func(h *hist.Histogram) bool { return h.CountAtOrBelow(10) == 0 && h.CountAtOrBelow(11) == 5 })
	f("huge", 1e200, math.Inf(1), 5, func(h *hist.Histogram) bool { return h.Count() == 5 })
	f("empty interval", 0.5, 0.5, 5, func(h *hist.Histogram) bool { return h.CountBelow(0.5) == 0 })
	f("NaN", math.NaN(), 1, 0, func(h *hist.Histogram) bool { return true })
	f("huge count", 0, 10, 1<<62, func(h *hist.Histogram) bool { return h.CountAtOrBelow(10) == 1<<62 })
}

func TestExpBound(t *testing.T) {
	f := func(idx int64, schema int32, want float64) {
		t.Helper()
		if got := expBound(idx, schema); got != want {
			t.Errorf("expBound(%d, %d) = %v, want %v", idx, schema, got, want)
		}
	}
	f(0, 0, 1)
	f(-7, 0, 0.0078125)
	f(8, 3, 2)
	f(-8, 3, 0.5)
	f(1, -2, 16)
	f(4, 2, 2)
	// Bounds that are not powers of two are within an ulp: no decimal
	// threshold can equal them anyway.
	if got := expBound(1, 1); math.Abs(got-math.Sqrt2) > 3e-16 {
		t.Errorf("expBound(1, 1) = %v", got)
	}
	f(2000, 0, math.Inf(1))
	f(-2000, 0, 0)
	f(math.MaxInt32, 8, math.Inf(1))
	f(math.MinInt32, -9, 0)
	f(math.MinInt32-1, 8, 0)
}

func nh(schema int32, zero, count float64, pos ...bucketN) *nativeHist {
	return &nativeHist{schema: schema, zero: zero, count: count, pos: pos}
}

func TestDiff(t *testing.T) {
	f := func(name string, cur, prev *nativeHist, wantReset bool, want []bucketN, wantZero float64) {
		t.Helper()
		var out nativeHist
		var scratch []bucketN
		reset := diff(&out, cur, prev, &scratch)
		if reset != wantReset || out.zero != wantZero || len(out.pos) != len(want) {
			t.Errorf("%s: reset %v zero %v pos %v; want %v %v %v", name, reset, out.zero, out.pos, wantReset, wantZero, want)
			return
		}
		for i := range want {
			if out.pos[i] != want[i] {
				t.Errorf("%s: pos %v, want %v", name, out.pos, want)
			}
		}
	}
	f("increase", nh(0, 2, 9, bucketN{1, 3}, bucketN{3, 4}), nh(0, 1, 4, bucketN{1, 1}, bucketN{2, 0}), false,
		[]bucketN{{1, 2}, {3, 4}}, 1)
	f("bucket went down", nh(0, 1, 9, bucketN{1, 1}, bucketN{3, 4}), nh(0, 1, 4, bucketN{1, 2}), true,
		[]bucketN{{1, 1}, {3, 4}}, 1)
	f("bucket vanished", nh(0, 1, 9, bucketN{3, 8}), nh(0, 1, 4, bucketN{1, 2}), true, []bucketN{{3, 8}}, 1)
	f("zero went down", nh(0, 0, 9, bucketN{3, 9}), nh(0, 1, 1), true, []bucketN{{3, 9}}, 0)
	f("finer schema", nh(1, 0, 1, bucketN{1, 1}), nh(0, 0, 1, bucketN{1, 1}), true, []bucketN{{1, 1}}, 0)
	// Coarser schema: schema-1 buckets 1 and 2 are schema-0 bucket 1.
	f("coarser schema", nh(0, 0, 5, bucketN{1, 5}), nh(1, 0, 3, bucketN{1, 1}, bucketN{2, 2}), false, []bucketN{{1, 2}}, 0)
	cust := func(c float64, b ...float64) *nativeHist {
		h := nh(CustomBucketsSchema, 0, c)
		h.custom = b
		return h
	}
	a, b := cust(1, 0.1, 0.2), cust(1, 0.1, 0.3)
	f("custom bounds changed", a, b, true, nil, 0)
	f("custom bounds kept", a, cust(0, 0.1, 0.2), false, nil, 0)
	moved := nh(0, 0, 5, bucketN{1, 5})
	moved.start = 10
	prev := nh(0, 0, 1, bucketN{1, 1})
	prev.start = 5
	f("start time moved", moved, prev, true, []bucketN{{1, 5}}, 0)
}

func TestReduceTo(t *testing.T) {
	got := reduceTo(nil, []bucketN{{-1, 1}, {0, 2}, {1, 3}, {2, 4}, {3, 5}}, 1, 0)
	want := []bucketN{{0, 3}, {1, 7}, {2, 5}}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("%v, want %v", got, want)
		}
	}
}

func TestParseLe(t *testing.T) {
	f := func(s string, exp int, want float64) {
		t.Helper()
		got, err := parseLe(s, exp)
		if err != nil || got != want {
			t.Errorf("parseLe(%q, %d) = %v, %v; want %v", s, exp, got, err, want)
		}
	}
	f("0.005", 0, 0.005)
	f("5", -3, 0.005)
	f("2.5", -3, 0.0025)
	f("5e0", -3, 0.005)
	f("+Inf", -3, math.Inf(1))
	f("1e-3", 0, 0.001)
	for _, bad := range []string{"", "x", "NaN", "0x1p-3"} {
		if _, err := parseLe(bad, -3); err == nil {
			t.Errorf("parseLe(%q) accepted", bad)
		}
	}
}

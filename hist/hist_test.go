package hist

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
)

// lognormal returns n samples around median (seconds) with log-space sd sigma.
func lognormal(r *rand.Rand, n int, median, sigma float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = median * math.Exp(sigma*r.NormFloat64())
	}
	return out
}

func fromValues(t testing.TB, vals []float64) *Histogram {
	t.Helper()
	h := New()
	for _, v := range vals {
		if err := h.Insert(v); err != nil {
			t.Fatalf("Insert(%v): %v", v, err)
		}
	}
	return h
}

// binOf returns the bin h holds when it has exactly one occupied bin.
func binOf(t *testing.T, h *Histogram) Bin {
	t.Helper()
	var bins []Bin
	for b := range h.Bins() {
		bins = append(bins, b)
	}
	if len(bins) != 1 {
		t.Fatalf("want 1 bin, have %v", bins)
	}
	return bins[0]
}

func TestThresholdsLandInTheirOwnBin(t *testing.T) {
	for _, x := range twoDigitThresholds(t, -6, 7) {
		var h Histogram
		if err := h.Insert(x); err != nil {
			t.Fatal(err)
		}
		if b := binOf(t, &h); b.Lower != x {
			t.Errorf("Insert(%v) counted in [%v, %v), want the bin starting at %v", x, b.Lower, b.Upper, x)
		}
		h.Reset()
		below := math.Nextafter(x, 0)
		if err := h.Insert(below); err != nil {
			t.Fatal(err)
		}
		if b := binOf(t, &h); b.Upper != x {
			t.Errorf("Insert(%v) counted in [%v, %v), want the bin ending at %v", below, b.Lower, b.Upper, x)
		}
		h.Reset()
		if err := h.Insert(-x); err != nil {
			t.Fatal(err)
		}
		if b := binOf(t, &h); b.Upper != -x {
			t.Errorf("Insert(%v) counted in (%v, %v], want the bin ending at %v", -x, b.Lower, b.Upper, -x)
		}
	}
}

func TestNamedThresholds(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    float64
		lo   float64
	}{
		{"5 ms", 5e-3, 5e-3},
		{"250 ms", 0.25, 0.25},
		{"1 s", 1, 1},
		{"1.1 ms", 1.1e-3, 1.1e-3},
		{"990 ks", 9.9e5, 9.9e5},
		{"just below 5 ms", math.Nextafter(5e-3, 0), 4.9e-3},
		{"0.1+0.2 is above 0.3", 0.1 + 0.2, 0.3},
		{"3×0.1 is above 0.3", 3 * 0.1, 0.3},
		{"0.7 ms from integer nanoseconds", float64(700_000) / 1e9, 7e-4},
		{"5 ms from integer nanoseconds", float64(5_000_000) / 1e9, 5e-3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			if err := h.Insert(tc.v); err != nil {
				t.Fatal(err)
			}
			if b := binOf(t, &h); b.Lower != tc.lo {
				t.Errorf("Insert(%v) counted in [%v, %v), want lower edge %v", tc.v, b.Lower, b.Upper, tc.lo)
			}
		})
	}
}

func TestCountBelowMatchesSortedOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	thresholds := twoDigitThresholds(t, -6, 3)
	// Latencies, plus many samples exactly at thresholds and one float
	// below them: the cases floating error would get wrong.
	vals := lognormal(r, 20000, 0.002, 1.2)
	for range 5000 {
		x := thresholds[r.IntN(len(thresholds))]
		vals = append(vals, x, math.Nextafter(x, 0))
	}
	h := fromValues(t, vals)
	sorted := slices.Sorted(slices.Values(vals))
	for _, x := range thresholds {
		want := uint64(sort.SearchFloat64s(sorted, x)) // number of samples < x
		if got := h.CountBelow(x); got != want {
			t.Fatalf("CountBelow(%v) = %d, oracle %d", x, got, want)
		}
		if got, want := h.FractionBelow(x), float64(want)/float64(len(vals)); got != want {
			t.Fatalf("FractionBelow(%v) = %v, oracle %v", x, got, want)
		}
	}
}

func TestCountAtOrBelowBinResolutionData(t *testing.T) {
	// Integer milliseconds, as nginx's request_time: every sample is a bin
	// edge, so the inclusive counts are exact too.
	r := rand.New(rand.NewPCG(3, 4))
	var vals []float64
	for range 20000 {
		ms := 1 + r.IntN(99)
		vals = append(vals, float64(ms)/1000)
	}
	h := fromValues(t, vals)
	sorted := slices.Sorted(slices.Values(vals))
	for ms := 1; ms <= 100; ms++ {
		x := float64(ms) / 1000
		atOrBelow := uint64(sort.Search(len(sorted), func(i int) bool { return sorted[i] > x }))
		if got := h.CountAtOrBelow(x); got != atOrBelow {
			t.Errorf("CountAtOrBelow(%v) = %d, oracle %d", x, got, atOrBelow)
		}
		if got, want := h.CountAbove(x), uint64(len(vals))-atOrBelow; got != want {
			t.Errorf("CountAbove(%v) = %d, oracle %d", x, got, want)
		}
		if got, want := h.FractionAtOrBelow(x), float64(atOrBelow)/float64(len(vals)); got != want {
			t.Errorf("FractionAtOrBelow(%v) = %v, oracle %v", x, got, want)
		}
	}
}

func TestCountsBracketTheTruth(t *testing.T) {
	// For any x, CountBelow ≤ #(<x) ≤ #(≤x) ≤ CountAtOrBelow, on both sides of 0.
	r := rand.New(rand.NewPCG(5, 6))
	vals := lognormal(r, 5000, 0.01, 2)
	for i := range 2000 {
		vals[i] = -vals[i]
	}
	vals = append(vals, 0, 0, 1e-200, -1e-200)
	h := fromValues(t, vals)
	sorted := slices.Sorted(slices.Values(vals))
	for range 5000 {
		x := sorted[r.IntN(len(sorted))] * (1 + 0.01*r.NormFloat64())
		lt := uint64(sort.SearchFloat64s(sorted, x))
		le := uint64(sort.Search(len(sorted), func(i int) bool { return sorted[i] > x }))
		if b, a := h.CountBelow(x), h.CountAtOrBelow(x); !(b <= lt && le <= a) {
			t.Fatalf("x=%v: CountBelow %d, #(<x) %d, #(≤x) %d, CountAtOrBelow %d", x, b, lt, le, a)
		}
	}
}

func TestCountEdgeCases(t *testing.T) {
	h := fromValues(t, []float64{-2, -0.005, 0, 1e-300, 0.005, 0.005, 3})
	f := func(name string, got, want uint64) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	f("CountBelow(0)", h.CountBelow(0), 2)
	f("CountAtOrBelow(0)", h.CountAtOrBelow(0), 4)
	f("CountBelow(0.005)", h.CountBelow(0.005), 4)
	f("CountAtOrBelow(0.005)", h.CountAtOrBelow(0.005), 6)
	f("CountAbove(0.005)", h.CountAbove(0.005), 1)
	f("CountBelow(-0.005)", h.CountBelow(-0.005), 1)         // the bin (-0.0051, -0.005] is not entirely below
	f("CountAtOrBelow(-0.005)", h.CountAtOrBelow(-0.005), 2) // exact for negative edges
	f("CountBelow(+Inf)", h.CountBelow(math.Inf(1)), 7)
	f("CountBelow(1e200)", h.CountBelow(1e200), 7)
	f("CountAtOrBelow(-Inf)", h.CountAtOrBelow(math.Inf(-1)), 0)
	f("CountAbove(-Inf)", h.CountAbove(math.Inf(-1)), 7)
	f("CountBelow(NaN)", h.CountBelow(math.NaN()), 0)
	f("CountAtOrBelow(NaN)", h.CountAtOrBelow(math.NaN()), 0)
	f("CountAbove(NaN)", h.CountAbove(math.NaN()), 0)
	if !math.IsNaN(h.FractionBelow(math.NaN())) || !math.IsNaN(h.FractionAtOrBelow(math.NaN())) {
		t.Error("fractions at NaN should be NaN")
	}
	var empty Histogram
	if !math.IsNaN(empty.FractionBelow(1)) || !math.IsNaN(empty.FractionAtOrBelow(1)) {
		t.Error("fractions of an empty histogram should be NaN")
	}
	f("empty CountBelow", empty.CountBelow(1), 0)
}

func TestInsertErrorsLeaveHistogramUnchanged(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    float64
		n    uint64
		want error
	}{
		{"NaN", math.NaN(), 1, ErrNaN},
		{"+Inf", math.Inf(1), 1, ErrOutOfRange},
		{"-Inf", math.Inf(-1), 1, ErrOutOfRange},
		{"1e128", 1e128, 1, ErrOutOfRange},
		{"-1e200", -1e200, 1, ErrOutOfRange},
		{"MaxFloat64", math.MaxFloat64, 1, ErrOutOfRange},
		{"count overflow", 1, math.MaxUint64, ErrCountOverflow},
		{"NaN with n=0", math.NaN(), 0, ErrNaN},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fromValues(t, []float64{0.001, 2})
			before := h.Clone()
			if err := h.InsertN(tc.v, tc.n); !errors.Is(err, tc.want) {
				t.Fatalf("InsertN(%v, %d) = %v, want %v", tc.v, tc.n, err, tc.want)
			}
			if !h.Equal(before) {
				t.Error("histogram changed")
			}
		})
	}
	t.Run("Insert at MaxUint64 samples", func(t *testing.T) {
		var h Histogram
		if err := h.InsertN(1, math.MaxUint64); err != nil {
			t.Fatal(err)
		}
		for _, v := range []float64{1, 0} {
			if err := h.Insert(v); !errors.Is(err, ErrCountOverflow) {
				t.Errorf("Insert(%v) = %v, want ErrCountOverflow", v, err)
			}
		}
		if h.Count() != math.MaxUint64 {
			t.Errorf("Count = %d", h.Count())
		}
	})
}

func TestZeroAndTinyValues(t *testing.T) {
	h := fromValues(t, []float64{0, math.Copysign(0, -1), 5e-324, -1e-129, math.Nextafter(1e-128, 0)})
	if got := binOf(t, h); got != (Bin{Count: 5}) {
		t.Errorf("bin %+v, want the zero bin with 5", got)
	}
	if h.Quantile(0.5) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Errorf("quantile %v min %v max %v mean %v, want 0", h.Quantile(0.5), h.Min(), h.Max(), h.Mean())
	}
}

func TestInsertNZeroOnlyValidates(t *testing.T) {
	var h Histogram
	if err := h.InsertN(0.5, 0); err != nil {
		t.Fatal(err)
	}
	if !h.Equal(New()) || h.NumBins() != 0 {
		t.Error("InsertN(v, 0) changed the histogram")
	}
}

func TestBinsAscending(t *testing.T) {
	vals := []float64{3, -1e-5, 0.002, -7e3, 0, 1e-100, -1e100, 5e50, 0.0021}
	h := fromValues(t, vals)
	var got []Bin
	for b := range h.Bins() {
		got = append(got, b)
	}
	want := []Bin{
		{-1.1e100, -1e100, 1}, {-7.1e3, -7e3, 1}, {-1.1e-5, -1e-5, 1}, {0, 0, 1},
		{1e-100, 1.1e-100, 1}, {0.002, 0.0021, 1}, {0.0021, 0.0022, 1}, {3, 3.1, 1}, {5e50, 5.1e50, 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("Bins:\n got %v\nwant %v", got, want)
	}
	if h.NumBins() != len(want) {
		t.Errorf("NumBins = %d, want %d", h.NumBins(), len(want))
	}
	if h.Min() != -1.1e100 || h.Max() != 5.1e50 {
		t.Errorf("Min %v Max %v", h.Min(), h.Max())
	}
	n := 0
	for range h.Bins() {
		n++
		break
	}
	if n != 1 {
		t.Error("Bins ignores a stop")
	}
}

func TestEmpty(t *testing.T) {
	var h Histogram
	for name, v := range map[string]float64{
		"Quantile": h.Quantile(0.5), "Min": h.Min(), "Max": h.Max(), "Mean": h.Mean(),
		"FractionBelow": h.FractionBelow(1),
	} {
		if !math.IsNaN(v) {
			t.Errorf("%s of empty = %v, want NaN", name, v)
		}
	}
	if h.Count() != 0 || h.Modes() != 0 || h.NumBins() != 0 {
		t.Error("empty histogram has content")
	}
}

func TestResetCopyCloneEqual(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 1))
	a := fromValues(t, lognormal(r, 1000, 0.002, 1))
	b := a.Clone()
	if !a.Equal(b) || !b.Equal(a) {
		t.Fatal("clone differs")
	}
	if err := b.Insert(1); err != nil {
		t.Fatal(err)
	}
	if a.Equal(b) {
		t.Fatal("clone shares storage or Equal ignores a sample")
	}
	var c Histogram
	if err := c.Insert(42); err != nil {
		t.Fatal(err)
	}
	a.CopyTo(&c)
	if !c.Equal(a) {
		t.Fatal("CopyTo result differs")
	}
	a.CopyTo(a)
	if !c.Equal(a) {
		t.Fatal("CopyTo to itself changed it")
	}
	c.Reset()
	if !c.Equal(New()) || c.Count() != 0 {
		t.Fatal("Reset left data")
	}
	if err := c.Insert(0.003); err != nil {
		t.Fatal(err)
	}
	if got := binOf(t, &c); got.Lower != 0.003 || got.Count != 1 {
		t.Fatalf("after Reset and Insert: %v", got)
	}
	if !New().Equal(new(Histogram)) || !New().Clone().Equal(New()) || !New().Equal(nil) {
		t.Fatal("empty histograms differ")
	}
	if a.Equal(nil) {
		t.Fatal("a non-empty histogram equals nil")
	}
	a.CopyTo(nil) // no-op, no panic
}

func TestMeanMinMax(t *testing.T) {
	h := fromValues(t, []float64{0.001, 0.003})
	if got, want := h.Mean(), (0.00105+0.00305)/2; math.Abs(got-want) > 1e-15 {
		t.Errorf("Mean = %v, want %v", got, want)
	}
	if h.Min() != 0.001 || h.Max() != 0.0031 {
		t.Errorf("Min %v Max %v", h.Min(), h.Max())
	}
}

func TestQuantileFromTopIsTheWalkUp(t *testing.T) {
	r := rand.New(rand.NewPCG(13, 14))
	draw := func() []float64 {
		switch r.IntN(6) {
		case 0: // a sparse minute
			return lognormal(r, 1+r.IntN(4), 0.003, 0.8)
		case 1: // negative, zero and far-apart values
			return []float64{-r.ExpFloat64(), 0, 0, 1e-200, r.ExpFloat64() * 1e9, 5e-3, -1e127}
		case 2: // only zeros and negatives
			return []float64{0, -1, -0.5, -2e-3, 0}
		case 3: // only zeros
			return []float64{0, 0, 0}
		case 4: // negatives spread over their decades
			vals := lognormal(r, 200, 0.003, 1)
			for i := range vals {
				vals[i] = -vals[i]
			}
			return append(vals, lognormal(r, 1+r.IntN(200), 0.003, 1)...)
		}
		return lognormal(r, 5000, 0.002, 0.5)
	}
	qs := []float64{0.5000001, 0.75, 0.9, 0.99, 0.999, 0.9999, 1, math.Nextafter(1, 0)}
	for i := range 2000 {
		h := fromValues(t, draw())
		if r.IntN(3) == 0 {
			h.Merge(fromValues(t, draw()))
		}
		for _, q := range append(qs, 0.5+r.Float64()/2) {
			target := float64(h.Count()) * q
			top, up := h.quantileFromTop(target), h.quantileFromBottom(target)
			if math.Float64bits(top) != math.Float64bits(up) {
				t.Fatalf("case %d, q %v: from the top %v, walking up %v", i, q, top, up)
			}
		}
	}
}

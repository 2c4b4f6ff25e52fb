package hist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randomValues draws from one of several shapes, so that merges meet
// histograms with different decades, signs and zero bins.
func randomValues(r *rand.Rand, shape, n int) []float64 {
	switch shape % 5 {
	case 0: // 1-minute latency rollup
		return lognormal(r, n, 0.002, 0.7)
	case 1: // wide, with zeros
		vals := lognormal(r, n, 1, 6)
		for i := 0; i < n/10; i++ {
			vals[i] = 0
		}
		return vals
	case 2: // both signs
		vals := lognormal(r, n, 0.5, 3)
		for i := range vals {
			if r.IntN(2) == 0 {
				vals[i] = -vals[i]
			}
		}
		return vals
	case 3: // far decades, few samples
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = math.Pow(10, r.Float64()*240-120)
		}
		return vals
	default: // bin-resolution integers
		vals := make([]float64, n)
		for i := range vals {
			vals[i] = float64(r.IntN(5000))
		}
		return vals
	}
}

func merged(hs ...*Histogram) *Histogram {
	out := New()
	for _, h := range hs {
		out.Merge(h)
	}
	return out
}

func TestMergeProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(42, 1))
	for i := range 60 {
		vals := [3][]float64{}
		var hs [3]*Histogram
		for k := range hs {
			vals[k] = randomValues(r, i+k, 1+r.IntN(3000))
			hs[k] = fromValues(t, vals[k])
		}
		a, b, c := hs[0], hs[1], hs[2]
		name := fmt.Sprintf("shapes %d,%d,%d", i%5, (i+1)%5, (i+2)%5)
		t.Run(name, func(t *testing.T) {
			ab, ba := a.Clone(), b.Clone()
			ab.Merge(b)
			ba.Merge(a)
			if !ab.Equal(ba) {
				t.Fatal("a+b != b+a")
			}
			abc1 := ab.Clone()
			abc1.Merge(c)
			bc := b.Clone()
			bc.Merge(c)
			abc2 := a.Clone()
			abc2.Merge(bc)
			if !abc1.Equal(abc2) {
				t.Fatal("(a+b)+c != a+(b+c)")
			}
			all := fromValues(t, slices.Concat(vals[0], vals[1], vals[2]))
			if !abc1.Equal(all) || !merged(c, a, b).Equal(all) {
				t.Fatal("merge differs from inserting every sample into one histogram")
			}
			if abc1.Count() != uint64(len(vals[0])+len(vals[1])+len(vals[2])) {
				t.Fatal("count not additive")
			}
			twice := a.Clone()
			twice.Merge(twice)
			want := a.Clone()
			want.Merge(a.Clone())
			if !twice.Equal(want) || twice.Count() != 2*a.Count() {
				t.Fatal("h.Merge(h) does not double h")
			}
		})
	}
	t.Run("nil and empty", func(t *testing.T) {
		a := fromValues(t, []float64{1, 2})
		before := a.Clone()
		a.Merge(nil)
		a.Merge(New())
		if !a.Equal(before) {
			t.Fatal("merging nothing changed a")
		}
		e := New()
		e.Merge(a)
		if !e.Equal(a) {
			t.Fatal("empty+a != a")
		}
	})
	t.Run("saturates", func(t *testing.T) {
		var a Histogram
		if err := a.InsertN(1, math.MaxUint64-1); err != nil {
			t.Fatal(err)
		}
		b := a.Clone()
		a.Merge(b)
		if a.Count() != math.MaxUint64 || a.CountAtOrBelow(1) != math.MaxUint64 {
			t.Fatalf("count %d, want saturation at MaxUint64", a.Count())
		}
	})
}

func TestMergeReusesCapacity(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	a := fromValues(t, lognormal(r, 5000, 0.002, 0.5))
	b := fromValues(t, lognormal(r, 5000, 0.002, 0.5))
	dst := New()
	allocs := testing.AllocsPerRun(100, func() {
		a.CopyTo(dst)
		dst.Merge(b)
	})
	if allocs != 0 {
		t.Errorf("CopyTo+Merge allocates %v times per run in steady state", allocs)
	}
}

// TestQuantileErrorBound checks Quantile against the order statistic of rank
// ⌈q·N⌉ of the sorted samples: the estimate lies within one width of that
// sample's bin.
func TestQuantileErrorBound(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	qs := []float64{0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1}
	for shape := range 5 {
		for _, n := range []int{1, 7, 100, 10000} {
			vals := randomValues(r, shape, n)
			h := fromValues(t, vals)
			sorted := slices.Sorted(slices.Values(vals))
			t.Run(fmt.Sprintf("shape %d n=%d", shape, n), func(t *testing.T) {
				for _, q := range qs {
					k := max(int(math.Ceil(q*float64(n))), 1)
					x := sorted[k-1]
					lo, hi, _ := BinBounds(x)
					got := h.Quantile(q)
					if !(got >= lo && got <= hi) {
						t.Errorf("Quantile(%v) = %v, sample of rank %d is %v in bin [%v, %v]", q, got, k, x, lo, hi)
					}
					if x != 0 {
						if rel := math.Abs(got-x) / math.Abs(x); rel > 0.1 {
							t.Errorf("Quantile(%v) = %v, relative error %v vs %v exceeds 10%%", q, got, rel, x)
						}
					}
				}
			})
		}
	}
	t.Run("out of range q", func(t *testing.T) {
		h := fromValues(t, []float64{1})
		for _, q := range []float64{-0.1, 1.1, math.NaN(), math.Inf(1)} {
			if got := h.Quantile(q); !math.IsNaN(got) {
				t.Errorf("Quantile(%v) = %v, want NaN", q, got)
			}
		}
	})
	t.Run("libcircllhist interpolation", func(t *testing.T) {
		h := fromValues(t, []float64{1.05, 1.05, 2.05, 2.05})
		f := func(q, want float64) {
			t.Helper()
			if got := h.Quantile(q); math.Abs(got-want) > 1e-12 {
				t.Errorf("Quantile(%v) = %v, want %v", q, got, want)
			}
		}
		f(0, 1)       // lower edge of the lowest bin
		f(0.25, 1.05) // halfway through [1.0, 1.1)
		f(0.5, 1.1)   // on the boundary: upper edge of the lower bin
		f(0.75, 2.05)
		f(1, 2.1) // upper edge of the highest bin
	})
}

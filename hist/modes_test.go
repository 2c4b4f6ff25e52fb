package hist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestModes(t *testing.T) {
	seeds := []uint64{1, 2, 3, 4, 5, 6, 7, 8}
	for _, n := range []int{500, 5000, 60000} {
		for _, missShare := range []float64{0.5, 0.2, 0.05} {
			t.Run(fmt.Sprintf("cache hits 1ms and %.0f%% misses 50ms n=%d gives 2", 100*missShare, n), func(t *testing.T) {
				for _, seed := range seeds {
					r := rand.New(rand.NewPCG(seed, 100))
					misses := int(missShare * float64(n))
					vals := slices.Concat(lognormal(r, n-misses, 0.001, 0.3), lognormal(r, misses, 0.05, 0.3))
					if got := fromValues(t, vals).Modes(); got != 2 {
						t.Errorf("seed %d: Modes = %d, want 2", seed, got)
					}
				}
			})
		}
		for _, sigma := range []float64{0.1, 0.3, 0.6, 1.2} {
			t.Run(fmt.Sprintf("lognormal sigma=%v n=%d gives 1", sigma, n), func(t *testing.T) {
				for _, seed := range seeds {
					r := rand.New(rand.NewPCG(seed, 200))
					if got := fromValues(t, lognormal(r, n, 0.002, sigma)).Modes(); got != 1 {
						t.Errorf("seed %d: Modes = %d, want 1", seed, got)
					}
				}
			})
		}
		t.Run(fmt.Sprintf("integer milliseconds n=%d gives 1", n), func(t *testing.T) {
			for _, seed := range seeds {
				r := rand.New(rand.NewPCG(seed, 300))
				vals := lognormal(r, n, 0.004, 0.5)
				for i, v := range vals {
					vals[i] = float64(max(1, int(v*1000+0.5))) / 1000
				}
				if got := fromValues(t, vals).Modes(); got != 1 {
					t.Errorf("seed %d: Modes = %d, want 1", seed, got)
				}
			}
		})
	}
	for _, tc := range []struct {
		name string
		vals []float64
		want int
	}{
		{"empty", nil, 0},
		{"one sample", []float64{0.002}, 1},
		{"one bin", slices.Repeat([]float64{0.002}, 100), 1},
		{"two far values", slices.Concat(slices.Repeat([]float64{0.001}, 10), slices.Repeat([]float64{0.05}, 10)), 2},
		{"three far values", slices.Concat(slices.Repeat([]float64{0.001}, 100), slices.Repeat([]float64{0.05}, 100), slices.Repeat([]float64{3}, 100)), 3},
		{"too few samples for a second mode", slices.Concat(slices.Repeat([]float64{0.001}, 100), slices.Repeat([]float64{0.05}, 4)), 1},
		{"scattered samples", []float64{1e-9, 1e-6, 1e-3, 1, 1e3}, 1},
		{"zeros and positives", slices.Concat(slices.Repeat([]float64{0}, 10), slices.Repeat([]float64{0.05}, 10)), 2},
		{"mirrored", slices.Concat(slices.Repeat([]float64{-0.05}, 10), slices.Repeat([]float64{0.05}, 10)), 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fromValues(t, tc.vals).Modes(); got != tc.want {
				t.Errorf("Modes = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestModesRates backs the rates stated in the Modes documentation: over
// many random draws of unimodal latency shapes Modes says 1, and of clear
// mixtures it finds every population, with at most the stated misses.
func TestModesRates(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: 3,000 histograms")
	}
	const seeds = 100
	each := func(r *rand.Rand, n int, f func() float64) []float64 {
		v := make([]float64, n)
		for i := range v {
			v[i] = f()
		}
		return v
	}
	for _, tc := range []struct {
		name     string
		want     int
		sizes    []int
		maxWrong int // of seeds, per size
		gen      func(r *rand.Rand, n int) []float64
	}{
		{"lognormal sigma 0.05", 1, []int{50, 1000, 50000}, 0, func(r *rand.Rand, n int) []float64 { return lognormal(r, n, 0.002, 0.05) }},
		{"lognormal sigma 1", 1, []int{50, 1000, 50000}, 0, func(r *rand.Rand, n int) []float64 { return lognormal(r, n, 0.002, 1) }},
		{"lognormal sigma 2", 1, []int{50, 1000, 50000}, 0, func(r *rand.Rand, n int) []float64 { return lognormal(r, n, 0.002, 2) }},
		{"exponential", 1, []int{50, 1000, 50000}, 0, func(r *rand.Rand, n int) []float64 {
			return each(r, n, func() float64 { return 0.01 * r.ExpFloat64() })
		}},
		{"uniform", 1, []int{200, 1000, 50000}, 0, func(r *rand.Rand, n int) []float64 {
			return each(r, n, func() float64 { return 0.001 + 0.1*r.Float64() })
		}},
		{"integer milliseconds", 1, []int{50, 1000, 50000}, 0, func(r *rand.Rand, n int) []float64 {
			v := lognormal(r, n, 0.003, 0.8)
			for i := range v {
				v[i] = float64(max(1, int(v[i]*1000+0.5))) / 1000
			}
			return v
		}},
		{"pareto alpha 1.5", 1, []int{50, 1000, 50000}, 5, func(r *rand.Rand, n int) []float64 {
			return each(r, n, func() float64 { return 0.001 * math.Pow(1-r.Float64(), -1/1.5) })
		}},
		{"2% misses two decades up", 2, []int{1000, 50000}, 0, func(r *rand.Rand, n int) []float64 {
			m := n / 50
			return slices.Concat(lognormal(r, n-m, 0.001, 0.4), lognormal(r, m, 0.1, 0.4))
		}},
		{"30% misses 6x slower", 2, []int{50, 1000, 50000}, 0, func(r *rand.Rand, n int) []float64 {
			m := 3 * n / 10
			return slices.Concat(lognormal(r, n-m, 0.002, 0.2), lognormal(r, m, 0.012, 0.2))
		}},
		{"three populations", 3, []int{200, 1000, 50000}, 8, func(r *rand.Rand, n int) []float64 {
			m := n / 4
			return slices.Concat(lognormal(r, n-2*m, 0.0005, 0.3), lognormal(r, m, 0.02, 0.3), lognormal(r, m, 1, 0.3))
		}},
	} {
		for _, n := range tc.sizes {
			t.Run(fmt.Sprintf("%s n=%d gives %d", tc.name, n, tc.want), func(t *testing.T) {
				wrong := map[int]int{}
				for seed := range uint64(seeds) {
					r := rand.New(rand.NewPCG(seed, 999))
					if got := fromValues(t, tc.gen(r, n)).Modes(); got != tc.want {
						wrong[got]++
					}
				}
				total := 0
				for _, c := range wrong {
					total += c
				}
				if total > tc.maxWrong {
					t.Errorf("wrong in %d of %d draws (answers: %v), allowed %d", total, seeds, wrong, tc.maxWrong)
				}
			})
		}
	}
}

package hist

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// recorded returns v (seconds) as a log with the given number of decimal
// places of seconds records it, read back as ingest reads decimal text: the
// float64 nearest the decimal (which k / 10^digits, both exact, rounds to),
// so that 0.3 ms lands in the bin [0.30, 0.31) ms. digits 3 is whole
// milliseconds (nginx $request_time), 4 is 0.1 ms (latency_ms with one
// decimal), 5 is 10 µs.
func recorded(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

func recordedAll(vals []float64, digits int) []float64 {
	for i, v := range vals {
		vals[i] = recorded(v, digits)
	}
	return vals
}

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
		// 0 and 1 ms alone look like whole milliseconds, 0 and 50 ms do not.
		{"zeros and one millisecond", slices.Concat(slices.Repeat([]float64{0}, 10), slices.Repeat([]float64{0.001}, 10)), 1},
		{"zeros, a gap, then whole milliseconds", slices.Concat(slices.Repeat([]float64{0}, 50), slices.Repeat([]float64{0.004}, 50), slices.Repeat([]float64{0.005}, 80), slices.Repeat([]float64{0.006}, 50)), 2},
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
		t.Skip("slow: 3,900 histograms")
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
		{"0.1 ms resolution", 1, []int{50, 1000, 50000}, 0, func(r *rand.Rand, n int) []float64 {
			return recordedAll(lognormal(r, n, 0.0006, 0.65), 4)
		}},
		{"1 ms resolution, a third logged as 0", 1, []int{50, 1000, 50000}, 0, func(r *rand.Rand, n int) []float64 {
			return recordedAll(lognormal(r, n, 0.0006, 0.65), 3)
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
		{"20% misses 50x slower at 1 ms resolution", 2, []int{200, 1000, 50000}, 0, func(r *rand.Rand, n int) []float64 {
			m := n / 5
			return recordedAll(slices.Concat(lognormal(r, n-m, 0.001, 0.4), lognormal(r, m, 0.05, 0.4)), 3)
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

// TestModesRecordingResolution checks that the teeth and the zero bin left
// by coarse recording are not taken for modes: latencies logged at 10 µs,
// 0.1 ms or 1 ms resolution occupy only every tenth bin or fewer below 1 ms
// or 10 ms, and at 1 ms those below 0.5 ms are logged as 0.
func TestModesRecordingResolution(t *testing.T) {
	t.Run("latency_ms with one decimal, median 0.6 ms, 2880 samples gives 1", func(t *testing.T) {
		// A day of JSON latency_ms that Modes once took for 2 modes: the
		// resolution changes at 1 ms, from every tenth bin to every bin.
		counts := []uint64{53, 187, 338, 352, 311, 316, 250, 208, 180, 139, 90, 70, 77, 51, 44,
			40, 31, 28, 20, 9, 9, 5, 15, 8, 7, 6, 6, 2, 4, 2} // 0.1, 0.2, … 3.0 ms
		h := New()
		for i, c := range counts {
			mustInsertN(t, h, recorded(float64(i+1)/1e4, 4), c)
		}
		for _, tail := range []float64{3.1, 3.1, 3.1, 3.2, 3.2, 3.3, 3.3, 3.4, 3.5, 3.5, 3.6, 3.7, 3.9, 3.9, 4.1, 4.2, 4.4, 4.6, 4.9, 5.3, 5.8, 7.2} {
			mustInsertN(t, h, recorded(tail/1e3, 4), 1)
		}
		if h.Count() != 2880 {
			t.Fatalf("Count = %d, want 2880", h.Count())
		}
		if got := h.Modes(); got != 1 {
			t.Errorf("Modes = %d, want 1", got)
		}
	})
	for _, res := range []struct {
		name   string
		digits int
	}{{"10µs", 5}, {"0.1ms", 4}, {"1ms", 3}} {
		for _, median := range []float64{0.0006, 0.003, 0.04} {
			for _, n := range []int{50, 500, 2880, 5000, 50000} {
				t.Run(fmt.Sprintf("lognormal median %gms at %s resolution n=%d gives 1", 1e3*median, res.name, n), func(t *testing.T) {
					for seed := range uint64(4) {
						r := rand.New(rand.NewPCG(seed, 400))
						h := fromValues(t, recordedAll(lognormal(r, n, median, 0.65), res.digits))
						if res.digits == 3 && median == 0.0006 && n >= 500 && h.zero < uint64(n)/4 {
							// nginx $request_time: a third of the samples are 0.
							t.Fatalf("seed %d: zero bin holds %d of %d", seed, h.zero, n)
						}
						if got := h.Modes(); got != 1 {
							t.Errorf("seed %d: Modes = %d, want 1", seed, got)
						}
					}
				})
			}
		}
	}
	for _, tc := range []struct {
		name string
		want int
		gen  func(r *rand.Rand, n int) []float64
	}{
		{"hits 1ms and 20% misses 50ms at 1ms resolution", 2, func(r *rand.Rand, n int) []float64 {
			return recordedAll(slices.Concat(lognormal(r, n-n/5, 0.001, 0.4), lognormal(r, n/5, 0.05, 0.4)), 3)
		}},
		{"hits 1ms and 20% misses 50ms at 0.1ms resolution", 2, func(r *rand.Rand, n int) []float64 {
			return recordedAll(slices.Concat(lognormal(r, n-n/5, 0.001, 0.4), lognormal(r, n/5, 0.05, 0.4)), 4)
		}},
		{"hits 0.3ms mostly logged as 0 and 5% misses 30ms at 1ms resolution", 2, func(r *rand.Rand, n int) []float64 {
			return recordedAll(slices.Concat(lognormal(r, n-n/20, 0.0003, 0.3), lognormal(r, n/20, 0.03, 0.3)), 3)
		}},
		{"10% zeros well below a lognormal at 40ms at 1ms resolution", 2, func(r *rand.Rand, n int) []float64 {
			return slices.Concat(make([]float64, n/10), recordedAll(lognormal(r, n-n/10, 0.04, 0.65), 3))
		}},
		{"negative lognormal median 0.6ms at 1ms resolution", 1, func(r *rand.Rand, n int) []float64 {
			v := recordedAll(lognormal(r, n, 0.0006, 0.65), 3)
			for i := range v {
				v[i] = -v[i]
			}
			return v
		}},
		// Resolutions other than a power of ten: 2 ms, 5 ms (its zeros
		// included) and 0.25 ms, all leaving teeth below and above 10 ms.
		{"lognormal median 3ms in steps of 2ms", 1, func(r *rand.Rand, n int) []float64 { return steps(lognormal(r, n, 0.003, 0.65), 0.002) }},
		{"lognormal median 4ms in steps of 5ms", 1, func(r *rand.Rand, n int) []float64 { return steps(lognormal(r, n, 0.004, 0.65), 0.005) }},
		{"lognormal median 1ms in steps of 0.25ms", 1, func(r *rand.Rand, n int) []float64 { return steps(lognormal(r, n, 0.001, 0.65), 0.00025) }},
	} {
		for _, n := range []int{500, 50000} {
			t.Run(fmt.Sprintf("%s n=%d gives %d", tc.name, n, tc.want), func(t *testing.T) {
				for seed := range uint64(4) {
					r := rand.New(rand.NewPCG(seed, 500))
					if got := fromValues(t, tc.gen(r, n)).Modes(); got != tc.want {
						t.Errorf("seed %d: Modes = %d, want %d", seed, got, tc.want)
					}
				}
			})
		}
	}
}

// steps rounds vals to multiples of step, as decimal text.
func steps(vals []float64, step float64) []float64 {
	for i, v := range vals {
		vals[i] = recorded(math.Round(v/step)*step, 12)
	}
	return vals
}

func mustInsertN(t testing.TB, h *Histogram, v float64, n uint64) {
	t.Helper()
	if err := h.InsertN(v, n); err != nil {
		t.Fatalf("InsertN(%v, %d): %v", v, n, err)
	}
}

package hist

import (
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"
	"time"
)

// TestFactsLatencyWorkedCase reproduces docs/reference.md §2: about 60,000 requests,
// q(0.99) = 3.37 ms against a 5 ms objective, 99.4597% of the requests faster
// than 5 ms, i.e. 324 requests (0.5403%) too slow.
func TestFactsLatencyWorkedCase(t *testing.T) {
	const (
		n        = 59967 // 324/59967 = 0.5403%
		slow     = 324   // ≥ 5 ms
		p99      = 0.00337
		rankP99  = 59368 // ⌈0.99·n⌉
		between  = n - rankP99 - slow
		fastBody = rankP99
	)
	threshold := (5 * time.Millisecond).Seconds() // as a recorder would compute it
	for _, tc := range []struct {
		name    string
		atExact int // slow samples recorded as exactly 5 ms
	}{
		{"slow requests all above 5.1 ms", 0},
		{"24 slow requests at exactly 5 ms", 24},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(2, 99))
			vals := make([]float64, 0, n)
			// Body: log-normal around 1.2 ms, the largest exactly 3.37 ms.
			for len(vals) < fastBody-1 {
				if v := 0.0012 * math.Exp(0.4*r.NormFloat64()); v < p99 {
					vals = append(vals, v)
				}
			}
			vals = append(vals, p99)
			// Between q(0.99) and the objective, strictly.
			for range between {
				vals = append(vals, p99+(0.005-p99)*(0.001+0.998*r.Float64()))
			}
			for i := range slow {
				v := 0.0051 * math.Exp(math.Abs(r.NormFloat64()))
				if i < tc.atExact {
					v = threshold
				}
				vals = append(vals, v)
			}
			r.Shuffle(len(vals), func(i, j int) { vals[i], vals[j] = vals[j], vals[i] })

			h := fromValues(t, vals)
			sorted := slices.Sorted(slices.Values(vals))
			if got := uint64(sort.SearchFloat64s(sorted, threshold)); got != n-slow {
				t.Fatalf("test data: %d samples below 5 ms, want %d", got, n-slow)
			}
			if got := h.Count(); got != n {
				t.Fatalf("Count = %d, want %d", got, n)
			}
			if got := h.CountBelow(threshold); got != n-slow {
				t.Errorf("CountBelow(5ms) = %d, want %d", got, n-slow)
			}
			if got := h.Count() - h.CountBelow(threshold); got != slow {
				t.Errorf("samples at or above 5 ms = %d, want %d", got, slow)
			}
			if got, want := h.CountAbove(threshold), uint64(slow-tc.atExact); got != want {
				t.Errorf("CountAbove(5ms) = %d, want %d", got, want)
			}
			if got, want := h.CountAtOrBelow(threshold), uint64(n-slow+tc.atExact); got != want {
				t.Errorf("CountAtOrBelow(5ms) = %d, want %d", got, want)
			}
			frac := h.FractionBelow(threshold)
			if got := math.Round(frac*1e6) / 1e6; got != 0.994597 {
				t.Errorf("FractionBelow(5ms) = %.7f, want 0.994597 (99.4597%%)", frac)
			}
			if got := math.Round((1-frac)*1e6) / 1e4; got != 0.5403 {
				t.Errorf("share too slow = %.4f%%, want 0.5403%%", got)
			}
			q := h.Quantile(0.99)
			if lo, hi, _ := BinBounds(p99); q < lo || q > hi {
				t.Errorf("Quantile(0.99) = %v, want within the bin of 3.37 ms [%v, %v)", q, lo, hi)
			}
			if math.Abs(q-p99)/p99 > 0.03 {
				t.Errorf("Quantile(0.99) = %.5f s, want ≈ 3.37 ms", q)
			}
		})
	}
}

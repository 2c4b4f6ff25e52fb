package hist

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestInsertThroughTheWindowCountsTheRightBin inserts values at every bin
// edge, its float neighbours and every octave start across a span of
// decades, into histograms whose blocks were laid out in many ways (one
// sign or both, gaps between decades, decades above and below the span),
// and checks each insert against BinBounds, which does not use the window.
// The window serves an octave only where the bin code alone gives the
// counter; these are the places where that could go wrong.
func TestInsertThroughTheWindowCountsTheRightBin(t *testing.T) {
	r := rand.New(rand.NewPCG(12, 7))
	// probes: every edge from 1e-7 to 1e3 with its neighbours, and the
	// first and last float of every octave there.
	var probes []float64
	tb := getTables()
	for p := 121 * binsPerDecade; p < 131*binsPerDecade; p++ {
		e := tb.lower(p)
		probes = append(probes, e, math.Nextafter(e, 0), math.Nextafter(e, math.Inf(1)))
	}
	for k := -24; k <= 10; k++ {
		o := math.Ldexp(1, k)
		probes = append(probes, o, math.Nextafter(o, 0))
	}
	layouts := []struct {
		name  string
		setup func(h *Histogram)
	}{
		{"An empty histogram.", func(*Histogram) {}},
		{"One decade.", func(h *Histogram) { _ = h.Insert(0.002) }},
		{"Two decades with a gap.", func(h *Histogram) { _ = h.Insert(0.002); _ = h.Insert(0.5) }},
		{"Adjacent decades.", func(h *Histogram) { _ = h.Insert(0.002); _ = h.Insert(0.02); _ = h.Insert(0.2) }},
		{"Negative values only.", func(h *Histogram) { _ = h.Insert(-0.002); _ = h.Insert(-0.03) }},
		{"Both signs.", func(h *Histogram) { _ = h.Insert(-0.002); _ = h.Insert(0.003) }},
		{"A far decade below.", func(h *Histogram) { _ = h.Insert(1e-40); _ = h.Insert(0.002) }},
		{"Random decades.", func(h *Histogram) {
			for range 6 {
				v := math.Pow(10, r.Float64()*12-8)
				if r.IntN(3) == 0 {
					v = -v
				}
				_ = h.Insert(v)
			}
		}},
		{"Decoded.", func(h *Histogram) {
			o := New()
			_ = o.Insert(0.004)
			_ = o.Insert(-7)
			b := o.AppendBinary(nil)
			_ = h.UnmarshalBinary(b)
		}},
		{"Merged.", func(h *Histogram) {
			o := New()
			_ = o.Insert(0.09)
			_ = h.Insert(3)
			h.Merge(o)
		}},
	}
	for _, l := range layouts {
		t.Run(l.name, func(t *testing.T) {
			for _, sign := range []float64{1, -1} {
				for round := range 3 {
					h := New()
					l.setup(h)
					ref := map[[2]float64]uint64{}
					for b := range h.Bins() {
						ref[[2]float64{b.Lower, b.Upper}] = b.Count
					}
					order := r.Perm(len(probes))
					if round == 0 {
						for i := range order {
							order[i] = i
						}
					}
					for _, i := range order {
						v := sign * probes[i]
						if err := h.Insert(v); err != nil {
							t.Fatal(err)
						}
						lo, hi, _ := BinBounds(v)
						ref[[2]float64{lo, hi}]++
					}
					got := map[[2]float64]uint64{}
					for b := range h.Bins() {
						got[[2]float64{b.Lower, b.Upper}] = b.Count
					}
					if len(got) != len(ref) {
						t.Fatalf("sign %v round %d: %d bins, want %d", sign, round, len(got), len(ref))
					}
					for k, c := range ref {
						if got[k] != c {
							t.Fatalf("sign %v round %d: bin %v holds %d, want %d", sign, round, k, got[k], c)
						}
					}
				}
			}
		})
	}
}

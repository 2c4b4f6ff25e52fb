package hist

import (
	"iter"
	"math"
	"math/bits"
)

// Bin is one occupied bin of a histogram.
//
// For a positive bin Lower ≤ v < Upper, for a negative bin Lower < v ≤ Upper
// (the end nearer zero is closed, mirroring the positive side), and the zero
// bin has Lower = Upper = 0. Lower and Upper are the float64 values nearest to
// the decimal edges, such as 0.0012 and 0.0013.
type Bin struct {
	Lower, Upper float64
	Count        uint64
}

// bounds returns the edges of bin j of decade d, ordered on the real line.
func (t *tables) bounds(d, j int) (lo, hi float64) {
	if d >= numDecades {
		p := (d-numDecades)*binsPerDecade + j
		return t.lower(p), t.lower(p + 1)
	}
	p := (numDecades-1-d)*binsPerDecade + j
	return -t.lower(p + 1), -t.lower(p)
}

// blocks yields the occupied decades in ascending value order with their
// counters (indexed by ascending magnitude).
func (h *Histogram) blocks(yield func(d int, blk *[binsPerDecade]uint64) bool) {
	r := 0
	for w, o := range h.occ {
		for o != 0 {
			d := w<<6 | bits.TrailingZeros64(o)
			o &= o - 1
			if !yield(d, (*[binsPerDecade]uint64)(h.counts[r*binsPerDecade:])) {
				return
			}
			r++
		}
	}
}

// Bins returns an iterator over the occupied bins in ascending value order.
// The histogram must not be modified during the iteration.
//
//	for b := range h.Bins() {
//		fmt.Printf("[%g, %g) %d\n", b.Lower, b.Upper, b.Count)
//	}
func (h *Histogram) Bins() iter.Seq[Bin] {
	return func(yield func(Bin) bool) {
		t := getTables()
		zeroDone := h.zero == 0
		for d, blk := range h.blocks {
			if !zeroDone && d >= numDecades {
				zeroDone = true
				if !yield(Bin{Count: h.zero}) {
					return
				}
			}
			for k := range binsPerDecade {
				j := k
				if d < numDecades {
					j = binsPerDecade - 1 - k // negative: largest magnitude first
				}
				if c := blk[j]; c != 0 {
					lo, hi := t.bounds(d, j)
					if !yield(Bin{Lower: lo, Upper: hi, Count: c}) {
						return
					}
				}
			}
		}
		if !zeroDone {
			yield(Bin{Count: h.zero})
		}
	}
}

// Min returns the lower edge of the lowest occupied bin (at most the smallest
// sample, and within one bin of it), or NaN when h is empty.
func (h *Histogram) Min() float64 {
	for b := range h.Bins() {
		return b.Lower
	}
	return math.NaN()
}

// Max returns the upper edge of the highest occupied bin (at least the
// largest sample, and within one bin of it), or NaN when h is empty.
func (h *Histogram) Max() float64 {
	if h.total == 0 {
		return math.NaN()
	}
	m := 0.0 // the zero bin, if it is the highest
	for b := range h.Bins() {
		m = b.Upper
	}
	return m
}

// Mean returns the mean of the samples with each sample taken at the middle
// of its bin (libcircllhist's approximate mean), or NaN when h is empty. Its
// relative error is at most half a bin width, 5%, for same-sign samples.
func (h *Histogram) Mean() float64 {
	if h.total == 0 {
		return math.NaN()
	}
	s := 0.0
	for b := range h.Bins() {
		s += float64(b.Count) * (b.Lower/2 + b.Upper/2)
	}
	return s / float64(h.total)
}

// Quantile returns an estimate of the q-quantile of the samples, for q in
// [0, 1], or NaN when h is empty or q is outside [0, 1] or NaN.
//
// It follows libcircllhist's hist_approx_quantile: with N samples, the target
// rank is q·N; the answer lies in the first bin (in ascending order) whose
// cumulative count reaches the target, interpolated linearly inside it:
//
//	lower + (q·N − below)/count × (upper − lower)
//
// where below is the number of samples in lower bins. So Quantile(0) is the
// lower edge of the lowest bin, Quantile(1) the upper edge of the highest, and
// a target that falls exactly on the boundary between two bins gives the upper
// edge of the lower one. The zero bin answers 0.
//
// The answer lies in the bin of the sample of rank ⌈q·N⌉ (or at its edge),
// so its error is at most one bin width: 10% of the value at worst (bins
// starting with 1.0), 1% at best (9.9).
func (h *Histogram) Quantile(q float64) float64 {
	if h.total == 0 || !(q >= 0 && q <= 1) {
		return math.NaN()
	}
	target := float64(h.total) * q
	// A high quantile lies in the top bins: find it from the top, past
	// the few samples above it. Both walks pick the same bin (see
	// quantileFromTop); a saturated total no longer matches the counts,
	// and only the walk up handles that as before.
	if q > 0.5 && h.total != math.MaxUint64 {
		return h.quantileFromTop(target)
	}
	return h.quantileFromBottom(target)
}

// quantileFromBottom is Quantile walking the bins up from the lowest.
func (h *Histogram) quantileFromBottom(target float64) float64 {
	t := getTables()
	var cum uint64
	zeroDone := h.zero == 0
	for d, blk := range h.blocks {
		if !zeroDone && d >= numDecades {
			zeroDone = true
			if float64(cum+h.zero) >= target {
				return interpolate(target, cum, h.zero, 0, 0)
			}
			cum += h.zero
		}
		if s := sum(blk[:]); float64(cum+s) < target {
			cum += s
			continue
		}
		for k := range binsPerDecade {
			j := k
			if d < numDecades {
				j = binsPerDecade - 1 - k
			}
			c := blk[j]
			if c == 0 {
				continue
			}
			if float64(cum+c) >= target {
				lo, hi := t.bounds(d, j)
				return interpolate(target, cum, c, lo, hi)
			}
			cum += c
		}
	}
	// Only the zero bin is left: every sample is 0 or negative with q·N
	// beyond all negative samples.
	return 0
}

// quantileFromTop is Quantile for a target rank in the upper half,
// walking the bins down from the highest. The walk up answers in the
// lowest bin whose cumulative count reaches the target; that is the
// highest bin whose count below it does not, since the cumulative counts
// (and their float64 roundings) never decrease. So this walk stops at
// the same bin, with the same count below it, and interpolates the same.
func (h *Histogram) quantileFromTop(target float64) float64 {
	if float64(h.total) < target {
		return 0 // no bin reaches it: the walk up ends the same way
	}
	t := getTables()
	var above uint64 // samples in the bins above the one looked at
	zeroDone := h.zero == 0
	for d, blk := range h.blocksDown {
		if !zeroDone && d < numDecades {
			zeroDone = true
			below := h.total - above - h.zero
			if float64(below) < target {
				return interpolate(target, below, h.zero, 0, 0)
			}
			above += h.zero
		}
		// Ten counters at a time, the highest values first: a group whose
		// samples all lie above the target is passed with one sum, and
		// the top of a latency distribution is mostly empty bins.
		for g := range binsPerDecade / 10 {
			first, step := binsPerDecade-1-10*g, -1
			if d < numDecades {
				first, step = 10*g, 1
			}
			ten := (*[10]uint64)(blk[min(first, first+9*step):])
			s := sum(ten[:])
			if s == 0 {
				continue
			}
			if float64(h.total-above-s) >= target {
				above += s
				continue
			}
			for k := range 10 {
				j := first + k*step
				c := blk[j]
				if c == 0 {
					continue
				}
				below := h.total - above - c
				if float64(below) < target {
					lo, hi := t.bounds(d, j)
					return interpolate(target, below, c, lo, hi)
				}
				above += c
			}
		}
	}
	// Only the zero bin can be left, below every positive decade and
	// with no negative ones: it answers 0, as in the walk up.
	return 0
}

// blocksDown yields the occupied decades and their blocks as blocks does,
// from the highest down.
func (h *Histogram) blocksDown(yield func(d int, blk *[binsPerDecade]uint64) bool) {
	r := len(h.counts)/binsPerDecade - 1
	for w := len(h.occ) - 1; w >= 0; w-- {
		for o := h.occ[w]; o != 0; {
			b := 63 - bits.LeadingZeros64(o)
			o &^= 1 << b
			if !yield(w<<6|b, (*[binsPerDecade]uint64)(h.counts[r*binsPerDecade:])) {
				return
			}
			r--
		}
	}
}

// interpolate places target rank inside a bin [lo, hi] that has c samples
// above the cum samples of the lower bins, as libcircllhist does.
func interpolate(target float64, cum, c uint64, lo, hi float64) float64 {
	below, above := float64(cum), float64(cum+c)
	switch {
	case target == below:
		return lo
	case target == above:
		return hi
	}
	return lo + (target-below)/(above-below)*(hi-lo)
}

// split returns the number of samples in the bins below the bin of x, and in
// that bin, with the zero bin taken as the single value 0. It reports
// ok = false for NaN.
func (h *Histogram) split(x float64) (below, at uint64, ok bool) {
	a := math.Abs(x)
	switch {
	case x != x:
		return 0, 0, false
	case a >= maxValue:
		if x > 0 {
			return h.total, 0, true
		}
		return 0, 0, true
	case a < minValue:
		r, _ := h.pos(numDecades)
		return sum(h.counts[:r*binsPerDecade]), h.zero, true
	}
	d, j := locate(getTables().index(a), x)
	r, occupied := h.pos(d)
	below = sum(h.counts[:r*binsPerDecade])
	if x > 0 {
		below += h.zero
	}
	if occupied {
		blk := h.counts[r*binsPerDecade : (r+1)*binsPerDecade]
		at = blk[j]
		if x > 0 {
			below += sum(blk[:j])
		} else {
			below += sum(blk[j+1:])
		}
	}
	return below, at, true
}

// CountBelow returns the number of samples in the bins that lie entirely
// below x: the bins lower than the bin x falls in.
//
// For x ≥ 0 at a bin edge — any value with at most two significant digits,
// such as 0.005 — this is exactly the number of samples < x. Otherwise it is
// a lower bound: samples in x's own bin that are below x are not counted.
// (For x < 0 the mirrored bins close at the end nearer zero, so there
// CountAtOrBelow is the exact one.) NaN gives 0.
//
// With the zero bin taken as the value 0, CountBelow(0) counts the negative
// samples.
func (h *Histogram) CountBelow(x float64) uint64 {
	below, _, _ := h.split(x)
	return below
}

// CountAtOrBelow returns the number of samples in the bins up to and
// including the bin x falls in, that is every bin whose lower edge is ≤ x.
//
// It is an upper bound on the number of samples ≤ x, and exact when the
// samples in x's bin are all ≤ x: when they were recorded at the resolution
// of the bins or coarser (say integer milliseconds, as in nginx's
// request_time, with x = 0.005), or, for negative x at a bin edge, always.
// NaN gives 0.
func (h *Histogram) CountAtOrBelow(x float64) uint64 {
	below, at, _ := h.split(x)
	return below + at
}

// CountAbove returns the number of samples in the bins above the bin x falls
// in: Count() − CountAtOrBelow(x). It is a lower bound on the number of
// samples > x, exact under the same conditions as CountAtOrBelow. NaN gives 0.
func (h *Histogram) CountAbove(x float64) uint64 {
	below, at, ok := h.split(x)
	if !ok {
		return 0
	}
	return h.total - below - at
}

// FractionBelow returns CountBelow(x)/Count(): the inverse quantile, the
// share of samples strictly below x, exact when x is a non-negative bin edge.
// It returns NaN when h is empty or x is NaN.
func (h *Histogram) FractionBelow(x float64) float64 {
	below, _, ok := h.split(x)
	if !ok || h.total == 0 {
		return math.NaN()
	}
	return float64(below) / float64(h.total)
}

// FractionAtOrBelow returns CountAtOrBelow(x)/Count(), the inclusive
// inverse quantile, or NaN when h is empty or x is NaN.
func (h *Histogram) FractionAtOrBelow(x float64) float64 {
	below, at, ok := h.split(x)
	if !ok || h.total == 0 {
		return math.NaN()
	}
	return float64(below+at) / float64(h.total)
}

// sum adds up s with four independent accumulators, which lets the CPU
// overlap the additions (about 4× faster than a plain loop on long slices).
func sum(s []uint64) uint64 {
	var a, b, c, d uint64
	for len(s) >= 4 {
		a += s[0]
		b += s[1]
		c += s[2]
		d += s[3]
		s = s[4:]
	}
	for _, v := range s {
		a += v
	}
	return a + b + c + d
}

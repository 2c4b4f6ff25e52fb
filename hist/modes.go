package hist

import (
	"cmp"
	"math"
	"slices"
)

// Noise rule of Modes. A bump in the density is a mode only if it carries
// at least this many samples above the valley that separates it from a
// higher bump (its "excess mass"): so single outliers never count, while a
// 1% population of cache misses does.
const (
	modeMinCount = 5     // samples, whatever the histogram size
	modeMinShare = 0.005 // of all samples
	// modeMinZ is how many Poisson standard deviations of the samples
	// beneath a bump its excess must reach, which keeps sampling noise on
	// the flanks of a large population from counting.
	modeMinZ = 2

	// The density is smoothed with a Gaussian kernel in log10(value) whose
	// bandwidth follows Silverman's rule of thumb, but is never narrower than
	// the widest bin (log10 1.1 decades): narrower kernels would only show the
	// bin grid itself.
	minBandwidth = 0.0414
	// maxResolution caps the bandwidth floor set by the data's resolution at
	// log10(2), the widest gap that coarse recording can cause.
	maxResolution = 0.30103
	kdeSteps      = 4 // grid points per bandwidth
	kdeReach      = 4 // kernel cut off at ±4 bandwidths
)

// Modes returns the number of modes (local maxima of the density) of the
// distribution, or 0 when h is empty; a non-empty histogram has at least one.
// Two well separated populations, such as cache hits around 1 ms and misses
// around 50 ms, give 2; a unimodal (say log-normal) latency distribution gives 1.
//
// The density is taken per unit of log10(value): count / log-width of the
// bin, the scale on which latency histograms are drawn and on which
// multiplicative populations are symmetric bumps. (Per unit of value, count /
// bin width, every bump is tilted by 1/value, and once smoothed the upper
// population, the cache misses, often turns into a mere shoulder.) It is
// estimated without the sampling noise of individual bins:
//
//  1. Each side of zero is handled on its own, in log10 of the magnitude. The
//     zero bin counts as one mode if it holds enough samples (step 4).
//  2. The bin counts, placed at the bin middles, are smoothed with a Gaussian
//     kernel. Its bandwidth is Silverman's rule of thumb over the log values,
//     0.9·min(σ, IQR/1.34)·N^(-1/5) decades, but at least the widest bin
//     (0.0414 decades) and at least the data's own resolution, the median gap
//     between neighbouring occupied bins (weighted by the smaller of their
//     counts) but at most log10(2): samples recorded in whole milliseconds
//     occupy only every tenth bin or fewer below 10 ms, and each of those
//     teeth would otherwise be a mode.
//  3. Peaks are paired off by persistence: lowering a level from the top, two
//     bumps meet at the valley between them, and the lower one ends there.
//  4. A bump is a mode if its excess mass E, the samples above the level at
//     which it ended (for the highest bump of each separate cluster: all its
//     samples), is at least max(5, 0.5% of all samples) and at least 2√B,
//     B being the samples beneath that level in its basin: two Poisson
//     standard deviations of what a flat density would have put there.
//
// On simulated latencies (TestModesRates, 100 draws per case) this gives 1
// for log-normal, exponential, uniform and integer-millisecond data of 50 to
// 50,000 samples, except in about 3% of heavy-tailed Pareto draws of 1,000;
// and it finds every population of mixtures whose smaller populations hold
// at least 2% and 20 samples, with rare misses (4%) at 50 samples each.
//
// Modes allocates scratch space and takes tens of microseconds for a typical
// latency histogram; it is meant for reports, not hot paths.
func (h *Histogram) Modes() int {
	if h.total == 0 {
		return 0
	}
	minMass := max(modeMinCount, modeMinShare*float64(h.total))
	neg := h.sidePoints(nil, true)
	pos := h.sidePoints(nil, false)
	n := 0
	if h.zero > 0 {
		switch z := float64(h.zero); {
		case zeroAdjacent(pos):
			pos = slices.Insert(pos, 0, point{w: z})
		case zeroAdjacent(neg):
			neg = slices.Insert(neg, 0, point{w: z})
		case z >= minMass:
			n++
		}
	}
	n += sideModes(neg, minMass) + sideModes(pos, minMass)
	return max(n, 1)
}

// point is an occupied bin on one side of zero, or the zero bin (lo = hi = 0)
// placed before the first one. w is its count; lo and hi are the
// magnitudes of its edges on the way in, and become the log10 edges of its
// cell in cells.
type point struct{ lo, hi, w float64 }

func (p point) mid() float64 { return (p.lo + p.hi) / 2 }

// sidePoints appends the bins of one side of zero in ascending magnitude.
func (h *Histogram) sidePoints(pts []point, neg bool) []point {
	for b := range h.Bins() {
		if b.Count == 0 || b.Lower == 0 && b.Upper == 0 || (b.Upper <= 0) != neg {
			continue
		}
		lo, hi := b.Lower, b.Upper
		if neg {
			lo, hi = -hi, -lo
		}
		pts = append(pts, point{lo: lo, hi: hi, w: float64(b.Count)})
	}
	if neg {
		slices.Reverse(pts)
	}
	return pts
}

// zeroAdjacent reports whether the smallest occupied bins of a side, given
// by their magnitudes, sit one resolution step above zero: the first no
// further from zero than the step to the second, or, when there is no
// second, the first is [10^k, 1.1·10^k), the smallest positive value of
// decimal recording.
func zeroAdjacent(pts []point) bool {
	switch len(pts) {
	case 0:
		return false
	case 1:
		_, _, ok := BinBounds(pts[0].lo)
		return ok && math.Pow10(int(math.Round(math.Log10(pts[0].lo)))) == pts[0].lo
	}
	return pts[0].lo <= 1.5*(pts[1].lo-pts[0].lo)
}

// cells turns the bin edges of pts into the log10 edges of their cells.
func cells(pts []point) {
	n := len(pts)
	e := make([]float64, n+1) // e[i]: edge between pts[i-1] and pts[i], NaN if none
	c := make([]float64, n)   // where the samples of each bin are taken to sit
	e[0], e[n] = math.NaN(), math.NaN()
	s := 0.0
	for i, p := range pts {
		switch {
		case i > 0 && p.lo == pts[i-1].hi:
			e[i] = p.lo - s
		case i > 0 && pts[i-1].hi == 0:
			s = (p.hi - p.lo) / 2
			e[i] = p.lo / 2
		case i > 0 && p.lo <= 2*pts[i-1].lo:
			s = (p.hi - p.lo) / 2
			e[i] = (pts[i-1].lo + p.lo) / 2
		default:
			s = (p.hi - p.lo) / 2
			if i > 0 {
				e[i] = math.NaN()
			}
		}
		c[i] = (p.lo+p.hi)/2 - s
	}
	for i, p := range pts {
		if p.hi == 0 {
			continue
		}
		lo, hi, u := math.Log10(e[i]), math.Log10(e[i+1]), math.Log10(c[i])
		switch {
		case math.IsNaN(lo) && math.IsNaN(hi):
			w := (p.hi - p.lo) / 2
			lo, hi = math.Log10(c[i]-w), math.Log10(c[i]+w)
		case math.IsNaN(lo):
			lo = 2*u - hi
		case math.IsNaN(hi):
			hi = 2*u - lo
		}
		pts[i].lo, pts[i].hi = lo, hi
	}
	if pts[0].hi == 0 { // the zero bin: a cell as wide as the next one, below it
		pts[0].lo, pts[0].hi = 2*pts[1].lo-pts[1].hi, pts[1].lo
	}
}

// sideModes counts the modes among points sorted by magnitude.
func sideModes(pts []point, minMass float64) int {
	if len(pts) == 0 {
		return 0
	}
	cells(pts)
	bw := bandwidth(pts)
	n := 0
	// Cells more than two kernel reaches apart do not interact: split
	// there, so that the grid covers only where the density is non-zero.
	start := 0
	for i := 1; i <= len(pts); i++ {
		if i == len(pts) || pts[i].lo-pts[i-1].hi > 2*kdeReach*bw {
			n += clusterModes(pts[start:i], bw, minMass)
			start = i
		}
	}
	return n
}

// bandwidth applies Silverman's rule of thumb to the weighted cell centres.
func bandwidth(pts []point) float64 {
	var n, s float64
	for _, p := range pts {
		n += p.w
		s += p.w * p.mid()
	}
	mean := s / n
	var ss float64
	for _, p := range pts {
		ss += p.w * (p.mid() - mean) * (p.mid() - mean)
	}
	spread := math.Sqrt(ss / n)
	if iqr := weightedQuantile(pts, n, 0.75) - weightedQuantile(pts, n, 0.25); iqr > 0 {
		spread = min(spread, iqr/1.34)
	}
	return max(0.9*spread*math.Pow(n, -0.2), minBandwidth)
}

func weightedQuantile(pts []point, n, q float64) float64 {
	target, cum := q*n, 0.0
	for _, p := range pts {
		cum += p.w
		if cum >= target {
			return p.mid()
		}
	}
	return pts[len(pts)-1].mid()
}

// clusterModes estimates the density over one cluster of points on a grid
// and counts its modes by persistence.
func clusterModes(pts []point, bw, minMass float64) int {
	const reach = kdeReach * kdeSteps // kernel half-width in grid steps
	step := bw / kdeSteps
	u0 := pts[0].lo - kdeReach*bw
	size := int((pts[len(pts)-1].hi-pts[0].lo)/step) + 2*reach + 2

	// Each cell's count is spread evenly over the cell and put on the grid
	// by linear binning, piece by piece between grid points, which keeps
	// the mass and the centre of every piece.
	g := make([]float64, size)
	put := func(x, w float64) {
		k := min(int(x), size-2)
		f := x - float64(k)
		g[k] += w * (1 - f)
		g[k+1] += w * f
	}
	for _, p := range pts {
		a, b := (p.lo-u0)/step, (p.hi-u0)/step
		if b-a < 1e-9 {
			put((a+b)/2, p.w)
			continue
		}
		for x := a; x < b; {
			y := min(math.Floor(x)+1, b)
			put((x+y)/2, p.w*(y-x)/(b-a))
			x = y
		}
	}
	var kern [2*reach + 1]float64
	var ksum float64
	for i := range kern {
		z := float64(i-reach) / kdeSteps
		kern[i] = math.Exp(-z * z / 2)
		ksum += kern[i]
	}
	mass := make([]float64, size) // smoothed samples per grid cell: the density
	for k, gk := range g {
		if gk == 0 {
			continue
		}
		for i, kv := range kern {
			if j := k + i - reach; j >= 0 && j < size {
				mass[j] += gk * kv / ksum
			}
		}
	}
	order := make([]int, 0, size)
	for j := range mass {
		if mass[j] > 0 {
			order = append(order, j)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(mass[b], mass[a]) })

	// Union-find over grid points, highest density first. A component is
	// identified by its root; sums are kept at the root.
	parent := make([]int, size)
	for j := range parent {
		parent[j] = -1
	}
	find := func(j int) int {
		for parent[j] != j {
			parent[j] = parent[parent[j]]
			j = parent[j]
		}
		return j
	}
	sumMass := make([]float64, size)
	cells := make([]float64, size)
	peak := make([]float64, size)
	modes := 0
	for _, j := range order {
		v := mass[j]
		parent[j], sumMass[j], cells[j], peak[j] = j, v, 1, v
		for _, nb := range [2]int{j - 1, j + 1} {
			if nb < 0 || nb >= size || parent[nb] < 0 {
				continue
			}
			a, b := find(j), find(nb)
			if a == b {
				continue
			}
			// The lower peak ends here, at level v. Its excess mass is the
			// part of its samples above v: ∫(f − v)du over the component,
			// which on the grid is Σ mass − v·cells.
			young, old := a, b
			if peak[a] > peak[b] {
				young, old = b, a
			}
			// The point j itself is not yet part of either component when
			// the first neighbour is joined: a young singleton {j} has no
			// excess and is simply absorbed.
			if young != j && significant(sumMass[young]-v*cells[young], sumMass[young], minMass) {
				modes++
				if modesDebug != nil {
					modesDebug(u0+float64(young)*step, u0+float64(j)*step, sumMass[young]-v*cells[young], sumMass[young])
				}
			} else if modesDebug != nil && young != j && sumMass[young]-v*cells[young] > 2 {
				modesDebug(-1, u0+float64(j)*step, sumMass[young]-v*cells[young], sumMass[young])
			}
			parent[young] = old
			sumMass[old] += sumMass[young]
			cells[old] += cells[young]
		}
	}
	for j := range parent {
		if parent[j] == j && significant(sumMass[j], sumMass[j], minMass) {
			modes++
		}
	}
	return modes
}

// significant applies the noise rule to a bump with the given excess mass
// out of mass samples in its basin.
var modesDebug func(peakRoot, valley, excess, mass float64)

func significant(excess, mass, minMass float64) bool {
	return excess >= minMass && excess >= modeMinZ*math.Sqrt(mass-excess)
}

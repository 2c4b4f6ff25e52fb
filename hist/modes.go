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
	kdeSteps     = 4 // grid points per bandwidth
	kdeReach     = 4 // kernel cut off at ±4 bandwidths

	// resolutionEvidence is how many samples the density beside an empty
	// stretch between occupied bins must have put into it for the stretch
	// to be taken for the recording's resolution rather than chance (which
	// leaves it empty with probability e^-5 < 1%).
	resolutionEvidence = 5
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
// estimated without the sampling noise of individual bins, and without the
// comb that coarse recording leaves in them:
//
//  1. Each side of zero is handled on its own, in log10 of the magnitude.
//  2. Latencies recorded at a resolution q coarser than the bins (whole
//     milliseconds, 0.1 ms) fill only the bins of multiples of q, with empty
//     bins between: below 1 ms every tenth bin or fewer at 0.1 ms, every bin
//     from 1 to 10 ms. Those teeth are not modes, and the resolution is
//     found where it shows, gap by gap: the empty bins between two occupied
//     ones are the resolution, not chance, if the upper value is at most
//     twice the lower (values one quantum apart differ at most twofold),
//     both bins hold 2 samples or more (one sample says nothing of the
//     density beside it), and that density, count / bin width of the
//     sparser of the two, would have put at least 5 samples into the gap,
//     which is then empty by chance with probability below e^-5 < 1%.
//     Sparse tails of continuous data seldom pass; where they do, their
//     samples are merely spread over the gaps.
//  3. Each bin then stands for the values that its samples were rounded
//     from. Next to a resolution gap, bins meet half-way between their lower
//     edges, where values round to one or the other; a run of adjacent
//     occupied bins is shifted down by half the step across its resolution
//     gap (at most half a bin), for quantised values sit at the lower edges
//     of their bins; an edge that faces no resolution gap mirrors the other
//     about the bin's value. So at 0.1 ms, 0.9 ms stands for [0.85, 0.95) ms
//     and 1.0 ms for [0.95, 1.05) ms, though their bins are [0.90, 0.91) and
//     [1.0, 1.1) ms. Bins away from any resolution gap are continuous data
//     and stand at their middles.
//  4. The zero bin holds the values that rounded to 0. If the smallest
//     positive (else negative) value is one step above zero, no more than
//     1.5 times the step from it to the next occupied bin, or is alone and
//     a power of ten such as 1 ms, zero is the recording's next step down:
//     it stands for a cell as wide in log10 as that value's, just below it,
//     and joins that side, so that it is a separate mode only if the density
//     dips between them. Otherwise a clear gap separates it from the other
//     values (zeros and 50 ms, or zeros and 4, 5, 6 ms), and it counts as
//     one mode if it holds at least max(5, 0.5% of all samples).
//  5. The counts, spread evenly over what they stand for, are smoothed with
//     a Gaussian kernel whose bandwidth is Silverman's rule of thumb over the
//     log values, 0.9·min(σ, IQR/1.34)·N^(-1/5) decades, but at least the
//     widest bin (0.0414 decades).
//  6. Peaks are paired off by persistence: lowering a level from the top, two
//     bumps meet at the valley between them, and the lower one ends there.
//  7. A bump is a mode if its excess mass E, the samples above the level at
//     which it ended (for the highest bump of each separate cluster: all its
//     samples), is at least max(5, 0.5% of all samples) and at least 2√B,
//     B being the samples beneath that level in its basin: two Poisson
//     standard deviations of what a flat density would have put there.
//
// On simulated latencies (TestModesRates, 100 draws per case) this gives 1
// for log-normal, exponential, uniform and integer-millisecond data of 50 to
// 50,000 samples, and for log-normal latencies logged at 0.1 ms or 1 ms
// (at 1 ms with a third of them 0), except in about 3% of heavy-tailed
// Pareto draws of 1,000; and it finds every population of mixtures whose
// smaller populations hold at least 2% and 20 samples, with rare misses (4%)
// at 50 samples each. Teeth on a continuous background, as left by merging
// data recorded at 1 ms with data recorded at 0.1 ms, are not recognised as
// resolution and can still show as modes.
//
// Modes allocates scratch space and takes tens of microseconds for a typical
// latency histogram; it is meant for reports, not hot paths.
func (h *Histogram) Modes() int {
	if h.total == 0 {
		return 0
	}
	minMass := max(modeMinCount, modeMinShare*float64(h.total))
	neg, pos := h.sideBins(nil, true), h.sideBins(nil, false)
	n := 0
	// The zero bin joins a side whose smallest values sit one resolution
	// step above zero, the positive side if both do.
	zeroPos, zeroNeg := false, false
	switch {
	case h.zero == 0:
	case zeroAdjacent(pos):
		zeroPos = true
	case zeroAdjacent(neg):
		zeroNeg = true
	case float64(h.zero) >= minMass:
		n++
	}
	n += sideModes(cells(neg, zeroNeg, float64(h.zero)), minMass)
	n += sideModes(cells(pos, zeroPos, float64(h.zero)), minMass)
	return max(n, 1)
}

// bin is an occupied bin on one side of zero: [lo, hi) the magnitudes it
// holds, lo = val·10^k with val in 10..99, and w its count.
type bin struct {
	lo, hi, w float64
	val       int
}

// sideBins appends the occupied bins of one side of zero in ascending
// magnitude.
func (h *Histogram) sideBins(bins []bin, neg bool) []bin {
	t := getTables()
	start := len(bins)
	for d, blk := range h.blocks {
		if (d < numDecades) != neg {
			continue
		}
		dn := d - numDecades // positive decade number, 0 for exponent -128
		if neg {
			dn = numDecades - 1 - d
		}
		for j, c := range blk {
			if c != 0 {
				p := dn*binsPerDecade + j
				bins = append(bins, bin{lo: t.lower(p), hi: t.lower(p + 1), w: float64(c), val: j + 10})
			}
		}
	}
	if neg { // decades came in descending magnitude
		slices.SortFunc(bins[start:], func(a, b bin) int { return cmp.Compare(a.lo, b.lo) })
	}
	return bins
}

// zeroAdjacent reports whether the smallest occupied bins of a side (bins,
// ascending) sit one resolution step above zero: the first no further from
// zero than 1.5 times the step from it to the second; or, when it is alone,
// a power of ten [10^k, 1.1·10^k), the smallest positive value of decimal
// recording at that resolution.
func zeroAdjacent(bins []bin) bool {
	switch len(bins) {
	case 0:
		return false
	case 1:
		return bins[0].val == 10
	}
	return bins[0].lo <= 1.5*(bins[1].lo-bins[0].lo)
}

// resolutionGap reports whether the empty bins between a and b (ascending,
// not adjacent) are the recording's resolution rather than chance: b's
// value is at most twice a's (values one quantum apart are), and the
// density on either side would have put at least resolutionEvidence samples
// into the gap, so that it is empty by chance with a probability below
// e^-resolutionEvidence. A bin of one sample tells nothing of the density
// beside it.
func resolutionGap(a, b bin) bool {
	if b.lo > 2*a.lo || min(a.w, b.w) < 2 {
		return false
	}
	density := min(a.w/(a.hi-a.lo), b.w/(b.hi-b.lo))
	return density*(b.lo-a.hi) >= resolutionEvidence
}

// cells returns the cells of bins (ascending magnitudes of one side) in
// log10 of the magnitude: the values each bin's samples stand for. If
// withZero, they are preceded by the cell of the zero bin, which holds zero
// samples.
//
// Bins are grouped into runs of adjacent occupied bins. A run with no
// resolution gap on either side is continuous data: each bin is a point at
// its middle. Otherwise its values are quantised at the step q across that
// gap: each stands for the values within q/2 of it (a bin at most as wide
// as q holds just its lower edge), so the cells are the bins shifted down by
// min(q, bin width)/2, and across a resolution gap the cells meet half-way
// between the lower edges, where values round to one or the other. A cell
// side that faces no resolution gap mirrors the other side about the bin's
// value.
func cells(bins []bin, withZero bool, zero float64) []point {
	n := len(bins)
	if n == 0 {
		return nil
	}
	res := make([]bool, n+1) // res[i]: a resolution gap below bins[i]
	res[0] = withZero
	for i := 1; i < n; i++ {
		res[i] = bins[i].lo != bins[i-1].hi && resolutionGap(bins[i-1], bins[i])
	}
	pts := make([]point, 0, n+1)
	if withZero {
		pts = append(pts, point{w: zero}) // placed below once the first cell is known
	}
	for a := 0; a < n; {
		b := a + 1
		for b < n && bins[b].lo == bins[b-1].hi {
			b++
		}
		// bins[a:b] is a run of adjacent bins.
		if !res[a] && !res[b] {
			for _, x := range bins[a:b] {
				u := math.Log10(x.lo/2 + x.hi/2)
				pts = append(pts, point{lo: u, hi: u, w: x.w})
			}
			a = b
			continue
		}
		below := 0.0 // the value below the run
		if a > 0 {
			below = bins[a-1].lo
		}
		step := bins[a].lo - below
		if !res[a] {
			step = bins[b].lo - bins[b-1].lo
		}
		shift := min(step, bins[a].hi-bins[a].lo) / 2
		for i := a; i < b; i++ {
			x := bins[i]
			lo, hi := math.NaN(), math.NaN()
			switch {
			case i > a:
				lo = math.Log10(x.lo - shift)
			case res[a]:
				lo = math.Log10((below + x.lo) / 2)
			}
			switch {
			case i+1 < b:
				hi = math.Log10(x.hi - shift)
			case res[b]:
				hi = math.Log10((x.lo + bins[b].lo) / 2)
			}
			// A side that faces no resolution gap mirrors the other about
			// the bin's value: its middle shifted like its edges, which for
			// a lone bin beside a gap is its lower edge.
			u := math.Log10(x.lo + (x.hi-x.lo)/2 - shift)
			if math.IsNaN(lo) {
				lo = 2*u - hi
			} else if math.IsNaN(hi) {
				hi = 2*u - lo
			}
			pts = append(pts, point{lo: lo, hi: hi, w: x.w})
		}
		a = b
	}
	if withZero {
		// Zero stands for the values that round to 0, below the first
		// cell: a cell as wide in log10 as that one, below it.
		pts[0].lo, pts[0].hi = 2*pts[1].lo-pts[1].hi, pts[1].lo
	}
	return pts
}

// point is the cell of an occupied bin, or of the zero bin, in log10 of the
// magnitude: [lo, hi), holding w samples.
type point struct{ lo, hi, w float64 }

func (p point) mid() float64 { return (p.lo + p.hi) / 2 }

// sideModes counts the modes among the cells of one side.
func sideModes(pts []point, minMass float64) int {
	if len(pts) == 0 {
		return 0
	}
	// Cells of coarse resolution can reach over those of their neighbours.
	slices.SortFunc(pts, func(a, b point) int { return cmp.Compare(a.mid(), b.mid()) })
	bw := bandwidth(pts)
	n := 0
	// Cells more than two kernel reaches apart do not interact: split
	// there, so that the grid covers only where the density is non-zero.
	start, hi := 0, pts[0].hi
	for i := 1; i <= len(pts); i++ {
		if i == len(pts) || pts[i].lo-hi > 2*kdeReach*bw {
			n += clusterModes(pts[start:i], bw, minMass)
			start = i
		}
		if i < len(pts) {
			hi = max(hi, pts[i].hi)
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
	lo, hi := pts[0].lo, pts[0].hi
	for _, p := range pts {
		lo, hi = min(lo, p.lo), max(hi, p.hi)
	}
	u0 := lo - kdeReach*bw
	size := int((hi-lo)/step) + 2*reach + 2

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
func significant(excess, mass, minMass float64) bool {
	return excess >= minMass && excess >= modeMinZ*math.Sqrt(mass-excess)
}

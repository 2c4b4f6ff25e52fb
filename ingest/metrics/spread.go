package metrics

import (
	"math"
	"math/bits"

	"github.com/nines-sre/nines/hist"
)

// Putting bucket counts into the rollup histogram.
//
// A Prometheus or OTLP bucket holds the values in (lo, hi], upper bound
// included; a circllhist bin holds [lower, upper), lower bound included.
// Events put a latency of exactly 5 ms in the bin [5.0, 5.1) ms, the bin
// of its value, so for them CountBelow(0.005) counts the requests under
// 5 ms and CountAtOrBelow(0.005) those at or under it. A bucket's requests
// go where the same requests sent as events would count the same way:
// into the bins whose lower edge lies in (lo, hi], each request at the
// bin edge at or above it (a value is rounded up to a bin edge, as le
// rounds it up to a bucket bound). So a request of exactly hi, counted in
// bucket le=hi, lands in hi's own bin like the event, and
//
//	CountAtOrBelow(b) = the bucket's cumulative count, every request ≤ b
//
// exactly, at every bound b at once, however many quanta are merged, when
// the bounds lie in different bins. For a bound that is not a bin edge
// (0.0125, or any exponential bound such as 2^(-7.5)) the requests just
// under it are placed at the bound itself, in its bin, and those just
// above at the next edge, above its bin: CountAtOrBelow(b) is exact there
// too. CountBelow(b), the requests under b, is what the spread below
// says: the buckets up to the one ending at b less that bucket's share
// placed at b.
//
// Inside (lo, hi] the count is spread the way Prometheus interpolates when
// it answers histogram_quantile: evenly in value for classic and custom
// buckets, evenly in log(value) for exponential buckets. The requests sit
// at the tops of up to 16 equal slices of that distribution
// (spreadPoints), each slice's top rounded up to a bin edge, grouped by
// bin: a bucket costs at most 16 inserts, its requests never leave it, a
// single request sits at the bound, and the quantiles nines reports are
// those of Prometheus to within a bin plus 1/16 of the bucket.
//
// Why not put the whole bucket at its bound? Every request would count as
// at the bound and none as under it, and p50 of requests spread over
// (0.1, 0.25] would read 0.25. Spreading keeps the shape of the
// distribution.
//
// The exact good/slow split does not rely on the histogram at all: the
// Collector computes OverThreshold from the bucket whose bound is the
// threshold (see Collector), so the rollup's counters are exact even for
// bounds that are not bin edges.

type interpolation uint8

const (
	linear interpolation = iota
	exponential
)

// maxInsertable is the largest value hist accepts; latencies above it are
// absurd and are clamped rather than dropped, so counts stay whole.
var maxInsertable = math.Nextafter(1e128, 0)

// spreadPoints is how many points a bucket's requests are placed at: the
// tops of spreadPoints equal slices of the bucket's interpolated
// distribution, or one point per request when there are fewer. Where a
// request lies inside its bucket is a guess; sixteen points keep
// quantiles within 1/16 of the bucket's width of Prometheus'
// interpolation, and the work per bucket small.
const spreadPoints = 16

// spread inserts n requests from the bucket (lo, hi] into h. Buckets at or
// below zero go to the zero bin (latencies are not negative); a bucket
// open to +Inf puts its requests at the first bin edge above lo, within a
// bin of what Prometheus' histogram_quantile answers for them (the
// highest finite bound).
func spread(h *hist.Histogram, lo, hi float64, n uint64, how interpolation) {
	switch {
	case n == 0 || math.IsNaN(lo) || math.IsNaN(hi):
		return
	case hi <= 0:
		_ = h.InsertN(0, n)
		return
	case lo < 0 || math.IsInf(lo, -1):
		lo = 0
	}
	if lo >= maxInsertable {
		_ = h.InsertN(maxInsertable, n)
		return
	}
	if math.IsInf(hi, 1) {
		// The first bin edge above lo: the upper edge of lo's bin.
		_, up, _ := hist.BinBounds(lo)
		_ = h.InsertN(math.Min(up, maxInsertable), n)
		return
	}
	if !(lo < hi) {
		_ = h.InsertN(math.Min(hi, maxInsertable), n)
		return
	}
	if how == exponential && lo <= 0 {
		how = linear
	}
	m := min(n, spreadPoints)
	mf := float64(m)
	var logRatio float64
	if how == exponential {
		logRatio = math.Log(hi / lo)
	}
	// Point k (1..m) carries cum(k) − cum(k−1) requests, cum(k) = ⌊k·n/m⌋,
	// so the weights add up to n exactly.
	cum := func(k uint64) uint64 {
		hiw, low := bits.Mul64(n, k)
		q, _ := bits.Div64(hiw, low, m)
		return q
	}
	// Points rounded to the same edge are inserted together: from is the
	// first point of the run at value at.
	var from uint64
	at := math.NaN()
	for k := uint64(1); k <= m; k++ {
		x := hi
		if k < m {
			q := float64(k) / mf
			if how == exponential {
				x = lo * math.Exp(q*logRatio)
			} else {
				x = lo + q*(hi-lo)
			}
			x = math.Min(math.Max(x, math.Nextafter(lo, hi)), hi)
		}
		v := edgeAtOrAbove(x)
		if v <= lo {
			// x missed lo only by rounding: it still belongs above it.
			v = edgeAtOrAbove(math.Nextafter(v, hi))
		}
		v = math.Min(math.Min(v, hi), maxInsertable)
		if v != at && k > 1 {
			_ = h.InsertN(at, cum(k-1)-cum(from))
			from = k - 1
		}
		at = v
	}
	_ = h.InsertN(at, cum(m)-cum(from))
}

// edgeAtOrAbove returns the smallest circllhist bin edge at or above x > 0
// (x itself when it is an edge), or x when it has no bin. A position that
// lies above an edge only by the rounding of the arithmetic that placed
// it (0.1 + 0.5 × 0.1 = 0.15000000000000002) is that edge.
func edgeAtOrAbove(x float64) float64 {
	lo, hi, ok := hist.BinBounds(x)
	switch {
	case !ok || lo == x:
		return x
	case x-lo <= lo*edgeSlack:
		return lo
	}
	return hi
}

// edgeSlack is the relative distance above a bin edge that edgeAtOrAbove
// takes for rounding: a few thousand ulps, far below a bin's width (1 % of
// its edge at least).
const edgeSlack = 1e-12

// roundCount turns an accumulated (float) count into a whole one. Counts
// are sums of integer increases in all but float histograms and
// fractional counters, where rounding to nearest is the fair reading.
func roundCount(v float64) uint64 {
	if !(v >= 0.5) {
		return 0
	}
	if v >= 1<<63 {
		return 1 << 63
	}
	return uint64(math.Round(v))
}

// expBound returns the upper bound of positive bucket idx in an exponential
// schema: 2^(idx·2^-schema), exact wherever that is a power of two.
func expBound(idx int64, schema int32) float64 {
	if schema <= 0 {
		e := idx << uint(-schema)
		switch {
		case e > 1024:
			return math.Inf(1)
		case e < -1100:
			return 0
		}
		return math.Ldexp(1, int(e))
	}
	div := int64(1) << uint(schema)
	if idx%div == 0 {
		e := idx / div
		if e > 1024 {
			return math.Inf(1)
		}
		return math.Ldexp(1, int(max(e, -1100)))
	}
	return math.Exp2(float64(idx) / float64(div))
}

// bucketN is one populated bucket of a native histogram.
type bucketN struct {
	idx int32
	n   float64
}

// nativeHist is a native histogram with its buckets expanded from spans:
// the form the Collector keeps as a series' last value and computes
// increases in. Empty buckets are left out.
type nativeHist struct {
	schema   int32
	zt       float64
	zero     float64
	count    float64
	start    int64
	custom   []float64
	pos, neg []bucketN
}

// set makes nh a copy of h, reusing nh's storage. h must be valid.
func (nh *nativeHist) set(h *Histogram) {
	nh.schema, nh.zt, nh.zero, nh.count, nh.start = h.Schema, h.ZeroThreshold, h.ZeroCount, h.Count, h.Start
	nh.custom = append(nh.custom[:0], h.CustomValues...)
	nh.pos = expand(nh.pos[:0], h.PositiveSpans, h.PositiveBuckets)
	nh.neg = expand(nh.neg[:0], h.NegativeSpans, h.NegativeBuckets)
}

func expand(dst []bucketN, spans []Span, counts []float64) []bucketN {
	idx, k := int64(0), 0
	for _, s := range spans {
		idx += int64(s.Offset)
		for range s.Length {
			if k < len(counts) && counts[k] > 0 {
				dst = append(dst, bucketN{int32(idx), counts[k]})
			}
			idx++
			k++
		}
	}
	return dst
}

func (nh *nativeHist) copyFrom(o *nativeHist) {
	nh.schema, nh.zt, nh.zero, nh.count, nh.start = o.schema, o.zt, o.zero, o.count, o.start
	nh.custom = append(nh.custom[:0], o.custom...)
	nh.pos = append(nh.pos[:0], o.pos...)
	nh.neg = append(nh.neg[:0], o.neg...)
}

// reduceTo rewrites buckets of schema from into the coarser schema to,
// merging neighbours: bucket i of schema s lies in bucket
// ((i-1) >> (s-to)) + 1 of schema to.
func reduceTo(dst, src []bucketN, from, to int32) []bucketN {
	shift := uint(from - to)
	for _, b := range src {
		t := ((b.idx - 1) >> shift) + 1
		if n := len(dst); n > 0 && dst[n-1].idx == t {
			dst[n-1].n += b.n
		} else {
			dst = append(dst, bucketN{t, b.n})
		}
	}
	return dst
}

// diff sets out to the increase from prev to cur and reports whether cur
// is a counter reset, in which case out is all of cur. Following
// Prometheus, a reset is a drop in the count, the zero bucket or any
// bucket, a change to a finer schema, a change of custom bounds or of the
// zero threshold (Prometheus folds a widened zero bucket instead; nines
// takes the rare case as a reset), or a start time that moved. A change to
// a coarser schema is not a reset: prev is merged down to it first.
func diff(out, cur, prev *nativeHist, scratch *[]bucketN) (reset bool) {
	prevPos, prevNeg := prev.pos, prev.neg
	switch {
	case cur.start != 0 && prev.start != 0 && cur.start != prev.start,
		cur.zt != prev.zt, cur.count < prev.count, cur.zero < prev.zero:
		reset = true
	case cur.schema != prev.schema:
		if cur.schema == CustomBucketsSchema || prev.schema == CustomBucketsSchema || cur.schema > prev.schema {
			reset = true
			break
		}
		*scratch = reduceTo((*scratch)[:0], prev.pos, prev.schema, cur.schema)
		n := len(*scratch)
		*scratch = reduceTo(*scratch, prev.neg, prev.schema, cur.schema)
		prevPos, prevNeg = (*scratch)[:n], (*scratch)[n:]
	case cur.schema == CustomBucketsSchema && !equalFloats(cur.custom, prev.custom):
		reset = true
	}
	if !reset {
		out.schema, out.zt, out.count, out.start = cur.schema, cur.zt, cur.count-prev.count, cur.start
		out.zero = cur.zero - prev.zero
		out.custom = append(out.custom[:0], cur.custom...)
		var ok1, ok2 bool
		out.pos, ok1 = subtract(out.pos[:0], cur.pos, prevPos)
		out.neg, ok2 = subtract(out.neg[:0], cur.neg, prevNeg)
		reset = !ok1 || !ok2
	}
	if reset {
		out.copyFrom(cur)
	}
	return reset
}

// subtract appends cur − prev bucket by bucket; ok is false if any bucket
// went down.
func subtract(dst, cur, prev []bucketN) ([]bucketN, bool) {
	i, j := 0, 0
	for i < len(cur) || j < len(prev) {
		switch {
		case j == len(prev) || i < len(cur) && cur[i].idx < prev[j].idx:
			dst = append(dst, cur[i])
			i++
		case i == len(cur) || prev[j].idx < cur[i].idx:
			if prev[j].n > 0 {
				return dst, false
			}
			j++
		default:
			d := cur[i].n - prev[j].n
			if d < 0 {
				return dst, false
			}
			if d > 0 {
				dst = append(dst, bucketN{cur[i].idx, d})
			}
			i++
			j++
		}
	}
	return dst, true
}

func equalFloats(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

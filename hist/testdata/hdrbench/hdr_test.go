package hdrbench

import (
	"math"
	"math/rand/v2"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
	"github.com/nines-sre/nines/hist"
)

// The workload of hist/hist_timing_test.go: per-minute latency rollups of
// 5,000 log-normal latencies around 2 ms (σ = 0.5 in ln), in seconds for
// hist. HdrHistogram records integers, so it gets the same latencies in
// whole microseconds, converted before timing starts, tracked from 1 µs to
// one hour with two significant digits: the resolution of hist's
// two-digit bins.
const (
	hdrLowest  = 1             // µs
	hdrHighest = 3_600_000_000 // one hour in µs
	hdrDigits  = 2
)

var (
	sinkErr   error
	sinkF     float64
	sinkI     int64
	sinkHdr   *hdrhistogram.Histogram
	sinkCount uint64
)

func latencies(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 2024))
	out := make([]float64, n)
	for i := range out {
		out[i] = 0.002 * math.Exp(0.5*r.NormFloat64())
	}
	return out
}

func micros(vals []float64) []int64 {
	out := make([]int64, len(vals))
	for i, v := range vals {
		out[i] = int64(math.Round(v * 1e6))
	}
	return out
}

func newHdr() *hdrhistogram.Histogram { return hdrhistogram.New(hdrLowest, hdrHighest, hdrDigits) }

// minute returns the same one-minute rollup in both implementations.
func minute(b *testing.B, seed uint64) (*hist.Histogram, *hdrhistogram.Histogram) {
	b.Helper()
	vals := latencies(seed, 5000)
	h, d := hist.New(), newHdr()
	for i, v := range vals {
		if err := h.Insert(v); err != nil {
			b.Fatal(err)
		}
		if err := d.RecordValue(micros(vals[i : i+1])[0]); err != nil {
			b.Fatal(err)
		}
	}
	return h, d
}

func BenchmarkInsert(b *testing.B) {
	vals := latencies(1, 1<<16)
	us := micros(vals)
	const mask = 1<<16 - 1
	b.Run("impl=nines", func(b *testing.B) {
		h := hist.New()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkErr = h.Insert(vals[i&mask])
		}
		sinkCount = h.Count()
	})
	b.Run("impl=hdrhistogram", func(b *testing.B) {
		d := newHdr()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkErr = d.RecordValue(us[i&mask])
		}
		sinkI = d.TotalCount()
	})
	// What a caller holding latencies in seconds, as nines does, pays for
	// HdrHistogram: the conversion micros makes before the timing above,
	// here inside it. The comparison quoted is with the run above, which
	// leaves the conversion out.
	b.Run("impl=hdrhistogram-from-seconds", func(b *testing.B) {
		d := newHdr()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkErr = d.RecordValue(int64(math.Round(vals[i&mask] * 1e6)))
		}
		sinkI = d.TotalCount()
	})
}

// BenchmarkMerge adds one minute into a rollup that already has its bins,
// the steady state of summing minutes into hours and days.
func BenchmarkMerge(b *testing.B) {
	a, da := minute(b, 1)
	m, dm := minute(b, 2)
	b.Run("impl=nines", func(b *testing.B) {
		dst := a.Clone()
		dst.Merge(m)
		b.ReportAllocs()
		for b.Loop() {
			dst.Merge(m)
		}
	})
	b.Run("impl=hdrhistogram", func(b *testing.B) {
		dst := newHdr()
		dst.Merge(da)
		dst.Merge(dm)
		b.ReportAllocs()
		for b.Loop() {
			sinkI = dst.Merge(dm)
		}
	})
}

// BenchmarkMergePair builds a new histogram from two one-minute ones.
// HdrHistogram has no copy into an existing histogram: it starts from a new
// one and merges both.
func BenchmarkMergePair(b *testing.B) {
	a, da := minute(b, 1)
	m, dm := minute(b, 2)
	b.Run("impl=nines", func(b *testing.B) {
		dst := hist.New()
		b.ReportAllocs()
		for b.Loop() {
			a.CopyTo(dst)
			dst.Merge(m)
		}
	})
	b.Run("impl=hdrhistogram", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkHdr = newHdr()
			sinkHdr.Merge(da)
			sinkHdr.Merge(dm)
		}
	})
}

func BenchmarkQuantile(b *testing.B) {
	h, d := minute(b, 1)
	b.Run("impl=nines", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkF = h.Quantile(0.99)
		}
	})
	b.Run("impl=hdrhistogram", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkI = d.ValueAtQuantile(99)
		}
	})
}

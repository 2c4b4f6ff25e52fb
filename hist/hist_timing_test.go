package hist_test

import (
	"bytes"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/nines-sre/nines/hist"
	"github.com/openhistogram/circonusllhist"
)

// Benchmarks of hist against circonusllhist v0.4.1 on the same data. The
// workload is the per-minute latency rollup: 5,000 log-normal latencies
// around 2 ms (σ = 0.5 in ln, so about 0.3 to 13 ms, some 150 occupied bins).

var (
	sinkErr   error
	sinkF     float64
	sinkFs    []float64
	sinkBytes []byte
	sinkH     *circonusllhist.Histogram
)

func latencies(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 2024))
	out := make([]float64, n)
	for i := range out {
		out[i] = 0.002 * math.Exp(0.5*r.NormFloat64())
	}
	return out
}

// minute returns the same one-minute rollup in both implementations.
func minute(b *testing.B, seed uint64) (*hist.Histogram, *circonusllhist.Histogram) {
	b.Helper()
	h, c := hist.New(), circonusllhist.NewNoLocks()
	for _, v := range latencies(seed, 5000) {
		if err := h.Insert(v); err != nil {
			b.Fatal(err)
		}
		if err := c.RecordValue(v); err != nil {
			b.Fatal(err)
		}
	}
	return h, c
}

func BenchmarkInsert(b *testing.B) {
	vals := latencies(1, 1<<16)
	const mask = 1<<16 - 1
	b.Run("impl=nines", func(b *testing.B) {
		h := hist.New()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkErr = h.Insert(vals[i&mask])
		}
	})
	b.Run("impl=circonusllhist", func(b *testing.B) {
		c := circonusllhist.NewNoLocks()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sinkErr = c.RecordValue(vals[i&mask])
		}
	})
}

// BenchmarkMerge adds one minute into a rollup that already has its bins,
// the steady state of summing minutes into hours and days.
func BenchmarkMerge(b *testing.B) {
	a, ca := minute(b, 1)
	m, cm := minute(b, 2)
	b.Run("impl=nines", func(b *testing.B) {
		dst := a.Clone()
		dst.Merge(m)
		b.ReportAllocs()
		for b.Loop() {
			dst.Merge(m)
		}
	})
	b.Run("impl=circonusllhist", func(b *testing.B) {
		dst := ca.Copy()
		dst.Merge(cm)
		b.ReportAllocs()
		for b.Loop() {
			dst.Merge(cm)
		}
	})
}

// BenchmarkMergePair builds a new histogram from two one-minute ones: copy
// the first, merge the second. circonusllhist has no copy into an existing
// histogram, so its Copy allocates.
func BenchmarkMergePair(b *testing.B) {
	a, ca := minute(b, 1)
	m, cm := minute(b, 2)
	b.Run("impl=nines", func(b *testing.B) {
		dst := hist.New()
		b.ReportAllocs()
		for b.Loop() {
			a.CopyTo(dst)
			dst.Merge(m)
		}
	})
	b.Run("impl=circonusllhist", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkH = ca.Copy()
			sinkH.Merge(cm)
		}
	})
}

// BenchmarkFractionAtOrBelow is the inverse quantile: the share of requests
// within a 5 ms objective. circonusllhist v0.4.1 has no such query and no
// public way to walk its bins other than formatting them (DecStrings), so
// there is no circonusllhist sub-benchmark.
func BenchmarkFractionAtOrBelow(b *testing.B) {
	h, _ := minute(b, 1)
	b.Run("impl=nines", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkF = h.FractionAtOrBelow(0.005)
		}
	})
}

func BenchmarkQuantile(b *testing.B) {
	h, c := minute(b, 1)
	b.Run("impl=nines", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkF = h.Quantile(0.99)
		}
	})
	b.Run("impl=circonusllhist", func(b *testing.B) {
		qs := []float64{0.99}
		b.ReportAllocs()
		for b.Loop() {
			sinkFs, sinkErr = c.ApproxQuantile(qs)
		}
	})
}

func BenchmarkEncode(b *testing.B) {
	h, c := minute(b, 1)
	size := int64(len(h.AppendBinary(nil)))
	b.Run("impl=nines", func(b *testing.B) {
		buf := make([]byte, 0, size)
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			buf = h.AppendBinary(buf[:0])
		}
		sinkBytes = buf
	})
	b.Run("impl=circonusllhist", func(b *testing.B) {
		var buf bytes.Buffer
		b.SetBytes(size)
		b.ReportAllocs()
		for b.Loop() {
			buf.Reset()
			sinkErr = c.Serialize(&buf)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	h, _ := minute(b, 1)
	enc := h.AppendBinary(nil)
	b.Run("impl=nines", func(b *testing.B) {
		var dst hist.Histogram
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			sinkErr = dst.UnmarshalBinary(enc)
		}
	})
	b.Run("impl=circonusllhist", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			sinkH, sinkErr = circonusllhist.Deserialize(bytes.NewReader(enc))
		}
	})
}

// BenchmarkModes has no circonusllhist counterpart.
func BenchmarkModes(b *testing.B) {
	h, _ := minute(b, 1)
	b.Run("impl=nines", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			sinkF = float64(h.Modes())
		}
	})
}

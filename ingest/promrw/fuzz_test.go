package promrw

import (
	"math"
	"os"
	"testing"

	"github.com/golang/snappy"

	"github.com/nines-sre/nines/ingest/metrics"
)

// FuzzDecode feeds arbitrary bodies to Decode, compressed and raw. It must
// never panic; whatever it accepts must satisfy the data model; and
// encoding what it decoded must decode to the same request.
func FuzzDecode(f *testing.F) {
	if raw, err := os.ReadFile("testdata/write_request.pb"); err == nil {
		f.Add(raw)
	}
	f.Add(field(nil, 1, series([][2]string{{"__name__", "a"}, {"b", "c"}}, sample(1, 2))))
	f.Add([]byte{0x0a, 0x02, 0x22, 0x00})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = Decode(raw, "snappy") // arbitrary bytes as a snappy block
		req, err := Decode(snappy.Encode(nil, raw), "snappy")
		if err != nil {
			return
		}
		for i, s := range req.Series {
			if err := s.Labels.Validate(); err != nil {
				t.Fatalf("series %d: %v", i, err)
			}
			if s.Labels.Name() == "" {
				t.Fatalf("series %d has no name", i)
			}
			for j := range s.Histograms {
				h := &s.Histograms[j]
				if err := h.Validate(); err != nil && !h.IsStale() {
					t.Fatalf("series %d histogram %d: %v", i, j, err)
				}
			}
		}
		again, err := Decode(Encode(req), "snappy")
		if err != nil {
			t.Fatalf("re-decoding our own encoding: %v", err)
		}
		if len(again.Series) != len(req.Series) || len(again.Metadata) != len(req.Metadata) {
			t.Fatalf("round trip: %d series, %d metadata; was %d, %d", len(again.Series), len(again.Metadata), len(req.Series), len(req.Metadata))
		}
		for i := range req.Series {
			a, b := &req.Series[i], &again.Series[i]
			if !a.Labels.Equal(b.Labels) || len(a.Samples) != len(b.Samples) || len(a.Histograms) != len(b.Histograms) {
				t.Fatalf("round trip of series %d: %+v became %+v", i, a, b)
			}
			for j := range a.Samples {
				if a.Samples[j].T != b.Samples[j].T || math.Float64bits(a.Samples[j].V) != math.Float64bits(b.Samples[j].V) {
					t.Fatalf("round trip of series %d sample %d", i, j)
				}
			}
			for j := range a.Histograms {
				if !sameHistogram(&a.Histograms[j], &b.Histograms[j]) {
					t.Fatalf("round trip of series %d histogram %d:\n%+v\n%+v", i, j, a.Histograms[j], b.Histograms[j])
				}
			}
		}
	})
}

// sameHistogram compares what survives encoding: integer histograms are
// re-encoded as integers, so counts that are not whole (impossible from
// the wire) are not compared exactly.
func sameHistogram(a, b *metrics.Histogram) bool {
	eq := func(x, y float64) bool { return math.Float64bits(x) == math.Float64bits(y) || x != x && y != y }
	if a.T != b.T || a.Float != b.Float || a.ResetHint != b.ResetHint || a.Schema != b.Schema ||
		!eq(a.Sum, b.Sum) || !eq(a.ZeroThreshold, b.ZeroThreshold) || !eq(a.Count, b.Count) || !eq(a.ZeroCount, b.ZeroCount) {
		return false
	}
	if len(a.PositiveSpans) != len(b.PositiveSpans) || len(a.NegativeSpans) != len(b.NegativeSpans) ||
		len(a.PositiveBuckets) != len(b.PositiveBuckets) || len(a.NegativeBuckets) != len(b.NegativeBuckets) ||
		len(a.CustomValues) != len(b.CustomValues) {
		return false
	}
	for i := range a.PositiveBuckets {
		if !eq(a.PositiveBuckets[i], b.PositiveBuckets[i]) {
			return false
		}
	}
	for i := range a.CustomValues {
		if !eq(a.CustomValues[i], b.CustomValues[i]) {
			return false
		}
	}
	return true
}

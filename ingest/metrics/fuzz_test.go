package metrics_test

import (
	"math"
	"os"
	"testing"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/ingest/promrw"
	"github.com/nines-sre/nines/slo"
)

// FuzzCollect feeds arbitrary remote write payloads, twice with shifted
// timestamps so that increases happen, through a Collector with every kind
// of source. Nothing may panic, and every rollup must be consistent.
func FuzzCollect(f *testing.F) {
	if raw, err := os.ReadFile("../promrw/testdata/write_request.pb"); err == nil {
		f.Add(raw, int64(15000))
	}
	seed := &promrw.WriteRequest{Batch: metrics.Batch{Series: append(
		classic("http_request_duration_seconds", []string{"code", "500"}, t0, []string{"0.005", "0.01", "+Inf"}, []float64{1, 2, 3}),
		native(ls("rpc_duration_seconds", "code", "200"), t0, 3, 1, map[int32]float64{-60: 2, -58: 1}),
		counter(ls("http_requests_total", "code", "200"), t0, 5))}}
	f.Add(promrw.AppendProto(nil, seed), int64(30000))
	lat := &slo.LatencyRule{Threshold: 0.005, Inclusive: true}
	status, _ := slo.ParseStatusRule("<500")
	srcs := []metrics.SLISource{
		{Name: "good", Good: sel(`http_requests_total{code!~"5.."}`), Total: sel(`http_requests_total`)},
		{Name: "bad", Bad: sel(`{__name__=~"http_requests_total", code=~"5.."}`), Total: sel(`http_requests_total`)},
		{Name: "classic", SLI: slo.SLI{Latency: lat}, Histogram: sel(`http_request_duration_seconds`), Errors: sel(`{code=~"5.."}`)},
		{Name: "native", SLI: slo.SLI{Latency: lat, Status: status}, Histogram: sel(`rpc_duration_seconds`), StatusLabel: "code"},
		{Name: "custom", SLI: slo.SLI{Latency: lat}, Histogram: sel(`queue_wait_seconds`), Unit: "ms"},
	}
	f.Fuzz(func(t *testing.T, raw []byte, shift int64) {
		req, err := promrw.DecodeProto(raw)
		if err != nil {
			return
		}
		c, err := metrics.NewCollector(metrics.Config{Sources: srcs})
		if err != nil {
			t.Fatal(err)
		}
		c.Add(req.Series)
		for i := range req.Series {
			s := &req.Series[i]
			for j := range s.Samples {
				s.Samples[j].T += shift
				s.Samples[j].V *= 2
			}
			for j := range s.Histograms {
				h := &s.Histograms[j]
				h.T += shift
				h.Count *= 2
				h.ZeroCount *= 2
				for k := range h.PositiveBuckets {
					h.PositiveBuckets[k] *= 2
				}
			}
		}
		c.Add(req.Series)
		state, err := c.MarshalState()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.UnmarshalState(state); err != nil {
			t.Fatalf("own state refused: %v", err)
		}
		res, _ := c.Flush(math.MaxInt64)
		for _, r := range res {
			x := r.Rollup
			if x.Good > x.Attempted || x.Errors+x.Slow > x.Attempted || x.Good+x.Errors+x.Slow > x.Attempted && r.SLI != "good" {
				t.Fatalf("%s: inconsistent counts %+v", r.SLI, x)
			}
			if (r.SLI == "classic" || r.SLI == "native" || r.SLI == "custom") &&
				(x.Latency.Count() != x.Attempted || x.OverThreshold > x.Latency.Count() || x.Good+x.Errors+x.Slow != x.Attempted) {
				t.Fatalf("%s: histogram rollup %+v, latency count %d", r.SLI, x, x.Latency.Count())
			}
		}
	})
}

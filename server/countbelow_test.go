package server

import (
	"bytes"
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/ingest/promrw"
)

const fastSpec = `name: api-fast
service: api
sli:
  good:
    status: "<500"
    latency: "<=5ms"
  source:
    histogram: 'rpc_seconds{job="api"}'
objective: 99
method: transactions
window:
  rolling: 1h
noData: good
`

// TestCountBelowMeansTheSameForEventsAndMetrics: a request of exactly
// 5 ms sent as an event, and one counted by a Prometheus histogram in its
// bucket le="0.005" (le includes its bound), answer the same at a 5 ms
// threshold: not below it, at or below it.
func TestCountBelowMeansTheSameForEventsAndMetrics(t *testing.T) {
	f := newFixture(t, "")
	if _, err := f.eng.Load(context.Background(), map[string][]byte{"checkout.yaml": []byte(testSpec), "fast.yaml": []byte(fastSpec)}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 25, 9, 57, 10, 0, time.UTC)
	f.do("POST", "/api/v1/events?slo=checkout-availability",
		`{"time": "2026-11-25T09:58:20Z", "status": 200, "latency_ms": 5}`+"\n", nil, 200, nil)
	scrape := func(at time.Time, n float64) {
		t.Helper()
		req := &promrw.WriteRequest{}
		for _, b := range []struct {
			le string
			v  float64
		}{{"0.0025", 0}, {"0.005", n}, {"0.01", n}, {"+Inf", n}} {
			req.Series = append(req.Series, metrics.Series{
				Labels:  labels("__name__", "rpc_seconds_bucket", "job", "api", "le", b.le),
				Samples: []metrics.Sample{{T: at.UnixMilli(), V: b.v}},
			})
		}
		r, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/write", bytes.NewReader(promrw.Encode(req)))
		r.Header.Set("Content-Encoding", "snappy")
		r.Header.Set("Content-Type", "application/x-protobuf")
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 204 {
			t.Fatalf("remote write: %d", resp.StatusCode)
		}
	}
	scrape(t0, 0)                  // the baseline
	scrape(t0.Add(time.Minute), 1) // one request of at most 5 ms
	f.clock.Set(t0.Add(5 * time.Minute))

	type counts struct {
		Count          uint64
		CountBelow     uint64 `json:"count_below"`
		CountAtOrBelow uint64 `json:"count_at_or_below"`
		CountAbove     uint64 `json:"count_above"`
	}
	get := func(name, threshold string) counts {
		t.Helper()
		var c counts
		f.do("GET", "/api/v1/slos/"+name+"/histogram?from=2026-11-25T09:50:00Z&to=2026-11-25T10:00:00Z&threshold="+threshold, "", nil, 200, &c)
		return c
	}
	for _, tc := range []struct {
		threshold string
		want      counts
	}{
		{"5ms", counts{Count: 1, CountBelow: 0, CountAtOrBelow: 1, CountAbove: 0}},
		{"2.5ms", counts{Count: 1, CountBelow: 0, CountAtOrBelow: 0, CountAbove: 1}},
		{"10ms", counts{Count: 1, CountBelow: 1, CountAtOrBelow: 1, CountAbove: 0}},
	} {
		ev, met := get("checkout-availability", tc.threshold), get("api-fast", tc.threshold)
		if ev != tc.want || met != tc.want {
			t.Errorf("at %s: events %+v, metrics %+v, want both %+v", tc.threshold, ev, met, tc.want)
		}
	}
}

package server

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkEventsHTTP posts batches of 10,000 JSON-lines events over
// loopback, as a log shipper would, and reports events per second through
// parsing, rollup, store commit and tracker.
func BenchmarkEventsHTTP(b *testing.B) {
	f := newFixture(b, "")
	const batch = 10_000
	base := time.Date(2026, 11, 25, 9, 58, 0, 0, time.UTC)
	var body strings.Builder
	for i := range batch {
		status := 200
		if i%500 == 0 {
			status = 503
		}
		fmt.Fprintf(&body, `{"time": %q, "status": %d, "latency_ms": %d.%d}`+"\n",
			base.Add(time.Duration(i)*6*time.Millisecond).Format(time.RFC3339Nano), status, 1+i%9, i%10)
	}
	payload := body.String()
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		resp, err := http.Post(f.srv.URL+"/api/v1/events?slo=checkout-availability", "application/x-ndjson", strings.NewReader(payload))
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
	b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

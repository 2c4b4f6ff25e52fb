package metrics_test

import (
	"fmt"
	"math"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/ingest/promrw"
	"github.com/nines-sre/nines/slo"
)

// A classic Prometheus histogram judged against "<=5ms": two scrapes of
// three buckets, sent by remote write, read into one rollup.
func ExampleCollector() {
	rule, _ := slo.ParseLatencyRule("<=5ms")
	histogram, _ := metrics.ParseSelector(`http_request_duration_seconds{job="checkout"}`)
	c, err := metrics.NewCollector(metrics.Config{Sources: []metrics.SLISource{{
		Name:      "checkout-latency",
		SLI:       slo.SLI{Latency: &rule},
		Histogram: &histogram,
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	scrape := func(t int64, le005, le01, inf float64) []byte {
		bucket := func(le string, v float64) metrics.Series {
			return metrics.Series{
				Labels: metrics.Labels{
					{Name: "__name__", Value: "http_request_duration_seconds_bucket"},
					{Name: "job", Value: "checkout"}, {Name: "le", Value: le},
				},
				Samples: []metrics.Sample{{T: t, V: v}},
			}
		}
		return promrw.Encode(&promrw.WriteRequest{Batch: metrics.Batch{Series: []metrics.Series{
			bucket("0.005", le005), bucket("0.01", le01), bucket("+Inf", inf),
		}}})
	}
	for _, body := range [][]byte{
		scrape(1795515600000, 100, 150, 160), // baseline
		scrape(1795515615000, 190, 250, 262), // +90 at or under 5 ms, +102 in all
	} {
		req, err := promrw.Decode(body, "snappy")
		if err != nil {
			fmt.Println(err)
			return
		}
		c.Add(req.Series)
	}
	results, _ := c.Flush(math.MaxInt64)
	for _, r := range results {
		x := r.Rollup
		fmt.Printf("%s: attempted %d, good %d, slow %d, over threshold %d, at or under 5ms %d\n",
			r.SLI, x.Attempted, x.Good, x.Slow, x.OverThreshold, x.Latency.Count()-x.OverThreshold)
	}
	// Output:
	// checkout-latency: attempted 102, good 90, slow 12, over threshold 12, at or under 5ms 90
}

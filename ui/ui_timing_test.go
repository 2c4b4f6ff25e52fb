package ui

import (
	"context"
	"net/url"
	"testing"
)

// BenchmarkSLOPage30d renders the SLO page of checkout-availability (a
// rolling 30-day window of 1-minute quanta: 43,200 cells) over its whole
// window, on 30 days of demo traffic, and reports the page's weight.
func BenchmarkSLOPage30d(b *testing.B) {
	f := newFixture(b, 30)
	ctx := context.Background()
	var size int
	b.ReportAllocs()
	for b.Loop() {
		v, err := f.ui.buildSLO(ctx, "checkout-availability", url.Values{})
		if err != nil {
			b.Fatal(err)
		}
		_ = v
	}
	page := f.get("/slos/checkout-availability", 200)
	size = len(page)
	b.ReportMetric(float64(size), "page-bytes")
}

package ui

import (
	"net/http/httptest"
	"testing"
)

// BenchmarkSLOPage30d renders the SLO page of checkout-availability, a
// rolling 30-day window of 1-minute quanta (43,200 cells, and the 30 days
// before for the rolling burn-down), over its whole window on 30 days of
// demo traffic, through the handler as a browser would ask for it. Warm
// reuses the cached counts of past days (as every view after the first
// within 5 minutes does); cold empties the cache before each view.
func BenchmarkSLOPage30d(b *testing.B) {
	f := newFixture(b, 30)
	for _, bc := range []struct {
		name string
		cold bool
	}{{"warm", false}, {"cold", true}} {
		b.Run(bc.name, func(b *testing.B) {
			var size int
			b.ReportAllocs()
			for b.Loop() {
				if bc.cold {
					f.ui.cache.mu.Lock()
					f.ui.cache.days = nil
					f.ui.cache.mu.Unlock()
				}
				rec := httptest.NewRecorder()
				f.ui.ServeHTTP(rec, httptest.NewRequest("GET", "/slos/checkout-availability", nil))
				if rec.Code != 200 {
					b.Fatalf("status %d", rec.Code)
				}
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "page-bytes")
		})
	}
}

// BenchmarkOverview renders the overview of the four test SLOs, each with
// its 30-day sparkline.
func BenchmarkOverview(b *testing.B) {
	f := newFixture(b, 30)
	var size int
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		f.ui.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "page-bytes")
}

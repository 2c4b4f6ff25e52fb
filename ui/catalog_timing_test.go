package ui

import (
	"testing"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/catalog/catalogtest"
)

// BenchmarkGraphPage2000Services renders the catalog pages for 2,000
// services and 10,000 edges, all of them observed (every edge coloured):
// the figures of docs/performance.md, time and bytes per page.
func BenchmarkGraphPage2000Services(b *testing.B) {
	f := newFixture(b, 0)
	text, _ := catalogtest.Generate(2000, 10000, 10)
	c, err := catalog.Load("bench.yaml", []byte(text))
	if err != nil {
		b.Fatal(err)
	}
	var obs observedEdges
	for i, e := range c.Edges() {
		obs = append(obs, catalog.Edge{From: e.From, To: e.To, Calls: 1000, Errors: uint64(i % 20)})
	}
	u := newCatalogUI(b, f, c, obs)
	for _, path := range []string{"/graph", "/services", "/services/svc-0500"} {
		b.Run(path, func(b *testing.B) {
			b.ReportAllocs()
			var size int
			for b.Loop() {
				size = len(render(b, u, path))
			}
			b.ReportMetric(float64(size), "page-bytes")
		})
	}
}

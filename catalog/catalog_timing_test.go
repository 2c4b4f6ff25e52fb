package catalog_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/catalog/catalogtest"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// The figures of docs/performance.md: 2,000 services, 10,000 edges.
const benchServices, benchEdges = 2000, 10000

func benchCatalog(tb testing.TB) (*catalog.Catalog, []*slo.SLO, string, string) {
	tb.Helper()
	text, slos := catalogtest.Generate(benchServices, benchEdges, 10)
	c, err := catalog.Load("bench.yaml", []byte(text))
	if err != nil {
		tb.Fatal(err)
	}
	ss, _, err := spec.Load("bench-slos.yaml", []byte(slos))
	if err != nil {
		tb.Fatal(err)
	}
	return c, ss, text, slos
}

// TestGeneratedCatalog checks the benchmark's catalog is what it says,
// and with NINES_BENCH_DIR set writes it there for timing the whole
// command: nines deps check --services DIR/services.yaml --slos DIR/slos.yaml.
func TestGeneratedCatalog(t *testing.T) {
	c, slos, text, slosText := benchCatalog(t)
	if len(c.Services) != benchServices || len(c.Edges()) != benchEdges || len(slos) != 2*benchServices {
		t.Fatalf("%d services, %d edges, %d SLOs", len(c.Services), len(c.Edges()), len(slos))
	}
	r := catalog.Run(c, catalog.Input{SLOs: slos})
	cycles := 0
	for _, f := range r.Findings {
		if f.Check == catalog.CheckCycle {
			cycles++
		}
	}
	if cycles == 0 {
		t.Error("the generated catalog has no cycle")
	}
	if dir := os.Getenv("NINES_BENCH_DIR"); dir != "" {
		for name, data := range map[string]string{"services.yaml": text, "slos.yaml": slosText} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func BenchmarkLoad2000Services(b *testing.B) {
	_, _, text, _ := benchCatalog(b)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := catalog.Load("bench.yaml", []byte(text)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunChecks2000Services(b *testing.B) {
	c, slos, _, _ := benchCatalog(b)
	b.ReportAllocs()
	var sink *catalog.Report
	for b.Loop() {
		sink = catalog.Run(c, catalog.Input{SLOs: slos})
	}
	b.ReportMetric(float64(len(sink.Findings)), "findings")
}

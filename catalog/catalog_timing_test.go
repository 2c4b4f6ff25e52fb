package catalog_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// genCatalog writes a catalog of n services in 20 layers, each service
// depending on services of deeper layers (edges in all) (a fifth of them
// soft, a tenth async, some mitigated), plus back edges, each from the
// end of a chain of first dependencies to its start, that close cycles;
// and one availability and one latency SLO per service. The random
// choices are seeded: the same arguments give the same catalog.
func genCatalog(n, edges, backEdges int) (services, slos string) {
	const layers = 20
	rng := rand.New(rand.NewPCG(14, 2000))
	name := func(i int) string { return fmt.Sprintf("svc-%04d", i) }
	per := n / layers
	deps := make([][]int, n)
	callers := n - per // the last layer calls no one
	base, extra := (edges-backEdges)/callers, (edges-backEdges)%callers
	for i := range n {
		layer := i / per
		seen := map[int]bool{}
		k := base
		if i < extra {
			k++
		}
		for range k {
			if layer == layers-1 {
				break
			}
			d := (layer+1+rng.IntN(layers-layer-1))*per + rng.IntN(per)
			for seen[d] {
				d = (layer+1+rng.IntN(layers-layer-1))*per + rng.IntN(per)
			}
			seen[d] = true
			deps[i] = append(deps[i], d)
		}
	}
	back := map[int]int{}
	for k := range backEdges {
		start := k * 7
		end := start
		for len(deps[end]) > 0 {
			end = deps[end][0]
		}
		back[end] = start
	}
	var b, s strings.Builder
	b.WriteString("rotations:\n  - name: primary\nservices:\n")
	for i := range n {
		layer := i / per
		fmt.Fprintf(&b, "  - name: %s\n    owner: team-%02d\n    tier: %d\n    oncall: primary\n    ownWork: 2ms\n", name(i), i%50, 1+layer%5)
		fmt.Fprintf(&b, "    capacity: {forecastPeakRPS: 1000, testedRPS: %d, hosts: 9, zones: 3}\n", 1500+rng.IntN(1000))
		b.WriteString("    dependencies:\n")
		for _, d := range deps[i] {
			fmt.Fprintf(&b, "      - {service: %s", name(d))
			switch r := rng.IntN(20); {
			case r < 4:
				b.WriteString(", strength: soft")
			case r < 6:
				b.WriteString(", call: async")
			case r < 7:
				b.WriteString(", mitigated: {by: cache, reason: answers are cached for a minute}")
			}
			b.WriteString(", latency: 5ms}\n")
		}
		if start, ok := back[i]; ok {
			fmt.Fprintf(&b, "      - {service: %s, call: async}\n", name(start))
		} else if len(deps[i]) == 0 {
			b.WriteString("      []\n")
		}
		obj := "99.9"
		if layer >= layers/2 {
			obj = "99.99"
		}
		fmt.Fprintf(&s, "---\nname: %s-ok\nservice: %s\nsli:\n  good:\n    status: \"<500\"\nobjective: %s\nwindow:\n  rolling: 30d\n", name(i), name(i), obj)
		fmt.Fprintf(&s, "---\nname: %s-fast\nservice: %s\nsli:\n  good:\n    status: \"<500\"\n    latency: \"<%dms\"\nobjective: 99\nwindow:\n  rolling: 30d\n", name(i), name(i), 40-layer)
	}
	return b.String(), s.String()
}

// The figures of docs/performance.md: 2,000 services, 10,000 edges.
const benchServices, benchEdges = 2000, 10000

func benchCatalog(tb testing.TB) (*catalog.Catalog, []*slo.SLO, string, string) {
	tb.Helper()
	text, slos := genCatalog(benchServices, benchEdges, 10)
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

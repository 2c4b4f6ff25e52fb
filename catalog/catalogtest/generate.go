// Package catalogtest makes catalogs for tests and benchmarks.
package catalogtest

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// Generate writes a catalog of n services in 20 layers, each service
// depending on services of deeper layers (edges in all) (a fifth of them
// soft, a tenth async, some mitigated), plus back edges, each from the
// end of a chain of first dependencies to its start, that close cycles;
// and one availability and one latency SLO per service. The random
// choices are seeded: the same arguments give the same catalog.
func Generate(n, edges, backEdges int) (services, slos string) {
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

package thirdparty

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// BenchmarkEvaluate judges 1,000 vendors of three regions, each region
// with its own data plane SLO beside shared telemetry, API and latency
// SLOs: one evaluation of a large configuration.
func BenchmarkEvaluate(b *testing.B) {
	var file strings.Builder
	file.WriteString("thirdParties:\n")
	in := fakeReader{}
	for i := range 1000 {
		fmt.Fprintf(&file, "  - vendor: v%d\n    regions: [a, b, c]\n    dataPlane:\n      regions: {a: [v%d-a], b: [v%d-b], c: [v%d-c]}\n    telemetry: [v%d-logs]\n    configAPI: [v%d-api]\n    degraded: [v%d-latency]\n", i, i, i, i, i, i, i)
		for _, s := range []string{"-a", "-b", "-c", "-logs", "-api", "-latency"} {
			in[fmt.Sprint("v", i, s)] = "good"
		}
		in[fmt.Sprint("v", i, "-b")] = "bad"
	}
	cfg, err := Parse("bench.yaml", []byte(file.String()))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Evaluate(context.Background(), cfg, in, t0); err != nil {
			b.Fatal(err)
		}
	}
}

package notify

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// BenchmarkEnqueue is the cost the engine pays per transition, with its
// lock held.
func BenchmarkEnqueue(b *testing.B) {
	d := New(nil, Options{QueueSize: 1 << 30})
	tr := fire(t0)
	b.ReportAllocs()
	for b.Loop() {
		d.Enqueue(checkout, tr)
	}
}

// BenchmarkStep routes, groups and flushes a burst of alerts of many
// SLOs through a two-level tree to the log, as an outage of a shared
// dependency would make them.
func BenchmarkStep(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			cfg, err := ParseConfig("bench.yaml", []byte(`
receivers: [{name: log, log: {}}, {name: pages, log: {}}]
route:
  receiver: log
  group_by: [service]
  group_wait: 0s
  routes:
    - {matchers: [severity=page, team=~"pay.*"], receiver: pages, group_by: [slo, alert]}
`), nil)
			if err != nil {
				b.Fatal(err)
			}
			slos := make([]*slo.SLO, n)
			for i := range slos {
				slos[i] = &slo.SLO{Name: fmt.Sprintf("slo-%d", i), Service: fmt.Sprintf("svc-%d", i%20), Labels: map[string]string{"team": "payments"}}
			}
			b.ReportAllocs()
			for b.Loop() {
				d := New(cfg, Options{})
				for _, s := range slos {
					d.Enqueue(s, fire(t0))
				}
				d.Step(context.Background(), t0)
				for _, s := range slos {
					d.Enqueue(s, resolve(t0.Add(time.Minute), t0))
				}
				d.Step(context.Background(), t0.Add(10*time.Minute))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(2*n), "ns/transition")
		})
	}
}

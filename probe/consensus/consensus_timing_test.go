package consensus

import (
	"fmt"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// BenchmarkSeriesDay judges a day of one-minute quanta of a probe from n
// locations, each reporting every minute with one latency, over a
// two-minute window: what the writer of consensus rollups does when it
// catches up a day.
func BenchmarkSeriesDay(b *testing.B) {
	for _, n := range []int{3, 10} {
		b.Run(fmt.Sprintf("locations=%d", n), func(b *testing.B) {
			locs := Locations{}
			for l := range n {
				rs := make([]slo.Rollup, 1440)
				for i := range rs {
					rs[i] = slo.Rollup{Start: t0.Add(time.Duration(i) * minute).UnixNano(), Attempted: 1, Good: uint64((i + l) % 7 / 6), Measured: true}
					rs[i].Latency.Insert(0.02 + float64(l)*0.01)
				}
				locs[fmt.Sprint("loc", l)] = rs
			}
			rule := Rule{K: n/2 + 1, N: n, Window: 2 * minute, Quantum: minute}
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Series(rule, locs, t0, t0.Add(24*time.Hour)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

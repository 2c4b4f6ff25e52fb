package scorecard

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

// fleet is 2,000 services in a chain of layers, each judged by one SLO
// with one rollup an hour over 13 weeks, each calling five others
// (10,000 detected edges), as the catalog of 2,000 services and
// 10,000 edges.
func fleet(tb testing.TB, n int) ([]Service, *memRollups, sloMap, sameEdges, Week) {
	tb.Helper()
	cal := DefaultCalendar()
	last, _ := cal.Parse("2026-W48")
	weeks := cal.Span(last, HistoryWeeks+1)
	mem := &memRollups{rollups: map[string][]slo.Rollup{}}
	slos := sloMap{}
	services := make([]Service, n)
	var edges []Edge
	variants := make([][]slo.Rollup, 7)
	for i := range services {
		name := fmt.Sprintf("svc-%04d", i)
		sloName := name + "-availability"
		slos[sloName] = &slo.SLO{Name: sloName, Quantum: time.Hour}
		services[i] = Service{Name: name, Owners: []string{fmt.Sprintf("team-%d", i%50)}, Goal: 0.999, SLOs: []string{sloName}}
		// Seven histories, shared: the rollups' histograms make a copy
		// per service cost more memory than the test is worth.
		if variants[i%7] == nil {
			for at := weeks[0].Start; at.Before(last.End); at = at.Add(time.Hour) {
				good := uint64(1000)
				if (at.Unix()/3600+int64(i))%97 == 0 {
					good = 900
				}
				variants[i%7] = append(variants[i%7], slo.Rollup{Start: at.UnixNano(), Attempted: 1000, Good: good})
			}
		}
		mem.rollups[sloName] = variants[i%7]
		for k := 1; k <= 5; k++ {
			dep := fmt.Sprintf("svc-%04d", (i+k*37)%n)
			services[i].Dependencies = append(services[i].Dependencies, dep)
			edges = append(edges, Edge{Caller: name, Callee: dep, Calls: 10000, Errors: uint64(k)})
		}
	}
	return services, mem, slos, edges, last
}

// sameEdges gives the same detected edges every week.
type sameEdges []Edge

func (e sameEdges) Edges(context.Context, Week) ([]Edge, error) { return e, nil }

func BenchmarkCards2000Services(b *testing.B) {
	services, mem, slos, edges, last := fleet(b, 2000)
	now := last.End.Add(48 * time.Hour)
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			cache := &WeekCache{Now: func() time.Time { return now }, PastWrites: func() int64 { return 0 }}
			sc := &Scorer{Calendar: DefaultCalendar(), SLOs: &FromRollups{Rollups: mem, SLOs: slos, Cache: cache}, Edges: sameEdges(edges)}
			if warm {
				if _, err := sc.Cards(context.Background(), services, last); err != nil {
					b.Fatal(err)
				}
			}
			b.ResetTimer()
			for range b.N {
				if !warm {
					cache.slos = nil
				}
				if _, err := sc.Cards(context.Background(), services, last); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestScorecardsOf2000ServicesTakeUnderTwoSeconds holds the issue's
// figure for the weekly scorecards of 2,000 services, read from memory
// at hourly quanta (the store's own read rate is measured apart, in
// BenchmarkReadWeekFromSQLite).
func TestScorecardsOf2000ServicesTakeUnderTwoSeconds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds 2,000 services of history")
	}
	services, mem, slos, edges, last := fleet(t, 2000)
	sc := &Scorer{Calendar: DefaultCalendar(), SLOs: &FromRollups{Rollups: mem, SLOs: slos}, Edges: sameEdges(edges)}
	start := time.Now()
	cards, err := sc.Cards(context.Background(), services, last)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(cards) != 2000 || took > 2*time.Second {
		t.Errorf("%d cards in %s, want 2,000 within 2 s", len(cards), took)
	}
	t.Logf("2,000 scorecards with 10,000 edges in %s", took)
}

// BenchmarkReadWeekFromSQLite reads one week of one SLO at the default
// one-minute quantum (10,080 rollups) from the embedded store, cold.
func BenchmarkReadWeekFromSQLite(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	week, _ := DefaultCalendar().Parse("2026-W48")
	app := db.Appender(ctx)
	for at := week.Start; at.Before(week.End); at = at.Add(time.Minute) {
		if err := app.Append("a", time.Minute, &slo.Rollup{Start: at.UnixNano(), Attempted: 100, Good: 99, Errors: 1, Measured: true}); err != nil {
			b.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		b.Fatal(err)
	}
	f := &FromRollups{Rollups: db, SLOs: sloMap{"a": {Name: "a", Quantum: time.Minute}}}
	svc := &Service{Name: "s", Goal: 0.99, SLOs: []string{"a"}}
	b.ResetTimer()
	for range b.N {
		got, err := f.Counts(ctx, svc, []Week{week})
		if err != nil || got[0].Total != 100*10080 {
			b.Fatal(got, err)
		}
	}
	b.ReportMetric(float64(10080*b.N)/b.Elapsed().Seconds(), "rollups/s")
}

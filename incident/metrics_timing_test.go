package incident_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/store/sqlite"
)

// BenchmarkMetrics100k stores 100,000 incidents over two years of 50
// services, with 1,000,000 timeline entries and 100,000 repair items, in
// a temporary SQLite store, then times the month-by-month report (what
// nines incident metrics --by month asks for) and the debt report.
//
//	go test -run '^$' -bench Metrics100k -benchtime 20x ./incident/
func BenchmarkMetrics100k(b *testing.B) {
	const (
		incidents = 100_000
		entries   = 10 // timeline entries per incident
		services  = 50
	)
	ctx := context.Background()
	dir := b.TempDir()
	if d := os.Getenv("NINES_BENCH_INCIDENTS_DIR"); d != "" {
		dir = d // keep the store between runs while profiling
	}
	db, err := sqlite.Open(ctx, dir, sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	cfg := &incident.Config{Services: map[string]incident.ServiceConfig{}}
	for s := range services {
		cfg.Services[fmt.Sprintf("svc-%02d", s)] = incident.ServiceConfig{Owner: fmt.Sprintf("team-%d", s%10),
			Goals: incident.Goals{TTD: 5 * time.Minute, TTE: 10 * time.Minute, TTF: 30 * time.Minute, TTM: 45 * time.Minute}}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	minutes := func(median float64) time.Duration {
		return time.Duration(median * rng.ExpFloat64() * float64(time.Minute))
	}
	start := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	t0 := time.Now()
	fill := func() {
		batch := make([]*incident.Incident, 0, 10_000)
		for i := range incidents {
			imp := start.Add(time.Duration(rng.Int64N(int64(2 * 365 * 24 * time.Hour)))).Truncate(time.Second)
			inc := &incident.Incident{Title: fmt.Sprintf("incident %d", i), Services: []string{fmt.Sprintf("svc-%02d", rng.IntN(services))},
				Severity: 1 + rng.IntN(5), Status: incident.Resolved, DetectedBy: incident.ByMonitoring, ImpactStart: imp, Created: imp, Updated: imp}
			if rng.IntN(5) == 0 {
				inc.DetectedBy = incident.ByCustomer
			}
			inc.Detected = imp.Add(minutes(4))
			if rng.IntN(10) != 0 { // one in ten never recorded who engaged
				inc.Engaged = inc.Detected.Add(minutes(8))
				inc.Mitigated = inc.Engaged.Add(minutes(25))
				inc.Resolved = inc.Mitigated.Add(time.Hour)
			} else {
				inc.Status = incident.Open
			}
			for r := range 1 + rng.IntN(4) {
				inc.Responders = append(inc.Responders, incident.Responder{Name: fmt.Sprintf("r%d", r), Order: r + 1})
			}
			inc.Responders[len(inc.Responders)-1].Engaged = true
			for e := range entries {
				inc.Timeline = append(inc.Timeline, incident.Entry{At: inc.Detected.Add(time.Duration(e) * time.Minute),
					Kind: incident.Kinds[e%len(incident.Kinds)].Kind, Text: "responders looked at the dashboards and shed some load"})
			}
			inc.Repairs = []incident.RepairItem{{Title: "alert sooner", Term: incident.ShortTerm, Phase: incident.Phase([]string{"detection", "engagement", "diagnosis", "mitigation"}[rng.IntN(4)]),
				Status: incident.RepairOpen, Created: inc.Detected, Due: inc.Detected.Add(7 * 24 * time.Hour)}}
			if rng.IntN(3) != 0 {
				inc.Repairs[0].Status, inc.Repairs[0].Closed = incident.RepairDone, inc.Detected.Add(5*24*time.Hour)
			}
			batch = append(batch, inc)
			if len(batch) == cap(batch) {
				if err := db.ImportIncidents(ctx, batch); err != nil {
					b.Fatal(err)
				}
				batch = batch[:0]
			}
		}
	}
	if facts, _ := incident.AllFacts(ctx, db); len(facts) != incidents {
		fill()
	}
	if err := db.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	size, err := db.Size(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("stored %d incidents, %d timeline entries in %s: %.1f MiB", incidents, incidents*entries, time.Since(t0).Round(time.Second), float64(size)/(1<<20))
	now := start.Add(2 * 365 * 24 * time.Hour)
	svc, err := incident.New(incident.Options{Store: db, Config: cfg, Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	// The report as nines serve answers it once running: the service
	// holds the facts and finds nothing changed.
	b.Run("metrics-by-month", func(b *testing.B) {
		if _, err := svc.Metrics(ctx, incident.MetricsQuery{}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			rep, err := svc.Metrics(ctx, incident.MetricsQuery{By: incident.Month, ListLimit: 100})
			if err != nil || len(rep.Groups) != services*24 {
				b.Fatalf("%v: %d groups", err, len(rep.Groups))
			}
		}
		b.ReportMetric(float64(size)/(1<<20), "store-MiB")
	})
	// A fresh service reads every incident's facts: the first report
	// after nines serve starts.
	b.Run("metrics-by-month-cold", func(b *testing.B) {
		for b.Loop() {
			cold, err := incident.New(incident.Options{Store: db, Config: cfg, Now: func() time.Time { return now }})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := cold.Metrics(ctx, incident.MetricsQuery{By: incident.Month, ListLimit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
	// A report after an incident changed reads that one only.
	b.Run("metrics-by-month-after-update", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			summary := fmt.Sprint("update ", i)
			if _, err := svc.Update(ctx, int64(1+i%incidents), incident.Patch{Summary: &summary}); err != nil {
				b.Fatal(err)
			}
			if _, err := svc.Metrics(ctx, incident.MetricsQuery{By: incident.Month, ListLimit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("compute-only", func(b *testing.B) {
		facts, _ := incident.AllFacts(ctx, db)
		b.ReportAllocs()
		for b.Loop() {
			incident.Compute(cfg, incident.MetricsQuery{By: incident.Month, ListLimit: 100}, facts, nil)
		}
	})
	b.Run("debt-by-owner", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := svc.Debt(ctx, incident.DebtQuery{Group: incident.ByOwner, ListLimit: 100}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

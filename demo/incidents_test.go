package demo

import (
	"context"
	"testing"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store/sqlite"
)

// TestSeedIncidentsTellsTheOutagesOnce records the demo outages as
// incidents whose figures follow the story (impact at the outage's
// start, phases in order, customer-detected ones slower to see), and a
// second start adds nothing.
func TestSeedIncidentsTellsTheOutagesOnce(t *testing.T) {
	ctx := context.Background()
	slos, _, err := spec.Load("demo.yaml", []byte(Specs))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg, err := incident.ParseConfig("demo", []byte(IncidentsConfig))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	opts := incident.Options{Store: db, Config: cfg, Services: func() []string { return []string{"checkout", "search", "login"} }}
	n, err := SeedIncidents(ctx, opts, slos, now, 1)
	if err != nil {
		t.Fatal(err)
	}
	var outages []Outage
	for _, s := range slos {
		outages = append(outages, Outages(s, now.Add(-demoIncidentDays*24*time.Hour), now.Add(-2*time.Hour), 1)...)
	}
	if n == 0 || n != len(outages) {
		t.Fatalf("%d incidents for %d outages", n, len(outages))
	}
	opts.Now = func() time.Time { return now }
	svc, err := incident.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	list, err := svc.List(ctx, incident.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	starts := map[time.Time]bool{}
	for _, o := range outages {
		starts[o.Start] = true
	}
	byCustomer, postmortems := 0, 0
	for _, inc := range list {
		full, err := svc.Get(ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !starts[full.ImpactStart] || !full.ImpactStart.Before(full.Detected) || !full.Detected.Before(full.Engaged) ||
			!full.Engaged.Before(full.Mitigated) || !full.Mitigated.Before(full.Resolved) {
			t.Errorf("incident %d: %s %s %s %s %s", full.ID, full.ImpactStart, full.Detected, full.Engaged, full.Mitigated, full.Resolved)
		}
		if full.DetectedBy == incident.ByCustomer {
			byCustomer++
			if full.Detected.Sub(full.ImpactStart) < 12*time.Minute {
				t.Errorf("incident %d: a customer saw it after %s", full.ID, full.Detected.Sub(full.ImpactStart))
			}
		}
		if full.Status == incident.PostmortemDone {
			postmortems++
		}
	}
	if byCustomer == 0 || byCustomer == len(list) || postmortems == 0 {
		t.Errorf("%d of %d detected by customers, %d postmortems: the demo should show both kinds and some postmortems", byCustomer, len(list), postmortems)
	}
	rep, err := svc.Metrics(ctx, incident.MetricsQuery{By: incident.Month})
	if err != nil {
		t.Fatal(err)
	}
	if rep == nil {
		t.Fatal("no report")
	}
	if again, err := SeedIncidents(ctx, opts, slos, now, 1); err != nil || again != 0 {
		t.Errorf("second seeding: %d, %v; want nothing added", again, err)
	}
}

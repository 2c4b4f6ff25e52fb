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

// TestRecordStoryCutShortByNow: an outage so recent that its repair items
// are not written yet by now, though the story marks some of them done
// later, is recorded up to now without a panic. The times are within what
// story makes: customer-detected at 44 min, three hops to engage (24 min),
// mitigated 50 min later, the outage starting just over 2 h before now.
func TestRecordStoryCutShortByNow(t *testing.T) {
	ctx := context.Background()
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
	clock := now
	svc, err := incident.New(incident.Options{Store: db, Config: cfg, Now: func() time.Time { return clock },
		Services: func() []string { return []string{"checkout"} }})
	if err != nil {
		t.Fatal(err)
	}
	start := now.Add(-125 * time.Minute)
	p := plot{o: Outage{SLO: "checkout-availability", Service: "checkout", Start: start, End: start.Add(5 * time.Minute), FailureRate: 0.3},
		customer: true, severity: 2, detected: start.Add(44 * time.Minute), engaged: start.Add(68 * time.Minute), mitigated: start.Add(118 * time.Minute),
		resolved: start.Add(200 * time.Minute), responders: []string{"ana"},
		repairs:     []incident.RepairInput{{Title: "alert on checkout 5xx", Phase: incident.Detection}},
		repairsDone: 1}
	if err := p.record(ctx, svc, &clock, now); err != nil {
		t.Fatal(err)
	}
	inc, err := svc.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if inc.Status != incident.Mitigated || len(inc.Repairs) != 0 {
		t.Errorf("incident as of now: status %s, %d repair items; want mitigated, none yet", inc.Status, len(inc.Repairs))
	}
}

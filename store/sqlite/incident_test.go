package sqlite

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/incident/incidenttest"
)

func incidentService(t *testing.T) (*incident.Service, *DB, *time.Time) {
	t.Helper()
	db := open(t, t.TempDir())
	now := time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)
	svc, err := incident.New(incident.Options{Store: db, Now: func() time.Time { return now },
		Config: &incident.Config{Services: map[string]incident.ServiceConfig{"checkout": {Owner: "team-payments"}, "search": {}}}})
	if err != nil {
		t.Fatal(err)
	}
	return svc, db, &now
}

func ts(hm string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", "2026-11-25 "+hm)
	if err != nil {
		panic(err)
	}
	return t
}

func TestIncidentRoundTrip(t *testing.T) {
	ctx := context.Background()
	svc, db, _ := incidentService(t)
	inc, err := svc.Open(ctx, incident.OpenInput{Title: "5xx on pay", Services: []string{"checkout", "search"}, Severity: 2,
		DetectedBy: incident.ByCustomer, ImpactStart: ts("10:02"), Detected: ts("10:09"),
		Responders: []incident.Responder{{Name: "bob", Order: 1}}, Links: []incident.Link{{Title: "chat", URL: "https://chat/pay"}}})
	if err != nil {
		t.Fatal(err)
	}
	if inc.ID != 1 || inc.Version != 1 || inc.Status != incident.Open {
		t.Fatalf("opened %+v", inc)
	}
	engaged, mitigated := ts("10:19"), ts("10:41")
	inc, err = svc.Update(ctx, inc.ID, incident.Patch{Version: 1, Engaged: &engaged, Mitigated: &mitigated,
		Responders: []incident.Responder{{Name: "alice", Engaged: true, Role: incident.Commander}}})
	if err != nil {
		t.Fatal(err)
	}
	if inc.Version != 2 || inc.Status != incident.Mitigated {
		t.Fatalf("after update: version %d status %s", inc.Version, inc.Status)
	}
	if _, err := svc.AddEntry(ctx, inc.ID, 0, incident.Entry{At: ts("10:25"), Kind: incident.Sacrifice, Text: "shed 20% of traffic"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddRepair(ctx, inc.ID, 0, incident.RepairInput{Title: "Alert on pay 5xx", Phase: incident.Detection}); err != nil {
		t.Fatal(err)
	}
	got, err := svc.Get(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 4 || len(got.Timeline) != 1 || got.Timeline[0].Seq != 1 || len(got.Repairs) != 1 || len(got.Links) != 1 {
		t.Fatalf("read back %+v", got)
	}
	r := got.Repairs[0]
	if r.Owner != "team-payments" || r.Term != incident.ShortTerm || !r.Due.Equal(ts("11:00").Add(7*24*time.Hour)) {
		t.Errorf("repair item %+v: want owner from the service, due in 7 days", r)
	}
	if h, ok := got.Hops(); !ok || h != 1 {
		t.Errorf("hops %d %v, want 1 (bob was paged before alice engaged)", h, ok)
	}
	if m := got.Metrics; m == nil || *m.TTD != incident.Dur(7*time.Minute) || *m.TTM != incident.Dur(39*time.Minute) {
		t.Errorf("metrics %+v", got.Metrics)
	}
	facts, err := incident.AllFacts(ctx, db)
	if err != nil || len(facts) != 1 || facts[0].Hops != 1 || len(facts[0].Services) != 2 || facts[0].Responders != 2 {
		t.Fatalf("facts %+v %v", facts, err)
	}
	list, err := svc.List(ctx, incident.Filter{Service: "search"})
	if err != nil || len(list) != 1 {
		t.Fatalf("list by second service: %v %v", list, err)
	}
	if list, _ := svc.List(ctx, incident.Filter{Status: []incident.Status{incident.Open}}); len(list) != 0 {
		t.Errorf("no open incident, listed %d", len(list))
	}
}

// Every bad input gets a clear error and leaves what was recorded as it
// was.
func TestIncidentBadInput(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := incidentService(t)
	inc, err := svc.Open(ctx, incident.OpenInput{Title: "slow search", Services: []string{"search"}, Severity: 3, ImpactStart: ts("10:00"), Detected: ts("10:05")})
	if err != nil {
		t.Fatal(err)
	}
	early := ts("10:01")
	for _, c := range []struct {
		name string
		do   func() error
		is   error
		says string
	}{
		{"mitigated before detected", func() error {
			_, err := svc.Update(ctx, inc.ID, incident.Patch{Mitigated: &early})
			return err
		}, incident.ErrInvalid, "mitigated 2026-11-25T10:01:00Z is before detected 2026-11-25T10:05:00Z"},
		{"unknown service", func() error {
			_, err := svc.Open(ctx, incident.OpenInput{Title: "x", Services: []string{"paymnets"}, Severity: 2})
			return err
		}, incident.ErrInvalid, `unknown service "paymnets"; known services: checkout, search`},
		{"unknown severity", func() error {
			_, err := svc.Open(ctx, incident.OpenInput{Title: "x", Services: []string{"search"}, Severity: 9})
			return err
		}, incident.ErrInvalid, "unknown severity 9: the scale is 1 (SEV1), 2 (SEV2)"},
		{"stale version", func() error {
			title := "renamed"
			_, err := svc.Update(ctx, inc.ID, incident.Patch{Version: 7, Title: &title})
			return err
		}, incident.ErrConflict, "version 7 expected, it is at version 1"},
		{"status backwards", func() error {
			st := incident.Open
			m := ts("10:30")
			if _, err := svc.Update(ctx, inc.ID, incident.Patch{Mitigated: &m}); err != nil {
				return err
			}
			_, err := svc.Update(ctx, inc.ID, incident.Patch{Status: &st})
			return err
		}, incident.ErrInvalid, "cannot go back from mitigated to open"},
		{"unknown incident", func() error {
			_, err := svc.Get(ctx, 999)
			return err
		}, incident.ErrNotFound, "incident 999"},
		{"a link that would run script", func() error {
			_, err := svc.Update(ctx, inc.ID, incident.Patch{AddLinks: []incident.Link{{URL: "javascript://%0Aalert(1)"}}})
			return err
		}, incident.ErrInvalid, "want an absolute http or https URL"},
		{"a repair link that is no URL", func() error {
			_, err := svc.AddRepair(ctx, inc.ID, 0, incident.RepairInput{Title: "page on search errors", Phase: incident.Detection, Link: "ticket 7"})
			return err
		}, incident.ErrInvalid, "repair item link"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.do()
			if !errors.Is(err, c.is) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("error %v, want %v saying %q", err, c.is, c.says)
			}
		})
	}
	got, err := svc.Get(ctx, inc.ID)
	if err != nil || got.Title != "slow search" || got.Status != incident.Mitigated || !got.Detected.Equal(ts("10:05")) {
		t.Fatalf("after the refused changes: %+v %v", got, err)
	}
}

func TestIncidentDuplicateRepairAndClosed(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := incidentService(t)
	inc, err := svc.Open(ctx, incident.OpenInput{Title: "x", Services: []string{"checkout"}, Severity: 1, ImpactStart: ts("10:00"), Detected: ts("10:01")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.AddRepair(ctx, inc.ID, 0, incident.RepairInput{Title: "Alert on pay 5xx", Phase: incident.Detection}); err != nil {
		t.Fatal(err)
	}
	_, err = svc.AddRepair(ctx, inc.ID, 0, incident.RepairInput{Title: "alert on pay-5xx!", Phase: incident.Detection})
	if !errors.Is(err, incident.ErrDuplicate) {
		t.Fatalf("duplicate repair item: %v", err)
	}
	if _, err := svc.SetPostmortem(ctx, inc.ID, 0, "# Postmortem\n", true); err != nil {
		t.Fatal(err)
	}
	title := "late edit"
	_, err = svc.Update(ctx, inc.ID, incident.Patch{Title: &title})
	if !errors.Is(err, incident.ErrClosed) {
		t.Fatalf("edit of a closed incident: %v", err)
	}
	if _, err := svc.AddEntry(ctx, inc.ID, 0, incident.Entry{Text: "x"}); !errors.Is(err, incident.ErrClosed) {
		t.Fatalf("timeline entry on a closed incident: %v", err)
	}
	// Repair items of a closed incident can still be closed.
	done := incident.RepairDone
	if got, err := svc.UpdateRepair(ctx, inc.ID, 1, 0, incident.RepairPatch{Status: &done}); err != nil || got.Repairs[0].Closed.IsZero() {
		t.Fatalf("closing a repair item: %v", err)
	}
	got, err := svc.Update(ctx, inc.ID, incident.Patch{Title: &title, Reopen: true})
	if err != nil || got.Status != incident.Resolved || got.Title != title {
		t.Fatalf("reopen: %+v %v", got, err)
	}
}

// Two clients read version 1 and both write: exactly one wins, the other
// gets a conflict, and the winner's change is what is stored.
func TestIncidentConcurrentUpdates(t *testing.T) {
	ctx := context.Background()
	svc, _, _ := incidentService(t)
	inc, err := svc.Open(ctx, incident.OpenInput{Title: "x", Services: []string{"checkout"}, Severity: 2})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := strings.Repeat("s", i+1)
			_, errs[i] = svc.Update(ctx, inc.ID, incident.Patch{Version: inc.Version, Summary: &s})
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		var ce *incident.ConflictError
		switch {
		case err == nil && won < 0:
			won = i
		case err == nil:
			t.Fatalf("clients %d and %d both won", won, i)
		case !errors.As(err, &ce) || ce.Actual != 2:
			t.Fatalf("client %d: %v, want a conflict at version 2", i, err)
		}
	}
	got, _ := svc.Get(ctx, inc.ID)
	if won < 0 || got.Summary != strings.Repeat("s", won+1) || got.Version != 2 {
		t.Fatalf("winner %d, stored %q version %d", won, got.Summary, got.Version)
	}
}

func TestIncidentFromAlerts(t *testing.T) {
	ctx := context.Background()
	svc, _, now := incidentService(t)
	sig := incident.AlertSignal{Service: "checkout", GroupKey: "checkout-availability/page-fast", Title: "checkout burning budget", DetectedAt: ts("10:03")}
	a, err := svc.OpenFromAlert(ctx, sig)
	if err != nil {
		t.Fatal(err)
	}
	b, err := svc.OpenFromAlert(ctx, sig)
	if err != nil || b.ID != a.ID || len(b.Timeline) != 2 {
		t.Fatalf("a repeat of the alert should attach: %+v %v", b, err)
	}
	if a.DetectedBy != incident.ByMonitoring || !a.Detected.Equal(ts("10:03")) || a.Severity != 2 {
		t.Errorf("opened %+v", a)
	}
	*now = ts("10:40")
	sig.Resolved, sig.ResolvedAt = true, ts("10:38")
	c, err := svc.OpenFromAlert(ctx, sig)
	if err != nil || c.ID != a.ID || c.Status != incident.Mitigated || !c.Mitigated.Equal(ts("10:38")) {
		t.Fatalf("resolved alert: %+v %v", c, err)
	}
	// Once resolved by a person, the next firing opens a new incident.
	st := incident.Resolved
	if _, err := svc.Update(ctx, a.ID, incident.Patch{Status: &st}); err != nil {
		t.Fatal(err)
	}
	sig.Resolved = false
	d, err := svc.OpenFromAlert(ctx, sig)
	if err != nil || d.ID == a.ID {
		t.Fatalf("after resolution: %+v %v", d, err)
	}
}

// A reader holding the facts up to a generation gets only the incidents
// changed since.
func TestIncidentFactsSince(t *testing.T) {
	ctx := context.Background()
	svc, db, _ := incidentService(t)
	for _, title := range []string{"a", "b", "c"} {
		if _, err := svc.Open(ctx, incident.OpenInput{Title: title, Services: []string{"search"}, Severity: 3}); err != nil {
			t.Fatal(err)
		}
	}
	since := func(gen int64) (ids []int64, next int64) {
		t.Helper()
		next, err := db.IncidentFactsSince(ctx, gen, func(f *incident.Facts) error {
			ids = append(ids, f.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return ids, next
	}
	all, gen := since(0)
	if len(all) != 3 || gen != 3 {
		t.Fatalf("all: %v at gen %d", all, gen)
	}
	if ids, g := since(gen); len(ids) != 0 || g != gen {
		t.Fatalf("nothing changed, got %v at gen %d", ids, g)
	}
	if _, err := svc.AddRepair(ctx, 2, 0, incident.RepairInput{Title: "x", Phase: incident.Engagement}); err != nil {
		t.Fatal(err)
	}
	ids, g := since(gen)
	if len(ids) != 1 || ids[0] != 2 || g != 4 {
		t.Fatalf("after a change to 2: %v at gen %d", ids, g)
	}
	facts, _ := incident.AllFacts(ctx, db)
	if !facts[1].Repaired.Has(incident.Engagement) {
		t.Errorf("the repair item's phase is in the facts: %+v", facts[1])
	}
}

// An incident stays editable after its service leaves the configuration;
// naming a new unknown service is still refused.
func TestIncidentOutlivesItsService(t *testing.T) {
	ctx := context.Background()
	svc, db, _ := incidentService(t)
	inc, err := svc.Open(ctx, incident.OpenInput{Title: "x", Services: []string{"search"}, Severity: 5})
	if err != nil {
		t.Fatal(err)
	}
	later, err := incident.New(incident.Options{Store: db, Config: &incident.Config{
		Severities: []incident.Severity{{Level: 1, Name: "P1"}}, Services: map[string]incident.ServiceConfig{"checkout": {}}}})
	if err != nil {
		t.Fatal(err)
	}
	m := ts("11:30")
	if _, err := later.Update(ctx, inc.ID, incident.Patch{Mitigated: &m}); err != nil {
		t.Fatalf("editing an incident of a service no longer configured: %v", err)
	}
	_, err = later.Update(ctx, inc.ID, incident.Patch{Services: []string{"search", "ads"}})
	if !errors.Is(err, incident.ErrInvalid) || !strings.Contains(err.Error(), `unknown service "ads"`) {
		t.Fatalf("adding an unknown service: %v", err)
	}
}

// TestSetBurnsOnlyForTheCurrentVersion: budget burned computed from an
// older version of an incident (a slower concurrent change) does not
// overwrite the figures of the newer one.
func TestSetBurnsOnlyForTheCurrentVersion(t *testing.T) {
	ctx := context.Background()
	svc, db, _ := incidentService(t)
	inc, err := svc.Open(ctx, incident.OpenInput{Title: "slow search", Services: []string{"search"}, Severity: 3, ImpactStart: ts("10:00"), Detected: ts("10:05")})
	if err != nil {
		t.Fatal(err)
	}
	newer := []incident.Burn{{SLO: "search-latency", From: ts("10:00"), To: ts("10:30"), Share: 0.2}}
	if ok, err := db.SetBurns(ctx, inc.ID, inc.Version, newer); err != nil || !ok {
		t.Fatalf("current version: %v %v", ok, err)
	}
	if ok, err := db.SetBurns(ctx, inc.ID, inc.Version-1, []incident.Burn{{SLO: "search-latency", From: ts("10:00"), To: ts("10:40"), Share: 0.9}}); err != nil || ok {
		t.Fatalf("older version written: %v %v", ok, err)
	}
	burns, err := db.Burns(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := burns[inc.ID]; len(got) != 1 || got[0].Share != 0.2 {
		t.Errorf("stored %+v, want the current version's", got)
	}
	if _, err := db.SetBurns(ctx, 999, 1, newer); !errors.Is(err, incident.ErrNotFound) {
		t.Errorf("unknown incident: %v", err)
	}
}

func TestIncidentContract(t *testing.T) {
	incidenttest.Run(t, func(t *testing.T) incident.Store { return open(t, t.TempDir()) })
}

// Package incidenttest is the contract every incident.Store passes, as
// store/storetest is for rollups: a backend's own test calls Run with a
// constructor, and what the incident service relies on (versions, the
// numbering of timeline entries, the lookup of an alert's incident, the
// order of the list, facts by generation, the range of times stored) is
// checked the same way for every backend.
package incidenttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/store"
)

// Run runs the contract suite. open must return a new, empty store each
// time it is called and arrange for its cleanup (with t.Cleanup).
// Subtests are independent and may be selected with -run.
func Run(t *testing.T, open func(t *testing.T) incident.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s incident.Store)
	}{
		{"a created incident reads back as it was given", testRoundTrip},
		{"an unknown incident is not found", testNotFound},
		{"an update bumps the version and numbers new entries and items", testUpdate},
		{"an update whose function fails stores nothing", testUpdateFails},
		{"a repair item title twice in an incident is a duplicate", testDuplicateRepair},
		{"open or attach finds the unresolved incident of a service and group key", testOpenOrAttach},
		{"the list is newest impact first and filtered", testList},
		{"facts since a generation are the changes since", testFactsSince},
		{"repair items and budget burned of every incident", testRepairsAndBurns},
		{"budget burned is stored only for the current version", testBurnsVersion},
		{"times outside the range nines stores are refused", testTimeRange},
		{"the first and last instants of the range round trip", testTimeBounds},
		{"concurrent updates are applied one after the other", testConcurrentUpdates},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// t0 is when the incidents of the suite happen.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// newIncident returns an incident as the service would store it: open,
// detected at minute detected, with Created and Updated set.
func newIncident(title, service string, detected int) *incident.Incident {
	return &incident.Incident{Title: title, Services: []string{service}, Severity: 2, Status: incident.Open,
		DetectedBy: incident.ByMonitoring, Detected: at(detected), Created: at(detected), Updated: at(detected)}
}

// full returns an incident with every part set.
func full() *incident.Incident {
	inc := newIncident("5xx on pay", "checkout", 9)
	inc.Summary, inc.Owner, inc.GroupKey, inc.Postmortem = "a config push halved the pool", "team-payments", "checkout/page", "# Postmortem\n"
	inc.Services = append(inc.Services, "search")
	inc.Status, inc.DetectedBy, inc.Severity = incident.Resolved, incident.ByCustomer, 1
	inc.ImpactStart, inc.Engaged, inc.Mitigated, inc.Resolved = at(2), at(19), at(41), at(90)
	inc.Responders = []incident.Responder{{Name: "bob", Order: 1, Paged: at(10)}, {Name: "alice", Order: 2, Role: incident.Commander, Engaged: true}}
	inc.Links = []incident.Link{{Title: "chat", URL: "https://chat.example/pay"}}
	inc.SLOs = []string{"checkout-availability"}
	inc.Timeline = []incident.Entry{
		{At: at(12), Kind: incident.Decode, Text: "customers report 5xx", Author: "bob"},
		{At: at(25), Kind: incident.Sacrifice, Text: "shed 20% of traffic"},
	}
	inc.Repairs = []incident.RepairItem{
		{Title: "alert on pay 5xx", Term: incident.ShortTerm, Phase: incident.Detection, Owner: "team-payments", Status: incident.RepairOpen,
			Created: at(60), Due: at(60).AddDate(0, 0, 7)},
		{Title: "page the pool owner", Term: incident.LongTerm, Phase: incident.Engagement, Status: incident.RepairDone,
			Created: at(61), Closed: at(70), Link: "https://tracker.example/PAY-2"},
	}
	inc.Burn = []incident.Burn{{SLO: "checkout-availability", From: at(2), To: at(41), Unit: "events", Spent: 1950, Total: 4320, Share: 1950.0 / 4320}}
	return inc
}

func create(t *testing.T, s incident.Store, inc *incident.Incident) *incident.Incident {
	t.Helper()
	if err := s.CreateIncident(context.Background(), inc); err != nil {
		t.Fatalf("CreateIncident(%q): %v", inc.Title, err)
	}
	return inc
}

func get(t *testing.T, s incident.Store, id int64) *incident.Incident {
	t.Helper()
	inc, err := s.Incident(context.Background(), id)
	if err != nil {
		t.Fatalf("Incident(%d): %v", id, err)
	}
	return inc
}

// same compares incidents by their JSON, which is what clients see.
func same(t *testing.T, what string, got, want *incident.Incident) {
	t.Helper()
	g, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	w, err := json.Marshal(want)
	if err != nil {
		t.Fatal(err)
	}
	if string(g) != string(w) {
		t.Errorf("%s:\n got %s\nwant %s", what, g, w)
	}
}

func wantErr(t *testing.T, what string, err error, targets ...error) {
	t.Helper()
	for _, target := range targets {
		if !errors.Is(err, target) {
			t.Errorf("%s: error %v, want one wrapping %v", what, err, target)
		}
	}
}

func testRoundTrip(t *testing.T, s incident.Store) {
	inc := full()
	want := full()
	create(t, s, inc)
	if inc.ID <= 0 || inc.Version != 1 {
		t.Fatalf("created: ID %d version %d, want a positive ID at version 1", inc.ID, inc.Version)
	}
	for i, e := range inc.Timeline {
		if e.Seq != int64(i+1) {
			t.Errorf("timeline[%d].Seq = %d, want %d", i, e.Seq, i+1)
		}
	}
	if r := inc.Repairs; r[0].ID <= 0 || r[1].ID <= 0 || r[0].ID == r[1].ID || r[0].IncidentID != inc.ID || r[1].IncidentID != inc.ID {
		t.Errorf("repair items %+v: want distinct positive IDs of incident %d", r, inc.ID)
	}
	want.ID, want.Version = inc.ID, 1
	for i := range want.Timeline {
		want.Timeline[i].Seq = int64(i + 1)
	}
	for i := range want.Repairs {
		want.Repairs[i].ID, want.Repairs[i].IncidentID = inc.Repairs[i].ID, inc.ID
	}
	same(t, "CreateIncident's incident", inc, want)
	same(t, "read back", get(t, s, inc.ID), want)

	// A second incident gets its own ID and numbers its entries from 1.
	other := newIncident("slow search", "search", 30)
	other.Timeline = []incident.Entry{{At: at(31), Kind: incident.Note, Text: "looking"}}
	create(t, s, other)
	if other.ID == inc.ID || other.Timeline[0].Seq != 1 {
		t.Errorf("second incident: ID %d (first %d), entry seq %d", other.ID, inc.ID, other.Timeline[0].Seq)
	}
}

func testNotFound(t *testing.T, s incident.Store) {
	ctx := context.Background()
	_, err := s.Incident(ctx, 999)
	wantErr(t, "Incident(999)", err, incident.ErrNotFound)
	called := false
	_, err = s.UpdateIncident(ctx, 999, func(*incident.Incident) error { called = true; return nil })
	wantErr(t, "UpdateIncident(999)", err, incident.ErrNotFound)
	if called {
		t.Error("UpdateIncident(999) called its function")
	}
	_, err = s.SetBurns(ctx, 999, 1, nil)
	wantErr(t, "SetBurns(999)", err, incident.ErrNotFound)
}

func testUpdate(t *testing.T, s incident.Store) {
	ctx := context.Background()
	inc := create(t, s, full())
	got, err := s.UpdateIncident(ctx, inc.ID, func(x *incident.Incident) error {
		if x.Version != 1 || len(x.Timeline) != 2 || len(x.Repairs) != 2 {
			return fmt.Errorf("the function got %+v, want the whole incident at version 1", x)
		}
		x.Title = "5xx on pay and search"
		x.Timeline = append(x.Timeline, incident.Entry{At: at(5), Kind: incident.Assessment, Text: "impact began earlier", Author: "alice"})
		x.Repairs[0].Status, x.Repairs[0].Closed = incident.RepairDone, at(100)
		x.Repairs = append(x.Repairs, incident.RepairItem{Title: "cap config pushes", Term: incident.LongTerm, Phase: incident.Mitigation,
			Status: incident.RepairOpen, Created: at(100)})
		x.Updated = at(100)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != 2 || got.Timeline[2].Seq != 3 || got.Repairs[2].ID <= 0 || got.Repairs[2].IncidentID != inc.ID {
		t.Fatalf("updated: version %d, new entry seq %d, new item %+v; want version 2, seq 3, an ID", got.Version, got.Timeline[2].Seq, got.Repairs[2])
	}
	back := get(t, s, inc.ID)
	// Entries come back in time order: the one at minute 5 first.
	if back.Timeline[0].Seq != 3 || back.Timeline[0].Text != "impact began earlier" {
		t.Errorf("timeline %+v: want the entry of minute 5 first", back.Timeline)
	}
	slices.SortFunc(back.Timeline, func(a, b incident.Entry) int { return int(a.Seq - b.Seq) })
	same(t, "read back after the update", back, got)
}

func testUpdateFails(t *testing.T, s incident.Store) {
	ctx := context.Background()
	inc := create(t, s, full())
	refused := errors.New("refused by the caller")
	_, err := s.UpdateIncident(ctx, inc.ID, func(x *incident.Incident) error {
		x.Title = "changed"
		x.Timeline = append(x.Timeline, incident.Entry{At: at(50), Kind: incident.Note, Text: "not stored"})
		return refused
	})
	if !errors.Is(err, refused) {
		t.Fatalf("UpdateIncident: %v, want the function's error", err)
	}
	same(t, "after a failed update", get(t, s, inc.ID), inc)
}

func testDuplicateRepair(t *testing.T, s incident.Store) {
	ctx := context.Background()
	inc := create(t, s, full())
	_, err := s.UpdateIncident(ctx, inc.ID, func(x *incident.Incident) error {
		x.Title = "changed"
		x.Repairs = append(x.Repairs, incident.RepairItem{Title: "Alert on pay-5xx!", Term: incident.ShortTerm, Phase: incident.Detection,
			Status: incident.RepairOpen, Created: at(100)})
		return nil
	})
	wantErr(t, "a repair item titled like another", err, incident.ErrDuplicate)
	same(t, "after the refused item", get(t, s, inc.ID), inc)
	// Another incident may have an item of that title.
	other := newIncident("again", "checkout", 200)
	other.Repairs = []incident.RepairItem{{Title: "alert on pay 5xx", Term: incident.ShortTerm, Phase: incident.Detection, Status: incident.RepairOpen, Created: at(200)}}
	create(t, s, other)
}

func testOpenOrAttach(t *testing.T, s incident.Store) {
	ctx := context.Background()
	var seen []*incident.Incident
	attach := func(service, key string, open bool) *incident.Incident {
		t.Helper()
		got, err := s.OpenOrAttach(ctx, service, key, func(found *incident.Incident) (*incident.Incident, error) {
			seen = append(seen, found)
			if found == nil {
				if !open {
					return nil, nil
				}
				inc := newIncident("alert "+key, service, 10)
				inc.GroupKey = key
				return inc, nil
			}
			found.Timeline = append(found.Timeline, incident.Entry{At: at(20), Kind: incident.Decode, Text: "alert firing", Author: "nines"})
			return found, nil
		})
		if err != nil {
			t.Fatalf("OpenOrAttach(%s, %s): %v", service, key, err)
		}
		return got
	}
	if got := attach("checkout", "page", false); got != nil || seen[0] != nil {
		t.Fatalf("nothing to attach to and nothing opened: got %+v, the function saw %+v", got, seen[0])
	}
	if list, _ := s.ListIncidents(ctx, incident.Filter{}); len(list) != 0 {
		t.Fatalf("a function returning nil stored %d incidents", len(list))
	}
	a := attach("checkout", "page", true)
	b := attach("checkout", "page", true)
	if a == nil || b == nil || b.ID != a.ID || b.Version != 2 || len(b.Timeline) != 1 || seen[2] == nil || seen[2].ID != a.ID {
		t.Fatalf("a repeat must attach to incident %+v, got %+v", a, b)
	}
	if c := attach("search", "page", true); c.ID == a.ID {
		t.Error("another service's alert of the same key attached")
	}
	if d := attach("checkout", "ticket", true); d.ID == a.ID {
		t.Error("another key attached")
	}
	// Mitigated still attaches; resolved does not.
	for _, st := range []incident.Status{incident.Mitigated, incident.Resolved} {
		if _, err := s.UpdateIncident(ctx, a.ID, func(x *incident.Incident) error {
			x.Status, x.Mitigated, x.Resolved = st, at(30), at(40)
			if st == incident.Mitigated {
				x.Resolved = time.Time{}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		got := attach("checkout", "page", true)
		if (got.ID == a.ID) != (st == incident.Mitigated) {
			t.Errorf("alert after the incident is %s: attached to %d (the incident is %d)", st, got.ID, a.ID)
		}
	}
}

func testList(t *testing.T, s incident.Store) {
	ctx := context.Background()
	// Ordered by impact start, else detection, else creation.
	a := newIncident("a", "checkout", 10)
	a.ImpactStart = at(5)
	b := newIncident("b", "search", 20)
	b.Services = append(b.Services, "checkout")
	c := newIncident("c", "search", 30)
	c.ImpactStart = at(1)
	c.Severity = 1
	d := newIncident("d", "checkout", 40)
	d.Status, d.Mitigated = incident.Mitigated, at(45)
	for _, inc := range []*incident.Incident{a, b, c, d} {
		create(t, s, inc)
	}
	list := func(f incident.Filter) []string {
		t.Helper()
		got, err := s.ListIncidents(ctx, f)
		if err != nil {
			t.Fatalf("ListIncidents(%+v): %v", f, err)
		}
		var titles []string
		for _, inc := range got {
			if inc.Timeline != nil || inc.Repairs != nil {
				t.Errorf("listed incident %d with its timeline or repair items", inc.ID)
			}
			titles = append(titles, inc.Title)
		}
		return titles
	}
	for _, tc := range []struct {
		name string
		f    incident.Filter
		want []string
	}{
		{"every incident, newest impact first", incident.Filter{}, []string{"d", "b", "a", "c"}},
		{"a service, primary or not", incident.Filter{Service: "checkout"}, []string{"d", "b", "a"}},
		{"a service that is no one's", incident.Filter{Service: "check"}, nil},
		{"statuses", incident.Filter{Status: []incident.Status{incident.Mitigated, incident.Resolved}}, []string{"d"}},
		{"a severity", incident.Filter{Severity: 1}, []string{"c"}},
		{"impact start from, inclusive", incident.Filter{From: at(1)}, []string{"a", "c"}},
		{"impact start to, exclusive", incident.Filter{To: at(5)}, []string{"c"}},
		{"a limit", incident.Filter{Limit: 2}, []string{"d", "b"}},
		{"an offset", incident.Filter{Limit: 2, Offset: 3}, []string{"c"}},
		{"bounds outside the range of times", incident.Filter{From: time.Time{}, To: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}, []string{"a", "c"}},
	} {
		if got := list(tc.f); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func testFactsSince(t *testing.T, s incident.Store) {
	ctx := context.Background()
	incs := []*incident.Incident{create(t, s, full()), create(t, s, newIncident("b", "search", 20))}
	since := func(gen int64) (map[int64]incident.Facts, int64) {
		t.Helper()
		got := map[int64]incident.Facts{}
		next, err := s.IncidentFactsSince(ctx, gen, func(f *incident.Facts) error {
			got[f.ID] = *f
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return got, next
	}
	all, gen := since(0)
	if len(all) != 2 || gen <= 0 {
		t.Fatalf("since 0: %d incidents at generation %d", len(all), gen)
	}
	for _, inc := range incs {
		if want := inc.Facts(); !reflect.DeepEqual(all[inc.ID], want) {
			t.Errorf("facts of %d:\n got %+v\nwant %+v", inc.ID, all[inc.ID], want)
		}
	}
	if got, next := since(gen); len(got) != 0 || next != gen {
		t.Errorf("nothing changed: %d incidents at generation %d, want none at %d", len(got), next, gen)
	}
	changed, err := s.UpdateIncident(ctx, incs[1].ID, func(x *incident.Incident) error {
		x.Engaged = at(25)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	got, next := since(gen)
	if len(got) != 1 || next <= gen || !reflect.DeepEqual(got[incs[1].ID], changed.Facts()) {
		t.Errorf("after a change to %d: %+v at generation %d (was %d)", incs[1].ID, got, next, gen)
	}
	stop := errors.New("stop")
	_, err = s.IncidentFactsSince(ctx, 0, func(*incident.Facts) error { return stop })
	wantErr(t, "a function that fails", err, stop)
}

func testRepairsAndBurns(t *testing.T, s incident.Store) {
	ctx := context.Background()
	a, b := create(t, s, full()), create(t, s, newIncident("b", "search", 20))
	items, err := s.RepairItems(ctx)
	if err != nil || len(items) != 2 || items[0].IncidentID != a.ID || items[1].Title != "page the pool owner" {
		t.Fatalf("RepairItems: %+v %v", items, err)
	}
	burns, err := s.Burns(ctx)
	if err != nil || len(burns) != 1 || len(burns[a.ID]) != 1 || burns[a.ID][0].Spent != 1950 {
		t.Fatalf("Burns: %+v %v, want incident %d's", burns, err, a.ID)
	}
	if _, ok := burns[b.ID]; ok {
		t.Errorf("Burns lists incident %d, which has none", b.ID)
	}
}

func testBurnsVersion(t *testing.T, s incident.Store) {
	ctx := context.Background()
	inc := create(t, s, newIncident("b", "search", 20))
	newer := []incident.Burn{{SLO: "search-latency", From: at(20), To: at(50), Unit: "events", Spent: 2, Total: 10, Share: 0.2}}
	if ok, err := s.SetBurns(ctx, inc.ID, inc.Version, newer); err != nil || !ok {
		t.Fatalf("SetBurns at the current version: %v %v", ok, err)
	}
	if ok, err := s.SetBurns(ctx, inc.ID, inc.Version+1, []incident.Burn{{SLO: "search-latency", From: at(20), To: at(60), Share: 0.9}}); err != nil || ok {
		t.Fatalf("SetBurns at another version: %v %v, want nothing written", ok, err)
	}
	back := get(t, s, inc.ID)
	if back.Version != inc.Version || len(back.Burn) != 1 || back.Burn[0].Share != 0.2 {
		t.Errorf("read back: version %d, burn %+v; want the version unchanged and the current figures", back.Version, back.Burn)
	}
}

func testTimeRange(t *testing.T, s incident.Store) {
	ctx := context.Background()
	past, future := time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		mod  func(inc *incident.Incident)
	}{
		{"an impact start in the year 1000", func(inc *incident.Incident) { inc.ImpactStart = past }},
		{"a mitigation in 9999", func(inc *incident.Incident) { inc.Status, inc.Mitigated = incident.Mitigated, future }},
		{"a resolution in 9999", func(inc *incident.Incident) { inc.Resolved = future }},
		{"no creation time", func(inc *incident.Incident) { inc.Created = time.Time{} }},
		{"a timeline entry without a time", func(inc *incident.Incident) {
			inc.Timeline = []incident.Entry{{Kind: incident.Note, Text: "x"}}
		}},
		{"a timeline entry in 9999", func(inc *incident.Incident) {
			inc.Timeline = []incident.Entry{{At: future, Kind: incident.Note, Text: "x"}}
		}},
		{"a responder paged in the year 1000", func(inc *incident.Incident) {
			inc.Responders = []incident.Responder{{Name: "bob", Order: 1, Paged: past}}
		}},
		{"a repair item due in 9999", func(inc *incident.Incident) {
			inc.Repairs = []incident.RepairItem{{Title: "x", Term: incident.LongTerm, Phase: incident.Detection, Status: incident.RepairOpen,
				Created: at(30), Due: future}}
		}},
		{"budget burned to 9999", func(inc *incident.Incident) {
			inc.Burn = []incident.Burn{{SLO: "x", From: at(0), To: future}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inc := newIncident(tc.name, "checkout", 10)
			tc.mod(inc)
			err := s.CreateIncident(ctx, inc)
			wantErr(t, "CreateIncident", err, incident.ErrInvalid, store.ErrTimeRange)
		})
	}
	if list, err := s.ListIncidents(ctx, incident.Filter{}); err != nil || len(list) != 0 {
		t.Fatalf("refused incidents were stored: %d, %v", len(list), err)
	}

	inc := create(t, s, full())
	for _, tc := range []struct {
		name string
		mod  func(inc *incident.Incident)
	}{
		{"a mitigation in 9999", func(inc *incident.Incident) { inc.Mitigated = future }},
		{"an entry in the year 1000", func(inc *incident.Incident) {
			inc.Timeline = append(inc.Timeline, incident.Entry{At: past, Kind: incident.Note, Text: "x"})
		}},
	} {
		_, err := s.UpdateIncident(ctx, inc.ID, func(x *incident.Incident) error { tc.mod(x); return nil })
		wantErr(t, "UpdateIncident with "+tc.name, err, incident.ErrInvalid, store.ErrTimeRange)
	}
	same(t, "after the refused updates", get(t, s, inc.ID), inc)
	_, err := s.SetBurns(ctx, inc.ID, inc.Version, []incident.Burn{{SLO: "x", From: past, To: at(1)}})
	wantErr(t, "SetBurns from the year 1000", err, incident.ErrInvalid, store.ErrTimeRange)
}

func testTimeBounds(t *testing.T, s incident.Store) {
	first, last := store.MinTime(), store.MaxTime().Add(-time.Nanosecond)
	inc := newIncident("bounds", "checkout", 0)
	inc.ImpactStart, inc.Detected, inc.Created = first, first, first
	inc.Status, inc.Mitigated, inc.Resolved, inc.Updated = incident.Resolved, last, last, last
	inc.Timeline = []incident.Entry{{At: first, Kind: incident.Note, Text: "first"}, {At: last, Kind: incident.Note, Text: "last"}}
	create(t, s, inc)
	back := get(t, s, inc.ID)
	same(t, "an incident at the bounds of the range", back, inc)
}

func testConcurrentUpdates(t *testing.T, s incident.Store) {
	ctx := context.Background()
	inc := create(t, s, newIncident("busy", "checkout", 0))
	const writers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := s.UpdateIncident(ctx, inc.ID, func(x *incident.Incident) error {
					x.Timeline = append(x.Timeline, incident.Entry{At: at(w*each + i), Kind: incident.Note, Text: fmt.Sprintf("writer %d, entry %d", w, i)})
					return nil
				})
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	back := get(t, s, inc.ID)
	if back.Version != 1+writers*each || len(back.Timeline) != writers*each {
		t.Fatalf("version %d with %d entries, want %d with %d", back.Version, len(back.Timeline), 1+writers*each, writers*each)
	}
	var seqs []int64
	for _, e := range back.Timeline {
		seqs = append(seqs, e.Seq)
	}
	slices.Sort(seqs)
	for i, seq := range seqs {
		if seq != int64(i+1) {
			t.Fatalf("entry numbers %v, want 1 to %d once each", seqs, writers*each)
		}
	}
}

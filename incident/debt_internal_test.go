package incident

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestIntervalsCountAsOpenAtAndOverdueAtSay checks the sorted-interval
// counting of the debt series against the item predicates themselves, on
// random items (closed before created, no due date, due before created
// included) and times that fall on and between the edges.
func TestIntervalsCountAsOpenAtAndOverdueAtSay(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	at := func() time.Time { return base.Add(time.Duration(r.IntN(100)) * time.Hour) }
	for round := range 200 {
		var items []RepairItem
		var open, overdue intervals
		for range r.IntN(30) {
			it := RepairItem{Created: at()}
			if r.IntN(3) > 0 {
				it.Closed = at()
			}
			if r.IntN(4) > 0 {
				it.Due = at()
			}
			items = append(items, it)
			open.add(it.Created, it.Closed)
			if !it.Due.IsZero() {
				overdue.add(maxTime(it.Created, it.Due.Add(time.Nanosecond)), it.Closed)
			}
		}
		open.sort()
		overdue.sort()
		for range 50 {
			when := at()
			if r.IntN(2) == 0 {
				when = when.Add(time.Duration(r.IntN(3)-1) * time.Nanosecond)
			}
			wantOpen, wantOverdue := 0, 0
			for i := range items {
				if items[i].OpenAt(when) {
					wantOpen++
				}
				if items[i].OverdueAt(when) {
					wantOverdue++
				}
			}
			if got := open.at(when); got != wantOpen {
				t.Fatalf("round %d at %s: open %d, want %d", round, when, got, wantOpen)
			}
			if got := overdue.at(when); got != wantOverdue {
				t.Fatalf("round %d at %s: overdue %d, want %d", round, when, got, wantOverdue)
			}
		}
	}
}

// TestDebtSeriesKeepsTheRecentEnd: a stray impact start in 1970 makes
// more buckets than a series holds; the series keeps the latest ones, up
// to now, rather than ending decades ago.
func TestDebtSeriesKeepsTheRecentEnd(t *testing.T) {
	cfg := &Config{Goals: Goals{TTD: time.Minute}}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	stray := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)
	facts := []Facts{{ID: 1, Services: []string{"a"}, ImpactStart: stray, Detected: stray.Add(time.Hour), Hops: -1}}
	items := []RepairItem{{ID: 1, IncidentID: 1, Created: now.Add(-24 * time.Hour), Status: RepairOpen, Phase: Engagement}}
	for _, by := range []Period{Week, Month, Quarter} {
		rep := ComputeDebt(cfg, DebtQuery{By: by, Group: ByNothing}, now, facts, items)
		if len(rep.Series) == 0 || len(rep.Series) > maxBuckets {
			t.Fatalf("%s: %d points, want 1 to %d", by, len(rep.Series), maxBuckets)
		}
		last := rep.Series[len(rep.Series)-1]
		if want := by.Label(by.BucketStart(now, time.UTC)); last.Bucket != want || !last.At.Equal(now) || last.Open != 1 || last.MissedTotal != 1 {
			t.Errorf("%s: last point %+v, want bucket %s at now with the open item and the missed repair", by, last, want)
		}
		for i := 1; i < len(rep.Series); i++ {
			if !rep.Series[i].At.After(rep.Series[i-1].At) {
				t.Fatalf("%s: points %d and %d out of order", by, i-1, i)
			}
		}
	}
}

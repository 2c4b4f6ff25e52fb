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

package thirdparty

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeCounter counts every SLO as good of total over any span, and
// remembers the spans asked.
type fakeCounter struct {
	good, total uint64
	err         error
	asked       [][2]time.Time
}

func (f *fakeCounter) Count(_ context.Context, _ string, from, to time.Time) (uint64, uint64, error) {
	f.asked = append(f.asked, [2]time.Time{from, to})
	return f.good, f.total, f.err
}

func TestBoard(t *testing.T) {
	count := &fakeCounter{good: 9989, total: 10000}
	b, err := NewBoard(testConfig(t), with(allGood(), "edgecdn-fetch-us", "bad"), count, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	vs, err := b.Vendors(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if vs[0].Evaluated || vs[0].State != Unknown {
		t.Errorf("before the first tick: %+v; want unknown, not evaluated", vs[0])
	}
	changes, err := b.Tick(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(changes) != 1 || changes[0].Vendor != "edgecdn" || changes[0].Region != "us-east" || changes[0].To != Down {
		t.Fatalf("changes = %+v; want edgecdn down in us-east", changes)
	}
	if again, _ := b.Tick(ctx, t0.Add(time.Minute)); len(again) != 0 {
		t.Errorf("second tick, nothing changed: %+v", again)
	}
	v, err := b.Vendor(ctx, "edgecdn", t0.Add(time.Minute), 3)
	if err != nil {
		t.Fatal(err)
	}
	if v.Summary != "down in us-east" || !v.Since.Equal(t0) || len(v.History) != 2 {
		t.Errorf("view = %q since %s, %d intervals; want down in us-east since t0, one interval a region", v.Summary, v.Since, len(v.History))
	}
	if v.SLA == nil || len(v.SLA.Months) != 3 || v.SLA.Months[2].Status != "so far missed" || v.SLA.Months[0].CreditPercent != 10 {
		t.Fatalf("SLA = %+v", v.SLA)
	}
	// The current month is counted up to now, not to its end.
	if last := count.asked[len(count.asked)-1]; !last[1].Equal(t0.Add(time.Minute)) || !last[0].Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("current month counted over %v", last)
	}
	if _, err := b.Vendor(ctx, "nobody", t0, 3); !errors.Is(err, ErrNoVendor) {
		t.Errorf("unknown vendor: %v; want ErrNoVendor", err)
	}
	count.err = errors.New("the store is unavailable")
	if v, err := b.Vendor(ctx, "edgecdn", t0, 1); err != nil || v.Problem == "" {
		t.Errorf("a failing count: %v, problem %q; want the view with the problem said", err, v.Problem)
	}
}

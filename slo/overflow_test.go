package slo

import (
	"errors"
	"math"
	"reflect"
	"testing"
	"time"
)

const maxU = math.MaxUint64

// A merge that would take a count of one quantum past 2^64−1 is refused
// and changes nothing: wrapped around, two rollups of 2^64−1 events read
// as 2^64−2, and ten more events with none good as an availability of
// −25.
func TestMergeRefusesOverflow(t *testing.T) {
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC).UnixNano()
	base := func() *Rollup {
		return &Rollup{Start: t0, Attempted: 5, Good: 4, Errors: 1, Slow: 0, OverThreshold: 2, Measured: true,
			Statuses: []StatusCount{{Code: 200, Count: 4, Timed: 4, Over: 2}, {Code: 500, Count: 1}}}
	}
	for _, tc := range []struct {
		name     string
		dst, src *Rollup
		overflow bool
	}{
		{"counts that reach 2^64-1 exactly fit", &Rollup{Start: t0, Attempted: maxU - 5}, base(), false},
		{"attempted past 2^64-1 is refused", &Rollup{Start: t0, Attempted: maxU}, &Rollup{Start: t0, Attempted: 1}, true},
		{"good past 2^64-1 is refused", &Rollup{Start: t0, Good: maxU}, &Rollup{Start: t0, Good: 1}, true},
		{"errors past 2^64-1 are refused", &Rollup{Start: t0, Errors: maxU}, &Rollup{Start: t0, Errors: 1}, true},
		{"slow past 2^64-1 is refused", &Rollup{Start: t0, Slow: maxU}, &Rollup{Start: t0, Slow: 1}, true},
		{"over the threshold past 2^64-1 is refused", &Rollup{Start: t0, OverThreshold: maxU}, &Rollup{Start: t0, OverThreshold: 1}, true},
		{"two rollups of 2^64-1 are refused", &Rollup{Start: t0, Attempted: maxU, Good: maxU}, &Rollup{Start: t0, Attempted: maxU, Good: maxU}, true},
		{"a status's count past 2^64-1 is refused", &Rollup{Start: t0, Statuses: []StatusCount{{Code: 500, Count: maxU}}}, base(), true},
		{"a status's timed past 2^64-1 is refused", &Rollup{Start: t0, Statuses: []StatusCount{{Code: 200, Timed: maxU}}}, base(), true},
		{"a status's over past 2^64-1 is refused", &Rollup{Start: t0, Statuses: []StatusCount{{Code: 200, Over: maxU}}}, base(), true},
		{"a full status of another code merges", &Rollup{Start: t0, Statuses: []StatusCount{{Code: 404, Count: maxU}}}, base(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before Rollup
			tc.dst.CopyTo(&before)
			err := tc.dst.Merge(tc.src)
			if got := errors.Is(err, ErrOverflow); got != tc.overflow {
				t.Fatalf("Merge: %v, want overflow %v", err, tc.overflow)
			}
			if tc.overflow && !reflect.DeepEqual(*tc.dst, before) {
				t.Errorf("a refused merge changed the rollup: %+v, was %+v", *tc.dst, before)
			}
			if !tc.overflow && tc.dst.Attempted != before.Attempted+tc.src.Attempted {
				t.Errorf("attempted %d after the merge, want %d", tc.dst.Attempted, before.Attempted+tc.src.Attempted)
			}
		})
	}
}

func TestAggregatorRefusesOverflow(t *testing.T) {
	status, err := ParseStatusRule("<500")
	if err != nil {
		t.Fatal(err)
	}
	sli := &SLI{Status: status}
	t0 := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC).UnixNano()

	t.Run("an event that would overflow its quantum is refused whole", func(t *testing.T) {
		a := NewAggregator(sli, time.Minute)
		a.KeepStatuses()
		if err := a.Add(&Event{Time: t0, Status: 200, Count: maxU - 1, Latency: math.NaN()}); err != nil {
			t.Fatal(err)
		}
		if err := a.Add(&Event{Time: t0 + 1, Status: 500, Count: 2, Latency: math.NaN()}); !errors.Is(err, ErrOverflow) {
			t.Fatalf("Add: %v, want ErrOverflow", err)
		}
		if err := a.Add(&Event{Time: t0 + 2, Status: 500, Count: 1, Latency: math.NaN()}); err != nil {
			t.Fatalf("an event that fits after a refused one: %v", err)
		}
		r := a.Series().Rollups[0]
		if r.Attempted != maxU || r.Good != maxU-1 || len(r.Statuses) != 2 || r.Statuses[1].Count != 1 {
			t.Errorf("rollup %+v, want the refused event absent", r)
		}
	})
	t.Run("an event after a rollup whose good count exceeds its attempted is checked on every count", func(t *testing.T) {
		a := NewAggregator(sli, time.Minute)
		if err := a.AddRollup(&Rollup{Start: t0, Attempted: 1, Good: maxU}); err != nil {
			t.Fatal(err)
		}
		if err := a.Add(&Event{Time: t0, Status: 200, Count: 1, Latency: math.NaN()}); !errors.Is(err, ErrOverflow) {
			t.Fatalf("Add: %v, want ErrOverflow", err)
		}
	})
	t.Run("a rollup that would overflow its quantum is refused", func(t *testing.T) {
		a := NewAggregator(sli, time.Minute)
		if err := a.AddRollup(&Rollup{Start: t0, Attempted: maxU, Good: maxU}); err != nil {
			t.Fatal(err)
		}
		if err := a.AddRollup(&Rollup{Start: t0, Attempted: maxU, Good: maxU}); !errors.Is(err, ErrOverflow) {
			t.Fatalf("AddRollup: %v, want ErrOverflow", err)
		}
		if r := a.Series().Rollups[0]; r.Attempted != maxU || r.Good != maxU {
			t.Errorf("rollup %+v, want the first alone", r)
		}
	})
	t.Run("aggregators that together would overflow a quantum do not merge", func(t *testing.T) {
		a, b := NewAggregator(sli, time.Minute), NewAggregator(sli, time.Minute)
		for _, x := range []*Aggregator{a, b} {
			if err := x.AddRollup(&Rollup{Start: t0, Attempted: maxU/2 + 1, Good: 1}); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.AddRollup(&Rollup{Start: t0 + int64(time.Minute), Attempted: 3}); err != nil {
			t.Fatal(err)
		}
		if err := a.Merge(b); !errors.Is(err, ErrOverflow) {
			t.Fatalf("Merge: %v, want ErrOverflow", err)
		}
		if s := a.Series(); len(s.Rollups) != 1 || s.Rollups[0].Attempted != maxU/2+1 {
			t.Errorf("a after a refused merge: %+v, want it as it was", s.Rollups)
		}
	})
}

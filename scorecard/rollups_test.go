package scorecard

import (
	"context"
	"errors"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// memRollups holds rollups per SLI in memory and counts the reads.
type memRollups struct {
	rollups map[string][]slo.Rollup
	reads   int
}

func (m *memRollups) Rollups(_ context.Context, sli string, _ time.Duration, from, to int64) store.RollupIterator {
	m.reads++
	rs := m.rollups[sli]
	lo := sort.Search(len(rs), func(i int) bool { return rs[i].Start >= from })
	hi := sort.Search(len(rs), func(i int) bool { return rs[i].Start >= to })
	return &sliceIter{rs: rs[lo:hi], i: -1}
}

type sliceIter struct {
	rs []slo.Rollup
	i  int
}

func (s *sliceIter) Next() bool      { s.i++; return s.i < len(s.rs) }
func (s *sliceIter) At() *slo.Rollup { return &s.rs[s.i] }
func (s *sliceIter) Err() error      { return nil }
func (s *sliceIter) Close() error    { return nil }

func TestFromRollups(t *testing.T) {
	ctx := context.Background()
	cal := DefaultCalendar()
	last, _ := cal.Parse("2026-W48")
	weeks := cal.Span(last, 4)
	mem := &memRollups{rollups: map[string][]slo.Rollup{}}
	// One rollup an hour from the Monday of W45 to the end of W48: a
	// (Good, Attempted) of (9, 10) for "a" and (1, 1) for "b".
	for at := weeks[0].Start; at.Before(last.End); at = at.Add(time.Hour) {
		mem.rollups["a"] = append(mem.rollups["a"], slo.Rollup{Start: at.UnixNano(), Attempted: 10, Good: 9})
		mem.rollups["b"] = append(mem.rollups["b"], slo.Rollup{Start: at.UnixNano(), Attempted: 1, Good: 1})
	}
	slos := sloMap{"a": {Name: "a", Quantum: time.Minute}, "b": {Name: "b", Quantum: time.Minute}}
	svc := &Service{Name: "s", Goal: 0.9, SLOs: []string{"a", "b"}}
	now := last.End.Add(36 * time.Hour)
	writes := int64(0)
	f := &FromRollups{Rollups: mem, SLOs: slos,
		Cache: &WeekCache{Now: func() time.Time { return now }, PastWrites: func() int64 { return writes }}}

	t.Run("The counts of the service's SLOs are summed per week", func(t *testing.T) {
		got, err := f.Counts(ctx, svc, weeks)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range got {
			if c.Total != 168*11 || c.Good != 168*10 {
				t.Errorf("week %d: %+v, want 1680 of 1848", i, c)
			}
		}
	})
	t.Run("Past weeks are read from the store once", func(t *testing.T) {
		before := mem.reads
		if _, err := f.Counts(ctx, svc, weeks); err != nil {
			t.Fatal(err)
		}
		if mem.reads != before {
			t.Errorf("%d more reads of cached weeks", mem.reads-before)
		}
	})
	t.Run("A write to a past day reads them again", func(t *testing.T) {
		mem.rollups["a"][0].Good = 0
		writes++
		before := mem.reads
		got, err := f.Counts(ctx, svc, weeks)
		if err != nil {
			t.Fatal(err)
		}
		if mem.reads != before+2 || got[0].Good != 168*10-9 {
			t.Errorf("%d reads, first week %+v", mem.reads-before, got[0])
		}
	})
	t.Run("A week whose last day is not past yet is never cached", func(t *testing.T) {
		// Sunday 23:00 UTC, the week's last hour.
		early := last.End.Add(-time.Hour)
		f := &FromRollups{Rollups: mem, SLOs: slos,
			Cache: &WeekCache{Now: func() time.Time { return early }, PastWrites: func() int64 { return writes }}}
		before := mem.reads
		for range 2 {
			if _, err := f.Counts(ctx, svc, weeks[3:]); err != nil {
				t.Fatal(err)
			}
		}
		if mem.reads != before+4 {
			t.Errorf("%d reads, want 4", mem.reads-before)
		}
	})
	t.Run("An SLO that is not loaded is named", func(t *testing.T) {
		if _, err := f.Counts(ctx, &Service{Name: "s", SLOs: []string{"gone"}}, weeks); !errors.Is(err, ErrNoSLO) {
			t.Errorf("error %v", err)
		}
		cards, err := (&Scorer{Calendar: cal, SLOs: f}).Cards(ctx, []Service{{Name: "t", Goal: 0.9, SLOs: []string{"gone"}}, *svc}, last)
		if err != nil || cards[0].Colour != None || !strings.Contains(cards[0].Note, "gone") || cards[1].Colour == None {
			t.Errorf("a card naming an SLO not loaded: %v %+v", err, cards)
		}
	})
}

package storetest

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// The contract for per-status counts (slo.Rollup.Statuses), which
// re-judging an edited SLI reads, and for SetCounts, which it writes.

// judged is rollup(start, seed, bins) as the SLI "<500", "<=250ms" judges
// it, so that re-judging has something real to change.
func judged(t *testing.T, start int64, seed uint64, bins int) *slo.Rollup {
	t.Helper()
	r := rollup(start, seed, bins)
	if _, err := sliOf(t, "<500", "<=250ms").Rejudge(r); err != nil {
		t.Fatalf("judging the test rollup: %v", err)
	}
	return r
}

func sliOf(t *testing.T, status, latency string) *slo.SLI {
	t.Helper()
	st, err := slo.ParseStatusRule(status)
	if err != nil {
		t.Fatal(err)
	}
	l, err := slo.ParseLatencyRule(latency)
	if err != nil {
		t.Fatal(err)
	}
	return &slo.SLI{Status: st, Latency: &l}
}

func testStatusesRoundTrip(t *testing.T, s store.Store) {
	// Every kind of status key, huge counts, statuses without latencies,
	// statuses whose histograms were compacted elsewhere, and a rollup
	// with more latencies than its statuses (a source without statuses was
	// merged in) come back exactly.
	keys := &slo.Rollup{Start: t0, Attempted: 10, Good: 6, Errors: 4, Measured: true, Statuses: []slo.StatusCount{
		{Code: slo.StatusOKFalse, Count: 1}, {Code: slo.StatusOKTrue, Count: 1}, {Code: slo.NoStatus, Count: 1},
		{Code: 0, Count: 1}, {Code: 200, Count: 5, Timed: 2}, {Code: 999, Count: 1},
	}}
	_ = keys.Statuses[4].Latency.InsertN(0.002, 2)
	keys.Latency.Merge(&keys.Statuses[4].Latency)
	huge := &slo.Rollup{Start: t0 + minute, Attempted: math.MaxUint64, Good: math.MaxUint64, Measured: true,
		Statuses: []slo.StatusCount{{Code: 200, Count: math.MaxUint64, Timed: math.MaxUint64 - 1, Over: math.MaxUint64 - 2}}}
	compacted := &slo.Rollup{Start: t0 + 2*minute, Attempted: 9, Good: 9, Measured: true,
		Statuses: []slo.StatusCount{{Code: 200, Count: 7, Timed: 7}, {Code: 404, Count: 2, Timed: 2, Over: 1}}}
	mixed := rollup(t0+3*minute, 5, 40)
	mixed.Merge(&slo.Rollup{Start: mixed.Start, Attempted: 3, Good: 3, Latency: rollup(0, 6, 3).Latency})
	plain := judged(t, t0+4*minute, 7, 60)
	commit(t, s, "a", time.Minute, keys, huge, compacted, mixed, plain)
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{keys, huge, compacted, mixed, plain})

	// A rollup stored without statuses reads back without: nil, not
	// empty, so readers can tell "kept none".
	commit(t, s, "b", time.Minute, &slo.Rollup{Start: t0, Attempted: 2, Good: 2, Measured: true, Statuses: []slo.StatusCount{}})
	if got := load(t, s, "b", time.Minute, t0, t0+hour); len(got) != 1 || got[0].Statuses != nil {
		t.Errorf("a rollup without statuses reads back with %+v", got[0].Statuses)
	}

	// Statuses that cannot describe the rollup are refused.
	app := s.Appender(context.Background())
	defer app.Rollback()
	bad := []*slo.Rollup{
		{Start: t0, Attempted: 1, Statuses: []slo.StatusCount{{Code: 1000, Count: 1}}},
		{Start: t0, Attempted: 2, Statuses: []slo.StatusCount{{Code: 500, Count: 1}, {Code: 200, Count: 1}}},
		{Start: t0, Attempted: 1, Statuses: []slo.StatusCount{{Code: 200, Count: 2}}},
		{Start: t0, Attempted: 2, Statuses: []slo.StatusCount{{Code: 200, Count: 2, Timed: 1, Over: 2}}},
		{Start: t0, Attempted: 2, Statuses: []slo.StatusCount{{Code: 200, Count: 2, Timed: 2, Latency: rollup(0, 1, 1).Latency}}},
	}
	for i, r := range bad {
		wantErr(t, "Append of impossible statuses "+string(rune('a'+i)), app.Append("a", time.Minute, r), store.ErrInvalid)
	}
}

func testStatusesMerge(t *testing.T, s store.Store) {
	a, b, c := rollup(t0, 1, 30), rollup(t0, 2, 30), rollup(t0, 3, 30)
	// a and b in one batch, c later: statuses add by code, histograms
	// merge.
	commit(t, s, "a", time.Minute, a, b)
	commit(t, s, "a", time.Minute, c)
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{merged(a, b, c)})

	// A source without statuses merged in either order: the statuses stay
	// and no longer account for every event, which re-judging refuses.
	counts := &slo.Rollup{Start: t0 + minute, Attempted: 4, Good: 4, Measured: true}
	d, e := rollup(t0+minute, 4, 20), rollup(t0+minute, 5, 20)
	commit(t, s, "a", time.Minute, counts)
	commit(t, s, "a", time.Minute, d)
	commit(t, s, "a", time.Minute, e)
	want := merged(counts, d, e)
	got := load(t, s, "a", time.Minute, t0+minute, t0+hour)
	wantRollups(t, got, []*slo.Rollup{want})
	if _, err := sliOf(t, "<400", "<=100ms").Rejudge(&got[0]); !errors.Is(err, slo.ErrNoStatuses) {
		t.Errorf("Rejudge of statuses missing a source's events: %v, want ErrNoStatuses", err)
	}
}

func testStatusesCompacted(t *testing.T, s store.Store) {
	old := []*slo.Rollup{judged(t, t0, 1, 50), judged(t, t0+minute, 2, 50)}
	commit(t, s, "a", time.Minute, old...)
	compactAt(t, s, t0+40*day, store.Retention{})
	// Counts stay, per status too; every histogram is gone.
	got := load(t, s, "a", time.Minute, t0, t0+hour)
	wantRollups(t, got, withoutHistograms(old))
	// So a new threshold cannot be judged, a new status rule can.
	r := &got[0]
	if _, err := sliOf(t, "<500", "<=100ms").Rejudge(r); !errors.Is(err, slo.ErrLatencyCompacted) {
		t.Fatalf("Rejudge under a new threshold: %v, want ErrLatencyCompacted", err)
	}
	if err := sliOf(t, "<400", "<=250ms").RejudgeStatus(r); err != nil {
		t.Fatalf("RejudgeStatus: %v", err)
	}
	if r.Errors <= old[0].Errors || r.Good+r.Errors+r.Slow != r.Attempted {
		t.Errorf("re-judged %+v, want 404s as errors", counts(r))
	}

	// A late append to a compacted quantum adds its statuses' counts and
	// drops their histograms like the quantum's.
	late := rollup(t0, 9, 20)
	commit(t, s, "a", time.Minute, late)
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+minute), withoutHistograms([]*slo.Rollup{merged(old[0], late)}))
}

func testSetCounts(t *testing.T, s store.Store) {
	ctx := context.Background()
	a, b := judged(t, t0, 1, 60), judged(t, t0+minute, 2, 60)
	commit(t, s, "a", time.Minute, a, b)
	rejudge := func(r *slo.Rollup, sli *slo.SLI) *slo.Rollup {
		c := clone(r)
		if _, err := sli.Rejudge(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	set := func(rs ...*slo.Rollup) error {
		app := s.Appender(ctx)
		for _, r := range rs {
			if err := app.SetCounts("a", time.Minute, r); err != nil {
				_ = app.Rollback()
				return err
			}
		}
		return app.Commit()
	}

	t.Run("Set counts replace the verdicts and keep the events.", func(t *testing.T) {
		ra, rb := rejudge(a, sliOf(t, "<400", "<=100ms")), rejudge(b, sliOf(t, "<400", "<=100ms"))
		if counts(ra) == counts(a) {
			t.Fatal("the test's re-judging changed nothing")
		}
		// Verdicts come from the set rollup; everything else stays as stored,
		// whatever the set rollup's histograms hold.
		send := clone(ra)
		send.Latency.Reset()
		send.Statuses[0].Latency.Reset()
		send.Measured = false
		if err := set(send, rb); err != nil {
			t.Fatalf("SetCounts: %v", err)
		}
		wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{ra, rb})
		// And they merge with later appends as any stored counts do.
		c := judged(t, t0, 3, 10)
		commit(t, s, "a", time.Minute, c)
		wantRollups(t, load(t, s, "a", time.Minute, t0, t0+minute), []*slo.Rollup{merged(ra, c)})
		a = merged(ra, c)
	})

	t.Run("A quantum without a stored rollup fails the whole batch.", func(t *testing.T) {
		before := load(t, s, "a", time.Minute, t0, t0+hour)
		missing := rejudge(judged(t, t0+10*minute, 4, 10), sliOf(t, "<400", "<=100ms"))
		app := s.Appender(ctx)
		if err := app.SetCounts("a", time.Minute, rejudge(a, sliOf(t, "<500", "<=100ms"))); err != nil {
			t.Fatal(err)
		}
		if err := app.SetCounts("a", time.Minute, missing); err != nil {
			t.Fatal(err)
		}
		if err := app.Append("other", time.Minute, rollup(t0, 5, 5)); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "Commit with SetCounts of a missing quantum", app.Commit(), store.ErrNotFound)
		wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), ptrs(before))
		if got := load(t, s, "other", time.Minute, t0, t0+hour); len(got) != 0 {
			t.Errorf("the failed batch stored %d rollups", len(got))
		}
	})

	t.Run("Counts of events the store no longer holds are refused.", func(t *testing.T) {
		// Judged, then a late append lands before the verdicts are set.
		stale := rejudge(a, sliOf(t, "<500", "<=100ms"))
		late := judged(t, t0, 11, 5)
		commit(t, s, "a", time.Minute, late)
		a = merged(a, late)
		before := load(t, s, "a", time.Minute, t0, t0+hour)
		wantErr(t, "SetCounts of the events before a late append", set(stale), store.ErrConflict)
		other := rejudge(a, sliOf(t, "<500", "<=100ms"))
		other.Statuses[len(other.Statuses)-1].Code++
		wantErr(t, "SetCounts of other statuses", set(other), store.ErrConflict)
		noStatuses := rejudge(a, sliOf(t, "<500", "<=100ms"))
		noStatuses.Statuses = nil
		wantErr(t, "SetCounts without the stored statuses", set(noStatuses), store.ErrConflict)
		wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), ptrs(before))
	})

	t.Run("Impossible verdicts are refused at once.", func(t *testing.T) {
		app := s.Appender(ctx)
		defer app.Rollback()
		tooMany := clone(a)
		tooMany.Good = tooMany.Attempted
		tooMany.Errors = 1
		wantErr(t, "SetCounts with more verdicts than events", app.SetCounts("a", time.Minute, tooMany), store.ErrInvalid)
		overTimed := clone(a)
		overTimed.Statuses[0].Over = overTimed.Statuses[0].Timed + 1
		wantErr(t, "SetCounts with more over than timed", app.SetCounts("a", time.Minute, overTimed), store.ErrInvalid)
		wantErr(t, "SetCounts at a misaligned start", app.SetCounts("a", time.Minute, &slo.Rollup{Start: t0 + 1}), store.ErrInvalid)
		wantErr(t, "SetCounts of a nil rollup", app.SetCounts("a", time.Minute, nil), store.ErrInvalid)
		wantErr(t, "SetCounts with an empty SLI", app.SetCounts("", time.Minute, a), store.ErrInvalid)
	})

	t.Run("An append and a set of one quantum in one batch are refused.", func(t *testing.T) {
		app := s.Appender(ctx)
		defer app.Rollback()
		if err := app.Append("a", time.Minute, rollup(t0, 8, 5)); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "SetCounts after Append", app.SetCounts("a", time.Minute, a), store.ErrInvalid)
		if err := app.SetCounts("a", time.Minute, b); err != nil {
			t.Fatal(err)
		}
		wantErr(t, "Append after SetCounts", app.Append("a", time.Minute, rollup(t0+minute, 8, 5)), store.ErrInvalid)
	})

	t.Run("Compacted quanta take new counts for their statuses.", func(t *testing.T) {
		compactAt(t, s, t0+40*day, store.Retention{})
		got := load(t, s, "a", time.Minute, t0, t0+minute)
		r := &got[0]
		if err := sliOf(t, "<400", "<=250ms").RejudgeStatus(r); err != nil {
			t.Fatal(err)
		}
		if err := set(r); err != nil {
			t.Fatalf("SetCounts on a compacted quantum: %v", err)
		}
		wantRollups(t, load(t, s, "a", time.Minute, t0, t0+minute), []*slo.Rollup{r})
	})

	t.Run("A finished appender refuses SetCounts.", func(t *testing.T) {
		app := s.Appender(ctx)
		_ = app.Rollback()
		wantErr(t, "SetCounts after Rollback", app.SetCounts("a", time.Minute, a), store.ErrAppenderDone)
	})
}

func ptrs(rs []slo.Rollup) []*slo.Rollup {
	out := make([]*slo.Rollup, len(rs))
	for i := range rs {
		out[i] = &rs[i]
	}
	return out
}

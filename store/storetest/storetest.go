// Package storetest is the contract every store.Store backend passes, in
// the spirit of testing/fstest.TestFS and Prometheus' promqltest: the
// backend's own test calls Run with a constructor, and the semantics the
// rest of nines relies on (merging appends, half-open ranges, atomic
// batches, compaction that loses nothing) are checked the same way for
// every backend: store/sqlite and store/postgres run it (the latter on a
// real PostgreSQL that internal/pgtest starts), as every backend added
// must, with incident/incidenttest for the incidents it keeps.
package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// Run runs the contract suite. open must return a new, empty store each
// time it is called and arrange for its cleanup (with t.Cleanup); the
// suite may Close the store itself first, so Close must tolerate a second
// call. Subtests are independent and may be selected with -run.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"appended rollups come back equal and in order", testAppendQuery},
		{"uncommitted and rolled back batches are invisible", testRollback},
		{"an appender is finished by commit or rollback", testAppenderDone},
		{"append copies its input", testAppendCopies},
		{"appends to one quantum merge within and across batches", testMerge},
		{"ranges are half-open", testBounds},
		{"SLIs and quanta are isolated", testIsolation},
		{"invalid arguments are rejected with ErrInvalid", testInvalid},
		{"times outside the range nines stores are refused", testTimeRange},
		{"a merge that would overflow a count is refused", testOverflow},
		{"load series copies the rollups", testLoadSeries},
		{"per-status counts round trip", testStatusesRoundTrip},
		{"per-status counts merge", testStatusesMerge},
		{"compaction keeps per-status counts", testStatusesCompacted},
		{"set counts replaces verdicts only", testSetCounts},
		{"SLO definitions", testSLOs},
		{"state key-value", testState},
		{"state commits with the batch", testStateInBatch},
		{"ingest stats", testIngestStats},
		{"a batch with a committed idempotency key stores nothing", testIdempotentAcross},
		{"an idempotency key twice in one batch is refused", testIdempotentWithin},
		{"of concurrent commits of one idempotency key one is stored", testIdempotentRace},
		{"compact forgets idempotency keys by age", testIdempotentExpiry},
		{"invalid idempotency keys are rejected with ErrInvalid", testIdempotentInvalid},
		{"annotations", testAnnotations},
		{"hourly histograms of uncompacted quanta", testHourlyUncompacted},
		{"compact moves histograms to hours exactly", testCompact},
		{"compact is idempotent", testCompactIdempotent},
		{"compact deletes by age", testCompactRetention},
		{"compact rejects bad retention", testCompactBadRetention},
		{"compact with retention beyond int64 keeps everything", testCompactHugeRetention},
		{"late appends after compact reach the hour", testCompactLateAppend},
		{"appends racing compact are not lost", testCompactRace},
		{"readers see whole batches while writers commit", testConcurrentReaders},
		{"cancelled contexts stop work", testCancel},
		{"close ends everything", testClose},
		{"size grows with data", testSize},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, open(t))
		})
	}
}

// t0 is a Sunday midnight UTC; every test's quanta are at or after it.
var t0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()

const (
	minute = int64(time.Minute)
	hour   = int64(time.Hour)
	day    = 24 * hour
)

// rollup returns a deterministic rollup at start with about bins latency
// bins, different for every seed, with counts and latencies per status.
func rollup(start int64, seed uint64, bins int) *slo.Rollup {
	rng := rand.New(rand.NewPCG(seed, uint64(start)))
	r := &slo.Rollup{Start: start, Measured: true}
	add := func(code int, v float64, n uint64, over bool) {
		st := &r.Statuses[slices.IndexFunc(r.Statuses, func(s slo.StatusCount) bool { return s.Code == code })]
		st.Count += n
		if math.IsNaN(v) {
			return
		}
		st.Timed += n
		st.Latency.InsertN(v, n)
		if over {
			st.Over += n
		}
	}
	for _, c := range []int{slo.StatusOKTrue, 200, 404, 503} {
		r.Statuses = append(r.Statuses, slo.StatusCount{Code: c})
	}
	for range bins {
		// Log-uniform over 100 µs .. 10 s.
		v := math.Pow(10, -4+5*rng.Float64())
		n := 1 + rng.Uint64N(50)
		if r.Latency.InsertN(v, n) != nil {
			continue // cannot happen: v is in range
		}
		r.Attempted += n
		switch rng.IntN(10) {
		case 0:
			r.Errors += n
			add(503, v, n, false)
		case 1:
			r.Slow += n
			r.OverThreshold += n
			add(200, v, n, true)
		case 2:
			r.Good += n
			add(404, v, n, false)
		case 3:
			r.Good += n
			add(slo.StatusOKTrue, v, n, false)
		default:
			r.Good += n
			add(200, v, n, false)
		}
	}
	// A few events without latency, as probes report them.
	if k := rng.Uint64N(3); k > 0 {
		r.Attempted += k
		r.Good += k
		add(200, math.NaN(), k, false)
	}
	r.Statuses = slices.DeleteFunc(r.Statuses, func(s slo.StatusCount) bool { return s.Count == 0 })
	return r
}

func commit(t *testing.T, s store.Store, sli string, q time.Duration, rs ...*slo.Rollup) {
	t.Helper()
	app := s.Appender(context.Background())
	for _, r := range rs {
		if err := app.Append(sli, q, r); err != nil {
			t.Fatalf("Append(%q, %v, %d): %v", sli, q, r.Start, err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func load(t *testing.T, s store.Querier, sli string, q time.Duration, from, to int64) []slo.Rollup {
	t.Helper()
	ser, err := store.LoadSeriesStatuses(context.Background(), s, sli, q, from, to)
	if err != nil {
		t.Fatalf("LoadSeries(%q, %v, %d, %d): %v", sli, q, from, to, err)
	}
	if ser.Quantum != q {
		t.Fatalf("LoadSeries quantum = %v, want %v", ser.Quantum, q)
	}
	return ser.Rollups
}

func loadHourly(t *testing.T, s store.Querier, sli string, q time.Duration, from, to int64) []store.HourlyHistogram {
	t.Helper()
	hs, err := store.LoadHourly(context.Background(), s, sli, q, from, to)
	if err != nil {
		t.Fatalf("LoadHourly(%q, %v, %d, %d): %v", sli, q, from, to, err)
	}
	return hs
}

// diff describes how got differs from want, or returns "".
func diff(got, want *slo.Rollup) string {
	switch {
	case got.Start != want.Start:
		return fmt.Sprintf("Start %d, want %d", got.Start, want.Start)
	case got.Attempted != want.Attempted || got.Good != want.Good || got.Errors != want.Errors ||
		got.Slow != want.Slow || got.OverThreshold != want.OverThreshold || got.Measured != want.Measured:
		return fmt.Sprintf("counts %+v, want %+v", counts(got), counts(want))
	case !got.Latency.Equal(&want.Latency):
		return fmt.Sprintf("histogram of %d samples in %d bins, want %d in %d",
			got.Latency.Count(), got.Latency.NumBins(), want.Latency.Count(), want.Latency.NumBins())
	case (got.Statuses == nil) != (want.Statuses == nil) || len(got.Statuses) != len(want.Statuses):
		return fmt.Sprintf("statuses %s, want %s", statusCounts(got), statusCounts(want))
	}
	for i := range got.Statuses {
		g, w := &got.Statuses[i], &want.Statuses[i]
		if g.Code != w.Code || g.Count != w.Count || g.Timed != w.Timed || g.Over != w.Over {
			return fmt.Sprintf("statuses %s, want %s", statusCounts(got), statusCounts(want))
		}
		if !g.Latency.Equal(&w.Latency) {
			return fmt.Sprintf("status %s: histogram of %d samples in %d bins, want %d in %d", slo.StatusName(g.Code),
				g.Latency.Count(), g.Latency.NumBins(), w.Latency.Count(), w.Latency.NumBins())
		}
	}
	return ""
}

// statusCounts writes r's statuses as {code count/timed/over} for a
// failure message; nil prints as "none".
func statusCounts(r *slo.Rollup) string {
	if r.Statuses == nil {
		return "none"
	}
	var b strings.Builder
	for _, s := range r.Statuses {
		fmt.Fprintf(&b, "{%s %d/%d/%d}", slo.StatusName(s.Code), s.Count, s.Timed, s.Over)
	}
	return b.String()
}

type countsOnly struct {
	Attempted, Good, Errors, Slow, OverThreshold uint64
	Measured                                     bool
}

func counts(r *slo.Rollup) countsOnly {
	return countsOnly{r.Attempted, r.Good, r.Errors, r.Slow, r.OverThreshold, r.Measured}
}

func wantRollups(t *testing.T, got []slo.Rollup, want []*slo.Rollup) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d rollups, want %d", len(got), len(want))
	}
	for i := range got {
		if d := diff(&got[i], want[i]); d != "" {
			t.Errorf("rollup %d (start %+d min): %s", i, (want[i].Start-t0)/minute, d)
		}
	}
}

func clone(r *slo.Rollup) *slo.Rollup {
	c := &slo.Rollup{Start: r.Start}
	c.Merge(r)
	return c
}

func merged(rs ...*slo.Rollup) *slo.Rollup {
	m := clone(rs[0])
	for _, r := range rs[1:] {
		m.Merge(r)
	}
	return m
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %v", what, err, target)
	}
}

func testAppendQuery(t *testing.T, s store.Store) {
	var want []*slo.Rollup
	for i := range 10 {
		want = append(want, rollup(t0+int64(i)*minute, 1, 40))
	}
	// Appended in reverse: the store orders by Start.
	rev := slices.Clone(want)
	slices.Reverse(rev)
	commit(t, s, "checkout", time.Minute, rev...)
	wantRollups(t, load(t, s, "checkout", time.Minute, t0, t0+day), want)

	// The iterator directly: At is valid until Next, Close after the end
	// is fine.
	it := s.Rollups(context.Background(), "checkout", time.Minute, t0, t0+day)
	n := 0
	for it.Next() {
		if d := diff(it.At(), want[n]); d != "" {
			t.Errorf("iterator rollup %d: %s", n, d)
		}
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatalf("Err: %v", err)
	}
	if n != len(want) {
		t.Errorf("iterator yielded %d rollups, want %d", n, len(want))
	}
	if err := it.Close(); err != nil {
		t.Errorf("Close after end: %v", err)
	}
	if err := it.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// Closing early releases the iterator.
	it = s.Rollups(context.Background(), "checkout", time.Minute, t0, t0+day)
	if !it.Next() {
		t.Fatalf("Next = false, Err %v", it.Err())
	}
	if err := it.Close(); err != nil {
		t.Errorf("early Close: %v", err)
	}
	if it.Next() {
		t.Errorf("Next after Close = true")
	}

	// A rollup with counts only, and an unmeasured quantum, round-trip.
	countsOnly := &slo.Rollup{Start: t0 + 20*minute, Attempted: 7, Good: 5, Errors: 2, Measured: true}
	unmeasured := &slo.Rollup{Start: t0 + 21*minute}
	huge := &slo.Rollup{Start: t0 + 22*minute, Attempted: math.MaxUint64, Good: math.MaxUint64 - 1, Measured: true}
	commit(t, s, "checkout", time.Minute, countsOnly, unmeasured, huge)
	wantRollups(t, load(t, s, "checkout", time.Minute, t0+20*minute, t0+day), []*slo.Rollup{countsOnly, unmeasured, huge})
}

func testRollback(t *testing.T, s store.Store) {
	ctx := context.Background()
	app := s.Appender(ctx)
	if err := app.Append("a", time.Minute, rollup(t0, 1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := app.SetState("k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := app.AddIngestStats("src", "late", 3); err != nil {
		t.Fatal(err)
	}
	if got := load(t, s, "a", time.Minute, t0, t0+hour); len(got) != 0 {
		t.Errorf("before Commit: %d rollups visible, want 0", len(got))
	}
	if err := app.Rollback(); err != nil {
		t.Fatalf("Rollback: %v", err)
	}
	if got := load(t, s, "a", time.Minute, t0, t0+hour); len(got) != 0 {
		t.Errorf("after Rollback: %d rollups visible, want 0", len(got))
	}
	if _, err := s.GetState(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("state after Rollback: error %v, want ErrNotFound", err)
	}
	st, err := s.IngestStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(st) != 0 {
		t.Errorf("ingest stats after Rollback: %v, want none", st)
	}
	// An empty commit is fine.
	if err := s.Appender(ctx).Commit(); err != nil {
		t.Errorf("empty Commit: %v", err)
	}
}

func testAppenderDone(t *testing.T, s store.Store) {
	for _, end := range []string{"Commit", "Rollback"} {
		app := s.Appender(context.Background())
		if err := app.Append("a", time.Minute, rollup(t0, 1, 5)); err != nil {
			t.Fatal(err)
		}
		var err error
		if end == "Commit" {
			err = app.Commit()
		} else {
			err = app.Rollback()
		}
		if err != nil {
			t.Fatalf("%s: %v", end, err)
		}
		wantErr(t, "Append after "+end, app.Append("a", time.Minute, rollup(t0+minute, 1, 5)), store.ErrAppenderDone)
		wantErr(t, "SetState after "+end, app.SetState("k", nil), store.ErrAppenderDone)
		wantErr(t, "AddIngestStats after "+end, app.AddIngestStats("s", "r", 1), store.ErrAppenderDone)
		wantErr(t, "Idempotent after "+end, app.Idempotent(store.Idempotency{Key: "k"}), store.ErrAppenderDone)
		wantErr(t, "Commit after "+end, app.Commit(), store.ErrAppenderDone)
		wantErr(t, "Rollback after "+end, app.Rollback(), store.ErrAppenderDone)
	}
	// Only the committed batch is there, once.
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{rollup(t0, 1, 5)})
}

func testAppendCopies(t *testing.T, s store.Store) {
	r := rollup(t0, 1, 30)
	want := clone(r)
	app := s.Appender(context.Background())
	if err := app.Append("a", time.Minute, r); err != nil {
		t.Fatal(err)
	}
	// The caller reuses its rollup before Commit.
	r.Attempted += 1000
	r.Latency.InsertN(0.5, 1000)
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{want})
}

func testMerge(t *testing.T, s store.Store) {
	a, b, c := rollup(t0, 1, 40), rollup(t0, 2, 60), rollup(t0, 3, 20)
	b.Measured = false // merged Measured is true if any part was
	// a and b in one batch, c from a second source later.
	app := s.Appender(context.Background())
	for _, r := range []*slo.Rollup{a, b} {
		if err := app.Append("a", time.Minute, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{merged(a, b)})
	commit(t, s, "a", time.Minute, c)
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{merged(a, b, c)})

	// A merge into a quantum stored without histogram, and an empty
	// rollup merged into a full one, change nothing they should not.
	plain := &slo.Rollup{Start: t0 + minute, Attempted: 3, Good: 3, Measured: true}
	commit(t, s, "a", time.Minute, plain)
	d := rollup(t0+minute, 4, 10)
	commit(t, s, "a", time.Minute, d, &slo.Rollup{Start: t0 + minute})
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{merged(a, b, c), merged(plain, d)})
}

func testBounds(t *testing.T, s store.Store) {
	var rs []*slo.Rollup
	for i := range 5 {
		rs = append(rs, rollup(t0+int64(i)*minute, 1, 3))
	}
	commit(t, s, "a", time.Minute, rs...)
	f := func(from, to int64, want ...*slo.Rollup) {
		t.Helper()
		wantRollups(t, load(t, s, "a", time.Minute, from, to), want)
	}
	f(t0+minute, t0+3*minute, rs[1], rs[2])
	f(t0+minute-1, t0+3*minute+1, rs[1], rs[2], rs[3])
	f(t0+minute+1, t0+3*minute, rs[2])
	f(t0, t0)
	f(t0+3*minute, t0+minute) // from after to: empty, not an error
	f(math.MinInt64, math.MaxInt64, rs...)
	f(t0-day, t0)
	f(t0+4*minute, t0+4*minute+1, rs[4])
}

func testIsolation(t *testing.T, s store.Store) {
	keys := []struct {
		sli string
		q   time.Duration
	}{
		{"a", time.Minute}, {"a", 5 * time.Minute}, {"a", time.Hour},
		{"b", time.Minute}, {"ab", time.Minute}, {"a/b", time.Minute}, {"A", time.Minute},
		{"ü 日本", time.Minute}, {"a\x00b", time.Minute},
	}
	want := map[int]*slo.Rollup{}
	for i, k := range keys {
		r := rollup(t0, uint64(i+10), 10+i)
		want[i] = r
		commit(t, s, k.sli, k.q, r)
	}
	for i, k := range keys {
		t.Run(fmt.Sprintf("%q@%v", k.sli, k.q), func(t *testing.T) {
			wantRollups(t, load(t, s, k.sli, k.q, t0-day, t0+day), []*slo.Rollup{want[i]})
		})
	}
	if got := load(t, s, "c", time.Minute, t0-day, t0+day); len(got) != 0 {
		t.Errorf("unknown SLI: %d rollups", len(got))
	}
	if got := load(t, s, "a", 2*time.Minute, t0-day, t0+day); len(got) != 0 {
		t.Errorf("unknown quantum: %d rollups", len(got))
	}
}

func testInvalid(t *testing.T, s store.Store) {
	ctx := context.Background()
	app := s.Appender(ctx)
	wantErr(t, "empty SLI", app.Append("", time.Minute, rollup(t0, 1, 1)), store.ErrInvalid)
	wantErr(t, "zero quantum", app.Append("a", 0, rollup(t0, 1, 1)), store.ErrInvalid)
	wantErr(t, "negative quantum", app.Append("a", -time.Minute, rollup(t0, 1, 1)), store.ErrInvalid)
	wantErr(t, "misaligned start", app.Append("a", time.Minute, rollup(t0+1, 1, 1)), store.ErrInvalid)
	wantErr(t, "nil rollup", app.Append("a", time.Minute, nil), store.ErrInvalid)
	wantErr(t, "empty state key", app.SetState("", nil), store.ErrInvalid)
	// Rejected appends leave the batch usable.
	if err := app.Append("a", time.Minute, rollup(0, 1, 1)); err != nil {
		t.Errorf("start at the Unix epoch: %v", err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	wantRollups(t, load(t, s, "a", time.Minute, math.MinInt64, math.MaxInt64), []*slo.Rollup{rollup(0, 1, 1)})

	it := s.Rollups(ctx, "", time.Minute, t0, t0+hour)
	if it.Next() {
		t.Error("Rollups with empty SLI yielded a rollup")
	}
	wantErr(t, "Rollups with empty SLI", it.Err(), store.ErrInvalid)
	it.Close()
	hi := s.HourlyHistograms(ctx, "a", 0, t0, t0+hour)
	if hi.Next() {
		t.Error("HourlyHistograms with zero quantum yielded a histogram")
	}
	wantErr(t, "HourlyHistograms with zero quantum", hi.Err(), store.ErrInvalid)
	hi.Close()
	wantErr(t, "PutSLO with empty name", s.PutSLO(ctx, "", []byte("x"), time.Unix(0, t0)), store.ErrInvalid)
	wantErr(t, "PutState with empty key", s.PutState(ctx, "", []byte("x")), store.ErrInvalid)
}

func testLoadSeries(t *testing.T, s store.Store) {
	want := []*slo.Rollup{rollup(t0, 1, 50), rollup(t0+minute, 2, 50), rollup(t0+2*minute, 3, 50)}
	commit(t, s, "a", time.Minute, want...)
	got := load(t, s, "a", time.Minute, t0, t0+hour)
	wantRollups(t, got, want)
	// Each rollup owns its histogram: changing one leaves the others.
	got[0].Latency.InsertN(1, 1000)
	wantRollups(t, got[1:], want[1:])
	ser := slo.Series{Quantum: time.Minute, Rollups: got}
	if from, to, ok := ser.Span(); !ok || from != t0 || to != t0+3*minute {
		t.Errorf("Span = %d, %d, %v", from, to, ok)
	}
	// LoadSeries leaves the statuses out, and only them.
	plain, err := store.LoadSeries(context.Background(), s, "a", time.Minute, t0, t0+hour)
	if err != nil {
		t.Fatal(err)
	}
	for i := range plain.Rollups {
		if plain.Rollups[i].Statuses != nil {
			t.Fatalf("LoadSeries rollup %d has statuses", i)
		}
		want := clone(want[i])
		want.Statuses = nil
		if d := diff(&plain.Rollups[i], want); d != "" {
			t.Errorf("LoadSeries rollup %d: %s", i, d)
		}
	}
}

func testSLOs(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetSLO(ctx, "checkout")
	wantErr(t, "GetSLO of a missing SLO", err, store.ErrNotFound)
	wantErr(t, "DeleteSLO of a missing SLO", s.DeleteSLO(ctx, "checkout"), store.ErrNotFound)
	if defs, err := s.ListSLOs(ctx); err != nil || len(defs) != 0 {
		t.Errorf("ListSLOs on an empty store = %v, %v", defs, err)
	}

	u1 := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)
	def := []byte("slo: checkout\nobjective: 99.9\n")
	if err := s.PutSLO(ctx, "checkout", def, u1); err != nil {
		t.Fatal(err)
	}
	def[0] = 'X' // the store kept its own copy
	get := func(name string, wantDef string, wantUpdated time.Time) {
		t.Helper()
		d, err := s.GetSLO(ctx, name)
		if err != nil {
			t.Fatalf("GetSLO(%q): %v", name, err)
		}
		if d.Name != name || string(d.Def) != wantDef || !d.Updated.Equal(wantUpdated) {
			t.Errorf("GetSLO(%q) = %q, %q, %v; want %q, %v", name, d.Name, d.Def, d.Updated, wantDef, wantUpdated)
		}
	}
	get("checkout", "slo: checkout\nobjective: 99.9\n", u1)

	u2 := u1.Add(time.Hour).In(time.FixedZone("CET", 3600))
	if err := s.PutSLO(ctx, "checkout", []byte("v2"), u2); err != nil {
		t.Fatal(err)
	}
	get("checkout", "v2", u2)
	for _, n := range []string{"search", "api/login", "ä"} {
		if err := s.PutSLO(ctx, n, []byte("def "+n), u1); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutSLO(ctx, "empty", nil, u1); err != nil {
		t.Fatal(err)
	}
	get("empty", "", u1)
	defs, err := s.ListSLOs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range defs {
		names = append(names, d.Name)
	}
	if want := []string{"api/login", "checkout", "empty", "search", "ä"}; !slices.Equal(names, want) {
		t.Errorf("ListSLOs names = %q, want %q", names, want)
	}
	if err := s.DeleteSLO(ctx, "checkout"); err != nil {
		t.Fatal(err)
	}
	_, err = s.GetSLO(ctx, "checkout")
	wantErr(t, "GetSLO after DeleteSLO", err, store.ErrNotFound)
	wantErr(t, "second DeleteSLO", s.DeleteSLO(ctx, "checkout"), store.ErrNotFound)
}

func testState(t *testing.T, s store.Store) {
	ctx := context.Background()
	_, err := s.GetState(ctx, "x")
	wantErr(t, "GetState of a missing key", err, store.ErrNotFound)
	kv := map[string]string{
		"counter/a": "1", "counter/b": "2", "counter/b/x": "3", "counter0": "4",
		"counter": "5", "other": "6", "\xff\xff": "7", "\xff": "8", "empty": "",
	}
	for k, v := range kv {
		if err := s.PutState(ctx, k, []byte(v)); err != nil {
			t.Fatalf("PutState(%q): %v", k, err)
		}
	}
	if err := s.PutState(ctx, "counter/a", []byte("10")); err != nil {
		t.Fatal(err)
	}
	kv["counter/a"] = "10"
	for k, v := range kv {
		got, err := s.GetState(ctx, k)
		if err != nil || string(got) != v {
			t.Errorf("GetState(%q) = %q, %v; want %q", k, got, err, v)
		}
	}
	rangeKeys := func(prefix string) []string {
		t.Helper()
		var keys []string
		err := s.RangeState(ctx, prefix, func(k string, v []byte) error {
			if string(v) != kv[k] {
				t.Errorf("RangeState(%q): %q = %q, want %q", prefix, k, v, kv[k])
			}
			keys = append(keys, k)
			return nil
		})
		if err != nil {
			t.Fatalf("RangeState(%q): %v", prefix, err)
		}
		return keys
	}
	f := func(prefix string, want ...string) {
		t.Helper()
		if got := rangeKeys(prefix); !slices.Equal(got, want) {
			t.Errorf("RangeState(%q) keys = %q, want %q", prefix, got, want)
		}
	}
	f("counter/", "counter/a", "counter/b", "counter/b/x")
	f("counter", "counter", "counter/a", "counter/b", "counter/b/x", "counter0")
	f("\xff", "\xff", "\xff\xff")
	f("\xff\xff", "\xff\xff")
	f("nothing")
	f("", "counter", "counter/a", "counter/b", "counter/b/x", "counter0", "empty", "other", "\xff", "\xff\xff")

	stop := errors.New("stop")
	n := 0
	err = s.RangeState(ctx, "", func(string, []byte) error { n++; return stop })
	if !errors.Is(err, stop) || n != 1 {
		t.Errorf("RangeState with fn failing: %v after %d calls, want stop after 1", err, n)
	}

	del := func(prefix string, want int64) {
		t.Helper()
		n, err := s.DeleteStatePrefix(ctx, prefix)
		if err != nil || n != want {
			t.Errorf("DeleteStatePrefix(%q) = %d, %v; want %d", prefix, n, err, want)
		}
	}
	del("counter/", 3)
	f("counter", "counter", "counter0")
	del("\xff", 2)
	del("nothing", 0)
	del("", 4)
	f("")
}

func testStateInBatch(t *testing.T, s store.Store) {
	ctx := context.Background()
	app := s.Appender(ctx)
	v := []byte("41")
	if err := app.SetState("counter/x", v); err != nil {
		t.Fatal(err)
	}
	v[1] = '2' // SetState copied
	if err := app.SetState("counter/y", []byte("1")); err != nil {
		t.Fatal(err)
	}
	if err := app.SetState("counter/y", []byte("2")); err != nil { // last wins
		t.Fatal(err)
	}
	if err := app.Append("a", time.Minute, rollup(t0, 1, 5)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetState(ctx, "counter/x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("state visible before Commit: %v", err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"counter/x": "41", "counter/y": "2"} {
		if got, err := s.GetState(ctx, k); err != nil || string(got) != want {
			t.Errorf("GetState(%q) = %q, %v; want %q", k, got, err, want)
		}
	}
}

func testIngestStats(t *testing.T, s store.Store) {
	ctx := context.Background()
	add := func(src, reason string, n int64) {
		t.Helper()
		if err := s.AddIngestStats(ctx, src, reason, n); err != nil {
			t.Fatal(err)
		}
	}
	add("remote-write", "late", 3)
	add("remote-write", "late", 4)
	add("remote-write", "invalid", 1)
	add("otlp", "late", 2)
	app := s.Appender(ctx)
	if err := app.AddIngestStats("otlp", "late", 10); err != nil {
		t.Fatal(err)
	}
	if err := app.AddIngestStats("otlp", "late", 5); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err := s.IngestStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[store.IngestKey]int64{
		{Source: "remote-write", Reason: "late"}:    7,
		{Source: "remote-write", Reason: "invalid"}: 1,
		{Source: "otlp", Reason: "late"}:            17,
	}
	if len(got) != len(want) {
		t.Errorf("IngestStats = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("IngestStats[%v] = %d, want %d", k, got[k], n)
		}
	}
}

// minutes appends one rollup per minute of [from, to) to sli and returns
// them, in order.
func minutes(t *testing.T, s store.Store, sli string, from, to int64, seed uint64, bins int) []*slo.Rollup {
	t.Helper()
	var rs []*slo.Rollup
	for m := from; m < to; m += minute {
		rs = append(rs, rollup(m, seed, bins))
	}
	commit(t, s, sli, time.Minute, rs...)
	return rs
}

// hourly returns the merge of the histograms of rs per hour, in order.
func hourly(rs []*slo.Rollup) []store.HourlyHistogram {
	var hs []store.HourlyHistogram
	for _, r := range rs {
		h := store.HourOf(r.Start)
		if len(hs) == 0 || hs[len(hs)-1].Start != h {
			hs = append(hs, store.HourlyHistogram{Start: h})
		}
		hs[len(hs)-1].Latency.Merge(&r.Latency)
	}
	return hs
}

func wantHourly(t *testing.T, got, want []store.HourlyHistogram) {
	t.Helper()
	if len(got) != len(want) {
		var gs, ws []int64
		for _, h := range got {
			gs = append(gs, (h.Start-t0)/hour)
		}
		for _, h := range want {
			ws = append(ws, (h.Start-t0)/hour)
		}
		t.Fatalf("got %d hours %v (from t0), want %d %v", len(got), gs, len(want), ws)
	}
	for i := range got {
		if got[i].Start != want[i].Start {
			t.Errorf("hour %d starts %+d h, want %+d h", i, (got[i].Start-t0)/hour, (want[i].Start-t0)/hour)
		}
		if !got[i].Latency.Equal(&want[i].Latency) {
			t.Errorf("hour %+d h: histogram of %d samples, want %d (merge of its quanta)",
				(got[i].Start-t0)/hour, got[i].Latency.Count(), want[i].Latency.Count())
		}
	}
}

func withoutHistograms(rs []*slo.Rollup) []*slo.Rollup {
	out := make([]*slo.Rollup, len(rs))
	for i, r := range rs {
		c := clone(r)
		c.Latency.Reset()
		for j := range c.Statuses {
			c.Statuses[j].Latency.Reset()
		}
		out[i] = c
	}
	return out
}

func testHourlyUncompacted(t *testing.T, s store.Store) {
	rs := minutes(t, s, "a", t0, t0+3*hour, 1, 30)
	want := hourly(rs)
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0, t0+3*hour), want)
	// Hours whose start is in [from, to): unaligned bounds take the hours
	// starting inside them, whole.
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0+1, t0+2*hour), want[1:2])
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0, t0+2*hour+1), want)
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0+hour, t0+hour), nil)
	wantHourly(t, loadHourly(t, s, "a", time.Minute, math.MinInt64, math.MaxInt64), want)
	wantHourly(t, loadHourly(t, s, "b", time.Minute, t0, t0+3*hour), nil)
	wantHourly(t, loadHourly(t, s, "a", 5*time.Minute, t0, t0+3*hour), nil)
	// Quanta with counts only have no latencies to contribute.
	commit(t, s, "c", time.Minute, &slo.Rollup{Start: t0, Attempted: 1, Good: 1, Measured: true})
	wantHourly(t, loadHourly(t, s, "c", time.Minute, t0, t0+3*hour), nil)
}

// compactAt compacts as of now and fails the test on error.
func compactAt(t *testing.T, s store.Store, now int64, p store.Retention) store.CompactStats {
	t.Helper()
	st, err := s.Compact(context.Background(), time.Unix(0, now).UTC(), p)
	if err != nil {
		t.Fatalf("Compact(%+d h): %v", (now-t0)/hour, err)
	}
	return st
}

func testCompact(t *testing.T, s store.Store) {
	old := minutes(t, s, "a", t0, t0+3*hour, 1, 60)
	other := minutes(t, s, "b", t0+30*minute, t0+90*minute, 2, 20)
	recent := minutes(t, s, "a", t0+39*day, t0+39*day+hour, 3, 60)
	// 40 days on: the old quanta are past Full (35 days), not Counts.
	st := compactAt(t, s, t0+40*day, store.Retention{})
	// Hours counts writes of hourly rows, so an hour split between two
	// batches counts twice: at least one per hour.
	if st.Moved != int64(len(old)+len(other)) || st.Hours < 3+2 || st.DeletedRollups != 0 || st.DeletedHourly != 0 {
		t.Errorf("stats = %+v, want Moved %d, Hours ≥ 5, nothing deleted", st, len(old)+len(other))
	}
	if st.Batches < 1 {
		t.Errorf("stats = %+v, want at least 1 batch", st)
	}
	// Counts stay per minute; histograms are gone from them...
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+day), withoutHistograms(old))
	wantRollups(t, load(t, s, "b", time.Minute, t0, t0+day), withoutHistograms(other))
	// ...and live on per hour, exactly the merge of their quanta.
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0, t0+day), hourly(old))
	wantHourly(t, loadHourly(t, s, "b", time.Minute, t0, t0+day), hourly(other))
	// Recent quanta keep theirs, and their hours are computed from them.
	wantRollups(t, load(t, s, "a", time.Minute, t0+39*day, t0+40*day), recent)
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0, t0+40*day), append(hourly(old), hourly(recent)...))
}

func testCompactIdempotent(t *testing.T, s store.Store) {
	old := minutes(t, s, "a", t0, t0+2*hour, 1, 40)
	now := t0 + 40*day
	compactAt(t, s, now, store.Retention{})
	for i := range 2 {
		st := compactAt(t, s, now, store.Retention{})
		if st != (store.CompactStats{}) {
			t.Errorf("compaction %d again: stats %+v, want nothing done", i+2, st)
		}
	}
	// An earlier now (a clock stepping back) undoes nothing.
	if st := compactAt(t, s, now-10*day, store.Retention{}); st != (store.CompactStats{}) {
		t.Errorf("compaction at an earlier time: stats %+v, want nothing done", st)
	}
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+day), withoutHistograms(old))
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0, t0+day), hourly(old))
}

func testCompactRetention(t *testing.T, s store.Store) {
	rs := minutes(t, s, "a", t0, t0+4*hour, 1, 20)
	p := store.Retention{Full: time.Hour, Counts: 2 * time.Hour, HourlyHistograms: 3 * time.Hour}
	now := t0 + 4*hour + 30*minute
	// Cuts: histograms before t0+3h (3h30m rounded down to the hour),
	// rollups before t0+2h30m, hourly histograms before t0+1h.
	st := compactAt(t, s, now, p)
	if st.DeletedRollups != 150 || st.DeletedHourly != 1 || st.Moved != 180 || st.Hours < 3 {
		t.Errorf("stats = %+v, want Moved 180, Hours ≥ 3, DeletedRollups 150, DeletedHourly 1", st)
	}
	got := load(t, s, "a", time.Minute, t0, t0+day)
	want := append(withoutHistograms(rs[150:180]), rs[180:]...)
	wantRollups(t, got, want)
	all := hourly(rs)
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0, t0+day), all[1:])

	// Much later everything is gone.
	st = compactAt(t, s, t0+30*day, p)
	if st.DeletedRollups != 90 || st.DeletedHourly != 3 {
		t.Errorf("stats = %+v, want DeletedRollups 90, DeletedHourly 3", st)
	}
	if got := load(t, s, "a", time.Minute, t0, t0+day); len(got) != 0 {
		t.Errorf("%d rollups left", len(got))
	}
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0, t0+day), nil)
}

func testCompactHugeRetention(t *testing.T, s store.Store) {
	// At a now before 1970, now − retention is below the int64 range: it
	// must keep everything, not wrap around to a cut in the future. (Data
	// is never older than 1970; a clock may be.)
	t1950 := time.Date(1950, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	rs := minutes(t, s, "a", 0, hour, 1, 10)
	p := store.Retention{Full: math.MaxInt64, Counts: math.MaxInt64}
	if st := compactAt(t, s, t1950, p); st.Moved != 0 || st.DeletedRollups != 0 || st.DeletedHourly != 0 {
		t.Errorf("stats = %+v, want nothing moved or deleted", st)
	}
	wantRollups(t, load(t, s, "a", time.Minute, 0, hour), rs)
	wantHourly(t, loadHourly(t, s, "a", time.Minute, math.MinInt64, math.MaxInt64), hourly(rs))
}

func testCompactBadRetention(t *testing.T, s store.Store) {
	for _, p := range []store.Retention{
		{Full: 48 * time.Hour, Counts: 24 * time.Hour},
		{Full: -time.Hour},
		{HourlyHistograms: -time.Hour},
	} {
		_, err := s.Compact(context.Background(), time.Unix(0, t0), p)
		wantErr(t, fmt.Sprintf("Compact(%+v)", p), err, store.ErrInvalid)
	}
}

func testCompactLateAppend(t *testing.T, s store.Store) {
	old := minutes(t, s, "a", t0, t0+2*hour, 1, 40)
	compactAt(t, s, t0+40*day, store.Retention{})
	// Late samples for a compacted quantum, one for a compacted hour's
	// quantum that had no rollup, and one in an hour that had none.
	late := []*slo.Rollup{rollup(t0+10*minute, 7, 30), rollup(t0+hour+5*minute, 8, 30)}
	gap := rollup(t0+3*hour, 9, 30)
	commit(t, s, "a", time.Minute, append(late, gap)...)
	all := slices.Clone(old)
	all[10] = merged(old[10], late[0])
	all[65] = merged(old[65], late[1])
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+day), withoutHistograms(append(all, gap)))
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0, t0+day), hourly(append(all, gap)))
	// And the next compaction finds nothing left to move.
	if st := compactAt(t, s, t0+40*day, store.Retention{}); st.Moved != 0 {
		t.Errorf("compaction after late appends moved %d histograms, want 0", st.Moved)
	}
}

func testCompactRace(t *testing.T, s store.Store) {
	// Writers append late samples to six old hours while compactions sweep
	// the Full cut across them an hour at a time.
	const writers, batches = 3, 20
	var wg sync.WaitGroup
	errc := make(chan error, writers+1)
	want := make([][]*slo.Rollup, writers)
	for w := range writers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for b := range batches {
				app := s.Appender(context.Background())
				for range 5 {
					r := rollup(t0+int64(rng.IntN(6*60))*minute, uint64(w*1000+b), 10)
					want[w] = append(want[w], r)
					if err := app.Append("a", time.Minute, r); err != nil {
						errc <- err
						return
					}
				}
				if err := app.Commit(); err != nil {
					errc <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		for h := range int64(8) {
			now := t0 + int64(store.DefaultFull) + h*hour
			if _, err := s.Compact(context.Background(), time.Unix(0, now), store.Retention{}); err != nil {
				errc <- err
				return
			}
		}
	})
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Fatal(err)
	}
	compactAt(t, s, t0+int64(store.DefaultFull)+8*hour, store.Retention{})

	// Expected: everything merged per minute, and per hour.
	byMinute := map[int64]*slo.Rollup{}
	for _, rs := range want {
		for _, r := range rs {
			if m := byMinute[r.Start]; m != nil {
				m.Merge(r)
			} else {
				byMinute[r.Start] = clone(r)
			}
		}
	}
	var all []*slo.Rollup
	for _, r := range byMinute {
		all = append(all, r)
	}
	slices.SortFunc(all, func(x, y *slo.Rollup) int { return cmp.Compare(x.Start, y.Start) })
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+day), withoutHistograms(all))
	wantHourly(t, loadHourly(t, s, "a", time.Minute, t0, t0+day), hourly(all))
}

func testConcurrentReaders(t *testing.T, s store.Store) {
	// Every batch adds one attempt to each of 60 quanta, so a reader that
	// saw part of a batch would see unequal quanta.
	const batches, readers = 30, 4
	one := func(start int64) *slo.Rollup {
		r := &slo.Rollup{Start: start, Attempted: 1, Good: 1, Measured: true}
		r.Latency.Insert(0.001 * float64(1+start/minute%60))
		return r
	}
	done := make(chan struct{})
	errc := make(chan error, readers+1)
	var wg sync.WaitGroup
	for range readers {
		wg.Go(func() {
			var last uint64
			for {
				select {
				case <-done:
					return
				default:
				}
				rs, err := store.LoadSeries(context.Background(), s, "a", time.Minute, t0, t0+hour)
				if err != nil {
					errc <- err
					return
				}
				if len(rs.Rollups) == 0 {
					continue
				}
				n := rs.Rollups[0].Attempted
				if len(rs.Rollups) != 60 {
					errc <- fmt.Errorf("reader saw %d quanta, want 60", len(rs.Rollups))
					return
				}
				for _, r := range rs.Rollups {
					if r.Attempted != n || r.Latency.Count() != n {
						errc <- fmt.Errorf("reader saw a partial batch: quanta at %d and %d/%d attempts", n, r.Attempted, r.Latency.Count())
						return
					}
				}
				if n < last {
					errc <- fmt.Errorf("reader went back in time: %d attempts after %d", n, last)
					return
				}
				last = n
			}
		})
	}
	wg.Go(func() {
		defer close(done)
		for range batches {
			app := s.Appender(context.Background())
			for m := range int64(60) {
				if err := app.Append("a", time.Minute, one(t0+m*minute)); err != nil {
					errc <- err
					return
				}
			}
			if err := app.Commit(); err != nil {
				errc <- err
				return
			}
		}
	})
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	for _, r := range load(t, s, "a", time.Minute, t0, t0+hour) {
		if r.Attempted != batches {
			t.Fatalf("quantum %d: %d attempts, want %d", r.Start, r.Attempted, batches)
		}
	}
}

func testCancel(t *testing.T, s store.Store) {
	rs := minutes(t, s, "a", t0, t0+2*day, 1, 5)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	app := s.Appender(ctx)
	if err := app.Append("b", time.Minute, rollup(t0, 1, 5)); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "Commit with a cancelled context", app.Commit(), context.Canceled)
	if got := load(t, s, "b", time.Minute, t0, t0+day); len(got) != 0 {
		t.Errorf("cancelled Commit stored %d rollups", len(got))
	}
	it := s.Rollups(ctx, "a", time.Minute, t0, t0+day)
	if it.Next() {
		t.Error("Rollups with a cancelled context yielded a rollup")
	}
	wantErr(t, "Rollups with a cancelled context", it.Err(), context.Canceled)
	it.Close()
	hi := s.HourlyHistograms(ctx, "a", time.Minute, t0, t0+day)
	if hi.Next() {
		t.Error("HourlyHistograms with a cancelled context yielded a histogram")
	}
	wantErr(t, "HourlyHistograms with a cancelled context", hi.Err(), context.Canceled)
	hi.Close()
	_, err := s.Compact(ctx, time.Unix(0, t0+40*day), store.Retention{})
	wantErr(t, "Compact", err, context.Canceled)
	wantErr(t, "PutSLO", s.PutSLO(ctx, "x", []byte("x"), time.Unix(0, t0)), context.Canceled)
	_, err = s.GetSLO(ctx, "x")
	wantErr(t, "GetSLO", err, context.Canceled)
	_, err = s.ListSLOs(ctx)
	wantErr(t, "ListSLOs", err, context.Canceled)
	wantErr(t, "PutState", s.PutState(ctx, "x", []byte("x")), context.Canceled)
	_, err = s.GetState(ctx, "x")
	wantErr(t, "GetState", err, context.Canceled)
	wantErr(t, "RangeState", s.RangeState(ctx, "", func(string, []byte) error { return nil }), context.Canceled)
	_, err = s.DeleteStatePrefix(ctx, "")
	wantErr(t, "DeleteStatePrefix", err, context.Canceled)
	wantErr(t, "AddIngestStats", s.AddIngestStats(ctx, "s", "r", 1), context.Canceled)
	_, err = s.IngestStats(ctx)
	wantErr(t, "IngestStats", err, context.Canceled)

	// Cancelling in the middle of an iteration ends it with the context's
	// error, unless the iterator had already read everything.
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	it = s.Rollups(ctx, "a", time.Minute, t0, t0+2*day)
	n := 0
	for it.Next() {
		if n == 0 {
			cancel()
		}
		n++
	}
	if n < len(rs) {
		wantErr(t, fmt.Sprintf("iteration cancelled after %d of %d rollups", n, len(rs)), it.Err(), context.Canceled)
	} else if err := it.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("iteration cancelled after the end: %v", err)
	}
	it.Close()
	// The store is still fine.
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), rs[:60])
}

func testClose(t *testing.T, s store.Store) {
	ctx := context.Background()
	minutes(t, s, "a", t0, t0+hour, 1, 5)
	open := s.Rollups(ctx, "a", time.Minute, t0, t0+hour)
	if !open.Next() {
		t.Fatalf("Next = false: %v", open.Err())
	}
	pending := s.Appender(ctx)
	if err := pending.Append("a", time.Minute, rollup(t0+2*hour, 1, 5)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// An iterator left open is ended, not waited for.
	for open.Next() {
	}
	wantErr(t, "iterator open across Close", open.Err(), store.ErrClosed)
	open.Close()
	wantErr(t, "Commit of an appender from before Close", pending.Commit(), store.ErrClosed)

	app := s.Appender(ctx)
	_ = app.Append("a", time.Minute, rollup(t0, 1, 5)) // may fail early or at Commit
	wantErr(t, "Commit", app.Commit(), store.ErrClosed)
	it := s.Rollups(ctx, "a", time.Minute, t0, t0+hour)
	if it.Next() {
		t.Error("Rollups after Close yielded a rollup")
	}
	wantErr(t, "Rollups", it.Err(), store.ErrClosed)
	it.Close()
	hi := s.HourlyHistograms(ctx, "a", time.Minute, t0, t0+hour)
	if hi.Next() {
		t.Error("HourlyHistograms after Close yielded a histogram")
	}
	wantErr(t, "HourlyHistograms", hi.Err(), store.ErrClosed)
	hi.Close()
	_, err := s.Compact(ctx, time.Unix(0, t0+40*day), store.Retention{})
	wantErr(t, "Compact", err, store.ErrClosed)
	wantErr(t, "PutSLO", s.PutSLO(ctx, "x", []byte("x"), time.Unix(0, t0)), store.ErrClosed)
	_, err = s.GetSLO(ctx, "x")
	wantErr(t, "GetSLO", err, store.ErrClosed)
	_, err = s.ListSLOs(ctx)
	wantErr(t, "ListSLOs", err, store.ErrClosed)
	wantErr(t, "DeleteSLO", s.DeleteSLO(ctx, "x"), store.ErrClosed)
	wantErr(t, "PutState", s.PutState(ctx, "x", []byte("x")), store.ErrClosed)
	_, err = s.GetState(ctx, "x")
	wantErr(t, "GetState", err, store.ErrClosed)
	wantErr(t, "RangeState", s.RangeState(ctx, "", func(string, []byte) error { return nil }), store.ErrClosed)
	_, err = s.DeleteStatePrefix(ctx, "")
	wantErr(t, "DeleteStatePrefix", err, store.ErrClosed)
	wantErr(t, "AddIngestStats", s.AddIngestStats(ctx, "s", "r", 1), store.ErrClosed)
	_, err = s.IngestStats(ctx)
	wantErr(t, "IngestStats", err, store.ErrClosed)
	_, err = s.Size(ctx)
	wantErr(t, "Size", err, store.ErrClosed)
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func testSize(t *testing.T, s store.Store) {
	ctx := context.Background()
	before, err := s.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	minutes(t, s, "a", t0, t0+day, 1, 100)
	after, err := s.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// 1,440 rollups with 100-bin histograms: several hundred KB however
	// they are encoded.
	if after-before < 1440*200 {
		t.Errorf("Size grew by %d bytes for 1,440 rollups, want at least %d", after-before, 1440*200)
	}
}

func testAnnotations(t *testing.T, s store.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	add := func(a store.Annotation) int64 {
		t.Helper()
		id, err := s.AddAnnotation(ctx, a)
		if err != nil {
			t.Fatalf("AddAnnotation(%+v): %v", a, err)
		}
		return id
	}
	own := add(store.Annotation{At: t0, SLO: "checkout-availability", Service: "checkout", Kind: "deploy", Title: "checkout v1.2.3",
		Text: "canary → 100 %", URL: "https://ci.example/run/7", Labels: map[string]string{"version": "1.2.3"}})
	service := add(store.Annotation{At: t0.Add(time.Minute), Service: "checkout", Kind: "config", Title: "pool size 20→40"})
	global := add(store.Annotation{At: t0.Add(2 * time.Minute), Kind: "note", Title: "region failover drill"})
	other := add(store.Annotation{At: t0.Add(3 * time.Minute), SLO: "search-latency", Service: "search", Kind: "deploy", Title: "search v9"})
	if own == service || service == global || global == other {
		t.Fatalf("IDs not distinct: %d %d %d %d", own, service, global, other)
	}
	ids := func(q store.AnnotationQuery) []int64 {
		t.Helper()
		as, err := s.Annotations(ctx, q)
		if err != nil {
			t.Fatalf("Annotations(%+v): %v", q, err)
		}
		var out []int64
		for _, a := range as {
			out = append(out, a.ID)
		}
		return out
	}
	day := store.AnnotationQuery{From: t0.Add(-time.Hour), To: t0.Add(time.Hour)}
	for _, tc := range []struct {
		name string
		q    func(q store.AnnotationQuery) store.AnnotationQuery
		want []int64
	}{
		{"all, oldest first", func(q store.AnnotationQuery) store.AnnotationQuery { return q }, []int64{own, service, global, other}},
		{"an SLO sees its own, its service's and global ones", func(q store.AnnotationQuery) store.AnnotationQuery {
			q.SLO, q.Service = "checkout-availability", "checkout"
			return q
		}, []int64{own, service, global}},
		{"an SLO without a service", func(q store.AnnotationQuery) store.AnnotationQuery {
			q.SLO = "search-latency"
			return q
		}, []int64{global, other}},
		{"a service", func(q store.AnnotationQuery) store.AnnotationQuery {
			q.Service = "search"
			return q
		}, []int64{global, other}},
		{"half-open range", func(q store.AnnotationQuery) store.AnnotationQuery {
			q.From, q.To = t0.Add(time.Minute), t0.Add(3*time.Minute)
			return q
		}, []int64{service, global}},
		{"limit keeps the newest", func(q store.AnnotationQuery) store.AnnotationQuery {
			q.Limit = 2
			return q
		}, []int64{global, other}},
	} {
		if got := ids(tc.q(day)); !slices.Equal(got, tc.want) {
			t.Errorf("%s: IDs %v, want %v", tc.name, got, tc.want)
		}
	}
	as, err := s.Annotations(ctx, store.AnnotationQuery{From: t0, To: t0.Add(time.Second)})
	if err != nil || len(as) != 1 {
		t.Fatalf("Annotations at t0 = %v, %v", as, err)
	}
	a := as[0]
	if !a.At.Equal(t0) || a.SLO != "checkout-availability" || a.Service != "checkout" || a.Kind != "deploy" ||
		a.Title != "checkout v1.2.3" || a.Text != "canary → 100 %" || a.URL != "https://ci.example/run/7" || a.Labels["version"] != "1.2.3" {
		t.Errorf("annotation round trip = %+v", a)
	}

	for _, bad := range []store.Annotation{
		{Kind: "deploy", Title: "no time"},
		{At: time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC), Kind: "deploy", Title: "after 2200"},
		{At: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), Kind: "deploy", Title: "before 1970"},
		{At: t0, Title: "no kind"},
		{At: t0, Kind: "deploy", Title: "  "},
	} {
		_, err := s.AddAnnotation(ctx, bad)
		wantErr(t, fmt.Sprintf("AddAnnotation(%+v)", bad), err, store.ErrInvalid)
		if store.CheckTime("", bad.At) != nil {
			wantErr(t, fmt.Sprintf("AddAnnotation(%+v)", bad), err, store.ErrTimeRange)
		}
	}
	// Bounds outside the range select everything on their side, and
	// nothing wraps around into it.
	if got := ids(store.AnnotationQuery{From: time.Time{}, To: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)}); !slices.Equal(got, []int64{own, service, global, other}) {
		t.Errorf("from the zero time to 9999: IDs %v, want every annotation", got)
	}
	if err := s.DeleteAnnotation(ctx, service); err != nil {
		t.Fatal(err)
	}
	wantErr(t, "DeleteAnnotation twice", s.DeleteAnnotation(ctx, service), store.ErrNotFound)
	if got := ids(day); !slices.Equal(got, []int64{own, global, other}) {
		t.Errorf("after delete: %v", got)
	}
}

// keyed commits rs to sli "a" under the idempotency key id, with a state
// key and an ingest counter, and returns Commit's error.
func keyed(t *testing.T, s store.Store, id store.Idempotency, rs ...*slo.Rollup) error {
	t.Helper()
	app := s.Appender(context.Background())
	for _, r := range rs {
		if err := app.Append("a", time.Minute, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.SetState("last/"+id.Key, id.Reply); err != nil {
		t.Fatal(err)
	}
	if err := app.AddIngestStats("keyed", "batches", 1); err != nil {
		t.Fatal(err)
	}
	if err := app.Idempotent(id); err != nil {
		t.Fatalf("Idempotent(%q): %v", id.Key, err)
	}
	return app.Commit()
}

// wantDuplicate checks that err says the key was committed as first.
func wantDuplicate(t *testing.T, what string, err error, first store.Idempotency) {
	t.Helper()
	var dup *store.DuplicateError
	switch {
	case !errors.Is(err, store.ErrDuplicate) || !errors.As(err, &dup):
		t.Errorf("%s: error %v, want a *DuplicateError", what, err)
	case dup.Key != first.Key || string(dup.Request) != string(first.Request) || string(dup.Reply) != string(first.Reply) || !dup.At.Equal(first.At):
		t.Errorf("%s: duplicate of %+v, want %+v", what, dup.Idempotency, first)
	}
}

func wantStats(t *testing.T, s store.Store, key store.IngestKey, want int64) {
	t.Helper()
	st, err := s.IngestStats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st[key] != want {
		t.Errorf("IngestStats[%v] = %d, want %d", key, st[key], want)
	}
}

func testIdempotentAcross(t *testing.T, s store.Store) {
	ctx := context.Background()
	at := time.Unix(0, t0+5*minute).UTC()
	first := store.Idempotency{Key: "batch-1", Request: []byte("sha256:aa"), Reply: []byte(`{"accepted":1}`), At: at}
	r := rollup(t0, 1, 20)
	if err := keyed(t, s, first, r); err != nil {
		t.Fatalf("first commit: %v", err)
	}
	// The retry, and a different request under the same key, store
	// nothing of their batch: not the rollup, the state or the counter.
	retry := first
	retry.At = at.Add(time.Minute)
	retry.Reply = []byte(`{"accepted":2}`)
	wantDuplicate(t, "retry", keyed(t, s, retry, rollup(t0, 1, 20)), first)
	other := store.Idempotency{Key: "batch-1", Request: []byte("sha256:bb"), At: at.Add(2 * time.Minute)}
	wantDuplicate(t, "other request, same key", keyed(t, s, other, rollup(t0+minute, 2, 20)), first)
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{r})
	if v, err := s.GetState(ctx, "last/batch-1"); err != nil || string(v) != `{"accepted":1}` {
		t.Errorf("state = %q, %v; want the first batch's", v, err)
	}
	wantStats(t, s, store.IngestKey{Source: "keyed", Reason: "batches"}, 1)

	// Another key is another batch; a key-only batch (nothing else in
	// it) is remembered too.
	r2 := rollup(t0, 2, 20)
	if err := keyed(t, s, store.Idempotency{Key: "batch-2", At: at}, r2); err != nil {
		t.Fatalf("second key: %v", err)
	}
	only := store.Idempotency{Key: "late-only", Reply: []byte("all late"), At: at}
	app := s.Appender(ctx)
	if err := app.Idempotent(only); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("key-only batch: %v", err)
	}
	app = s.Appender(ctx)
	if err := app.Idempotent(only); err != nil {
		t.Fatal(err)
	}
	wantDuplicate(t, "key-only batch again", app.Commit(), store.Idempotency{Key: "late-only", Request: nil, Reply: []byte("all late"), At: at})
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{merged(r, r2)})

	// A rolled back batch leaves its key free.
	app = s.Appender(ctx)
	if err := app.Idempotent(store.Idempotency{Key: "batch-3", At: at}); err != nil {
		t.Fatal(err)
	}
	if err := app.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := keyed(t, s, store.Idempotency{Key: "batch-3", At: at}); err != nil {
		t.Errorf("key of a rolled back batch: %v", err)
	}
}

func testIdempotentWithin(t *testing.T, s store.Store) {
	at := time.Unix(0, t0).UTC()
	first := store.Idempotency{Key: "k", Request: []byte("req"), Reply: []byte("reply"), At: at}
	app := s.Appender(context.Background())
	req := []byte("req")
	id := first
	id.Request = req
	if err := app.Idempotent(id); err != nil {
		t.Fatal(err)
	}
	req[0] = 'X' // Idempotent copied
	if err := app.Idempotent(store.Idempotency{Key: "other", At: at}); err != nil {
		t.Fatalf("a second, different key: %v", err)
	}
	wantDuplicate(t, "the same key twice in one batch", app.Idempotent(store.Idempotency{Key: "k", At: at.Add(time.Second)}), first)
	r := rollup(t0, 1, 10)
	if err := app.Append("a", time.Minute, r); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("Commit: %v", err)
	}
	// Both keys of the batch are taken now.
	wantDuplicate(t, "first key again", keyed(t, s, store.Idempotency{Key: "k", At: at}), first)
	wantDuplicate(t, "second key again", keyed(t, s, store.Idempotency{Key: "other", At: at}), store.Idempotency{Key: "other", At: at})
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{r})
}

func testIdempotentRace(t *testing.T, s store.Store) {
	const senders = 8
	at := time.Unix(0, t0).UTC()
	r := rollup(t0, 1, 10)
	errs := make([]error, senders)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range senders {
		wg.Go(func() {
			app := s.Appender(context.Background())
			if err := app.Append("a", time.Minute, r); err != nil {
				errs[i] = err
				return
			}
			if err := app.Idempotent(store.Idempotency{Key: "retried", Reply: []byte{byte('0' + i)}, At: at}); err != nil {
				errs[i] = err
				return
			}
			<-start
			errs[i] = app.Commit()
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("senders %d and %d both committed key %q", winner, i, "retried")
		case err == nil:
			winner = i
		case !errors.Is(err, store.ErrDuplicate):
			t.Errorf("sender %d: %v, want nil or ErrDuplicate", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no sender committed")
	}
	for i, err := range errs {
		if i != winner {
			wantDuplicate(t, fmt.Sprintf("sender %d", i), err, store.Idempotency{Key: "retried", Reply: []byte{byte('0' + winner)}, At: at})
		}
	}
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+hour), []*slo.Rollup{r})
}

func testIdempotentExpiry(t *testing.T, s store.Store) {
	at := func(h int64) time.Time { return time.Unix(0, t0+h*hour).UTC() }
	for i, k := range []string{"day-0", "day-0-late", "day-1"} {
		if err := keyed(t, s, store.Idempotency{Key: k, At: at([]int64{0, 20, 30}[i])}); err != nil {
			t.Fatal(err)
		}
	}
	// 24 hours by default: at 25 h only the key of hour 0 is forgotten.
	if st := compactAt(t, s, t0+25*hour, store.Retention{}); st.DeletedKeys != 1 {
		t.Errorf("compact at 25 h: stats %+v, want DeletedKeys 1", st)
	}
	if err := keyed(t, s, store.Idempotency{Key: "day-0", At: at(25)}); err != nil {
		t.Errorf("a forgotten key: %v, want it stored again", err)
	}
	wantDuplicate(t, "a key 5 h old", keyed(t, s, store.Idempotency{Key: "day-0-late", At: at(25)}), store.Idempotency{Key: "day-0-late", At: at(20)})
	// A key exactly as old as the retention is kept; a shorter retention
	// forgets more.
	if st := compactAt(t, s, t0+44*hour, store.Retention{}); st.DeletedKeys != 0 {
		t.Errorf("compact at 44 h: stats %+v, want nothing forgotten", st)
	}
	if st := compactAt(t, s, t0+44*hour, store.Retention{IdempotencyKeys: time.Hour}); st.DeletedKeys != 3 {
		t.Errorf("compact at 44 h keeping keys 1 h: stats %+v, want DeletedKeys 3", st)
	}
	_, err := s.Compact(context.Background(), at(44), store.Retention{IdempotencyKeys: -time.Hour})
	wantErr(t, "Compact with a negative key retention", err, store.ErrInvalid)
}

func testIdempotentInvalid(t *testing.T, s store.Store) {
	app := s.Appender(context.Background())
	defer app.Rollback()
	for _, key := range []string{"", strings.Repeat("k", store.MaxIdempotencyKey+1), "tab\there", "new\nline", "caf\u00e9", "\x7f"} {
		wantErr(t, fmt.Sprintf("Idempotent(%q)", key), app.Idempotent(store.Idempotency{Key: key, At: time.Unix(0, t0)}), store.ErrInvalid)
	}
	for _, key := range []string{strings.Repeat("k", store.MaxIdempotencyKey), "a", " ~!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}"} {
		if err := app.Idempotent(store.Idempotency{Key: key, At: time.Unix(0, t0)}); err != nil {
			t.Errorf("Idempotent(%q): %v", key, err)
		}
	}
	for _, at := range []time.Time{{}, store.MaxTime()} {
		err := app.Idempotent(store.Idempotency{Key: "at-" + at.Format(time.RFC3339), At: at})
		wantErr(t, fmt.Sprintf("Idempotent at %s", at.Format(time.RFC3339)), err, store.ErrTimeRange)
		wantErr(t, fmt.Sprintf("Idempotent at %s", at.Format(time.RFC3339)), err, store.ErrInvalid)
	}
}

func testTimeRange(t *testing.T, s store.Store) {
	ctx := context.Background()
	app := s.Appender(ctx)
	defer app.Rollback()
	for _, start := range []int64{-minute, -10 * 365 * day, store.MaxTimeNs, store.MaxTimeNs + minute} {
		err := app.Append("a", time.Minute, rollup(start, 1, 1))
		wantErr(t, fmt.Sprintf("Append at %d", start), err, store.ErrInvalid)
		wantErr(t, fmt.Sprintf("Append at %d", start), err, store.ErrTimeRange)
		err = app.SetCounts("a", time.Minute, &slo.Rollup{Start: start})
		wantErr(t, fmt.Sprintf("SetCounts at %d", start), err, store.ErrTimeRange)
	}
	last := store.MaxTimeNs - minute
	for _, start := range []int64{store.MinTimeNs, last} {
		if err := app.Append("a", time.Minute, rollup(start, 1, 1)); err != nil {
			t.Errorf("Append at %d, in the range: %v", start, err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	wantRollups(t, load(t, s, "a", time.Minute, math.MinInt64, math.MaxInt64), []*slo.Rollup{rollup(store.MinTimeNs, 1, 1), rollup(last, 1, 1)})
	for _, at := range []time.Time{{}, time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)} {
		err := s.PutSLO(ctx, "x", []byte("x"), at)
		wantErr(t, "PutSLO updated "+at.Format(time.RFC3339), err, store.ErrTimeRange)
	}
	if _, err := s.GetSLO(ctx, "x"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an SLO refused for its time was stored: %v", err)
	}
}

// testOverflow: counts of one quantum never wrap around. Two rollups of
// 2^64−1 events once stored 2^64−2, and ten more events with none good
// then read as an availability of −25.
func testOverflow(t *testing.T, s store.Store) {
	ctx := context.Background()
	full := func() *slo.Rollup {
		return &slo.Rollup{Start: t0, Attempted: math.MaxUint64, Good: math.MaxUint64, Measured: true}
	}
	wantOverflow := func(what string, err error) {
		t.Helper()
		wantErr(t, what, err, store.ErrInvalid)
		wantErr(t, what, err, store.ErrOverflow)
	}

	// Within a batch: the second Append fails and the batch stays usable.
	app := s.Appender(ctx)
	if err := app.Append("a", time.Minute, full()); err != nil {
		t.Fatal(err)
	}
	wantOverflow("a second Append of 2^64-1 in one batch", app.Append("a", time.Minute, full()))
	wantOverflow("one more event in the batch", app.Append("a", time.Minute, &slo.Rollup{Start: t0, Attempted: 1}))
	if err := app.Commit(); err != nil {
		t.Fatalf("Commit after refused Appends: %v", err)
	}
	wantRollups(t, load(t, s, "a", time.Minute, t0, t0+minute), []*slo.Rollup{full()})

	// Across batches: Commit fails and stores nothing of the batch.
	for _, tc := range []struct {
		name string
		r    *slo.Rollup
	}{
		{"the same rollup again", full()},
		{"ten events, none good", &slo.Rollup{Start: t0, Attempted: 10, Measured: true}},
		{"one good event", &slo.Rollup{Start: t0, Good: 1}},
		{"one event of a status", &slo.Rollup{Start: t0, Attempted: 1, Statuses: []slo.StatusCount{{Code: 200, Count: 1}}}},
	} {
		app := s.Appender(ctx)
		if err := app.Append("a", time.Minute, tc.r); err != nil {
			t.Fatalf("%s: Append: %v", tc.name, err)
		}
		// Another quantum in the same batch is not stored either.
		if err := app.Append("a", time.Minute, rollup(t0+minute, 1, 1)); err != nil {
			t.Fatal(err)
		}
		wantOverflow(tc.name+": Commit", app.Commit())
		wantRollups(t, load(t, s, "a", time.Minute, t0, t0+2*minute), []*slo.Rollup{full()})
	}

	// Statuses overflow on their own too.
	st := func(n uint64) *slo.Rollup {
		return &slo.Rollup{Start: t0, Attempted: n, Good: n, Statuses: []slo.StatusCount{{Code: 200, Count: n}}}
	}
	commit(t, s, "b", time.Minute, st(math.MaxUint64))
	app = s.Appender(ctx)
	wantOverflow("a second status count of 2^64-1", errors.Join(app.Append("b", time.Minute, st(1)), app.Commit()))
	wantRollups(t, load(t, s, "b", time.Minute, t0, t0+minute), []*slo.Rollup{st(math.MaxUint64)})
}

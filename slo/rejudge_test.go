package slo

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/nines-sre/nines/hist"
)

// mustSLI builds an SLI from spec-like strings; "" leaves a part unset.
func mustSLI(t testing.TB, status, latency string) *SLI {
	t.Helper()
	s := &SLI{}
	if status != "" {
		r, err := ParseStatusRule(status)
		if err != nil {
			t.Fatal(err)
		}
		s.Status = r
	}
	if latency != "" {
		l, err := ParseLatencyRule(latency)
		if err != nil {
			t.Fatal(err)
		}
		s.Latency = &l
	}
	return s
}

var rejudgeT0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC).UnixNano()

// aggregate folds events into one rollup under sli, keeping statuses.
func aggregate(t testing.TB, sli *SLI, events []Event) *Rollup {
	t.Helper()
	agg := NewAggregator(sli, time.Minute)
	agg.KeepStatuses()
	for i := range events {
		events[i].Time = rejudgeT0
		agg.Add(&events[i])
	}
	s := agg.Series()
	if len(s.Rollups) != 1 {
		t.Fatalf("%d rollups, want 1", len(s.Rollups))
	}
	return &s.Rollups[0]
}

type verdicts struct{ Attempted, Good, Errors, Slow, OverThreshold uint64 }

func verdictsOf(r *Rollup) verdicts {
	return verdicts{r.Attempted, r.Good, r.Errors, r.Slow, r.OverThreshold}
}

func ev(status int, ok Flag, latency float64, n uint64) Event {
	return Event{Status: status, OK: ok, Latency: latency, Count: n}
}

func TestRejudge(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name     string
		events   []Event
		from, to *SLI
		want     verdicts
		// ambiguous is what Rejudged must report.
		ambiguous uint64
	}{
		{
			name:   "A wider latency threshold makes 100 requests at 7 ms good.",
			events: []Event{ev(200, FlagUnset, 0.007, 100)},
			from:   mustSLI(t, "<500", "<=5ms"), to: mustSLI(t, "<500", "<=10ms"),
			want: verdicts{Attempted: 100, Good: 100},
		},
		{
			name:   "A narrower latency threshold makes them slow.",
			events: []Event{ev(200, FlagUnset, 0.007, 100)},
			from:   mustSLI(t, "<500", "<=10ms"), to: mustSLI(t, "<500", "<=5ms"),
			want: verdicts{Attempted: 100, Slow: 100, OverThreshold: 100},
		},
		{
			name:   "Requests at exactly an inclusive threshold are good and reported as its bin.",
			events: []Event{ev(200, FlagUnset, 0.005, 30), ev(200, FlagUnset, 0.004, 10)},
			from:   mustSLI(t, "<500", "<=1ms"), to: mustSLI(t, "<500", "<=5ms"),
			want: verdicts{Attempted: 40, Good: 40}, ambiguous: 30,
		},
		{
			name:   "Requests at exactly an exclusive threshold at a bin edge are slow, without ambiguity.",
			events: []Event{ev(200, FlagUnset, 0.005, 30), ev(200, FlagUnset, 0.004, 10)},
			from:   mustSLI(t, "<500", "<=1ms"), to: mustSLI(t, "<500", "<5ms"),
			want: verdicts{Attempted: 40, Good: 10, Slow: 30, OverThreshold: 30},
		},
		{
			name:   "An exclusive threshold inside a bin reports that bin's requests.",
			events: []Event{ev(200, FlagUnset, 0.00505, 3), ev(200, FlagUnset, 0.00501, 2)},
			from:   mustSLI(t, "<500", "<=1ms"), to: mustSLI(t, "<500", "<5.05ms"),
			want: verdicts{Attempted: 5, Slow: 5, OverThreshold: 5}, ambiguous: 5,
		},
		{
			name:   "A stricter status rule turns 4xx into errors.",
			events: []Event{ev(200, FlagUnset, 0.001, 90), ev(404, FlagUnset, 0.001, 7), ev(503, FlagUnset, 0.002, 3)},
			from:   mustSLI(t, "<500", ""), to: mustSLI(t, "<400", ""),
			want: verdicts{Attempted: 100, Good: 90, Errors: 10},
		},
		{
			name:   "An error wins over slowness, but still counts over the threshold.",
			events: []Event{ev(503, FlagUnset, 0.5, 4), ev(404, FlagUnset, 0.5, 6), ev(200, FlagUnset, 0.001, 10)},
			from:   mustSLI(t, "<500", ""), to: mustSLI(t, "<400", "<=250ms"),
			want: verdicts{Attempted: 20, Good: 10, Errors: 10, OverThreshold: 10},
		},
		{
			name: "An explicit ok flag wins over the status under any rule.",
			events: []Event{
				ev(503, FlagTrue, 0.001, 5), ev(200, FlagFalse, 0.001, 3), ev(404, FlagUnset, 0.001, 2),
				ev(NoStatus, FlagTrue, 0.3, 1),
			},
			from: mustSLI(t, "<500", ""), to: mustSLI(t, "2xx", "<=250ms"),
			want: verdicts{Attempted: 11, Good: 5, Errors: 5, Slow: 1, OverThreshold: 1},
		},
		{
			name:   "Events without a latency are never slow.",
			events: []Event{ev(200, FlagUnset, nan, 50), ev(200, FlagUnset, 0.3, 5)},
			from:   mustSLI(t, "", ""), to: mustSLI(t, "", "<=250ms"),
			want: verdicts{Attempted: 55, Good: 50, Slow: 5, OverThreshold: 5},
		},
		{
			name:   "Events without a status fail any status rule and pass none.",
			events: []Event{ev(NoStatus, FlagUnset, 0.001, 5), ev(1200, FlagUnset, 0.001, 2), ev(200, FlagUnset, 0.001, 1)},
			from:   mustSLI(t, "", ""), to: mustSLI(t, "<500", ""),
			want: verdicts{Attempted: 8, Good: 1, Errors: 7},
		},
		{
			name:   "Dropping the latency threshold clears the latency verdicts.",
			events: []Event{ev(200, FlagUnset, 0.3, 5), ev(200, FlagUnset, 0.001, 5)},
			from:   mustSLI(t, "<500", "<=250ms"), to: mustSLI(t, "<500", ""),
			want: verdicts{Attempted: 10, Good: 10},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := aggregate(t, tc.from, append([]Event(nil), tc.events...))
			rj, err := tc.to.Rejudge(r)
			if err != nil {
				t.Fatalf("Rejudge: %v", err)
			}
			if got := verdictsOf(r); got != tc.want {
				t.Errorf("verdicts %+v, want %+v", got, tc.want)
			}
			if rj.Ambiguous != tc.ambiguous {
				t.Errorf("%d ambiguous, want %d", rj.Ambiguous, tc.ambiguous)
			}
			// Aggregating under the new SLI agrees, status by status.
			direct := aggregate(t, tc.to, append([]Event(nil), tc.events...))
			if tc.ambiguous == 0 || tc.to.Latency.Inclusive {
				wantSame(t, r, direct)
			}
		})
	}
}

// wantSame fails unless a and b hold the same counts, overall and per
// status.
func wantSame(t *testing.T, got, want *Rollup) {
	t.Helper()
	if verdictsOf(got) != verdictsOf(want) {
		t.Errorf("verdicts %+v, aggregating directly gives %+v", verdictsOf(got), verdictsOf(want))
	}
	if len(got.Statuses) != len(want.Statuses) {
		t.Fatalf("%d statuses, want %d", len(got.Statuses), len(want.Statuses))
	}
	for i := range got.Statuses {
		g, w := &got.Statuses[i], &want.Statuses[i]
		if g.Code != w.Code || g.Count != w.Count || g.Timed != w.Timed || g.Over != w.Over || !g.Latency.Equal(&w.Latency) {
			t.Errorf("status %d: {%d %d %d %d}, want {%d %d %d %d}", i, g.Code, g.Count, g.Timed, g.Over, w.Code, w.Count, w.Timed, w.Over)
		}
	}
}

func TestRejudgeRefuses(t *testing.T) {
	events := []Event{ev(200, FlagUnset, 0.007, 90), ev(404, FlagUnset, 0.3, 10)}
	compacted := func() *Rollup {
		r := aggregate(t, mustSLI(t, "<500", "<=250ms"), append([]Event(nil), events...))
		// What store compaction leaves: counts, no histograms.
		r.Latency.Reset()
		for i := range r.Statuses {
			r.Statuses[i].Latency.Reset()
		}
		return r
	}
	t.Run("A compacted rollup refuses a threshold change.", func(t *testing.T) {
		r := compacted()
		before := verdictsOf(r)
		if _, err := mustSLI(t, "<500", "<=500ms").Rejudge(r); !errors.Is(err, ErrLatencyCompacted) {
			t.Fatalf("Rejudge: %v, want ErrLatencyCompacted", err)
		}
		if verdictsOf(r) != before || r.Statuses[1].Over != 10 {
			t.Fatal("a refused Rejudge changed the rollup")
		}
	})
	t.Run("A compacted rollup takes a status rule change under the same threshold.", func(t *testing.T) {
		r := compacted()
		if err := mustSLI(t, "<400", "<=250ms").RejudgeStatus(r); err != nil {
			t.Fatalf("RejudgeStatus: %v", err)
		}
		if got, want := verdictsOf(r), (verdicts{Attempted: 100, Good: 90, Errors: 10, OverThreshold: 10}); got != want {
			t.Fatalf("verdicts %+v, want %+v", got, want)
		}
	})
	t.Run("A compacted rollup takes a status rule change without any threshold.", func(t *testing.T) {
		r := aggregate(t, mustSLI(t, "<500", ""), append([]Event(nil), events...))
		r.Statuses[0].Latency.Reset()
		if _, err := mustSLI(t, "<400", "").Rejudge(r); err != nil {
			t.Fatalf("Rejudge: %v", err)
		}
		if got, want := verdictsOf(r), (verdicts{Attempted: 100, Good: 90, Errors: 10}); got != want {
			t.Fatalf("verdicts %+v, want %+v", got, want)
		}
	})
	t.Run("Keeping latency verdicts of a threshold that was dropped is refused.", func(t *testing.T) {
		if err := mustSLI(t, "<400", "").RejudgeStatus(compacted()); !errors.Is(err, ErrThresholdChanged) {
			t.Fatalf("RejudgeStatus: %v, want ErrThresholdChanged", err)
		}
	})
	t.Run("A rollup without statuses is refused.", func(t *testing.T) {
		r := &Rollup{Start: rejudgeT0, Attempted: 5, Good: 5, Measured: true}
		if _, err := mustSLI(t, "<500", "").Rejudge(r); !errors.Is(err, ErrNoStatuses) {
			t.Fatalf("Rejudge: %v, want ErrNoStatuses", err)
		}
	})
	t.Run("Statuses that miss merged events are refused.", func(t *testing.T) {
		r := aggregate(t, mustSLI(t, "<500", ""), append([]Event(nil), events...))
		r.Merge(&Rollup{Start: rejudgeT0, Attempted: 5, Good: 5, Measured: true})
		before := verdictsOf(r)
		_, err := mustSLI(t, "<400", "").Rejudge(r)
		if !errors.Is(err, ErrNoStatuses) {
			t.Fatalf("Rejudge: %v, want ErrNoStatuses", err)
		}
		if verdictsOf(r) != before {
			t.Fatal("a refused Rejudge changed the rollup")
		}
	})
	t.Run("Impossible per-status counts are refused.", func(t *testing.T) {
		r := &Rollup{Start: rejudgeT0, Attempted: 5, Statuses: []StatusCount{{Code: 200, Count: 5, Timed: 6}}}
		if _, err := mustSLI(t, "<500", "").Rejudge(r); !errors.Is(err, ErrNoStatuses) {
			t.Fatalf("Rejudge: %v, want ErrNoStatuses", err)
		}
	})
	t.Run("A quiet quantum needs no statuses.", func(t *testing.T) {
		r := &Rollup{Start: rejudgeT0, Measured: true}
		if _, err := mustSLI(t, "<500", "<=5ms").Rejudge(r); err != nil {
			t.Fatalf("Rejudge: %v", err)
		}
	})
}

func TestMergeKeepsStatusesSortedAndSummed(t *testing.T) {
	sli := mustSLI(t, "<500", "<=5ms")
	a := aggregate(t, sli, []Event{ev(503, FlagUnset, 0.001, 2), ev(200, FlagUnset, 0.007, 3)})
	b := aggregate(t, sli, []Event{ev(404, FlagUnset, 0.002, 1), ev(200, FlagUnset, 0.001, 4), ev(NoStatus, FlagTrue, nan(), 1)})
	all := aggregate(t, sli, []Event{
		ev(503, FlagUnset, 0.001, 2), ev(200, FlagUnset, 0.007, 3),
		ev(404, FlagUnset, 0.002, 1), ev(200, FlagUnset, 0.001, 4), ev(NoStatus, FlagTrue, nan(), 1),
	})
	a.Merge(b)
	wantSame(t, a, all)
	codes := []int{}
	for _, s := range a.Statuses {
		codes = append(codes, s.Code)
	}
	if want := []int{StatusOKTrue, 200, 404, 503}; !slices.Equal(codes, want) {
		t.Fatalf("codes %v, want %v", codes, want)
	}
	// The merge copied b's histograms: changing b leaves a alone.
	b.Statuses[1].Latency.Reset()
	if a.Statuses[1].Latency.Count() != 7 {
		t.Fatal("Merge shares histogram storage with its argument")
	}
}

func nan() float64 { return math.NaN() }

func TestAggregatorWithoutStatusesKeepsNone(t *testing.T) {
	agg := NewAggregator(mustSLI(t, "<500", "<=5ms"), time.Minute)
	agg.Add(&Event{Time: rejudgeT0, Status: 200, Latency: 0.001, Count: 3})
	if s := agg.Series(); s.Rollups[0].Statuses != nil {
		t.Fatalf("statuses %+v without KeepStatuses", s.Rollups[0].Statuses)
	}
}

// randomEvents draws events that meet every branch of Classify: flags,
// missing statuses and latencies, latencies at bin edges and inside bins.
func randomEvents(rng *rand.Rand, n int) []Event {
	codes := []int{200, 201, 204, 301, 304, 400, 404, 429, 499, 500, 502, 503, 504, NoStatus, 0, 999, 1000}
	lats := []float64{0.001, 0.005, 0.0051, 0.01, 0.25, 0.2499, 1}
	out := make([]Event, n)
	for i := range out {
		e := Event{Status: codes[rng.IntN(len(codes))], Count: uint64(rng.IntN(5))}
		switch rng.IntN(8) {
		case 0:
			e.OK = FlagTrue
		case 1:
			e.OK = FlagFalse
		}
		switch rng.IntN(4) {
		case 0:
			e.Latency = math.NaN()
		case 1:
			e.Latency = lats[rng.IntN(len(lats))]
		case 2:
			// Whole milliseconds, as servers log them.
			e.Latency = float64(rng.IntN(400)) / 1000
		default:
			e.Latency = math.Exp(rng.NormFloat64()*2 - 4)
		}
		out[i] = e
	}
	return out
}

// randomSLI draws an SLI with or without each rule.
func randomSLI(t testing.TB, rng *rand.Rand) *SLI {
	statuses := []string{"", "<500", "<400", "2xx,3xx", "200-299,404", ">=500", "999"}
	latencies := []string{"", "<=5ms", "<5ms", "<=10ms", "<=250ms", "<250ms", "<=5.05ms", "<5.05ms", "<1s", "<=0.1ms"}
	return mustSLI(t, statuses[rng.IntN(len(statuses))], latencies[rng.IntN(len(latencies))])
}

func FuzzRejudgeEqualsAggregating(f *testing.F) {
	f.Add(uint64(1), uint64(2), 50)
	f.Add(uint64(7), uint64(7), 500)
	f.Fuzz(func(t *testing.T, seed1, seed2 uint64, n int) {
		rng := rand.New(rand.NewPCG(seed1, seed2))
		n = 1 + (n&0x7fffffff)%2000
		events := randomEvents(rng, n)
		a, b := randomSLI(t, rng), randomSLI(t, rng)
		got := aggregate(t, a, append([]Event(nil), events...))
		rj, err := b.Rejudge(got)
		if err != nil {
			t.Fatalf("Rejudge: %v", err)
		}
		want := aggregate(t, b, append([]Event(nil), events...))
		if rj.Ambiguous == 0 {
			wantSame(t, got, want)
			return
		}
		// Ambiguous events may each have gone the other way: the counts
		// differ by no more, and the events are all accounted for.
		g, w := verdictsOf(got), verdictsOf(want)
		within := func(x, y uint64) bool { return max(x, y)-min(x, y) <= rj.Ambiguous }
		if g.Attempted != w.Attempted || g.Errors != w.Errors || !within(g.Good, w.Good) ||
			!within(g.Slow, w.Slow) || !within(g.OverThreshold, w.OverThreshold) || g.Good+g.Slow != w.Good+w.Slow {
			t.Fatalf("%v → %v: verdicts %+v, aggregating directly gives %+v, %d ambiguous", a.Latency, b.Latency, g, w, rj.Ambiguous)
		}
	})
}

func TestCheckStatuses(t *testing.T) {
	withLatency := func(n uint64) hist.Histogram {
		var h hist.Histogram
		_ = h.InsertN(0.001, n)
		return h
	}
	cases := []struct {
		name string
		r    Rollup
		ok   bool
	}{
		{"Statuses covering every event are fine.", Rollup{Attempted: 3, Latency: withLatency(2), Statuses: []StatusCount{
			{Code: StatusOKFalse, Count: 1}, {Code: NoStatus, Count: 1, Timed: 1, Latency: withLatency(1)}, {Code: 200, Count: 1, Timed: 1, Over: 1, Latency: withLatency(1)}}}, true},
		{"Statuses covering fewer events than attempted can be stored.", Rollup{Attempted: 9, Statuses: []StatusCount{{Code: 200, Count: 1}}}, true},
		{"Compacted histograms are fine.", Rollup{Attempted: 4, Statuses: []StatusCount{{Code: 200, Count: 4, Timed: 4, Over: 2}}}, true},
		{"A code above 999 is refused.", Rollup{Attempted: 1, Statuses: []StatusCount{{Code: 1000, Count: 1}}}, false},
		{"A code below the flag keys is refused.", Rollup{Attempted: 1, Statuses: []StatusCount{{Code: -4, Count: 1}}}, false},
		{"A repeated code is refused.", Rollup{Attempted: 2, Statuses: []StatusCount{{Code: 200, Count: 1}, {Code: 200, Count: 1}}}, false},
		{"Codes out of order are refused.", Rollup{Attempted: 2, Statuses: []StatusCount{{Code: 500, Count: 1}, {Code: 200, Count: 1}}}, false},
		{"More timed than events is refused.", Rollup{Attempted: 2, Statuses: []StatusCount{{Code: 200, Count: 1, Timed: 2}}}, false},
		{"More over than timed is refused.", Rollup{Attempted: 2, Statuses: []StatusCount{{Code: 200, Count: 2, Timed: 1, Over: 2}}}, false},
		{"More latencies than timed is refused.", Rollup{Attempted: 2, Latency: withLatency(2), Statuses: []StatusCount{{Code: 200, Count: 2, Timed: 1, Latency: withLatency(2)}}}, false},
		{"More events than attempted is refused.", Rollup{Attempted: 1, Statuses: []StatusCount{{Code: 200, Count: 2}}}, false},
		{"More latencies than the rollup's is refused.", Rollup{Attempted: 2, Latency: withLatency(1), Statuses: []StatusCount{{Code: 200, Count: 2, Timed: 2, Latency: withLatency(2)}}}, false},
		{"Counts that overflow are refused.", Rollup{Attempted: math.MaxUint64, Statuses: []StatusCount{{Code: 200, Count: math.MaxUint64}, {Code: 201, Count: 2}}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.r.CheckStatuses(); (err == nil) != tc.ok {
				t.Fatalf("CheckStatuses: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

func TestRollupCopyToSharesNothing(t *testing.T) {
	sli := mustSLI(t, "<500", "<=5ms")
	src := aggregate(t, sli, []Event{ev(200, FlagUnset, 0.007, 3), ev(503, FlagUnset, 0.001, 1)})
	want := aggregate(t, sli, []Event{ev(200, FlagUnset, 0.007, 3), ev(503, FlagUnset, 0.001, 1)})
	// dst starts with more statuses than src, and storage of its own.
	dst := aggregate(t, sli, []Event{ev(200, FlagUnset, 0.1, 1), ev(404, FlagUnset, 0.1, 1), ev(500, FlagUnset, 0.1, 1)})
	src.CopyTo(dst)
	wantSame(t, dst, want)
	src.Statuses[0].Latency.Reset()
	src.Statuses[0].Count = 99
	src.Latency.Reset()
	wantSame(t, dst, want)
	if !dst.Latency.Equal(&want.Latency) {
		t.Fatal("the copy shares the rollup's histogram")
	}
	var none Rollup
	none.CopyTo(dst)
	if dst.Statuses != nil || dst.Latency.Count() != 0 {
		t.Fatal("copying a rollup without statuses leaves some")
	}
}

package slo

import (
	"cmp"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestTrackerMatchesRescanAtRandom drives trackers of random SLOs (every
// method and no-data policy, rolling windows of ragged length and
// calendar days across DST, with and without lookback, every kind of
// life start) through random traffic: gaps, steady runs that encode as
// one run, noisy minutes, outages, minutes of no traffic, late data up to
// a max lag given whole or as deltas, edits of the objective judged again
// in memory, and restarts that rebuild the tracker from what a store
// holds. At every check every figure the tracker gives (status, violations,
// burn rates and counts over spans short and long, where the damage
// began) must equal a full rescan of the rollups.
func TestTrackerMatchesRescanAtRandom(t *testing.T) {
	n := 32
	if testing.Short() {
		n = 8
	}
	for seed := range n {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) { trackerMatchesRescan(t, uint64(seed)) })
	}
}

func trackerMatchesRescan(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 13))
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	s := &SLO{Name: "x", Method: Method(r.IntN(4)), NoData: NoData(r.IntN(3)), Quantum: time.Minute,
		Objective: []Ratio{{99, 100}, {999, 1000}, {9, 10}}[r.IntN(3)],
		SLI:       SLI{Latency: &LatencyRule{Threshold: 0.005, Inclusive: true}}}
	if r.IntN(2) == 0 {
		s.QuantumObjective = Ratio{95, 100}
	}
	if r.IntN(5) == 0 {
		s.Quantum = 5 * time.Minute
	}
	start := time.Date(2026, 11, 24, 21, 0, 0, 0, time.UTC)
	var lookback time.Duration
	switch r.IntN(4) {
	case 0, 1:
		// Lengths that leave the last block of the ring short.
		s.Window = WindowSpec{Rolling: []time.Duration{150 * time.Minute, 7 * time.Hour, 25*time.Hour + 35*time.Minute}[r.IntN(3)]}
	case 2:
		s.Window = WindowSpec{Calendar: Day, Location: time.UTC}
		lookback = []time.Duration{0, time.Hour, 3 * time.Hour}[r.IntN(3)]
	default:
		s.Window = WindowSpec{Calendar: Day, Location: berlin}
		lookback = []time.Duration{0, 2 * time.Hour}[r.IntN(2)]
		start = []time.Time{time.Date(2026, 3, 28, 20, 0, 0, 0, time.UTC), time.Date(2026, 10, 24, 19, 0, 0, 0, time.UTC)}[r.IntN(2)]
	}
	if s.Window.Rolling%s.Quantum != 0 {
		s.Window.Rolling = s.Window.Rolling / s.Quantum * s.Quantum
	}
	since := int64(math.MinInt64)
	life := []string{"always", "explicit", "first data"}[r.IntN(3)]
	switch life {
	case "explicit":
		since = start.Add(time.Duration(r.IntN(300)) * time.Minute).Truncate(s.Quantum).UnixNano()
	case "first data":
		since = NotStarted
	}
	q := s.Quantum
	build := func(at time.Time, stored map[int64]Rollup) *Tracker {
		tr, err := NewTrackerLookback(s, at, lookback)
		if err != nil {
			t.Fatal(err)
		}
		tr.SetSince(since)
		from := tr.Window().Start
		if s.Window.Calendar != NotCalendar {
			from = from.Add(-lookback)
			tr.OpenHistory(from)
		}
		for _, k := range slices.Sorted(maps.Keys(stored)) {
			if ro := stored[k]; k >= from.UnixNano() && k < tr.Elapsed().UnixNano() {
				if r.IntN(2) == 0 {
					tr.Add(&ro)
				} else {
					tr.Update(&ro)
				}
			}
		}
		return tr
	}
	all := map[int64]Rollup{}
	tr := build(start, all)
	steps := int(30*time.Hour/q) + r.IntN(120)
	const maxLag = 10 * time.Minute
	mode := 0
	at := start
	for step := range steps {
		at = at.Add(q)
		if err := tr.AdvanceTo(at); err != nil {
			t.Fatal(err)
		}
		if r.IntN(40) == 0 {
			mode = r.IntN(6)
		}
		// This quantum's data, and sometimes a late rollup or a second
		// source's delta for one up to maxLag back.
		for k := range 1 + r.IntN(3) {
			qs := at.Add(-q)
			if k > 0 {
				qs = at.Add(-q - time.Duration(r.IntN(int(maxLag/q)))*q)
			}
			ro, ok := randomRollup(r, mode, qs.UnixNano())
			if !ok {
				continue
			}
			if life == "first data" && ro.Measured && ro.Start < since {
				// Quanta entering the life come in unmeasured: one that
				// was reported unmeasured before it is given again, as
				// the store holds it.
				old := since
				since = ro.Start
				tr.SetSince(since)
				for k := since; k < min(old, at.UnixNano()); k += int64(q) {
					if stored, ok := all[k]; ok {
						tr.Update(&stored)
					}
				}
			}
			merged := all[ro.Start]
			merged.Start = ro.Start
			if err := merged.Merge(&ro); err != nil {
				t.Fatal(err)
			}
			all[ro.Start] = merged
			if r.IntN(2) == 0 {
				tr.Update(&merged)
			} else {
				tr.Add(&ro)
			}
		}
		switch r.IntN(500) {
		case 0:
			// A restart: the tracker is built again from what is stored.
			tr = build(at, all)
		case 1:
			// An edit judged again in memory.
			edited := *s
			edited.Objective = []Ratio{{99, 100}, {999, 1000}, {9, 10}}[r.IntN(3)]
			edited.Method, edited.NoData = Method(r.IntN(4)), NoData(r.IntN(3))
			next, ok := tr.Retargeted(&edited, lookback)
			if !ok {
				t.Fatalf("step %d: retarget refused", step)
			}
			s, tr = &edited, next
		}
		if step%7 == 0 || step > steps-30 {
			checkTrackerAgainstRescan(t, step, s, tr, all, since, at)
		}
	}
}

// randomRollup is one rollup of the traffic pattern mode; ok is false
// for silence.
func randomRollup(r *rand.Rand, mode int, start int64) (Rollup, bool) {
	ro := Rollup{Start: start, Measured: true}
	switch mode {
	case 0: // a gap
		return ro, false
	case 1: // steady and good: equal minutes
		ro.Attempted, ro.Good = 120, 120
	case 2: // an outage
		ro.Attempted, ro.Errors = 40, 40
	case 3: // measured, no traffic
	case 4: // reported but not measured
		if r.IntN(3) == 0 {
			ro.Measured = false
		}
		fallthrough
	default: // noisy
		if r.IntN(12) == 0 {
			return ro, false
		}
		ro.Attempted = uint64(r.IntN(60))
		ro.Good = ro.Attempted - uint64(r.IntN(int(ro.Attempted)/6+1))
		ro.Errors = ro.Attempted - ro.Good
		for range ro.Attempted / 3 {
			v := []float64{0.001, 0.005, 0.0051, 0.02}[r.IntN(4)]
			ro.Latency.Insert(v)
			if v > 0.005 {
				ro.OverThreshold++
			}
		}
	}
	return ro, true
}

// checkTrackerAgainstRescan compares every figure of tr at at with a
// rescan of all.
func checkTrackerAgainstRescan(t *testing.T, step int, s *SLO, tr *Tracker, all map[int64]Rollup, since int64, at time.Time) {
	t.Helper()
	series := &Series{Quantum: s.Quantum, Since: since}
	for _, k := range slices.Sorted(maps.Keys(all)) {
		series.Rollups = append(series.Rollups, all[k])
	}
	want, err := Evaluate(s, series, tr.Window(), at)
	if err != nil {
		t.Fatal(err)
	}
	compareResults(t, step, tr.Result(), want)
	if gv, wv := tr.Violations(), want.Violations; !slices.Equal(gv, wv) {
		t.Fatalf("step %d: violations %v, rescan says %v", step, gv, wv)
	}
	q := int64(s.Quantum)
	end := at.UnixNano()
	// The tracker knows the quanta from here on: its history, its life,
	// what its ring reaches.
	known := max(tr.history, end-int64(tr.n)*q)
	for _, span := range []time.Duration{time.Minute, 5 * time.Minute, 37 * time.Minute, time.Hour, 2 * time.Hour,
		6 * time.Hour, 26 * time.Hour, 80 * time.Hour} {
		got := tr.Span(span)
		spanFrom := QuantumStart(end-int64(span), s.Quantum)
		var before int
		if since > spanFrom {
			before = int((min(since, end) - spanFrom) / q)
		}
		from := max(spanFrom, since, known)
		var tl tally
		if from < end {
			tl = s.tally(series, from, end, false)
		}
		tl.quanta.BeforeStart = before
		wantSt := SpanStats{Burn: s.burn(&tl), Attempted: tl.events.Total, Quanta: tl.quanta.Elapsed,
			Unmeasured: tl.quanta.Unmeasured, BeforeStart: before}
		if !sameFloat(got.Burn, wantSt.Burn) || got.Attempted != wantSt.Attempted || got.Quanta != wantSt.Quanta ||
			got.Unmeasured != wantSt.Unmeasured || got.BeforeStart != wantSt.BeforeStart {
			t.Fatalf("step %d at %s: span %v: tracker %+v, rescan %+v", step, at.UTC().Format(time.RFC3339), span, got, wantSt)
		}
		gotStart, gotOK := tr.ImpactStart(span)
		wantStart, wantOK := impactStartByRescan(s, series, max(since, known), end, span)
		if gotOK != wantOK || !gotStart.Equal(wantStart) {
			t.Fatalf("step %d: impact start over %v: tracker %v %v, rescan %v %v", step, span, gotStart, gotOK, wantStart, wantOK)
		}
	}
}

// impactStartByRescan is Tracker.ImpactStart from the rollups: the run of
// burning quanta back from the last one of the span, no further than low.
func impactStartByRescan(s *SLO, series *Series, low, end int64, span time.Duration) (time.Time, bool) {
	q := int64(s.Quantum)
	burning := func(start int64) bool {
		var ro *Rollup
		if i, ok := slices.BinarySearchFunc(series.Rollups, start, func(r Rollup, t int64) int { return cmp.Compare(r.Start, t) }); ok {
			ro = &series.Rollups[i]
		}
		v, down := s.judge(ro)
		if v == quantumSkipped {
			return false
		}
		switch s.Method {
		case Transactions:
			return ro != nil && ro.Attempted > 0 && !s.Objective.WithinBudget(ro.Attempted-ro.Good, ro.Attempted)
		case DowntimeMinutes:
			return down.quanta() > s.Objective.Complement()
		}
		return v == quantumBad
	}
	last := int64(math.MinInt64)
	for start := end - q; start >= max(low, end-int64(span)); start -= q {
		if burning(start) {
			last = start
			break
		}
	}
	if last == math.MinInt64 {
		return time.Time{}, false
	}
	first := last
	for start := last - q; start >= low && burning(start); start -= q {
		first = start
	}
	return time.Unix(0, first).UTC(), true
}

// TestBlocksKeepEveryContribution writes random contributions into a
// tracker's ring slot by slot and in runs, and reads them back slot by
// slot, by runs and as block sums, against a plain slice.
func TestBlocksKeepEveryContribution(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, 59, 60, 61, 150, 1441} {
		t.Run(fmt.Sprint(n, " slots"), func(t *testing.T) {
			tr := &Tracker{q: 1, n: n, blocks: make([]string, (n+blockSlots-1)/blockSlots), hot: -1}
			plain := make([]contribution, n)
			pick := func() contribution {
				switch r.IntN(5) {
				case 0:
					return contribution{}
				case 1:
					return contribution{set: true, verdict: quantumOutside}
				case 2:
					return contribution{set: true, unmeasured: true, verdict: quantumBad, down: downUnit}
				}
				c := contribution{set: true, verdict: verdict(r.IntN(3)), attempted: r.Uint64N(1 << uint(r.IntN(64))),
					good: uint64(r.IntN(100)), latencies: uint64(r.IntN(2)), down: downtime(r.Int64N(int64(downUnit) + 1))}
				return c
			}
			for range 2000 {
				c := pick()
				if r.IntN(4) == 0 {
					from, k := r.IntN(n), 1+r.IntN(n)
					tr.fill(int64(from), int64(k), c)
					for j := range k {
						plain[(from+j)%n] = c
					}
				} else {
					i := r.IntN(n)
					tr.setIndex(i, c)
					plain[i] = c
				}
				if r.IntN(3) == 0 {
					tr.flush()
				}
				i := r.IntN(n)
				if got := tr.slotAt(int64(i)); got != plain[i] {
					t.Fatalf("slot %d: %+v, want %+v", i, got, plain[i])
				}
				from, k := r.IntN(n), 1+r.IntN(n)
				var got, want spanSum
				tr.sumSlots(&got, from, k)
				for j := range k {
					want.add(&plain[(from+j)%n], 1)
				}
				if got != want {
					t.Fatalf("sum of %d slots from %d: %+v, want %+v", k, from, got, want)
				}
			}
			tr.at = int64(n)
			var back []contribution
			tr.eachRunBack(0, int64(n), func(_ int64, k int, c *contribution) bool {
				for range k {
					back = append(back, *c)
				}
				return true
			})
			slices.Reverse(back)
			if !slices.Equal(back, plain) {
				t.Fatal("runs read back newest first differ from what was written")
			}
		})
	}
}

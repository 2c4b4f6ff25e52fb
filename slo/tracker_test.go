package slo

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestTrackerMatchesEvaluate feeds the same random rollups, partly late
// and out of order, to a Tracker and to Evaluate, and checks at every step
// that the incremental status is the one a full rescan gives.
func TestTrackerMatchesEvaluate(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	cases := []trackerCase{
		{"rolling 2h quanta", WindowSpec{Rolling: 2 * time.Hour}, Quanta, NoDataBad, time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
		{"rolling 2h time-quanta skip", WindowSpec{Rolling: 2 * time.Hour}, TimeQuanta, NoDataSkip, time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
		{"rolling 2h transactions", WindowSpec{Rolling: 2 * time.Hour}, Transactions, NoDataGood, time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
		{"rolling 2h downtime", WindowSpec{Rolling: 2 * time.Hour}, DowntimeMinutes, NoDataBad, time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)},
		{"calendar day across midnight", WindowSpec{Calendar: Day, Location: time.UTC}, Quanta, NoDataBad, time.Date(2026, 11, 24, 22, 30, 0, 0, time.UTC)},
		{"calendar day Berlin DST", WindowSpec{Calendar: Day, Location: berlin}, DowntimeMinutes, NoDataGood, time.Date(2026, 3, 28, 22, 0, 0, 0, time.UTC)},
	}
	// Each case runs with every quantum alive, with an explicit start 40
	// minutes in, and with the life starting at the first data to arrive
	// (moved earlier when late data comes from before it, as the engine
	// does).
	lives := []string{"always", "explicit", "first data"}
	for _, c := range cases {
		for _, life := range lives {
			t.Run(c.name+"/"+life, func(t *testing.T) { trackerMatchesEvaluate(t, c, life) })
		}
	}
}

type trackerCase struct {
	name   string
	window WindowSpec
	method Method
	noData NoData
	start  time.Time
}

func trackerMatchesEvaluate(t *testing.T, c trackerCase, life string) {
	s := &SLO{Name: "x", Objective: Ratio{99, 100}, QuantumObjective: Ratio{9, 10}, Method: c.method,
		Quantum: time.Minute, Window: c.window, NoData: c.noData,
		SLI: SLI{Latency: &LatencyRule{Threshold: 0.005, Inclusive: true}}}
	r := rand.New(rand.NewPCG(11, uint64(len(c.name))))
	tr, err := NewTracker(s, c.start)
	if err != nil {
		t.Fatal(err)
	}
	since := int64(math.MinInt64)
	switch life {
	case "explicit":
		since = c.start.Add(40 * time.Minute).UnixNano()
	case "first data":
		since = NotStarted
	}
	tr.SetSince(since)
	all := map[int64]Rollup{}
	at := c.start
	for step := range 240 {
		at = at.Add(time.Minute)
		if err := tr.AdvanceTo(at); err != nil {
			t.Fatal(err)
		}
		// Most quanta report on time; some late, up to 10 minutes;
		// some never; some twice (a second source).
		for range 1 + r.IntN(2) {
			if r.IntN(10) == 0 {
				continue
			}
			q := at.Add(-time.Minute - time.Duration(r.IntN(3)*r.IntN(4))*time.Minute).Truncate(time.Minute)
			ro := Rollup{Start: q.UnixNano(), Measured: true}
			if r.IntN(8) > 0 {
				ro.Attempted = uint64(r.IntN(50))
				ro.Good = ro.Attempted - uint64(r.IntN(int(ro.Attempted)/8+1))
				ro.Errors = ro.Attempted - ro.Good
				for range ro.Attempted / 2 {
					v := []float64{0.001, 0.005, 0.0051, 0.02}[r.IntN(4)]
					ro.Latency.Insert(v)
					if v > 0.005 {
						ro.OverThreshold++
					}
				}
			}
			if life == "first data" && ro.Start < since {
				since = ro.Start
				tr.SetSince(since)
			}
			merged := all[ro.Start]
			merged.Start = ro.Start
			merged.Merge(&ro)
			all[ro.Start] = merged
			// Half the time the tracker gets the merged rollup as a
			// store would return it, half the time only the delta.
			if r.IntN(2) == 0 {
				tr.Update(&merged)
			} else {
				tr.Add(&ro)
			}
		}
		want := evaluateMap(t, s, all, since, tr.Window(), at)
		got := tr.Result()
		compareResults(t, step, got, want)
		if gv, wv := tr.Violations(), want.Violations; !slices.Equal(gv, wv) {
			t.Fatalf("step %d: violations %v, rescan says %v", step, gv, wv)
		}
		for _, span := range []time.Duration{5 * time.Minute, time.Hour} {
			from := at.Add(-span)
			if from.Before(tr.Window().Start) {
				continue
			}
			series := seriesOf(s, all)
			series.Since = since
			wb, _ := BurnRate(s, series, from, at)
			if gb := tr.BurnRate(span); !sameFloat(gb, wb) {
				t.Fatalf("step %d: burn rate over %v = %v, rescan says %v", step, span, gb, wb)
			}
		}
	}
}

func seriesOf(s *SLO, all map[int64]Rollup) *Series {
	a := NewAggregator(&s.SLI, s.Quantum)
	for _, r := range all {
		a.AddRollup(&r)
	}
	return a.Series()
}

func evaluateMap(t *testing.T, s *SLO, all map[int64]Rollup, since int64, w Window, at time.Time) *Result {
	t.Helper()
	series := seriesOf(s, all)
	series.Since = since
	res, err := Evaluate(s, series, w, at)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// sameFloat is equality that also holds for two NaNs: the live and the
// offline answers must agree to the bit.
func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func close(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b))
}

func compareResults(t *testing.T, step int, got, want *Result) {
	t.Helper()
	if got.Window != want.Window || got.Complete != want.Complete || got.Quanta != want.Quanta ||
		got.Events != want.Events || got.Met != want.Met || got.Budget.Unit != want.Budget.Unit ||
		!sameFloat(got.Availability, want.Availability) || !sameFloat(got.Budget.Total, want.Budget.Total) ||
		!sameFloat(got.Budget.Spent, want.Budget.Spent) || !sameFloat(got.Budget.Remaining, want.Budget.Remaining) ||
		got.Downtime != want.Downtime ||
		got.Latency.Measured != want.Latency.Measured || got.Latency.AtOrUnder != want.Latency.AtOrUnder ||
		!close(got.Latency.InverseQuantile, want.Latency.InverseQuantile) || !close(got.Latency.Headroom, want.Latency.Headroom) {
		t.Fatalf("step %d: tracker and rescan disagree\ntracker %+v\nrescan  %+v", step, *got, *want)
	}
}

func TestTrackerRefusesWindowsItCannotHold(t *testing.T) {
	s := &SLO{Name: "x", Objective: Ratio{999, 1000}, Quantum: 10 * time.Second, Window: WindowSpec{Rolling: 365 * 24 * time.Hour}}
	if _, err := NewTracker(s, time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)); err == nil {
		t.Fatal("a year of 10-second quanta should be refused, not allocated")
	}
}

// TestTrackerLooksBackAcrossACalendarWindow checks that with a lookback a
// span at 00:30 sees the outage of 23:50 the day before, as a replay over
// the stored series does, whether the tracker lived through midnight or
// was built after it from stored rollups; and that the new day's budget
// stays untouched by it.
func TestTrackerLooksBackAcrossACalendarWindow(t *testing.T) {
	s := &SLO{Name: "x", Objective: Ratio{99, 100}, Method: Quanta, Quantum: time.Minute,
		Window: WindowSpec{Calendar: Day, Location: time.UTC}, NoData: NoDataGood}
	midnight := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	series := &Series{Quantum: time.Minute}
	for at := midnight.Add(-3 * time.Hour); at.Before(midnight.Add(30 * time.Minute)); at = at.Add(time.Minute) {
		good := uint64(100)
		if !at.Before(midnight.Add(-10*time.Minute)) && at.Before(midnight) {
			good = 0 // 23:50 to midnight fails
		}
		series.Rollups = append(series.Rollups, Rollup{Start: at.UnixNano(), Attempted: 100, Good: good, Errors: 100 - good, Measured: true})
	}
	now := midnight.Add(30 * time.Minute)
	want, err := BurnRate(s, series, now.Add(-time.Hour), now)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(want-10.0/60/0.01) > 1e-9 {
		t.Fatalf("replay burn %g, want 10 bad quanta of 60 over a 1 %% budget", want)
	}

	// Lived through midnight.
	live, err := NewTrackerLookback(s, midnight.Add(-3*time.Hour), 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for i := range series.Rollups {
		r := &series.Rollups[i]
		if err := live.AdvanceTo(time.Unix(0, r.Start).Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if !live.Update(r) {
			t.Fatalf("rollup at %s refused", time.Unix(0, r.Start).UTC())
		}
	}
	// Built after a restart at 00:30 from the stored rollups.
	rebuilt, err := NewTrackerLookback(s, now, 3*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	rebuilt.OpenHistory(midnight.Add(-3 * time.Hour))
	for i := range series.Rollups {
		r := &series.Rollups[i]
		if time.Unix(0, r.Start).Before(midnight) {
			if !rebuilt.Add(r) {
				t.Fatalf("history at %s refused", time.Unix(0, r.Start).UTC())
			}
		} else if !rebuilt.Update(r) {
			t.Fatalf("rollup at %s refused", time.Unix(0, r.Start).UTC())
		}
	}
	// Without lookback the span is clipped at midnight and sees nothing.
	clipped, _ := NewTracker(s, midnight.Add(-time.Hour))
	for i := range series.Rollups {
		r := &series.Rollups[i]
		if !time.Unix(0, r.Start).Before(midnight.Add(-time.Hour)) {
			clipped.AdvanceTo(time.Unix(0, r.Start).Add(time.Minute))
			clipped.Update(r)
		}
	}
	// Over 4h the live tracker knows all of yesterday (unmeasured before
	// 21:00 counts good here); the rebuilt one only the 3h it was told.
	for name, tc := range map[string]struct {
		tr     *Tracker
		burn4h float64
	}{"live": {live, 10.0 / 240 / 0.01}, "rebuilt": {rebuilt, 10.0 / 210 / 0.01}} {
		tr := tc.tr
		if got := tr.BurnRate(time.Hour); math.Abs(got-want) > 1e-9 {
			t.Errorf("%s: burn over 1h at 00:30 = %g, want %g as the replay says", name, got, want)
		}
		if got := tr.BurnRate(4 * time.Hour); math.Abs(got-tc.burn4h) > 1e-9 {
			t.Errorf("%s: burn over 4h = %g, want %g", name, got, tc.burn4h)
		}
		if res := tr.Result(); res.Quanta.Bad != 0 || res.Quanta.Good != 30 || !res.Window.Start.Equal(midnight) {
			t.Errorf("%s: the new day's status %+v must not hold yesterday's outage", name, res.Quanta)
		}
	}
	if got := clipped.BurnRate(time.Hour); got != 0 {
		t.Errorf("without lookback: burn %g, want 0 (clipped at midnight)", got)
	}
}

// TestRetargetedEqualsRebuilt: a tracker judged again in memory for a new
// objective, method or noData policy says what a tracker built under the
// new SLO from the same rollups says, for status and burn rates alike.
func TestRetargetedEqualsRebuilt(t *testing.T) {
	base := SLO{Name: "x", Objective: Ratio{99, 100}, QuantumObjective: Ratio{9, 10}, Method: Quanta, Quantum: time.Minute,
		Window: WindowSpec{Calendar: Day, Location: time.UTC}, NoData: NoDataBad}
	edits := map[string]func(*SLO){
		"objective":        func(s *SLO) { s.Objective = Ratio{999, 1000} },
		"quantumObjective": func(s *SLO) { s.QuantumObjective = Ratio{99, 100} },
		"method":           func(s *SLO) { s.Method = DowntimeMinutes },
		"noData":           func(s *SLO) { s.NoData = NoDataSkip },
		"transactions":     func(s *SLO) { s.Method = Transactions },
	}
	start := time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(5, 6))
	var rollups []Rollup
	for m := range 8 * 60 {
		if r.IntN(7) == 0 {
			continue // unmeasured
		}
		n := uint64(r.IntN(40))
		bad := uint64(r.IntN(int(n)/6 + 1))
		rollups = append(rollups, Rollup{Start: start.Add(time.Duration(m) * time.Minute).UnixNano(), Attempted: n, Good: n - bad, Errors: bad, Measured: true})
	}
	since := start.Add(30 * time.Minute).UnixNano()
	build := func(s *SLO) *Tracker {
		tr, err := NewTrackerLookback(s, start, 3*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		tr.SetSince(since)
		for _, ro := range rollups {
			tr.AdvanceTo(time.Unix(0, ro.Start).Add(time.Minute))
			tr.Update(&ro)
		}
		tr.AdvanceTo(start.Add(8 * time.Hour))
		return tr
	}
	old := build(&base)
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			s := base
			edit(&s)
			got, ok := old.Retargeted(&s, 3*time.Hour)
			if !ok {
				t.Fatal("refused")
			}
			want := build(&s)
			compareResults(t, 0, got.Result(), want.Result())
			for _, span := range []time.Duration{5 * time.Minute, time.Hour, 3 * time.Hour, 6 * time.Hour} {
				if g, w := got.Span(span), want.Span(span); !sameFloat(g.Burn, w.Burn) || g.Quanta != w.Quanta || g.Unmeasured != w.Unmeasured {
					t.Errorf("span %v: %+v, rebuilt %+v", span, g, w)
				}
			}
			if !slices.Equal(got.Violations(), want.Violations()) {
				t.Errorf("violations differ")
			}
		})
	}
	other := base
	other.Window = WindowSpec{Rolling: 24 * time.Hour}
	if _, ok := old.Retargeted(&other, 3*time.Hour); ok {
		t.Error("a new window was retargeted")
	}
	if _, ok := old.Retargeted(&base, time.Hour); ok {
		t.Error("a new lookback was retargeted")
	}
}

package alert

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

// trackerSource is a Source over a slo.Tracker, as nines serve would
// adapt one: burn rates are the tracker's own Tracker.BurnRate, which
// walks every quantum of the span. The tracker keeps no per-span event
// counts and no unmeasured runs, so the adapter keeps those beside it as
// cumulative sums per quantum (constant time per span); BurnRate is the
// cost measured here.
type trackerSource struct {
	t *slo.Tracker
	q int64
	// first is the start of the quantum cum[0] begins at; cum[i] sums
	// quanta [first, first+i·q).
	first    int64
	attempts []uint64
	measured []int32
}

func (s *trackerSource) index(span time.Duration) (from, to int) {
	end := s.t.Elapsed().UnixNano()
	to = int((end - s.first) / s.q)
	from = max(0, int((end-int64(span)-s.first)/s.q))
	return from, to
}

func (s *trackerSource) Burn(span time.Duration) (float64, uint64, bool) {
	rate := s.t.BurnRate(span)
	from, to := s.index(span)
	return rate, s.attempts[to] - s.attempts[from], !math.IsNaN(rate)
}

func (s *trackerSource) Unmeasured(span time.Duration) bool {
	from, to := s.index(span)
	return to > from && s.measured[to] == s.measured[from]
}

func (s *trackerSource) Budget() (float64, bool) {
	return s.t.Result().Budget.RemainingShare(), true
}

// prefixSource answers from cumulative sums alone, as slo.Tracker would
// with the prefix-sum extension proposed for it: constant time per span.
// It is the same history as trackerSource's, for the quanta method.
type prefixSource struct {
	trackerSource
	bad, counted []int32
	budget       float64
}

func (s *prefixSource) Burn(span time.Duration) (float64, uint64, bool) {
	from, to := s.index(span)
	n := s.counted[to] - s.counted[from]
	if n == 0 {
		return math.NaN(), 0, false
	}
	return float64(s.bad[to]-s.bad[from]) / float64(n) / s.budget, s.attempts[to] - s.attempts[from], true
}

// fleet is n SLOs at 99.9 % by quanta, each with its own tracker holding
// the last 6 hours of one-minute rollups (100 to 1,000 requests a minute,
// an occasional bad minute; one SLO in 20 in an outage for its last 20
// minutes, so some alerts fire) and the rest of the window unmeasured,
// skipped by noData: skip (the tracker walks those quanta all the same).
// The trackers keep 3 days, the longest span the tiers read: a 30-day
// tracker holds 43,200 quanta (2.8 MB), and 10,000 of them would not fit
// in this machine's memory. Spans walk the same number of quanta either
// way. The alert policy is the default for a 30-day window.
type fleet struct {
	policy  Policy
	now     time.Time
	tracked []*trackerSource
	prefix  []*prefixSource
}

func newFleet(b testing.TB, n int) *fleet {
	b.Helper()
	start := time.Date(2026, 11, 25, 4, 0, 0, 0, time.UTC)
	now := start.Add(6 * time.Hour)
	f := &fleet{policy: Policy{Window: slo.WindowSpec{Rolling: 30 * day}}, now: now}
	r := rand.New(rand.NewPCG(7, 9))
	for i := range n {
		s := &slo.SLO{Name: fmt.Sprintf("slo-%d", i), Objective: slo.Ratio{Num: 999, Den: 1000}, Quantum: time.Minute,
			Window: slo.WindowSpec{Rolling: 3 * day}, NoData: slo.NoDataSkip}
		tr, err := slo.NewTracker(s, start)
		if err != nil {
			b.Fatal(err)
		}
		if err := tr.AdvanceTo(now); err != nil {
			b.Fatal(err)
		}
		first := tr.Window().Start.UnixNano()
		quanta := int((now.UnixNano() - first) / int64(time.Minute))
		ts := trackerSource{t: tr, q: int64(time.Minute), first: first,
			attempts: make([]uint64, quanta+1), measured: make([]int32, quanta+1)}
		ps := &prefixSource{bad: make([]int32, quanta+1), counted: make([]int32, quanta+1), budget: 0.001}
		outage := i%20 == 0
		for q := range quanta {
			at := time.Unix(0, first+int64(q)*int64(time.Minute))
			ro := slo.Rollup{Start: at.UnixNano()}
			if !at.Before(start) {
				ro.Measured = true
				ro.Attempted = uint64(100 + r.IntN(900))
				ro.Good = ro.Attempted
				if r.IntN(500) == 0 || (outage && now.Sub(at) <= 20*time.Minute) {
					ro.Good = ro.Attempted / 2
				}
				tr.Update(&ro)
			}
			verdict, _ := s.Judge(&ro)
			ts.attempts[q+1] = ts.attempts[q] + ro.Attempted
			ts.measured[q+1], ps.bad[q+1], ps.counted[q+1] = ts.measured[q], ps.bad[q], ps.counted[q]
			if ro.Measured {
				ts.measured[q+1]++
			}
			switch verdict {
			case "bad":
				ps.bad[q+1]++
				ps.counted[q+1]++
			case "good":
				ps.counted[q+1]++
			}
		}
		ps.trackerSource = ts
		f.tracked = append(f.tracked, &ts)
		f.prefix = append(f.prefix, ps)
	}
	return f
}

// cycle evaluates every source once with workers goroutines, as a server
// would each evaluation interval.
func (f *fleet) cycle(b *testing.B, srcs []Source, states []State, workers int) {
	var wg sync.WaitGroup
	chunk := (len(srcs) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(srcs))
		wg.Go(func() {
			for i := lo; i < hi; i++ {
				next, _, err := Evaluate(f.policy, srcs[i], states[i], f.now)
				if err != nil {
					b.Error(err)
					return
				}
				states[i] = next
			}
		})
	}
	wg.Wait()
}

// BenchmarkEvaluateFleet is one evaluation cycle of every tier and the
// no-data alert for n SLOs: one op is the whole fleet. Sources are
// trackers (the cost of Tracker.BurnRate, which walks 6,315 quanta per
// SLO for the seven distinct spans) or prefix sums (what the proposed
// slo extension would cost). ns/SLO is the cycle's wall time per SLO.
func BenchmarkEvaluateFleet(b *testing.B) {
	sizes := []int{100, 1000, 10000}
	if testing.Short() {
		sizes = sizes[:2]
	}
	f := newFleet(b, sizes[len(sizes)-1])
	for _, source := range []string{"tracker", "prefix"} {
		for _, n := range sizes {
			for _, workers := range []int{1, 2} {
				b.Run(fmt.Sprintf("source=%s/slos=%d/workers=%d", source, n, workers), func(b *testing.B) {
					srcs := make([]Source, n)
					for i := range n {
						if source == "tracker" {
							srcs[i] = f.tracked[i]
						} else {
							srcs[i] = f.prefix[i]
						}
					}
					states := make([]State, n)
					f.cycle(b, srcs, states, workers) // fire what fires, so cycles measure the steady state
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						f.cycle(b, srcs, states, workers)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/SLO")
				})
			}
		}
	}
}

// BenchmarkTrackerBurnRate is one span of Tracker.BurnRate, by length: the
// cost grows with the quanta of the span.
func BenchmarkTrackerBurnRate(b *testing.B) {
	f := newFleet(b, 1)
	for _, span := range []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, day, 3 * day} {
		b.Run(slo.FormatDuration(span), func(b *testing.B) {
			var sink float64
			for b.Loop() {
				sink += f.tracked[0].t.BurnRate(span)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/span.Minutes(), "ns/quantum")
			_ = sink
		})
	}
}

// TestFleetSources checks the benchmark's two sources agree, so that the
// prefix-sum figures measure the same work.
func TestFleetSources(t *testing.T) {
	f := newFleet(t, 40)
	for i := range f.tracked {
		for _, span := range []time.Duration{5 * time.Minute, time.Hour, 6 * time.Hour, day, 3 * day} {
			r1, a1, ok1 := f.tracked[i].Burn(span)
			r2, a2, ok2 := f.prefix[i].Burn(span)
			if math.Abs(r1-r2) > 1e-9 || a1 != a2 || ok1 != ok2 {
				t.Fatalf("SLO %d over %s: tracker %g %d %v, prefix %g %d %v", i, span, r1, a1, ok1, r2, a2, ok2)
			}
		}
		s1, _, _ := Evaluate(f.policy, f.tracked[i], State{}, f.now)
		s2, _, _ := Evaluate(f.policy, f.prefix[i], State{}, f.now)
		if len(s1.Alerts) != len(s2.Alerts) {
			t.Fatalf("SLO %d: %d alerts from the tracker, %d from prefix sums", i, len(s1.Alerts), len(s2.Alerts))
		}
		if i%20 == 0 && len(s1.Alerts) == 0 {
			t.Errorf("SLO %d is in an outage and nothing fires", i)
		}
	}
}

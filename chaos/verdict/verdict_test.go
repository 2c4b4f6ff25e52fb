package verdict

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/hist"
)

func TestFixedHorizonTests(t *testing.T) {
	for _, tc := range []struct {
		name    string
		c, e    Counts
		test    string
		p, tolP float64
	}{
		// Fisher's tea-tasting table: 3 of 4 against 1 of 4, one-sided
		// p = 17/70.
		{"Few bad requests are judged by Fisher's exact test.", Counts{4, 1}, Counts{4, 3}, "fisher-exact", 17.0 / 70, 1e-12},
		{"Counts large enough for the normal approximation take the z test.", Counts{10000, 100}, Counts{10000, 150}, "two-proportion-z", 7.307307e-4, 1e-9},
		{"An experiment cohort better than the control is far from worse.", Counts{10000, 150}, Counts{10000, 100}, "two-proportion-z", 1 - 7.307307e-4, 1e-9},
		{"No bad request at all is no evidence.", Counts{1000, 0}, Counts{1000, 0}, "fisher-exact", 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := fixedTest(tc.c, tc.e)
			if got.Name != tc.test || math.Abs(got.PValue-tc.p) > tc.tolP {
				t.Errorf("got %s p=%.10g, want %s p=%.10g", got.Name, got.PValue, tc.test, tc.p)
			}
		})
	}
}

func TestRank(t *testing.T) {
	histOf := func(vs ...float64) *hist.Histogram {
		var h hist.Histogram
		for _, v := range vs {
			if err := h.Insert(v); err != nil {
				t.Fatal(err)
			}
		}
		return &h
	}
	t.Run("Every experiment request slower: superiority 1, the textbook z.", func(t *testing.T) {
		got := Rank(histOf(0.001, 0.002, 0.003), histOf(0.004, 0.005, 0.006))
		if got.Superiority != 1 || math.Abs(got.Z-1.9639610121239315) > 1e-9 || math.Abs(got.PValue-0.02476730671781337) > 1e-9 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("Alike cohorts, all ties within bins: superiority one half, z 0.", func(t *testing.T) {
		got := Rank(histOf(0.001, 0.001, 0.002), histOf(0.001, 0.001, 0.002))
		if got.Superiority != 0.5 || got.Z != 0 || got.PValue != 0.5 {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("An empty cohort says nothing.", func(t *testing.T) {
		if got := Rank(histOf(), histOf(0.1)); got.PValue != 1 || got.Superiority != 0.5 {
			t.Errorf("got %+v", got)
		}
	})
}

func TestPlanRefusesWhatCannotBeJudged(t *testing.T) {
	for _, p := range []Plan{
		{MinEffect: 0, Alpha: 0.05, Power: 0.8},
		{MinEffect: 0.01, Alpha: 0.6, Power: 0.8},
		{MinEffect: 0.01, Alpha: 0.05, Power: 1},
		{MinEffect: math.NaN(), Alpha: 0.05, Power: 0.8},
	} {
		if _, err := New(p); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

func TestLookRefusesImpossibleCounts(t *testing.T) {
	s, _ := New(Plan{MinEffect: 0.01, Alpha: 0.05, Power: 0.8})
	if _, err := s.Look(Counts{10, 11}, Counts{10, 0}, false); err == nil {
		t.Error("11 bad of 10 requests accepted")
	}
}

// binomial draws the bad requests among n at share p, exactly, by
// skipping geometric gaps between bad ones (cost: the number drawn).
func binomial(r *rand.Rand, n uint64, p float64) uint64 {
	if p <= 0 {
		return 0
	}
	lq := math.Log1p(-p)
	var bad uint64
	pos := uint64(0)
	for {
		gap := uint64(math.Floor(math.Log(1-r.Float64())/lq)) + 1
		if gap > n-pos {
			return bad
		}
		pos += gap
		bad++
	}
}

// simulate runs one experiment: both cohorts grow by step requests a
// look, with bad shares p0 (control) and p1 (experiment), until a verdict
// or max requests.
func simulate(r *rand.Rand, plan Plan, p0, p1 float64, step, most uint64) Verdict {
	s, err := New(plan)
	if err != nil {
		panic(err)
	}
	var c, e Counts
	for {
		c.Requests += step
		e.Requests += step
		c.Bad += binomial(r, step, p0)
		e.Bad += binomial(r, step, p1)
		v, err := s.Look(c, e, c.Requests >= most)
		if err != nil {
			panic(err)
		}
		if v.Outcome != Running {
			return v
		}
	}
}

// within3σ is the upper end of a binomial rate's 3σ band over n runs.
func within3σ(rate float64, n int) float64 {
	return rate + 3*math.Sqrt(rate*(1-rate)/float64(n))
}

// TestCalibration holds the verdict to its promises on simulated runs,
// looked at every 1/20 of the planned requests per cohort: the sequential
// looks do not raise the false "disproved" rate above α, a real effect is
// not called "held" more often than α, and the planned requests reach a
// verdict with the planned power, whether the effect is there or not.
// The shares span a rare failure (0.1 %, where the normal approximation
// is at its weakest), a common one and a coin-like one.
func TestCalibration(t *testing.T) {
	if testing.Short() {
		t.Skip("simulation")
	}
	const runs = 1000
	for _, sc := range []struct {
		name      string
		base, min float64
	}{
		{"rare failures: 0.1 % against 0.3 %", 0.001, 0.002},
		{"1 % against 2 %", 0.01, 0.01},
		{"20 % against 25 %", 0.2, 0.05},
	} {
		t.Run(sc.name, func(t *testing.T) {
			plan := Plan{MinEffect: sc.min, Alpha: 0.05, Power: 0.8}
			planned, err := plan.Plan(sc.base, 0, 0)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("planned: disprove %d, hold %d requests per cohort", planned.Disprove, planned.Hold)
			count := func(seed uint64, p1 float64, most uint64) map[Outcome]int {
				r := rand.New(rand.NewPCG(seed, 7))
				out := map[Outcome]int{}
				step := max(planned.Requests/20, 1)
				for range runs {
					out[simulate(r, plan, sc.base, p1, step, most).Outcome]++
				}
				return out
			}
			lowPower := plan.Power - 3*math.Sqrt(plan.Power*(1-plan.Power)/runs)
			// A/A runs, looked at to three times the plan.
			aa := count(1, sc.base, 3*planned.Requests)
			if rate := float64(aa[Disproved]) / runs; rate > within3σ(plan.Alpha, runs) {
				t.Errorf("A/A: false disproved %.3f of %d runs, want ≤ α=%.2f (+3σ)", rate, runs, plan.Alpha)
			}
			worse := count(2, sc.base+plan.MinEffect, planned.Disprove)
			if rate := float64(worse[Disproved]) / runs; rate < lowPower {
				t.Errorf("worse by the minimum effect: disproved %.3f of runs within the planned %d requests, want ≥ power %.2f (−3σ)", rate, planned.Disprove, plan.Power)
			}
			if rate := float64(worse[Held]) / runs; rate > within3σ(plan.Alpha, runs) {
				t.Errorf("worse by the minimum effect: held %.3f of runs, want ≤ α", rate)
			}
			same := count(3, sc.base, planned.Hold)
			if rate := float64(same[Held]) / runs; rate < lowPower {
				t.Errorf("no difference: held %.3f of runs within the planned %d requests, want ≥ power %.2f (−3σ)", rate, planned.Hold, plan.Power)
			}
			t.Logf("A/A %v; worse %v; alike %v", aa, worse, same)
		})
	}
}

func TestInconclusiveSaysHowManyMoreRequestsDecide(t *testing.T) {
	plan := Plan{MinEffect: 0.01, Alpha: 0.05, Power: 0.8}
	// Half the minimum effect, over too few requests to tell.
	c, e := Counts{2000, 20}, Counts{2000, 30}
	s, _ := New(plan)
	v, err := s.Look(c, e, true)
	if err != nil {
		t.Fatal(err)
	}
	if v.Outcome != Inconclusive || v.MoreRequests == 0 {
		t.Fatalf("got %s with %d more requests, want inconclusive with a number", v.Outcome, v.MoreRequests)
	}
	// The same shares over that many more requests decide.
	k := float64(c.Requests+v.MoreRequests) / float64(c.Requests)
	scale := func(x Counts) Counts {
		return Counts{uint64(float64(x.Requests) * k), uint64(math.Round(float64(x.Bad) * k))}
	}
	s2, _ := New(plan)
	if v2, _ := s2.Look(scale(c), scale(e), true); v2.Outcome == Inconclusive {
		t.Errorf("after %d more requests each: still inconclusive (%s)", v.MoreRequests, v2.Reason)
	}
	t.Logf("%s", v.Reason)
}

func TestPlanDuration(t *testing.T) {
	plan := Plan{MinEffect: 0.01, Alpha: 0.05, Power: 0.8}
	got, err := plan.Plan(0.01, 100, 0.01) // 100 requests/s, 1 % per cohort
	if err != nil {
		t.Fatal(err)
	}
	want := time.Duration(float64(got.Requests) / (100 * 0.01) * float64(time.Second))
	if got.Duration != want || got.Requests != max(got.Disprove, got.Hold) {
		t.Errorf("got %+v, want duration %s", got, want)
	}
}

func TestPlannedJSON(t *testing.T) {
	for _, p := range []Planned{{Disprove: 10, Hold: 5, Requests: 10, Duration: 90 * time.Second}, {Disprove: 3, Hold: 4, Requests: 4}} {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		var back Planned
		if err := json.Unmarshal(b, &back); err != nil || back != p {
			t.Errorf("%s came back as %+v, %v", b, back, err)
		}
	}
	if b, _ := json.Marshal(Planned{Requests: 4}); strings.Contains(string(b), "duration") {
		t.Errorf("no traffic, yet a duration: %s", b)
	}
}

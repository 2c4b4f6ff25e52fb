package chaos

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/chaos/verdict"
)

func testDefinition(t *testing.T) *Definition {
	defs, err := LoadExperiments("../examples/experiment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return defs[0]
}

func TestRunsRefuseToStartWhenRiskIsNotWelcome(t *testing.T) {
	def := testDefinition(t)
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	t.Run("A freeze of the SLO's gate refuses the run.", func(t *testing.T) {
		_, err := StartRun(def, "1", now, Observation{BudgetRemaining: 0.9}, 0.01, 100, errors.New("the error budget is spent: releases are frozen"))
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "frozen") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("A budget below the bound refuses the run.", func(t *testing.T) {
		_, err := StartRun(def, "1", now, Observation{BudgetRemaining: 0.2}, 0.01, 100, nil)
		if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "20.0 % of its error budget left") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("Otherwise it starts, and says how long it will take.", func(t *testing.T) {
		r, err := StartRun(def, "1", now, Observation{BudgetRemaining: math.NaN()}, 0.01, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Outcome != verdict.Running || r.Planned.Requests == 0 || r.Planned.Duration <= 0 || r.Salt == "" || r.Faults[0] != "slow-payments" {
			t.Errorf("run %+v", r)
		}
	})
}

func TestRunSteps(t *testing.T) {
	def := testDefinition(t)
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	start := func() *Run {
		r, err := StartRun(def, "1", t0, Observation{BudgetRemaining: 1}, 0.01, 100, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	obs := func(at time.Duration, c, e verdict.Counts, lastE verdict.Counts) Observation {
		return Observation{Now: t0.Add(at), Control: c, Experiment: e, LastExperiment: lastE, BudgetRemaining: 0.9, Objective: 0.99}
	}
	t.Run("A clear difference ends the run disproved.", func(t *testing.T) {
		r := start()
		done, err := r.Step(def, obs(10*time.Minute, verdict.Counts{Requests: 5000, Bad: 50}, verdict.Counts{Requests: 5000, Bad: 250}, verdict.Counts{Requests: 500, Bad: 25}))
		if err != nil || !done || r.Outcome != verdict.Disproved || r.StoppedBy != "" || r.Ended.IsZero() {
			t.Errorf("done %v err %v run %+v", done, err, r)
		}
	})
	t.Run("Too few requests go on.", func(t *testing.T) {
		r := start()
		if done, _ := r.Step(def, obs(time.Minute, verdict.Counts{Requests: 100, Bad: 1}, verdict.Counts{Requests: 100, Bad: 2}, verdict.Counts{Requests: 100, Bad: 2})); done || r.Outcome != verdict.Running {
			t.Errorf("run %+v", r)
		}
	})
	t.Run("The harm bound ends the run at once, whatever the verdict.", func(t *testing.T) {
		r := start()
		done, _ := r.Step(def, obs(time.Minute, verdict.Counts{Requests: 100, Bad: 1}, verdict.Counts{Requests: 100, Bad: 30}, verdict.Counts{Requests: 100, Bad: 30}))
		if !done || r.StoppedBy != "harm" || !strings.Contains(r.Reason, "passed the bound of 20.00 %") {
			t.Errorf("run %+v", r)
		}
	})
	t.Run("The maximum duration ends an undecided run inconclusive, with how many more requests would decide.", func(t *testing.T) {
		r := start()
		done, _ := r.Step(def, obs(2*time.Hour, verdict.Counts{Requests: 300, Bad: 3}, verdict.Counts{Requests: 300, Bad: 6}, verdict.Counts{Requests: 10}))
		if !done || r.Outcome != verdict.Inconclusive || r.Verdict.MoreRequests == 0 {
			t.Errorf("run %+v", r)
		}
	})
	t.Run("A person's stop ends it; an ended run stays as it ended.", func(t *testing.T) {
		r := start()
		r.Stop(t0.Add(time.Minute), "ana")
		if r.StoppedBy != "person" || r.Outcome != verdict.Inconclusive || !strings.Contains(r.Reason, "stopped by ana") {
			t.Errorf("run %+v", r)
		}
		if done, _ := r.Step(def, obs(10*time.Minute, verdict.Counts{Requests: 5000, Bad: 50}, verdict.Counts{Requests: 5000, Bad: 250}, verdict.Counts{})); !done || r.Outcome != verdict.Inconclusive {
			t.Errorf("after the stop: %+v", r)
		}
	})
}

func TestConfidenceDecaysWithAge(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	held := Run{Outcome: verdict.Held, Ended: now.Add(-7 * 24 * time.Hour)}
	if c, _ := Confidence([]Run{held}, now, 7*24*time.Hour); math.Abs(c-0.5) > 1e-12 {
		t.Errorf("a week-old held result at a week's half-life: %v, want 0.5", c)
	}
	disproved := Run{Outcome: verdict.Disproved, Ended: now.Add(-time.Hour)}
	if c, last := Confidence([]Run{disproved, held}, now, 7*24*time.Hour); c != 0 || last.Outcome != verdict.Disproved {
		t.Errorf("after a disproved run: %v", c)
	}
	running := Run{Outcome: verdict.Running}
	if c, _ := Confidence([]Run{running, held}, now, 14*24*time.Hour); math.Abs(c-math.Sqrt2/2) > 1e-12 {
		t.Errorf("a run going on does not count: %v", c)
	}
	if c, last := Confidence(nil, now, time.Hour); c != 0 || last != nil {
		t.Errorf("never run: %v %v", c, last)
	}
}

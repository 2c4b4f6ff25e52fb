package chaos

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nines-sre/nines/chaos/verdict"
	"github.com/nines-sre/nines/hist"
)

// Run is one run of an experiment: when it started, what it applied,
// how it ended and why. Runs are stored, so their numbers outlive the
// process that judged them.
type Run struct {
	ID         string    `json:"id"`
	Experiment string    `json:"experiment"`
	SLO        string    `json:"slo"`
	Proxy      string    `json:"proxy"`
	Salt       string    `json:"salt"`
	Started    time.Time `json:"started"`
	// Ended is zero while the run goes on.
	Ended time.Time `json:"ended,omitzero"`
	// Outcome is the verdict's: running, held, disproved or
	// inconclusive (a run stopped early that decided nothing).
	Outcome verdict.Outcome `json:"outcome"`
	// StoppedBy says why a run ended before its verdict or its maximum
	// duration: "harm", "budget" or "person"; "" otherwise.
	StoppedBy string `json:"stopped_by,omitempty"`
	Reason    string `json:"reason"`
	// Verdict is the last look.
	Verdict verdict.Verdict `json:"verdict"`
	Planned verdict.Planned `json:"planned"`
	// Faults are what the experiment cohort got, as the file said.
	Faults []string `json:"faults"`
	// Evidence is the largest evidence the looks saw (verdict.Resume).
	Evidence float64 `json:"evidence"`
	// Latency compares the cohorts' latencies at the last look, for
	// reading: the verdict judges the bad share, in which a request
	// slower than the threshold counts already.
	Latency *LatencyComparison `json:"latency,omitempty"`
}

// LatencyComparison is the cohorts' latencies side by side: the share of
// requests at or under the SLO's threshold in each (absent without one),
// and the rank test of the two histograms.
type LatencyComparison struct {
	ControlUnder    *float64         `json:"control_at_or_under,omitempty"`
	ExperimentUnder *float64         `json:"experiment_at_or_under,omitempty"`
	Rank            verdict.RankTest `json:"rank_test"`
}

// CompareLatency compares two cohorts' latency histograms against the
// threshold (seconds; 0 for none).
func CompareLatency(control, experiment *hist.Histogram, threshold float64) *LatencyComparison {
	lc := &LatencyComparison{Rank: verdict.Rank(control, experiment)}
	if threshold > 0 {
		share := func(h *hist.Histogram) *float64 {
			if h.Count() == 0 {
				return nil
			}
			v := float64(h.CountAtOrBelow(threshold)) / float64(h.Count())
			return &v
		}
		lc.ControlUnder, lc.ExperimentUnder = share(control), share(experiment)
	}
	return lc
}

// Observation is what one step of a run sees: the cohorts' counts since
// the run started and over the last minute, and the SLO's state.
type Observation struct {
	Now                         time.Time
	Control, Experiment         verdict.Counts
	LastControl, LastExperiment verdict.Counts
	// BudgetRemaining is the share of the SLO's error budget left (NaN
	// unknown); Objective its objective as a share (0.999).
	BudgetRemaining, Objective float64
}

// ErrRefused is a run that may not start; the error says why and how to
// fix it.
var ErrRefused = errors.New("the run may not start")

// StartRun begins a run of def at now, or refuses it: when the SLO's
// budget is below the abort bound already, or a freeze (the release gate
// denies changes) is in force. baseline and rate, the SLI's bad share and
// requests per second now, tell how long the run will take.
func StartRun(def *Definition, id string, now time.Time, o Observation, baseline, rate float64, frozen error) (*Run, error) {
	if frozen != nil {
		return nil, fmt.Errorf("%w: %v; an experiment adds risk, and the SLO's gate says no risk is to be taken now", ErrRefused, frozen)
	}
	if b := def.Abort.BudgetRemaining; b > 0 && !math.IsNaN(o.BudgetRemaining) && o.BudgetRemaining < b {
		return nil, fmt.Errorf("%w: SLO %s has %.1f %% of its error budget left, below the experiment's bound of %.1f %% (abort.budgetRemaining)", ErrRefused, def.SLO, 100*o.BudgetRemaining, 100*b)
	}
	planned, err := def.Plan.Plan(baseline, rate, def.Cohort.Share)
	if err != nil {
		return nil, err
	}
	r := &Run{ID: id, Experiment: def.Name, SLO: def.SLO, Proxy: def.Proxy, Salt: def.Name + "/" + id, Started: now,
		Outcome: verdict.Running, Planned: planned, Reason: "started"}
	for _, f := range def.Faults {
		r.Faults = append(r.Faults, f.Name)
	}
	return r, nil
}

// Done reports whether the run has ended.
func (r *Run) Done() bool { return !r.Ended.IsZero() }

// Step looks at the run once: it ends it when a harm bound is passed,
// the verdict is clear, or the maximum duration passed, and reports
// whether it ended.
func (r *Run) Step(def *Definition, o Observation) (bool, error) {
	if r.Done() {
		return true, nil
	}
	seq, err := verdict.Resume(def.Plan, r.Evidence)
	if err != nil {
		return false, err
	}
	last := o.Now.Sub(r.Started) >= def.MaxDuration
	v, err := seq.Look(o.Control, o.Experiment, last)
	if err != nil {
		return false, err
	}
	r.Verdict, r.Evidence, r.Outcome, r.Reason = v, seq.Best(), v.Outcome, v.Reason
	if why, by := harm(def, o); why != "" {
		r.end(o.Now, by, why)
		return true, nil
	}
	if v.Outcome != verdict.Running {
		r.Ended = o.Now
		return true, nil
	}
	return false, nil
}

// Stop ends the run now at a person's request.
func (r *Run) Stop(now time.Time, who string) {
	if r.Done() {
		return
	}
	r.end(now, "person", "stopped by "+who)
}

// end ends the run early: what the verdict had decided stands, and an
// undecided one is inconclusive.
func (r *Run) end(now time.Time, by, why string) {
	r.Ended, r.StoppedBy = now, by
	if r.Outcome == verdict.Running || r.Outcome == "" {
		r.Outcome = verdict.Inconclusive
	}
	r.Reason = why + "; " + r.Reason
}

// harm says which abort rule the observation breaks, and its kind.
func harm(def *Definition, o Observation) (why, by string) {
	a := def.Abort
	e := o.LastExperiment
	share := 0.0
	if e.Requests > 0 {
		share = float64(e.Bad) / float64(e.Requests)
	}
	switch {
	case a.ExperimentBadShare > 0 && e.Requests > 0 && share > a.ExperimentBadShare:
		return fmt.Sprintf("stopped: the experiment cohort's bad share over the last minute, %.2f %% (%d of %d), passed the bound of %.2f %%",
			100*share, e.Bad, e.Requests, 100*a.ExperimentBadShare), "harm"
	case a.ExperimentBurnRate > 0 && e.Requests > 0 && o.Objective < 1 && share/(1-o.Objective) > a.ExperimentBurnRate:
		return fmt.Sprintf("stopped: the experiment cohort burned the error budget %.1f× as fast as it lasts over the last minute, past the bound of %g×",
			share/(1-o.Objective), a.ExperimentBurnRate), "harm"
	case a.BudgetRemaining > 0 && !math.IsNaN(o.BudgetRemaining) && o.BudgetRemaining < a.BudgetRemaining:
		return fmt.Sprintf("stopped: SLO %s has %.1f %% of its error budget left, below the bound of %.1f %%", def.SLO, 100*o.BudgetRemaining, 100*a.BudgetRemaining), "budget"
	}
	return "", ""
}

// Confidence is how much a held result still says at now: 1 right after
// the run that held, halving every half-life since (confidence decays
// with the time since the last run); 0 when the latest ended run did not
// hold, or none ever did. runs are the newest first; last is the run the
// confidence comes from, nil for none.
func Confidence(runs []Run, now time.Time, halfLife time.Duration) (confidence float64, last *Run) {
	for i := range runs {
		r := &runs[i]
		if !r.Done() {
			continue
		}
		if r.Outcome != verdict.Held {
			return 0, r
		}
		age := now.Sub(r.Ended)
		return math.Exp2(-float64(age) / float64(halfLife)), r
	}
	return 0, nil
}

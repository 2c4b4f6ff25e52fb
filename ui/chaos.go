package ui

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/nines-sre/nines/chaos"
	"github.com/nines-sre/nines/chaos/verdict"
)

// ChaosRunner runs the chaos experiments (chaos.Controller).
type ChaosRunner interface {
	Definitions() []*chaos.Definition
	Runs(name string) ([]chaos.Run, error)
	Plan(ctx context.Context, name string) (verdict.Planned, error)
	Start(ctx context.Context, name string) (*chaos.Run, error)
	Stop(ctx context.Context, name, who string) (*chaos.Run, error)
}

var _ ChaosRunner = (*chaos.Controller)(nil)

// experimentRow is one experiment as the page shows it.
type experimentRow struct {
	Def        *chaos.Definition
	Share      string
	Planned    string
	Confidence float64
	Stale      bool
	Running    *chaos.Run
	Last       *chaos.Run
	Runs       []runRow
	// Token: the buttons ask for the write token.
	Token bool
}

type runRow struct {
	chaos.Run
	Took            string
	Effect, Between string
	// LatencyText is the cohorts' latencies side by side.
	LatencyText string
}

// latencyText words a run's latency comparison: the shares at or under
// the threshold, and the chance an experiment request is the slower.
func latencyText(lc *chaos.LatencyComparison) string {
	if lc == nil {
		return "–"
	}
	out := ""
	if lc.ControlUnder != nil && lc.ExperimentUnder != nil {
		out = fmt.Sprintf("within the threshold %.3g %% / %.3g %%; ", 100**lc.ControlUnder, 100**lc.ExperimentUnder)
	}
	return out + fmt.Sprintf("slower %.0f %% of the time (rank test p %.3g)", 100*lc.Rank.Superiority, lc.Rank.PValue)
}

type experimentsView struct {
	Experiments []experimentRow
	Stale       []string // names of stale or never-held experiments
	Token       bool     // the forms ask for the write token
}

func (u *UI) experimentRow(r *http.Request, d *chaos.Definition, withRuns bool) experimentRow {
	row := experimentRow{Def: d, Share: fmt.Sprintf("%g %%", 100*d.Cohort.Share), Token: u.cfg.Token != ""}
	if p, err := u.cfg.Chaos.Plan(r.Context(), d.Name); err == nil {
		row.Planned = fmt.Sprintf("%d requests per cohort", p.Requests)
		if p.Duration > 0 {
			row.Planned += ", about " + formatDuration(p.Duration.Round(time.Minute))
		} else {
			row.Planned += " (no traffic measured in the last hour)"
		}
	}
	runs, _ := u.cfg.Chaos.Runs(d.Name)
	row.Confidence, _ = chaos.Confidence(runs, u.cfg.SLOs.Now(), d.HalfLife)
	row.Stale = row.Confidence < 0.5
	for i := range runs {
		rr := &runs[i]
		if !rr.Done() && row.Running == nil {
			row.Running = rr
		}
		if rr.Done() && row.Last == nil {
			row.Last = rr
		}
		if withRuns {
			end := rr.Ended
			if end.IsZero() {
				end = u.cfg.SLOs.Now()
			}
			v := rr.Verdict
			row.Runs = append(row.Runs, runRow{Run: *rr, Took: formatDuration(end.Sub(rr.Started).Round(time.Second)),
				Effect:  fmt.Sprintf("%+.3g %%", 100*v.Effect),
				Between: fmt.Sprintf("%.3g %% to %.3g %%", 100*v.Low, 100*v.High), LatencyText: latencyText(rr.Latency)})
		}
	}
	return row
}

// experiments serves /experiments: every experiment with its plan, its
// confidence, its last verdict and buttons to start and stop it.
func (u *UI) experiments(w http.ResponseWriter, r *http.Request) {
	if !u.chaosOn(w, r) {
		return
	}
	v := &experimentsView{Token: u.cfg.Token != ""}
	for _, d := range u.cfg.Chaos.Definitions() {
		row := u.experimentRow(r, d, false)
		if row.Stale {
			v.Stale = append(v.Stale, d.Name)
		}
		v.Experiments = append(v.Experiments, row)
	}
	u.render(w, r, http.StatusOK, "experiments", &layout{Title: "Chaos experiments", Nav: "experiments", Generated: u.cfg.SLOs.Now(), Page: v})
}

// experiment serves /experiments/{name}: its runs with their verdicts.
func (u *UI) experiment(w http.ResponseWriter, r *http.Request) {
	if !u.chaosOn(w, r) {
		return
	}
	for _, d := range u.cfg.Chaos.Definitions() {
		if d.Name == r.PathValue("name") {
			v := &experimentsView{Token: u.cfg.Token != "", Experiments: []experimentRow{u.experimentRow(r, d, true)}}
			u.render(w, r, http.StatusOK, "experiment", &layout{Title: "Experiment " + d.Name, Nav: "experiments", Generated: u.cfg.SLOs.Now(), Page: v})
			return
		}
	}
	u.fail(w, r, &pageError{status: http.StatusNotFound, msg: fmt.Sprintf("No experiment is named %q.", r.PathValue("name")),
		hints: []string{"/experiments lists them."}})
}

// startRun and stopRun are the page's buttons: from nines' own pages
// only, with the write token when nines serve has one.
func (u *UI) startRun(w http.ResponseWriter, r *http.Request) { u.runAction(w, r, true) }
func (u *UI) stopRun(w http.ResponseWriter, r *http.Request)  { u.runAction(w, r, false) }

func (u *UI) runAction(w http.ResponseWriter, r *http.Request, start bool) {
	if !u.chaosOn(w, r) {
		return
	}
	if !sameOrigin(r) {
		u.fail(w, r, &pageError{status: http.StatusForbidden, msg: "Runs are started and stopped from nines' own pages, or through the API."})
		return
	}
	if !u.writeAllowed(r) {
		u.fail(w, r, &pageError{status: http.StatusUnauthorized, msg: "Starting or stopping a run needs the write token of this nines.",
			hints: []string{"Enter the token beside the button: the contents of the file given to nines serve --token-file."}})
		return
	}
	name := r.PathValue("name")
	var err error
	if start {
		_, err = u.cfg.Chaos.Start(r.Context(), name)
	} else {
		_, err = u.cfg.Chaos.Stop(r.Context(), name, "the web UI ("+clientOf(r)+")")
	}
	switch {
	case errors.Is(err, chaos.ErrUnknownExperiment):
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: err.Error()})
		return
	case err != nil:
		u.fail(w, r, &pageError{status: http.StatusConflict, msg: err.Error(), hints: []string{"The experiment's page shows its runs."}})
		return
	}
	http.Redirect(w, r, "/experiments/"+url.PathEscape(name), http.StatusSeeOther)
}

func (u *UI) chaosOn(w http.ResponseWriter, r *http.Request) bool {
	if u.cfg.Chaos == nil {
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: "No chaos experiments here.",
			hints: []string{"nines serve --experiments DIR runs them (docs/chaos.md)."}})
		return false
	}
	return true
}

// staleExperiments names the experiments whose confidence fell below one
// half, or that never held, for the overview.
func (u *UI) staleExperiments() []string {
	if u.cfg.Chaos == nil {
		return nil
	}
	var out []string
	for _, d := range u.cfg.Chaos.Definitions() {
		runs, _ := u.cfg.Chaos.Runs(d.Name)
		if c, _ := chaos.Confidence(runs, u.cfg.SLOs.Now(), d.HalfLife); c < 0.5 {
			out = append(out, d.Name)
		}
	}
	return out
}

package ui

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/nines-sre/nines/forecast"
)

// Forecaster makes the forecasts shown at /forecasts (docs/forecasts.md);
// server.Forecaster is the same, with one SLO's forecast beside it.
type Forecaster interface {
	Forecasts(ctx context.Context, at time.Time) (*forecast.Report, error)
}

// budgetRow is one SLO's budget forecast, as text.
type budgetRow struct {
	SLO, Service, Window, Left, Burns, Point, Interval, Backtest string
	// Out marks a budget that runs out at the current burn, or has.
	Out       bool
	Anomalies []anomalyRow
}

type anomalyRow struct{ Start, End, Text string }

// capacityRow is one service's traffic forecast, as text.
type capacityRow struct {
	Service, Model, Errors, Peak7, Peak90, Bottleneck, Reached string
	Short                                                      bool
	Notes                                                      []string
}

type forecastView struct {
	At       time.Time
	Budgets  []budgetRow
	Capacity []capacityRow
	Problems []string
}

// forecastsPage serves /forecasts: every SLO's budget forecast with its
// anomalies, and every service's peak against its capacity.
func (u *UI) forecastsPage(w http.ResponseWriter, r *http.Request) {
	if u.cfg.Forecasts == nil {
		u.fail(w, r, &pageError{status: http.StatusNotFound, msg: "Forecasts are not enabled here.",
			hints: []string{"nines forecast prints the same from the store (docs/forecasts.md)."}})
		return
	}
	now := u.cfg.SLOs.Now()
	rep, err := u.cfg.Forecasts.Forecasts(r.Context(), now)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	v := &forecastView{At: rep.At, Problems: rep.Problems}
	for _, s := range rep.SLOs {
		v.Budgets = append(v.Budgets, budgetRowOf(&s))
	}
	for _, c := range rep.Capacity {
		v.Capacity = append(v.Capacity, capacityRowOf(&c))
	}
	u.render(w, r, http.StatusOK, "forecasts", &layout{Title: "Forecasts", Nav: "forecasts", Generated: now, Page: v})
}

func budgetRowOf(s *forecast.SLOForecast) budgetRow {
	row := budgetRow{SLO: s.SLO, Service: s.Service, Window: s.Window,
		Left:     fmt.Sprintf("%.4g of %.4g %s", s.Remaining, s.Total, s.Unit),
		Point:    s.Point.Text(),
		Interval: s.Earliest.Text() + " … " + s.Latest.Text(),
		Backtest: "too little history"}
	for i, b := range s.Spans {
		if i > 0 {
			row.Burns += " · "
		}
		row.Burns += fmt.Sprintf("%s %.2f×", formatDuration(time.Duration(b.Seconds)*time.Second), b.Burn)
	}
	if s.Backtest.Origins > 0 {
		row.Backtest = fmt.Sprintf("±%.1f %% of the budget a day ahead (%d days)", 100*s.Backtest.MAE, s.Backtest.Origins)
	}
	row.Out = s.Point.Outcome == forecast.Exhausted || s.Point.Outcome == forecast.RunsOut
	for _, a := range s.Anomalies {
		row.Anomalies = append(row.Anomalies, anomalyRow{Start: a.Start.UTC().Format("2006-01-02 15:04"), End: a.End.UTC().Format("15:04 UTC"),
			Text: fmt.Sprintf("error ratio %.3g %% %s its band (usually %.3g %%)", 100*a.Observed, a.Side(), 100*a.Expected)})
	}
	return row
}

func capacityRowOf(c *forecast.Capacity) capacityRow {
	row := capacityRow{Service: c.Service, Model: c.Model,
		Errors:     fmt.Sprintf("%.1f %% (%s %.1f %%)", 100*c.MAPE, c.Baseline, 100*c.BaselineMAPE),
		Peak7:      fmt.Sprintf("%.4g rps", c.Peak7d.RPS),
		Peak90:     fmt.Sprintf("%.4g rps", c.Peak90d.RPS),
		Bottleneck: "no tested capacity", Reached: "–", Notes: c.Notes}
	if b := c.Bottleneck; b != nil {
		row.Bottleneck = fmt.Sprintf("%s (%.4g rps)", b.Service, b.TestedRPS)
		row.Reached = "not within 90 days"
		if c.Reached != nil {
			row.Reached, row.Short = c.Reached.UTC().Format("2006-01-02 15:04 UTC"), true
		}
	}
	return row
}

package server

import (
	"math"
	"net/http"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/report"
	"github.com/nines-sre/nines/slo"
)

type alertView struct {
	SLO       string        `json:"slo"`
	Service   string        `json:"service"`
	Alert     string        `json:"alert"`
	Severity  string        `json:"severity"`
	Kind      string        `json:"kind,omitempty"`
	At        *time.Time    `json:"at,omitempty"`
	Since     time.Time     `json:"since"`
	Factor    report.Number `json:"factor"`
	Long      string        `json:"long_window"`
	Short     string        `json:"short_window,omitempty"`
	BurnLong  report.Number `json:"burn_rate_long"`
	BurnShort report.Number `json:"burn_rate_short"`
	Attempted uint64        `json:"attempted_short_window"`
	// BudgetLeft is the share of the budget left when it fired.
	BudgetLeft report.Number `json:"budget_remaining_ratio"`
	// Exhaustion is the time the budget lasts at the long window's burn,
	// in seconds; null when unknown.
	Exhaustion report.Number `json:"time_to_exhaustion_seconds"`
	Reason     string        `json:"reason"`
}

func viewOf(o *slo.SLO, tr alert.Transition, withKind bool) alertView {
	v := alertView{
		SLO: o.Name, Service: o.Service, Alert: tr.Alert, Severity: string(tr.Severity), Since: tr.Since,
		Factor: report.Number(tr.Factor), Long: slo.FormatDuration(tr.Long),
		BurnLong: report.Number(tr.BurnLong), BurnShort: report.Number(tr.BurnShort), Attempted: tr.Attempted,
		BudgetLeft: report.Number(tr.BudgetRemaining), Exhaustion: report.Number(math.NaN()), Reason: tr.Reason,
	}
	if tr.Short > 0 {
		v.Short = slo.FormatDuration(tr.Short)
	}
	if tr.TimeToExhaustion != alert.NoExhaustion {
		v.Exhaustion = report.Number(tr.TimeToExhaustion.Seconds())
	}
	if withKind {
		at := tr.At
		v.Kind, v.At = tr.Kind.String(), &at
	}
	return v
}

// alerts lists every firing alert of every SLO, with the numbers that
// made it fire.
func (s *Server) alerts(r *http.Request) (any, error) {
	out := []alertView{}
	for _, o := range s.cfg.Engine.SLOs() {
		st, _, err := s.cfg.Engine.Alerts(o.Name)
		if err != nil {
			return nil, err
		}
		for _, a := range st.Alerts {
			out = append(out, viewOf(o, a.Fired, false))
		}
	}
	return map[string]any{"firing": out}, nil
}

type checkView struct {
	Alert     string        `json:"alert"`
	Severity  string        `json:"severity"`
	Status    string        `json:"status"`
	Factor    report.Number `json:"factor"`
	Long      string        `json:"long_window"`
	Short     string        `json:"short_window,omitempty"`
	BurnLong  report.Number `json:"burn_rate_long"`
	BurnShort report.Number `json:"burn_rate_short"`
	Attempted uint64        `json:"attempted_short_window"`
}

// sloAlerts is one SLO's alert checks (firing or not) and recent history.
func (s *Server) sloAlerts(r *http.Request) (any, error) {
	o, err := s.cfg.Engine.SLO(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	st, history, err := s.cfg.Engine.Alerts(o.Name)
	if err != nil {
		return nil, err
	}
	checks := make([]checkView, 0, len(st.Checks))
	for _, c := range st.Checks {
		cv := checkView{Alert: c.Alert, Severity: string(c.Severity), Status: c.Status.String(), Factor: report.Number(c.Factor),
			Long: slo.FormatDuration(c.Long), BurnLong: report.Number(c.BurnLong), BurnShort: report.Number(c.BurnShort), Attempted: c.Attempted}
		if c.Short > 0 {
			cv.Short = slo.FormatDuration(c.Short)
		}
		checks = append(checks, cv)
	}
	firing := make([]alertView, 0, len(st.Alerts))
	for _, a := range st.Alerts {
		firing = append(firing, viewOf(o, a.Fired, false))
	}
	hist := make([]alertView, 0, len(history))
	for _, tr := range history {
		hist = append(hist, viewOf(o, tr, true))
	}
	return map[string]any{"slo": o.Name, "evaluated_at": st.At, "checks": checks, "firing": firing, "history": hist}, nil
}

// gate answers whether a release may go out, from the SLO's error budget.
func (s *Server) gate(r *http.Request) (any, error) {
	name := r.PathValue("name")
	d, err := s.cfg.Engine.Gate(name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"slo": name, "allow": d.Allow, "reason": d.Reason,
		"budget_remaining_ratio": report.Number(d.BudgetRemaining), "burn_rate": report.Number(d.Burn)}, nil
}

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
	SLO     string `json:"slo"`
	Service string `json:"service"`
	report.Transition
	// Now is a firing alert's check at the last evaluation: the figures
	// above are those of the moment it fired (or of the transition, in a
	// history), and a page that fired on a 200× burn over 5m may read 0×
	// over 5m a few minutes later while it waits out its resolve hold.
	Now *nowView `json:"now,omitempty"`
}

// nowView is what a firing alert's windows burn at the last evaluation.
type nowView struct {
	At time.Time `json:"evaluated_at"`
	// Status is "firing" while the alert's condition holds, "resolving"
	// once it is false and the alert waits out its resolve hold.
	Status    string        `json:"status"`
	BurnLong  report.Number `json:"burn_rate_long"`
	BurnShort report.Number `json:"burn_rate_short"`
	Attempted uint64        `json:"attempted_short_window"`
	// ClearSince is when the condition was first found false, and
	// ResolvesAt the earliest time the alert resolves if it stays false;
	// both absent while it holds.
	ClearSince *time.Time `json:"clear_since,omitempty"`
	ResolvesAt *time.Time `json:"resolves_at,omitempty"`
}

// firingView is a firing alert with its figures at firing and now.
func firingView(o *slo.SLO, st alert.State, a alert.Alert) alertView {
	v := viewOf(o, a.Fired, false)
	now := &nowView{At: st.At, Status: alert.StatusFiring.String(), BurnLong: report.Number(math.NaN()), BurnShort: report.Number(math.NaN())}
	if c, ok := st.Check(a.Name); ok {
		now.Status = c.Status.String()
		now.BurnLong, now.BurnShort, now.Attempted = report.Number(c.BurnLong), report.Number(c.BurnShort), c.Attempted
	}
	if !a.ClearSince.IsZero() {
		clear := a.ClearSince
		// The engine's policy is PolicyFor's, with Evaluate's default for
		// a hold left unset and none for a negative one.
		hold := alert.PolicyFor(o).ResolveAfter
		switch {
		case hold == 0:
			hold = alert.DefaultResolveAfter
		case hold < 0:
			hold = 0
		}
		resolves := clear.Add(hold)
		now.ClearSince, now.ResolvesAt = &clear, &resolves
	}
	v.Now = now
	return v
}

func viewOf(o *slo.SLO, tr alert.Transition, withKind bool) alertView {
	v := alertView{SLO: o.Name, Service: o.Service, Transition: report.TransitionOf(tr)}
	if !withKind {
		v.Kind, v.At = "", nil
	}
	return v
}

// alerts lists every firing alert of every SLO, with the numbers that
// made it fire and those of now.
func (s *Server) alerts(r *http.Request) (any, error) {
	out := []alertView{}
	for _, o := range s.cfg.SLOs.SLOs() {
		st, _, err := s.cfg.SLOs.Alerts(o.Name)
		if vanished(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		for _, a := range st.Alerts {
			out = append(out, firingView(o, st, a))
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
	o, err := s.cfg.SLOs.SLO(r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	st, history, err := s.cfg.SLOs.Alerts(o.Name)
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
		firing = append(firing, firingView(o, st, a))
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
	d, err := s.cfg.SLOs.Gate(name)
	if err != nil {
		return nil, err
	}
	return map[string]any{"slo": name, "allow": d.Allow, "reason": d.Reason,
		"budget_remaining_ratio": report.Number(d.BudgetRemaining), "burn_rate": report.Number(d.Burn)}, nil
}

package engine

import (
	"math"
	"slices"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
)

// maxAlertHistory bounds the transitions an SLO keeps in memory for the
// API; notifiers persist what they send (Config.OnTransition).
const maxAlertHistory = 200

// trackerSource lets alert.Evaluate read an SLO's tracker.
type trackerSource struct{ t *slo.Tracker }

func (s trackerSource) Burn(span time.Duration) (float64, uint64, bool) {
	st := s.t.Span(span)
	return st.Burn, st.Attempted, !math.IsNaN(st.Burn)
}

func (s trackerSource) Unmeasured(span time.Duration) bool {
	st := s.t.Span(span)
	return st.Quanta > 0 && st.Unmeasured == st.Quanta
}

func (s trackerSource) Budget() (float64, bool) {
	b := s.t.Result().Budget
	return b.RemainingShare(), b.Total > 0 || b.Spent > 0
}

// evaluateAlerts runs the SLO's alert policy at the tracker's time. en.mu
// must be held.
func (e *Engine) evaluateAlerts(en *entry) {
	if en.policy == nil {
		p := alert.PolicyFor(en.slo)
		en.policy = &p
	}
	at := en.tracker.Elapsed()
	if !at.After(en.alerts.At) {
		return // nothing new was judged since the last evaluation
	}
	st, transitions, err := alert.Evaluate(*en.policy, trackerSource{en.tracker}, en.alerts, at)
	if err != nil {
		e.cfg.Logger.Error("alert policy", "slo", en.slo.Name, "err", err)
		return
	}
	en.alerts = st
	for _, tr := range transitions {
		e.cfg.Logger.Info("alert "+tr.Kind.String(), "slo", en.slo.Name, "alert", tr.Alert, "severity", string(tr.Severity), "reason", tr.Reason)
		if e.cfg.OnTransition != nil {
			e.cfg.OnTransition(en.slo, tr)
		}
	}
	en.history = append(en.history, transitions...)
	if n := len(en.history) - maxAlertHistory; n > 0 {
		en.history = slices.Delete(en.history, 0, n)
	}
}

// Alerts returns the SLO's alerting state and its recent transitions,
// newest last, evaluated up to now.
func (e *Engine) Alerts(name string) (alert.State, []alert.Transition, error) {
	en, err := e.advanced(name)
	if err != nil {
		return alert.State{}, nil, err
	}
	defer en.mu.Unlock()
	e.evaluateAlerts(en)
	return en.alerts, slices.Clone(en.history), nil
}

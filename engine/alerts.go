package engine

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// maxAlertHistory bounds the transitions an SLO keeps for the API and the
// UI, in memory and in the store (saved on Tick, read at Load); notifiers
// persist what they send (Config.OnTransition).
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
	if len(transitions) > 0 {
		en.historyDirty = true
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

// historyKey is where an SLO's recent alert transitions are kept, so that
// the history the API and the UI show survives a restart.
// SLO names hold no '/', so the trailing one makes the key a prefix of no
// other SLO's, and a prefix delete removes this one alone.
func historyKey(name string) string { return "alerts/history/" + name + "/" }

// savedTransition is an alert.Transition as stored: JSON has no NaN, so
// unknown figures are null.
type savedTransition struct {
	Alert            string         `json:"alert"`
	Severity         alert.Severity `json:"severity"`
	Kind             string         `json:"kind"`
	At               time.Time      `json:"at"`
	Since            time.Time      `json:"since"`
	Factor           float64        `json:"factor"`
	Long             time.Duration  `json:"long"`
	Short            time.Duration  `json:"short"`
	BurnLong         *float64       `json:"burn_long"`
	BurnShort        *float64       `json:"burn_short"`
	Attempted        uint64         `json:"attempted"`
	BudgetRemaining  *float64       `json:"budget_remaining"`
	TimeToExhaustion time.Duration  `json:"time_to_exhaustion"`
	Reason           string         `json:"reason"`
	ImpactStart      time.Time      `json:"impact_start,omitzero"`
	Replayed         bool           `json:"replayed,omitempty"`
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func orNaN(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

func encodeHistory(h []alert.Transition) ([]byte, error) {
	out := make([]savedTransition, 0, len(h))
	for _, t := range h {
		out = append(out, savedTransition{Alert: t.Alert, Severity: t.Severity, Kind: t.Kind.String(), At: t.At, Since: t.Since,
			Factor: t.Factor, Long: t.Long, Short: t.Short, BurnLong: finite(t.BurnLong), BurnShort: finite(t.BurnShort),
			Attempted: t.Attempted, BudgetRemaining: finite(t.BudgetRemaining), TimeToExhaustion: t.TimeToExhaustion, Reason: t.Reason, ImpactStart: t.ImpactStart, Replayed: t.Replayed})
	}
	return json.Marshal(out)
}

func decodeHistory(b []byte) ([]alert.Transition, error) {
	var in []savedTransition
	if err := json.Unmarshal(b, &in); err != nil {
		return nil, err
	}
	out := make([]alert.Transition, 0, len(in))
	for _, t := range in {
		kind := alert.Fire
		if t.Kind == alert.Resolve.String() {
			kind = alert.Resolve
		}
		out = append(out, alert.Transition{Alert: t.Alert, Severity: t.Severity, Kind: kind, At: t.At, Since: t.Since,
			Factor: t.Factor, Long: t.Long, Short: t.Short, BurnLong: orNaN(t.BurnLong), BurnShort: orNaN(t.BurnShort),
			Attempted: t.Attempted, BudgetRemaining: orNaN(t.BudgetRemaining), TimeToExhaustion: t.TimeToExhaustion, Reason: t.Reason, ImpactStart: t.ImpactStart, Replayed: t.Replayed})
	}
	return out, nil
}

// saveHistories stores the alert history of every SLO that has new
// transitions. The store is written outside the SLOs' locks.
func (e *Engine) saveHistories(ctx context.Context, entries []*entry) {
	for _, en := range entries {
		en.mu.Lock()
		if !en.historyDirty {
			en.mu.Unlock()
			continue
		}
		b, err := encodeHistory(en.history)
		en.historyDirty = false
		en.mu.Unlock()
		if err == nil {
			err = e.cfg.Store.PutState(ctx, historyKey(en.slo.Name), b)
		}
		if err != nil {
			e.cfg.Logger.Error("saving alert history", "slo", en.slo.Name, "err", err)
		}
	}
}

// loadHistory gives a new entry the alert history stored for its SLO.
func (e *Engine) loadHistory(ctx context.Context, en *entry) {
	b, err := e.cfg.Store.GetState(ctx, historyKey(en.slo.Name))
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			e.cfg.Logger.Warn("reading alert history", "slo", en.slo.Name, "err", err)
		}
		return
	}
	h, err := decodeHistory(b)
	if err != nil {
		e.cfg.Logger.Warn("reading alert history", "slo", en.slo.Name, "err", err)
		return
	}
	en.history = h
}

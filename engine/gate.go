package engine

import (
	"fmt"
	"math"
	"time"
)

// GatePolicy is the budget policy a release gate applies. The defaults
// follow the common error-budget policy: no releases once the budget is
// spent, and none while little is left and it is still burning.
type GatePolicy struct {
	// FreezeBelow denies releases while the remaining share of the budget
	// is below it (default 0: the budget is exhausted).
	FreezeBelow float64
	// CautionBelow and CautionBurn deny releases while the remaining share
	// is below CautionBelow and the burn rate over CautionSpan is above
	// CautionBurn (defaults 10 %, 1, 1h).
	CautionBelow, CautionBurn float64
	CautionSpan               time.Duration
}

// DefaultGatePolicy is the policy nines serve's gate uses.
func DefaultGatePolicy() GatePolicy {
	return GatePolicy{FreezeBelow: 0, CautionBelow: 0.1, CautionBurn: 1, CautionSpan: time.Hour}
}

// GateDecision is a release gate's answer for one SLO.
type GateDecision struct {
	Allow bool
	// Reason says why, with the numbers, for the pipeline's log.
	Reason string
	// BudgetRemaining is the remaining share of the window's budget, Burn
	// the burn rate over the policy's span.
	BudgetRemaining, Burn float64
}

// Gate decides from the error budget whether a release of the SLO's
// service may go out: the non-subjective answer a pipeline asks for.
func (e *Engine) Gate(name string, p GatePolicy) (GateDecision, error) {
	en, err := e.advanced(name)
	if err != nil {
		return GateDecision{}, err
	}
	defer en.mu.Unlock()
	res := en.tracker.Result()
	d := GateDecision{BudgetRemaining: res.Budget.RemainingShare(), Burn: en.tracker.BurnRate(p.CautionSpan)}
	left := fmt.Sprintf("%.1f %% of the %s budget left", 100*d.BudgetRemaining, en.slo.Window)
	switch {
	case d.BudgetRemaining < p.FreezeBelow:
		d.Reason = fmt.Sprintf("deny: %s, below the %.0f %% freeze line; releases wait until the budget recovers", left, 100*p.FreezeBelow)
	case d.BudgetRemaining < p.CautionBelow && !math.IsNaN(d.Burn) && d.Burn > p.CautionBurn:
		d.Reason = fmt.Sprintf("deny: %s and burning %.2f× over %s; releases wait until the burn stops", left, d.Burn, p.CautionSpan)
	default:
		d.Allow = true
		d.Reason = fmt.Sprintf("allow: %s", left)
		if !math.IsNaN(d.Burn) {
			d.Reason += fmt.Sprintf(", burning %.2f× over %s", d.Burn, p.CautionSpan)
		}
	}
	return d, nil
}

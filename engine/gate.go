package engine

import (
	"fmt"
	"math"
	"time"

	"github.com/nines-sre/nines/slo"
)

// GateDecision is a release gate's answer for one SLO.
type GateDecision struct {
	Allow bool
	// Reason says why, with the numbers, for the pipeline's log.
	Reason string
	// BudgetRemaining is the remaining share of the window's budget; Burn
	// the burn rate over the span of the rule that decided (or the last
	// hour when no rule held), NaN when unknown.
	BudgetRemaining, Burn float64
	// Rule is the budget-policy rule that froze releases (when !Allow).
	Rule slo.FreezeRule
}

// Gate decides from the error budget whether a release of the SLO's
// service may go out: the non-subjective answer a pipeline asks for. The
// SLO's budgetPolicy decides, or slo.DefaultBudgetPolicy when its spec
// has none.
func (e *Engine) Gate(name string) (GateDecision, error) {
	en, err := e.advanced(name)
	if err != nil {
		return GateDecision{}, err
	}
	defer en.mu.Unlock()
	rules := en.slo.BudgetPolicy
	if rules == nil {
		rules = slo.DefaultBudgetPolicy()
	}
	res := en.run.tracker.Result()
	d := GateDecision{BudgetRemaining: res.Budget.RemainingShare()}
	left := fmt.Sprintf("%.1f %% of the %s budget left", 100*d.BudgetRemaining, en.slo.Window)
	rule, burn, frozen := slo.Freeze(rules, d.BudgetRemaining, en.run.tracker.BurnRate)
	switch {
	case frozen && rule.BurnAbove == 0:
		d.Reason = fmt.Sprintf("deny: %s, below the %s freeze line; releases wait until the budget recovers", left, percentText(rule.RemainingBelow))
	case frozen:
		d.Burn = burn
		d.Reason = fmt.Sprintf("deny: %s (below %s) and burning %.2f× over %s (above %g×); releases wait until the burn stops",
			left, percentText(rule.RemainingBelow), burn, slo.FormatDuration(rule.Over), rule.BurnAbove)
	default:
		d.Allow = true
		d.Burn = en.run.tracker.BurnRate(time.Hour)
		d.Reason = fmt.Sprintf("allow: %s", left)
		if !math.IsNaN(d.Burn) {
			d.Reason += fmt.Sprintf(", burning %.2f× over 1h", d.Burn)
		}
	}
	d.Rule = rule
	return d, nil
}

func percentText(share float64) string { return fmt.Sprintf("%g %%", 100*share) }

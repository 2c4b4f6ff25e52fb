package slo

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// AlertOverrides is how an SLO's spec changes the default burn-rate
// alerting (package alert turns it into an alert.Policy). Zero fields keep
// the defaults; negative durations and counts turn a feature off, as in
// alert.Policy.
type AlertOverrides struct {
	// Tiers change the default tiers by name, or add tiers with new names.
	Tiers []AlertTier
	// MinEvents is the low-traffic guard of page tiers.
	MinEvents int
	// ResolveAfter is how long a condition stays false before its alert
	// resolves.
	ResolveAfter time.Duration
	// NoDataAfter is how long nothing may be measured before the no-data
	// alert fires; NoDataSeverity its severity ("page" or "ticket").
	NoDataAfter    time.Duration
	NoDataSeverity string
}

// AlertTier is one burn-rate tier as a spec writes it: see alert.Tier.
type AlertTier struct {
	Name, Severity      string
	BudgetShare, Factor float64
	Long, Short         time.Duration
	Disabled            bool
}

// FreezeRule is one line of a budget policy: releases wait while the share
// of the window's error budget left is below RemainingBelow and, when
// BurnAbove is set, the budget burns faster than BurnAbove over Over.
type FreezeRule struct {
	RemainingBelow float64
	BurnAbove      float64
	Over           time.Duration
}

// DefaultBudgetPolicy is the policy of an SLO whose spec has none, the
// common error-budget policy: no releases once the budget is spent, and
// none while less than 10 % is left and it still burns faster than the
// budget allows over the last hour.
func DefaultBudgetPolicy() []FreezeRule {
	return []FreezeRule{{RemainingBelow: 0}, {RemainingBelow: 0.1, BurnAbove: 1, Over: time.Hour}}
}

// Validate reports what makes r unusable for an SLO window of nominal
// length window.
func (r FreezeRule) Validate(window time.Duration) error {
	var errs []error
	if math.IsNaN(r.RemainingBelow) || r.RemainingBelow > 1 {
		errs = append(errs, fmt.Errorf("remainingBelow %g: want a share of the budget up to 100 %%", 100*r.RemainingBelow))
	}
	switch {
	case math.IsNaN(r.BurnAbove) || r.BurnAbove < 0:
		errs = append(errs, fmt.Errorf("burnRateAbove %g: want a burn rate of 0 or more", r.BurnAbove))
	case r.BurnAbove > 0 && r.Over <= 0:
		errs = append(errs, errors.New("burnRateAbove needs over: the span the burn rate is measured over, such as 1h"))
	case r.BurnAbove == 0 && r.Over != 0:
		errs = append(errs, errors.New("over without burnRateAbove: nothing is measured over it"))
	case window > 0 && r.Over > window:
		errs = append(errs, fmt.Errorf("over %s is longer than the SLO window %s", FormatDuration(r.Over), FormatDuration(window)))
	}
	return errors.Join(errs...)
}

// Freeze returns the first rule of rules that holds for a budget with
// remaining share left, and whether one does. burn gives the burn rate
// over a span (NaN when unknown, which never holds a release back).
func Freeze(rules []FreezeRule, remaining float64, burn func(time.Duration) float64) (FreezeRule, float64, bool) {
	for _, r := range rules {
		if !(remaining < r.RemainingBelow) {
			continue
		}
		if r.BurnAbove == 0 {
			return r, math.NaN(), true
		}
		if b := burn(r.Over); b > r.BurnAbove {
			return r, b, true
		}
	}
	return FreezeRule{}, math.NaN(), false
}

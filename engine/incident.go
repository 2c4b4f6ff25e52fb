package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/nines-sre/nines/slo"
)

// BudgetBurn is the error budget an SLO spent over a span.
type BudgetBurn struct {
	// Unit is what the budget counts; Spent is the part of it spent in
	// [From, To) and Total the budget of the window containing To, as
	// known at the engine's now.
	Unit        string
	Spent       float64
	Total       float64
	From, To    time.Time
	WindowStart time.Time
}

// BudgetBurned returns the budget the SLO called name spent between from
// and to (aligned outward to quanta), as the difference between its
// window's budget spent at to and at from. A span starting before the
// window that holds to is clipped to the window's start: budget spent in
// an earlier calendar window was another window's budget.
func (e *Engine) BudgetBurned(ctx context.Context, name string, from, to time.Time) (BudgetBurn, error) {
	s, err := e.SLO(name)
	if err != nil {
		return BudgetBurn{}, err
	}
	if !from.Before(to) {
		return BudgetBurn{}, fmt.Errorf("%w: budget burned from %s to %s: an empty span", ErrInvalid, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	q := int64(s.Quantum)
	end := time.Unix(0, slo.QuantumStart(to.UnixNano()+q-1, s.Quantum)).UTC()
	// Quanta not settled yet are pending, not bad: the burn stops at the
	// last judged one.
	if settled := e.EvalTime(s, e.cfg.Now()); end.After(settled) {
		end = settled
	}
	start := time.Unix(0, slo.QuantumStart(from.UnixNano(), s.Quantum)).UTC()
	if !start.Before(end) {
		start = end
	}
	w := s.Window.Containing(end.Add(-time.Nanosecond))
	if s.Window.Calendar == slo.NotCalendar {
		w = s.Window.Containing(end)
	}
	if start.Before(w.Start) {
		start = w.Start
	}
	after, err := e.Evaluate(ctx, name, w, end)
	if err != nil {
		return BudgetBurn{}, err
	}
	before, err := e.Evaluate(ctx, name, w, start)
	if err != nil {
		return BudgetBurn{}, err
	}
	// The window's budget as known now: for the transactions method it
	// grows with the traffic, so a later look is a truer share.
	total := after.Budget.Total
	if now := e.cfg.Now(); now.After(end) {
		known, err := e.Evaluate(ctx, name, w, minTime(now, w.End))
		if err != nil {
			return BudgetBurn{}, err
		}
		total = known.Budget.Total
	}
	return BudgetBurn{Unit: after.Budget.Unit, Spent: after.Budget.Spent - before.Budget.Spent, Total: total,
		From: start, To: end, WindowStart: w.Start}, nil
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

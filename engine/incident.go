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
	// [From, To) and Total the budget of the window containing To.
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
	start := time.Unix(0, slo.QuantumStart(from.UnixNano(), s.Quantum)).UTC()
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
	return BudgetBurn{Unit: after.Budget.Unit, Spent: after.Budget.Spent - before.Budget.Spent, Total: after.Budget.Total,
		From: start, To: end, WindowStart: w.Start}, nil
}

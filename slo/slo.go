package slo

import (
	"errors"
	"fmt"
	"time"
)

// Method is how events turn into availability over a window.
type Method uint8

// The four methods. Quanta (quanta over transactions) is the default: it is
// strict, and it lets a report say "in violation for 8 minutes" rather than
// "Wednesday failed".
const (
	// Quanta: a quantum is good when at least QuantumObjective of its
	// attempts are good; availability is good quanta over all quanta.
	Quanta Method = iota
	// TimeQuanta: a quantum with any failure is bad.
	TimeQuanta
	// Transactions: good events over attempted events in the window. It
	// cannot count attempts that never arrived.
	Transactions
	// DowntimeMinutes: each quantum contributes failed/attempted of itself
	// as downtime; availability is uptime over elapsed time.
	DowntimeMinutes
)

var methodNames = [...]string{"quanta", "time-quanta", "transactions", "downtime-minutes"}

// ParseMethod reads a method name as a spec writes it.
func ParseMethod(s string) (Method, error) {
	for i, n := range methodNames {
		if n == s {
			return Method(i), nil
		}
	}
	return Quanta, fmt.Errorf("method %q: want time-quanta, transactions, quanta or downtime-minutes", s)
}

func (m Method) String() string {
	if int(m) < len(methodNames) {
		return methodNames[m]
	}
	return fmt.Sprintf("Method(%d)", int(m))
}

// BudgetUnit is what the error budget of the method counts.
func (m Method) BudgetUnit() string {
	switch m {
	case Transactions:
		return "events"
	case DowntimeMinutes:
		return "minutes"
	}
	return "quanta"
}

// NoData is how a quantum that nothing reported for is counted.
type NoData uint8

// No-data policies. Bad is the default because silence from the measuring
// path is more often an outage than a quiet minute.
const (
	NoDataBad NoData = iota
	NoDataGood
	NoDataSkip
)

var noDataNames = [...]string{"bad", "good", "skip"}

// ParseNoData reads bad, good or skip.
func ParseNoData(s string) (NoData, error) {
	for i, n := range noDataNames {
		if n == s {
			return NoData(i), nil
		}
	}
	return NoDataBad, fmt.Errorf("noData %q: want bad, good or skip", s)
}

func (n NoData) String() string {
	if int(n) < len(noDataNames) {
		return noDataNames[n]
	}
	return fmt.Sprintf("NoData(%d)", int(n))
}

// SLO is one objective for one SLI over an assurance window.
type SLO struct {
	Name        string
	Service     string
	Description string
	// Owner is the team answerable for the SLO, for routing and reports.
	Owner  string
	Labels map[string]string
	SLI    SLI
	// Objective is the share of the window that must be good.
	Objective Ratio
	// QuantumObjective is the share of a quantum's attempts that must be
	// good for the quantum to count as good (quanta method; also marks
	// violation quanta under the transactions method). Zero means Objective.
	QuantumObjective Ratio
	Method           Method
	Quantum          time.Duration
	Window           WindowSpec
	NoData           NoData
	// Since is an explicit start of the SLO's life, for a backfill that
	// should count the silence before the first data; zero starts the
	// life at the first quantum that holds data (see Series.Since).
	Since time.Time
	// Alerting changes the default burn-rate alerting; nil keeps it.
	Alerting *AlertOverrides
	// BudgetPolicy decides the release gate: releases wait while any rule
	// holds. Nil is DefaultBudgetPolicy; empty never freezes.
	BudgetPolicy []FreezeRule
}

// DefaultQuantum is the quantum when a spec names none.
const DefaultQuantum = time.Minute

// quantumObjective returns the per-quantum objective in force.
func (s *SLO) quantumObjective() Ratio {
	if s.QuantumObjective.IsZero() {
		return s.Objective
	}
	return s.QuantumObjective
}

// Validate reports what makes s impossible to evaluate.
func (s *SLO) Validate() error {
	var errs []error
	if s.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if s.Objective.IsZero() {
		errs = append(errs, errors.New("objective is not set"))
	}
	if s.Quantum <= 0 {
		errs = append(errs, errors.New("quantum must be positive"))
	} else if time.Hour%s.Quantum != 0 && s.Quantum%time.Hour != 0 {
		errs = append(errs, fmt.Errorf("quantum %s must divide an hour or be whole hours, so quanta line up with windows", FormatDuration(s.Quantum)))
	}
	if err := s.Window.Validate(); err != nil {
		errs = append(errs, err)
	} else if s.Quantum > 0 && s.Window.Rolling > 0 && s.Window.Rolling%s.Quantum != 0 {
		errs = append(errs, fmt.Errorf("rolling window %s is not a whole number of %s quanta", FormatDuration(s.Window.Rolling), FormatDuration(s.Quantum)))
	}
	if int(s.Method) >= len(methodNames) {
		errs = append(errs, fmt.Errorf("unknown method %d", s.Method))
	}
	if int(s.NoData) >= len(noDataNames) {
		errs = append(errs, fmt.Errorf("unknown noData policy %d", s.NoData))
	}
	for i, r := range s.BudgetPolicy {
		if err := r.Validate(s.Window.Rolling); err != nil {
			errs = append(errs, fmt.Errorf("budgetPolicy.freeze[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

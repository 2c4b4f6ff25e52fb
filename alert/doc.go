// Package alert decides when an SLO's error budget burn pages someone or
// opens a ticket: multiwindow, multi-burn-rate alerting as the Site
// Reliability Workbook describes it (docs/reference.md §3), plus an alert for a
// measuring path that went silent.
//
// The package is pure logic, like slo: no I/O and no clock. A server
// calls Evaluate for every SLO on each cycle with the time and a Source
// (burn rates over recent spans, for nines serve from the SLO's
// slo.Tracker), keeps the State it returns for the next call, and hands
// the Transitions to notifiers.
//
// Tiers. A Policy has by default the workbook's four tiers for a 30-day
// window, kept as data in windows/sre-workbook.yaml: page when the burn
// rate is above 14.4 over 1 h and 5 min (2 % of the budget in an hour),
// page above 6 over 6 h and 30 min (5 % in 6 h), ticket above 3 over 1 d
// and 2 h (10 % in a day), ticket above 1 over 3 d and 6 h. The table
// stores budget shares; each SLO gets the factors of its own window
// (Factor, NominalWindow, MinDerivedFactor) and keeps the table's windows.
//
// Guards. A page needs MinEvents attempted events in its short window
// (StatusSuppressed otherwise); the no-data alert fires when nothing was
// measured for 10 minutes; an alert resolves only after its condition
// has been false for ResolveAfter. Evaluate's documentation says why.
//
// Every Transition carries the numbers that made it (burn rates, factor,
// windows, budget left, time to exhaustion) and a sentence for a person:
//
//	burning 16.7× the budget over 1h (14.4× pages), 200× over 5m; 98 % of
//	the 30-day budget left, exhausted in 1d 18h at this rate
package alert

package thirdparty

import (
	"fmt"
	"math"
	"time"
)

// Month is one calendar month in a time zone: [Start, End).
type Month struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// Name is the month as 2026-11.
func (m Month) Name() string { return m.Start.Format("2006-01") }

// MaxMonths bounds the months Months returns: a hundred years.
const MaxMonths = 1200

// Months returns the n calendar months in zone that end with the one
// holding at, oldest first. The caller counts each month's good and
// total of the SLA's SLO over [Start, min(End, at)).
func Months(at time.Time, n int, zone *time.Location) ([]Month, error) {
	if n < 1 || n > MaxMonths {
		return nil, fmt.Errorf("third parties: %d months; want 1 to %d", n, MaxMonths)
	}
	if zone == nil {
		zone = time.UTC
	}
	t := at.In(zone)
	first := time.Date(t.Year(), t.Month()-time.Month(n-1), 1, 0, 0, 0, 0, zone)
	out := make([]Month, n)
	for i := range out {
		s := time.Date(first.Year(), first.Month()+time.Month(i), 1, 0, 0, 0, 0, zone)
		out[i] = Month{Start: s, End: time.Date(s.Year(), s.Month()+1, 1, 0, 0, 0, 0, zone)}
	}
	return out, nil
}

// MonthCount is the SLA SLO's good and total (quanta or events, as the
// SLO counts) over one month.
type MonthCount struct {
	Month
	Good, Total uint64
	// Partial is set for a month not over yet: its figures are so far.
	Partial bool
}

// SLARow is one month of a vendor's SLA.
type SLARow struct {
	Month string `json:"month"`
	// Promised is the objective, in percent.
	Promised float64 `json:"promised"`
	// Measured is the month's availability in percent; nil without data.
	Measured *float64 `json:"measured,omitempty"`
	Good     uint64   `json:"good"`
	Total    uint64   `json:"total"`
	// Met says whether the month reached the promise (exactly, in
	// integers); false without data, which Status says.
	Met bool `json:"met"`
	// CreditPercent is the share of the month's fee owed, from the
	// credit table; 0 when met or without data.
	CreditPercent float64 `json:"credit_percent"`
	// Status is "met", "missed", "no data", or for a month not over yet
	// "so far met" and "so far missed".
	Status  string `json:"status"`
	Partial bool   `json:"partial,omitempty"`
}

// Monthly holds each month's figures against the SLA. A month without
// data says so: it is neither met nor owed a credit, since nines did not
// see it.
func Monthly(sla *SLA, months []MonthCount) ([]SLARow, error) {
	if sla == nil {
		return nil, nil
	}
	out := make([]SLARow, 0, len(months))
	for _, m := range months {
		if m.Good > m.Total {
			return nil, fmt.Errorf("third parties: month %s counts %d good of %d: want good at most total", m.Name(), m.Good, m.Total)
		}
		row := SLARow{Month: m.Name(), Promised: sla.Objective.Percent(), Good: m.Good, Total: m.Total, Partial: m.Partial}
		if m.Total == 0 {
			row.Status = "no data"
			out = append(out, row)
			continue
		}
		pct := float64(m.Good) / float64(m.Total) * 100
		if !math.IsNaN(pct) {
			row.Measured = &pct
		}
		row.Met = sla.Objective.Meets(m.Good, m.Total)
		row.CreditPercent = sla.CreditFor(m.Good, m.Total)
		switch {
		case m.Partial && row.Met:
			row.Status = "so far met"
		case m.Partial:
			row.Status = "so far missed"
		case row.Met:
			row.Status = "met"
		default:
			row.Status = "missed"
		}
		out = append(out, row)
	}
	return out, nil
}

// CreditFor is the credit owed for good of total: the Percent of the lowest
// tier the availability is strictly below, compared exactly; 0 when it is
// below none (or total is 0).
func (sla *SLA) CreditFor(good, total uint64) float64 {
	credit := 0.0
	if total == 0 {
		return 0
	}
	for _, c := range sla.Credits { // highest threshold first
		if !c.Below.Meets(good, total) {
			credit = c.Percent
		}
	}
	return credit
}

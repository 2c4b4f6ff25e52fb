package spec

import (
	"fmt"
	"strings"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
)

// shortWindowDivisor makes the short window of a tier mapped from an
// OpenSLO condition: a twelfth of the lookback window, the ratio of the
// common multiwindow tables (1h/5m, 6h/30m). OpenSLO conditions have one
// window; nines confirms with a second that the burn is still going on.
const shortWindowDivisor = 12

// applyAlertPolicies maps the burn-rate conditions of an OpenSLO SLO's
// alert policies onto tiers of s. An SLO whose policies give at least one
// tier alerts on those alone: the policies say how it wants to be
// alerted, so the default tiers are turned off. What does not map is
// reported as a warning at the SLO's alertPolicies, never dropped
// silently.
func (m *sloMap) applyAlertPolicies(s *slo.SLO, policies []*AlertPolicy, at field) {
	if len(policies) == 0 {
		return
	}
	r := m.r
	var tiers []slo.AlertTier
	noData := false
	for _, p := range policies {
		noData = noData || p.WhenNoData
		if !p.WhenResolved && p.WhenBreaching {
			r.warnf(at.val, at.path, "alert policy %s: alertWhenResolved is false, but nines always resolves the alerts it raises, so that pages close", quote(p.Name))
		}
		if !p.WhenBreaching {
			continue
		}
		for i, c := range p.Conditions {
			name := c.Name
			if name == "" {
				name = fmt.Sprintf("%s-%d", p.Name, i+1)
			}
			where := fmt.Sprintf("alert policy %s, condition %s", quote(p.Name), quote(name))
			if c.Op == "lt" || c.Op == "lte" {
				r.warnf(at.val, at.path, "%s: op %s is not mapped: nines alerts when the burn rate is above a threshold", where, c.Op)
				continue
			}
			short := shortWindow(c.LookbackWindow, s.Quantum)
			if short >= c.LookbackWindow {
				r.errorf(at.val, at.path, "%s: lookbackWindow %s is not longer than the %s quantum; nines cannot tell a burn over it from one quantum", where, slo.FormatDuration(c.LookbackWindow), slo.FormatDuration(s.Quantum))
				continue
			}
			sev, exact := severityOf(c.Severity)
			if !exact {
				r.warnf(at.val, at.path, "%s: severity %s is routed as %s", where, quote(c.Severity), sev)
			}
			if c.AlertAfter > 0 {
				r.warnf(at.val, at.path, "%s: alertAfter %s is not applied: nines does not wait, it confirms the burn over a short window of %s instead",
					where, slo.FormatDuration(c.AlertAfter), slo.FormatDuration(short))
			}
			tiers = append(tiers, slo.AlertTier{Name: name, Severity: string(sev), Factor: c.Threshold, Long: c.LookbackWindow, Short: short})
		}
	}
	o := s.Alerting
	if o == nil {
		o = &slo.AlertOverrides{}
	}
	if len(tiers) > 0 {
		if table, err := alert.DefaultTable(); err == nil {
			for _, t := range table.Tiers {
				o.Tiers = append(o.Tiers, slo.AlertTier{Name: t.Name, Disabled: true})
			}
		}
		o.Tiers = append(o.Tiers, tiers...)
	}
	if !noData && o.NoDataAfter == 0 {
		o.NoDataAfter = -1 // no policy asks for alertWhenNoData
	}
	s.Alerting = o
}

// shortWindow is the short window of a tier with long window long: a
// twelfth of it, in whole quanta, at least one.
func shortWindow(long, quantum time.Duration) time.Duration {
	if quantum <= 0 {
		return long / shortWindowDivisor
	}
	return max(quantum, long/shortWindowDivisor/quantum*quantum)
}

// severityOf maps an OpenSLO severity, free text, onto page or ticket:
// the names of urgent severities in common schemes page.
func severityOf(s string) (alert.Severity, bool) {
	switch v := strings.ToLower(strings.TrimSpace(s)); v {
	case "page":
		return alert.Page, true
	case "ticket":
		return alert.Ticket, true
	case "critical", "crit", "high", "urgent", "emergency", "sev0", "sev1", "sev2", "p0", "p1", "p2", "1", "2":
		return alert.Page, false
	}
	return alert.Ticket, false
}

package chaos

import (
	"fmt"
	"maps"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// Each experiment measures its two cohorts as SLIs of their own: the
// experiment's SLO, copied with its good rule, latency threshold,
// objective, quantum and window, under the names CohortSLO gives. The
// proxy sends each cohort's requests to nines serve as events of those
// SLOs, so they take the same rollup path as any other input: stored
// before the proxy is told so, exact, on the budget page like any SLO.
// The copies never alert (the experiment's abort rules guard the
// cohort) and have no no-data alert (cohorts are quiet between runs).

// CohortSLO is the name of a cohort's SLO: the experiment's name, a dot
// and the cohort (checkout-slow-payments.control). SLO names allow
// letters, digits, -, _ and . only, so the dot stands for the colon of
// "experiment:control".
func CohortSLO(experiment string, c Cohort) string { return experiment + "." + c.String() }

// CohortSpecs returns the spec documents of every experiment's cohort
// SLOs, by file name, to load beside the SLOs'. An experiment whose SLO is
// not among slos, or reads its SLI from metrics (whose requests the proxy
// cannot judge one by one), or whose cohort SLO names clash with an SLO,
// is refused.
func CohortSpecs(defs []*Definition, slos []*slo.SLO) (map[string][]byte, error) {
	byName := map[string]*slo.SLO{}
	for _, s := range slos {
		byName[s.Name] = s
	}
	table, err := alert.DefaultTable()
	if err != nil {
		return nil, err
	}
	var off []slo.AlertTier
	for _, t := range table.Tiers {
		off = append(off, slo.AlertTier{Name: t.Name, Disabled: true})
	}
	out := map[string][]byte{}
	for _, d := range defs {
		base := byName[d.SLO]
		switch {
		case base == nil:
			return nil, fmt.Errorf("%s: experiment %s: slo: no SLO is named %q; load its spec with --slos", d.File, d.Name, d.SLO)
		case base.SLI.Source != nil || base.SLI.Edge != nil || base.SLI.Probe != nil:
			return nil, fmt.Errorf("%s: experiment %s: SLO %s reads its SLI from metrics, traces or probes; an experiment judges requests one by one, so it needs an SLO whose SLI is a good rule on events or logs (status, latency)", d.File, d.Name, d.SLO)
		}
		for _, c := range []Cohort{Control, Experiment} {
			name := CohortSLO(d.Name, c)
			if byName[name] != nil {
				return nil, fmt.Errorf("%s: experiment %s: its %s cohort is measured as SLO %s, which another spec defines; rename the experiment or that SLO", d.File, d.Name, c, name)
			}
			cp := *base
			cp.Name = name
			// Not the service's own SLO: its scorecard and reports count the
			// service's traffic once, through the experiment's SLO.
			cp.Service = base.Service + ".chaos"
			cp.Description = fmt.Sprintf("The %s cohort of chaos experiment %s, judged as SLO %s judges its requests.", c, d.Name, base.Name)
			cp.Labels = maps.Clone(base.Labels)
			if cp.Labels == nil {
				cp.Labels = map[string]string{}
			}
			cp.Labels["chaos_experiment"], cp.Labels["chaos_cohort"], cp.Labels["chaos_service"] = d.Name, c.String(), base.Service
			cp.SLI.Log = nil // events sent by the proxy, not a log
			cp.Since = time.Time{}
			cp.BudgetPolicy = nil
			cp.Alerting = &slo.AlertOverrides{Tiers: off, NoDataAfter: -1}
			doc, err := spec.Convert(spec.Native, &cp)
			if err != nil {
				return nil, fmt.Errorf("%s: experiment %s: %w", d.File, d.Name, err)
			}
			out["chaos/"+name+".yaml"] = doc
		}
	}
	return out, nil
}

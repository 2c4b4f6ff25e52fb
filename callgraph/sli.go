package callgraph

import (
	"fmt"

	"github.com/nines-sre/nines/slo"
)

// Event is the SLI event a call stands for: its verdict as the ok flag
// (so the SLI's status rule, which it has none of, cannot disagree with
// the span), its HTTP status kept for the record, the child SERVER span's
// duration as its latency.
func (c *Call) Event() slo.Event {
	e := slo.Event{Time: c.Time, Status: c.Status, OK: slo.FlagTrue, Latency: c.Latency, Count: 1}
	if c.Failed {
		e.OK = slo.FlagFalse
	}
	return e
}

// Rollups turns calls into the rollups of the SLOs among slos whose SLI
// names an edge (sli.source.edge), keyed by SLO name, with counts per
// status kept so an edited SLI can be judged again. SLOs no call reached
// are left out. The caller stores them through the engine, as any
// other rollups.
func Rollups(calls []Call, slos []*slo.SLO) (map[string]*slo.Series, error) {
	byEdge := map[Edge][]*slo.SLO{}
	for _, o := range slos {
		if e := o.SLI.Edge; e != nil {
			k := Edge{e.From, e.To}
			byEdge[k] = append(byEdge[k], o)
		}
	}
	if len(byEdge) == 0 {
		return nil, nil
	}
	aggs := map[string]*slo.Aggregator{}
	for i := range calls {
		c := &calls[i]
		targets := byEdge[Edge{c.From, c.To}]
		if len(targets) == 0 {
			continue
		}
		ev := c.Event()
		for _, o := range targets {
			a := aggs[o.Name]
			if a == nil {
				a = slo.NewAggregator(&o.SLI, o.Quantum)
				a.KeepStatuses()
				aggs[o.Name] = a
			}
			if err := a.Add(&ev); err != nil {
				return nil, fmt.Errorf("callgraph: SLO %s, call %s: %w", o.Name, Edge{c.From, c.To}, err)
			}
		}
	}
	out := make(map[string]*slo.Series, len(aggs))
	for name, a := range aggs {
		out[name] = a.Series()
	}
	return out, nil
}

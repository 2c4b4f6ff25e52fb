package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/probe"
	"github.com/nines-sre/nines/probe/consensus"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store"
)

// A spec SLO with sli.probes: NAME is fed by the consensus of probe NAME
// across its locations (docs/probes.md). Each location's results are an
// SLO of their own, named probe.LocationSLO, so they are stored, exact
// and visible like any SLI; the consensus SLO's quanta are computed from
// them once they are final and written once. An HTTPS probe's
// certificate is an SLO of its own too (probe.CertSLO).

// probeSet is what the probes file and the specs make together.
type probeSet struct {
	// bySLO is the probe of each consensus SLO.
	bySLO map[string]*probe.Probe
	// all is every probe of the file, by name, for the agents' API.
	all map[string]*probe.Probe
}

// withProbes adds to the spec files the location and certificate SLOs of
// every probe an SLO is fed by, and says which probe feeds which SLO. An
// SLO naming a probe the file does not define is refused, as is a probe
// that feeds two SLOs (its location SLOs would be two things at once).
func withProbes(files map[string][]byte, probes []*probe.Probe) (map[string][]byte, *probeSet, error) {
	set := &probeSet{bySLO: map[string]*probe.Probe{}, all: map[string]*probe.Probe{}}
	for _, p := range probes {
		set.all[p.Name] = p
	}
	b, err := spec.LoadAllData(files)
	if err != nil {
		return nil, nil, err
	}
	byName := map[string]*slo.SLO{}
	for _, s := range b.SLOs {
		byName[s.Name] = s
	}
	fedBy := map[string]string{} // probe → SLO
	extra := map[string][]byte{}
	for _, s := range b.SLOs {
		if s.SLI.Probe == nil {
			continue
		}
		name := s.SLI.Probe.Name
		p := set.all[name]
		switch {
		case p == nil && len(probes) == 0:
			return nil, nil, fmt.Errorf("SLO %s: sli.probes: %s: no probes file is loaded; start nines serve with --probes FILE that defines it", s.Name, spec.Quote(name))
		case p == nil:
			msg := fmt.Sprintf("SLO %s: sli.probes: no probe is named %s in the probes file", s.Name, spec.Quote(name))
			if sug := spec.Suggest(name, slices.Sorted(maps.Keys(set.all))); sug != "" {
				msg += "; did you mean " + spec.Quote(sug) + "?"
			}
			return nil, nil, errors.New(msg)
		case fedBy[name] != "":
			return nil, nil, fmt.Errorf("SLO %s: sli.probes: probe %s feeds SLO %s already; a probe feeds one SLO (define a second probe for a second objective)", s.Name, name, fedBy[name])
		}
		fedBy[name] = s.Name
		set.bySLO[s.Name] = p
		docs, err := probeSpecs(s, p)
		if err != nil {
			return nil, nil, err
		}
		for file, doc := range docs {
			extra[file] = doc
		}
	}
	out := make(map[string][]byte, len(files)+len(extra))
	maps.Copy(out, files)
	for file, doc := range extra {
		if _, ok := out[file]; ok {
			return nil, nil, fmt.Errorf("spec file %s clashes with a probe's location SLO; rename it", file)
		}
		out[file] = doc
	}
	// A generated name may not be an SLO of the specs.
	for _, p := range set.bySLO {
		for _, n := range probeSLONames(p) {
			if o := byName[n]; o != nil {
				return nil, nil, fmt.Errorf("probe %s measures its results as SLO %s, which a spec defines; rename the probe, the location or that SLO", p.Name, n)
			}
		}
	}
	return out, set, nil
}

// probeSLONames are the SLOs a probe's results are measured as.
func probeSLONames(p *probe.Probe) []string {
	var out []string
	for _, l := range p.Locations {
		out = append(out, probe.LocationSLO(p.Name, l))
	}
	if p.HasCert() {
		out = append(out, probe.CertSLO(p.Name))
	}
	return out
}

// probeSpecs writes the location SLOs and the certificate SLO of probe p,
// which feeds SLO s: copies of s (objective, window, quantum, method) in
// the pseudo-service SERVICE.probes, so the service's
// scorecard and reports count the probe once, through s. Location SLOs
// never alert (the consensus is what alerts) and have no no-data alert
// (an agent that stops is seen on the consensus); the certificate SLO
// keeps its ticket tiers and no page: an expiring certificate is work to
// plan, not a page.
func probeSpecs(s *slo.SLO, p *probe.Probe) (map[string][]byte, error) {
	table, err := alert.DefaultTable()
	if err != nil {
		return nil, err
	}
	var off, pagesOff []slo.AlertTier
	for _, t := range table.Tiers {
		off = append(off, slo.AlertTier{Name: t.Name, Disabled: true})
		if t.Severity == alert.Page {
			pagesOff = append(pagesOff, slo.AlertTier{Name: t.Name, Disabled: true})
		}
	}
	out := map[string][]byte{}
	write := func(name, desc string, labels map[string]string, alerting *slo.AlertOverrides) error {
		cp := *s
		cp.Name = name
		cp.Service = s.Service + ".probes"
		cp.Description = desc
		cp.Labels = maps.Clone(s.Labels)
		if cp.Labels == nil {
			cp.Labels = map[string]string{}
		}
		maps.Copy(cp.Labels, labels)
		cp.SLI = slo.SLI{} // each event carries the probe's own verdict
		cp.Since = time.Time{}
		cp.BudgetPolicy = nil
		cp.Alerting = alerting
		doc, err := spec.Convert(spec.Native, &cp)
		if err != nil {
			return fmt.Errorf("probe %s: %w", p.Name, err)
		}
		out["probes/"+name+".yaml"] = doc
		return nil
	}
	for _, l := range p.Locations {
		desc := fmt.Sprintf("Probe %s as seen from %s, one of the locations whose consensus feeds SLO %s.", p.Name, l, s.Name)
		labels := map[string]string{"probe": p.Name, "probe_location": l, "probe_slo": s.Name}
		if err := write(probe.LocationSLO(p.Name, l), desc, labels, &slo.AlertOverrides{Tiers: off, NoDataAfter: -1}); err != nil {
			return nil, err
		}
	}
	if p.HasCert() {
		desc := fmt.Sprintf("The TLS certificate of probe %s's target: good while it expires no sooner than %d days ahead.", p.Name, p.CertMinDays)
		labels := map[string]string{"probe": p.Name, "probe_slo": s.Name, "probe_check": "certificate"}
		if err := write(probe.CertSLO(p.Name), desc, labels, &slo.AlertOverrides{Tiers: pagesOff, NoDataAfter: -1}); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// consensusWriter computes the consensus SLOs' quanta from their
// locations' final results and stores each once, with its cursor in the
// same transaction: a restart or a new leader carries on where the last
// write ended, never writing a quantum twice.
type consensusWriter struct {
	eng    *engine.Engine
	state  store.State
	set    *probeSet
	logger *slog.Logger
	// maxPerStep bounds the quanta one step writes per SLO, so that a
	// leader catching up after a long stop takes the store in bites.
	maxPerStep int
}

func consensusKey(sloName string) string { return "probes/consensus/" + sloName }

// step writes, for every consensus SLO, the quanta whose locations'
// results are final at now and that are not written yet.
func (w *consensusWriter) step(ctx context.Context, now time.Time) {
	for _, name := range slices.Sorted(maps.Keys(w.set.bySLO)) {
		if err := w.write(ctx, name, now); err != nil && ctx.Err() == nil {
			w.logger.Warn("probes: the consensus of an SLO's quanta is not stored yet (tried again at the next step)", "slo", name, "err", err)
		}
	}
}

func (w *consensusWriter) write(ctx context.Context, name string, now time.Time) error {
	s, err := w.eng.SLO(name)
	if err != nil {
		return err
	}
	p := w.set.bySLO[name]
	// The consensus of q reads its locations' quanta up to q: it is
	// written once they are final.
	loc, err := w.eng.SLO(probe.LocationSLO(p.Name, p.Locations[0]))
	if err != nil {
		return err
	}
	_, final, _, _ := w.eng.Settled(loc, now)
	next, err := w.cursor(ctx, name, final, s.Quantum)
	if err != nil {
		return err
	}
	if !next.Before(final) {
		return nil
	}
	end := final
	if limit := next.Add(time.Duration(w.maxPerStep) * s.Quantum); w.maxPerStep > 0 && end.After(limit) {
		end = limit
	}
	rule := consensus.Rule{K: p.Consensus.K, N: len(p.Locations), Window: p.Consensus.Window, Quantum: s.Quantum}
	locations := make(consensus.Locations, len(p.Locations))
	for _, l := range p.Locations {
		_, series, err := w.eng.Series(ctx, probe.LocationSLO(p.Name, l), next.Add(-rule.Window), end)
		if err != nil {
			return err
		}
		locations[l] = series.Rollups
	}
	rollups, _, err := consensus.Series(rule, locations, next, end)
	if err != nil {
		return err
	}
	batch := &engine.Batch{Source: "probes", Series: map[string]*slo.Series{name: {Quantum: s.Quantum, Rollups: rollups}},
		State: map[string][]byte{consensusKey(name): strconv.AppendInt(nil, end.UnixNano(), 10)}}
	_, err = w.eng.CommitBackfill(ctx, batch)
	return err
}

// cursor is the first quantum of name not written yet. Without one (a
// new SLO, or the first start), writing starts at the quantum that
// becomes final now: the locations have no results before.
func (w *consensusWriter) cursor(ctx context.Context, name string, final time.Time, quantum time.Duration) (time.Time, error) {
	v, err := w.state.GetState(ctx, consensusKey(name))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return final.Add(-quantum), nil
	case err != nil:
		return time.Time{}, err
	}
	ns, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("the consensus cursor of %s reads %q: %w", name, v, err)
	}
	return time.Unix(0, ns).UTC(), nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nines-sre/nines/chaos"
	"github.com/nines-sre/nines/chaos/verdict"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// loadExperiments reads nines serve --experiments; nil without it.
func loadExperiments(dir string) ([]*chaos.Definition, error) {
	if dir == "" {
		return nil, nil
	}
	defs, err := chaos.LoadExperiments(dir)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("serve: --experiments: %w", err)}
	}
	return defs, nil
}

// withCohorts adds to the spec files the cohort SLOs of the experiments,
// which measure each cohort as an SLO of its own (docs/chaos.md).
func withCohorts(files map[string][]byte, defs []*chaos.Definition) (map[string][]byte, error) {
	if len(defs) == 0 {
		return files, nil
	}
	b, err := spec.LoadAllData(files)
	if err != nil {
		return nil, err
	}
	extra, err := chaos.CohortSpecs(defs, b.SLOs)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(files)+len(extra))
	for k, v := range files {
		out[k] = v
	}
	for k, v := range extra {
		if _, ok := out[k]; ok {
			return nil, fmt.Errorf("spec file %s clashes with the cohort SLO of an experiment; rename it", k)
		}
		out[k] = v
	}
	return out, nil
}

// runStart is the start of the quantum t falls in: a run's counts and
// latencies start with the quantum it started in.
func runStart(t time.Time, quantum time.Duration) time.Time {
	return time.Unix(0, slo.QuantumStart(t.UnixNano(), quantum)).UTC()
}

// engineMeasure reads the cohorts and the experiment's SLO from the
// engine, for the chaos controller.
type engineMeasure struct{ eng *engine.Engine }

// Counts evaluates [from, to), widened to whole quanta: a run's counts
// start at the quantum it started in.
func (m engineMeasure) Counts(ctx context.Context, name string, from, to time.Time) (verdict.Counts, error) {
	s, err := m.eng.SLO(name)
	if err != nil {
		return verdict.Counts{}, err
	}
	start := runStart(from, s.Quantum)
	end := runStart(to.Add(s.Quantum-1), s.Quantum)
	if !end.After(start) {
		end = start.Add(s.Quantum)
	}
	res, err := m.eng.Evaluate(ctx, name, slo.Window{Start: start, End: end}, to)
	if err != nil {
		return verdict.Counts{}, err
	}
	return verdict.Counts{Requests: res.Events.Total, Bad: res.Events.Failed}, nil
}

func (m engineMeasure) Budget(ctx context.Context, name string) (float64, float64, error) {
	s, err := m.eng.SLO(name)
	if err != nil {
		return 0, 0, err
	}
	res, err := m.eng.Status(ctx, name)
	if err != nil {
		return 0, 0, err
	}
	return res.Budget.RemainingShare(), s.Objective.Float(), nil
}

func (m engineMeasure) Frozen(name string) error {
	d, err := m.eng.Gate(name)
	if err != nil {
		return err
	}
	if !d.Allow {
		return errors.New("SLO " + name + "'s release gate is closed: " + d.Reason)
	}
	return nil
}

func (m engineMeasure) Latency(ctx context.Context, name string, from, to time.Time) (*hist.Histogram, float64, error) {
	s, err := m.eng.SLO(name)
	if err != nil {
		return nil, 0, err
	}
	h, err := m.eng.Latency(ctx, name, runStart(from, s.Quantum), to)
	if err != nil {
		return nil, 0, err
	}
	thr := 0.0
	if s.SLI.Latency != nil {
		thr = s.SLI.Latency.Threshold
	}
	return h, thr, nil
}

// newChaos makes the controller of the experiments, nil without any.
func newChaos(ctx context.Context, defs []*chaos.Definition, eng *engine.Engine, db servingStore, logger *slog.Logger) (*chaos.Controller, error) {
	if len(defs) == 0 {
		return nil, nil
	}
	c, err := chaos.NewController(ctx, defs, engineMeasure{eng}, db, eng.Now, logger.With("component", "chaos"))
	if err != nil {
		return nil, fmt.Errorf("serve: chaos runs: %w", err)
	}
	return c, nil
}

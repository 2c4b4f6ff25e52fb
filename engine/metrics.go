package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// The collector's counter baselines are saved with the rollups of a batch
// now and then (snapshotEvery) and at shutdown, not with every batch: the
// snapshot of every series is large (about 100 bytes a series) and most
// batches touch a fraction of them. Every batch in between marks the
// snapshot stale, in the same transaction as its rollups. A restart after
// a crash finds the mark and drops the stale baselines rather than count
// the increases since the snapshot twice: each series' first sample then
// only sets a new baseline, which loses at most one scrape interval of
// that series and never counts a request twice.
const snapshotEvery = 10 * time.Second

// protocol is a way metric series arrive. Each has its own collector, so
// that one protocol's flushing never cuts into another's held quanta and
// their series never mix.
type protocol struct {
	name string
	// hold is how long after a quantum ends its collector keeps it open for
	// the rest of its series, or negative to hand every quantum out at once.
	// Prometheus' shards send the series of one scrape in separate requests
	// seconds apart, and a histogram can only be read once all its buckets
	// are in: a quantum handed out with half of them would lose the other
	// half. An OTLP data point carries its whole histogram.
	hold time.Duration
}

// protocols are the metric protocols nines serve takes.
func (e *Engine) protocols() []protocol {
	return []protocol{{"remote-write", e.cfg.RemoteWriteHold}, {"otlp", -1}}
}

func stateKey(p string) string { return "collector/" + p }
func staleKey(p string) string { return "collector/" + p + "-stale" }

// collector turns metric series (remote write, OTLP) into rollups for the
// SLOs whose SLI names a metric source. One is shared behind a mutex: a
// series' baseline must see its samples in order.
type collector struct {
	proto protocol
	mu    sync.Mutex
	c     *metrics.Collector
	// saved is when the baselines were last stored.
	saved time.Time
	// sources is the number of SLOs read from metrics.
	sources int
	// state holds the baselines while no SLO reads metrics (c is nil).
	state []byte
}

// prevState returns the baselines of a collector about to be replaced.
func prevState(prev *collector) []byte {
	if prev == nil {
		return nil
	}
	prev.mu.Lock()
	defer prev.mu.Unlock()
	if prev.c == nil {
		return prev.state
	}
	state, err := prev.c.MarshalState()
	if err != nil {
		return nil
	}
	return state
}

// sourcesOf maps the SLOs' metric sources to the collector's.
func sourcesOf(slos map[string]*entry) ([]metrics.SLISource, error) {
	var out []metrics.SLISource
	var errs []error
	for name, en := range slos {
		src := en.slo.SLI.Source
		if src == nil {
			continue
		}
		ms := metrics.SLISource{Name: name, SLI: en.slo.SLI, StatusLabel: src.StatusLabel, Unit: src.Unit}
		ms.SLI.Source = nil
		for _, p := range []struct {
			text string
			dst  **metrics.Selector
		}{{src.Good, &ms.Good}, {src.Bad, &ms.Bad}, {src.Total, &ms.Total}, {src.Histogram, &ms.Histogram}, {src.Errors, &ms.Errors}} {
			if p.text == "" {
				continue
			}
			sel, err := metrics.ParseSelector(p.text)
			if err != nil {
				errs = append(errs, fmt.Errorf("SLO %s: %w", name, err))
				continue
			}
			*p.dst = &sel
		}
		out = append(out, ms)
	}
	return out, errors.Join(errs...)
}

// commonQuantum is the largest quantum that divides the quantum of every
// SLO read from metrics: the collector's rollups then nest in each SLO's
// quanta, and the aggregator regroups them (10 s rollups into 1 m quanta).
func commonQuantum(slos map[string]*entry) time.Duration {
	var g time.Duration
	for _, en := range slos {
		if en.slo.SLI.Source == nil {
			continue
		}
		a, b := g, en.slo.Quantum
		for b != 0 {
			a, b = b, a%b
		}
		g = a
	}
	if g <= 0 {
		return slo.DefaultQuantum
	}
	return g
}

// newCollector builds the collector for slos, carrying over the counter
// baselines of prev (or, at start, of the store) so that a reload or a
// restart neither loses nor double-counts an increase.
func (e *Engine) newCollector(ctx context.Context, slos map[string]*entry, prev *collector, p protocol) (*collector, error) {
	sources, err := sourcesOf(slos)
	if err != nil {
		return nil, err
	}
	var state []byte
	if prev != nil {
		state = prevState(prev)
	} else {
		state, err = e.cfg.Store.GetState(ctx, stateKey(p.name))
		if errors.Is(err, store.ErrNotFound) {
			state, err = nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("collector state: %w", err)
		}
		if stale, err := e.cfg.Store.GetState(ctx, staleKey(p.name)); err == nil && string(stale) == "1" {
			e.cfg.Logger.Warn("counter baselines were saved before the last batches of a process that stopped without saving them; starting from new baselines (at most one scrape interval of each series is not counted)")
			state = nil
		}
	}
	if len(sources) == 0 {
		// No SLO reads metrics; keep the baselines for when one does.
		return &collector{proto: p, state: state}, nil
	}
	c, err := metrics.NewCollector(metrics.Config{Sources: sources, MaxLag: e.cfg.MaxLag, Quantum: commonQuantum(slos)})
	if err != nil {
		return nil, err
	}
	if len(state) > 0 {
		if err := c.UnmarshalState(state); err != nil {
			// Baselines are a convenience: without them the first sample of
			// each series only sets a new one. Losing them costs one scrape
			// interval of increases, not correctness of what is stored.
			e.cfg.Logger.Warn("collector state unreadable; counters start from new baselines", "err", err)
		}
	}
	return &collector{proto: p, c: c, sources: len(sources)}, nil
}

// MetricsResult says what became of a batch of metric series.
type MetricsResult struct {
	Report metrics.Report
	// Stored is what the rollups did, by SLO.
	Stored map[string]AppendResult
}

// IngestMetrics folds series decoded from proto ("remote-write" or
// "otlp") into rollups for every SLO that reads them and stores the rollups
// of the quanta its protocol no longer holds, in one transaction (Tick and
// SaveState flush too).
func (e *Engine) IngestMetrics(ctx context.Context, proto string, series []metrics.Series) (*MetricsResult, error) {
	e.writes.RLock()
	defer e.writes.RUnlock()
	e.mu.RLock()
	col := e.collectors[proto]
	e.mu.RUnlock()
	if col == nil || col.sources == 0 {
		return nil, fmt.Errorf("%w: no SLO reads metrics; give an SLI a source (docs/api.md)", ErrInvalid)
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	rep := col.c.Add(series)
	now := e.cfg.Now()
	stored, err := e.flushLocked(ctx, col, col.proto.name, flushBefore(col, now), &rep, false)
	if err != nil {
		return nil, err
	}
	e.counters.Samples.Add(int64(rep.Samples))
	for reason := range metrics.Reason(metrics.NumReasons) {
		if n := rep.Count(reason); n > 0 && reason.Dropping() {
			e.counters.Reject("metrics: "+reason.String(), int64(n))
		}
	}
	return &MetricsResult{Report: rep, Stored: stored}, nil
}

// flushLocked stores the rollups of the quanta that end before before,
// with the counter baselines when they are due (or saveState), else with
// the mark that makes the saved ones stale. The caller holds e.writes
// and col.mu.
func (e *Engine) flushLocked(ctx context.Context, col *collector, source string, before int64, rep *metrics.Report, saveState bool) (map[string]AppendResult, error) {
	sk, stk := stateKey(col.proto.name), staleKey(col.proto.name)
	results, flushed := col.c.Flush(before)
	rep.Merge(&flushed)
	now := e.cfg.Now()
	batch := &Batch{Source: source, Series: map[string]*slo.Series{}, State: map[string][]byte{stk: []byte("1")}}
	if saveState || now.Sub(col.saved) >= snapshotEvery {
		state, err := col.c.MarshalState()
		if err != nil {
			return nil, err
		}
		batch.State = map[string][]byte{sk: state, stk: []byte("0")}
	}
	aggs := map[string]*slo.Aggregator{}
	for i := range results {
		r := &results[i]
		s, err := e.SLO(r.SLI)
		if err != nil {
			continue // the SLO went away in a reload since the sample came in
		}
		a := aggs[r.SLI]
		if a == nil {
			a = slo.NewAggregator(&s.SLI, s.Quantum)
			aggs[r.SLI] = a
		}
		if err := a.AddRollup(&r.Rollup); err != nil {
			// Series that together count more than 2^64−1 events in one
			// quantum: what does not fit is counted as refused, never
			// wrapped around.
			e.counters.Reject("metrics: overflow", 1)
			e.cfg.Logger.Warn("refusing a quantum of metric samples", "sli", r.SLI, "err", err)
		}
	}
	for name, a := range aggs {
		batch.Series[name] = a.Series()
	}
	stored, err := e.commitLocked(ctx, batch, e.cfg.MaxLag)
	if err != nil {
		return nil, err
	}
	if _, ok := batch.State[sk]; ok {
		col.saved = now
	}
	return stored, nil
}

// flushBefore is the horizon before which col hands quanta out at now.
func flushBefore(col *collector, now time.Time) int64 {
	if col.proto.hold < 0 {
		return math.MaxInt64
	}
	return now.Add(-col.proto.hold).UnixNano()
}

// eachCollector runs fn on every collector that has sources, holding
// e.writes and the collector's lock as flushLocked requires.
func (e *Engine) eachCollector(fn func(col *collector) error) error {
	e.writes.RLock()
	defer e.writes.RUnlock()
	e.mu.RLock()
	cols := slices.Collect(maps.Values(e.collectors))
	e.mu.RUnlock()
	var errs []error
	for _, col := range cols {
		col.mu.Lock()
		if col.c != nil {
			errs = append(errs, fn(col))
		}
		col.mu.Unlock()
	}
	return errors.Join(errs...)
}

// flushMetrics stores the quanta the collectors held past their hold, so
// they reach the status even when no further request comes. Tick calls it.
func (e *Engine) flushMetrics(ctx context.Context, now time.Time) {
	err := e.eachCollector(func(col *collector) error {
		var rep metrics.Report
		_, err := e.flushLocked(ctx, col, col.proto.name, flushBefore(col, now), &rep, false)
		return err
	})
	if err != nil {
		e.cfg.Logger.Error("flushing metric rollups", "err", err)
	}
}

// SaveState stores every quantum the collectors still hold and their
// counter baselines, so that a clean restart continues every counter
// exactly, and every SLO's alert history and state as of now, so that the
// restart resumes the alerts where they stand. nines serve calls it at
// shutdown.
func (e *Engine) SaveState(ctx context.Context) error {
	e.mu.RLock()
	entries := slices.Collect(maps.Values(e.slos))
	e.mu.RUnlock()
	for _, en := range entries {
		en.mu.Lock()
		en.stateDirty = true
		en.changes++
		en.mu.Unlock()
	}
	e.saveAlerts(ctx, entries)
	return e.eachCollector(func(col *collector) error {
		var rep metrics.Report
		_, err := e.flushLocked(ctx, col, "shutdown", math.MaxInt64, &rep, true)
		return err
	})
}

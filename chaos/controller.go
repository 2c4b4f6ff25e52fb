package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nines-sre/nines/chaos/verdict"
	"github.com/nines-sre/nines/hist"
)

// Measure is what the controller reads of the SLOs: the counts of a
// cohort SLO over a span, the state of the experiment's SLO, and its
// release gate.
type Measure interface {
	// Counts are the requests and bad requests of SLO name in [from, to).
	Counts(ctx context.Context, name string, from, to time.Time) (verdict.Counts, error)
	// Budget is the share of the SLO's error budget left and its
	// objective as a share.
	Budget(ctx context.Context, name string) (remaining, objective float64, err error)
	// Frozen is the gate's refusal of changes to the SLO's service, nil
	// when changes may go out.
	Frozen(name string) error
	// Latency is the latency histogram of SLO name in [from, to), and its
	// threshold in seconds (0 when the SLI has none).
	Latency(ctx context.Context, name string, from, to time.Time) (*hist.Histogram, float64, error)
}

// RunStore keeps runs across restarts (the store's state).
type RunStore interface {
	GetState(ctx context.Context, key string) ([]byte, error)
	PutState(ctx context.Context, key string, value []byte) error
	RangeState(ctx context.Context, prefix string, fn func(key string, value []byte) error) error
}

// Controller starts, steps and stops the runs of experiments inside nines
// serve, and tells each proxy what to do (Assignment). One run at a time
// per proxy.
type Controller struct {
	measure Measure
	store   RunStore
	now     func() time.Time
	logger  *slog.Logger

	mu sync.Mutex
	// tried is when a scheduled start was last refused, so that a closed
	// gate is asked again every few minutes, not at every step.
	tried  map[string]time.Time
	defs   map[string]*Definition
	active map[string]*Run // by proxy
	paused map[string]bool // by proxy
	recent map[string][]*Run
	seq    int64
}

// ErrUnknownExperiment names an experiment no file defines.
var ErrUnknownExperiment = errors.New("no such experiment")

// ErrBusy is a start while the proxy runs another experiment.
var ErrBusy = errors.New("the proxy runs another experiment")

// runKeyPrefix is where runs are kept in the store's state.
const runKeyPrefix = "chaos/run/"

// keptRuns is how many ended runs of each experiment are listed.
const keptRuns = 20

// NewController reads the runs stored, so that a run that was going on
// when the last process stopped goes on.
func NewController(ctx context.Context, defs []*Definition, m Measure, st RunStore, now func() time.Time, logger *slog.Logger) (*Controller, error) {
	c := &Controller{measure: m, store: st, now: now, logger: logger, defs: map[string]*Definition{}, tried: map[string]time.Time{},
		active: map[string]*Run{}, recent: map[string][]*Run{}, paused: map[string]bool{}}
	for _, d := range defs {
		c.defs[d.Name] = d
	}
	return c, c.Refresh(ctx)
}

// Refresh reads the runs from the store again: a replica that becomes
// the leader takes over the runs the last one started and stepped.
func (c *Controller) Refresh(ctx context.Context) error {
	active := map[string]*Run{}
	recent := map[string][]*Run{}
	var seq int64
	err := c.store.RangeState(ctx, runKeyPrefix, func(key string, value []byte) error {
		var r Run
		if err := json.Unmarshal(value, &r); err != nil {
			return fmt.Errorf("chaos run %s: %w", key, err)
		}
		if n, err := strconv.ParseInt(r.ID, 10, 64); err == nil {
			seq = max(seq, n)
		}
		if !r.Done() && c.defs[r.Experiment] != nil {
			active[r.Proxy] = &r
		}
		recent[r.Experiment] = append(recent[r.Experiment], &r)
		return nil
	})
	if err != nil {
		return err
	}
	for name, rs := range recent {
		slices.SortFunc(rs, func(a, b *Run) int { return b.Started.Compare(a.Started) })
		recent[name] = rs[:min(len(rs), keptRuns)]
	}
	c.mu.Lock()
	c.active, c.recent, c.seq = active, recent, max(c.seq, seq)
	c.mu.Unlock()
	return nil
}

// Definitions lists the experiments, by name.
func (c *Controller) Definitions() []*Definition {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Definition, 0, len(c.defs))
	for _, d := range c.defs {
		out = append(out, d)
	}
	slices.SortFunc(out, func(a, b *Definition) int { return compareStrings(a.Name, b.Name) })
	return out
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Runs lists an experiment's runs, the newest first.
func (c *Controller) Runs(name string) ([]Run, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.defs[name] == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownExperiment, name)
	}
	out := make([]Run, 0, len(c.recent[name]))
	for _, r := range c.recent[name] {
		out = append(out, *r)
	}
	return out, nil
}

// Plan says how long a run of the experiment would take now.
func (c *Controller) Plan(ctx context.Context, name string) (verdict.Planned, error) {
	c.mu.Lock()
	d := c.defs[name]
	c.mu.Unlock()
	if d == nil {
		return verdict.Planned{}, fmt.Errorf("%w: %q", ErrUnknownExperiment, name)
	}
	base, rate, err := c.baseline(ctx, d)
	if err != nil {
		return verdict.Planned{}, err
	}
	return d.Plan.Plan(base, rate, d.Cohort.Share)
}

// baseline is the SLO's bad share and request rate over the last hour.
func (c *Controller) baseline(ctx context.Context, d *Definition) (badShare, rate float64, err error) {
	now := c.now()
	n, err := c.measure.Counts(ctx, d.SLO, now.Add(-time.Hour), now)
	if err != nil {
		return 0, 0, err
	}
	if n.Requests > 0 {
		badShare = float64(n.Bad) / float64(n.Requests)
	}
	return badShare, float64(n.Requests) / 3600, nil
}

// Start starts a run of the experiment, or says why it may not.
func (c *Controller) Start(ctx context.Context, name string) (*Run, error) {
	c.mu.Lock()
	d := c.defs[name]
	var busy *Run
	if d != nil {
		busy = c.active[d.Proxy]
	}
	c.mu.Unlock()
	switch {
	case d == nil:
		return nil, fmt.Errorf("%w: %q", ErrUnknownExperiment, name)
	case busy != nil:
		return nil, fmt.Errorf("%w: %s (run %s) runs on proxy %s; stop it first", ErrBusy, busy.Experiment, busy.ID, d.Proxy)
	}
	remaining, objective, err := c.measure.Budget(ctx, d.SLO)
	if err != nil {
		return nil, err
	}
	base, rate, err := c.baseline(ctx, d)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if busy := c.active[d.Proxy]; busy != nil {
		return nil, fmt.Errorf("%w: %s (run %s) runs on proxy %s; stop it first", ErrBusy, busy.Experiment, busy.ID, d.Proxy)
	}
	c.seq++
	r, err := StartRun(d, strconv.FormatInt(c.seq, 10), c.now(), Observation{BudgetRemaining: remaining, Objective: objective}, base, rate, c.measure.Frozen(d.SLO))
	if err != nil {
		return nil, err
	}
	if err := c.save(ctx, r); err != nil {
		return nil, err
	}
	c.active[d.Proxy] = r
	c.recent[d.Name] = append([]*Run{r}, c.recent[d.Name]...)[:min(len(c.recent[d.Name])+1, keptRuns)]
	c.logger.Info("chaos run started", "experiment", d.Name, "run", r.ID, "proxy", d.Proxy, "planned_requests", r.Planned.Requests, "planned", r.Planned.Duration)
	return r, nil
}

// Stop ends the experiment's run at a person's request.
func (c *Controller) Stop(ctx context.Context, name, who string) (*Run, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := c.defs[name]
	if d == nil {
		return nil, fmt.Errorf("%w: %q", ErrUnknownExperiment, name)
	}
	r := c.active[d.Proxy]
	if r == nil || r.Experiment != name {
		return nil, fmt.Errorf("experiment %s has no run going on", name)
	}
	r.Stop(c.now(), who)
	delete(c.active, d.Proxy)
	return r, c.save(ctx, r)
}

// Step looks at every run going on once: the leader of nines serve calls
// it every second.
func (c *Controller) Step(ctx context.Context) {
	c.mu.Lock()
	runs := make([]*Run, 0, len(c.active))
	for _, r := range c.active {
		runs = append(runs, r)
	}
	c.mu.Unlock()
	for _, r := range runs {
		if err := c.step(ctx, r); err != nil && ctx.Err() == nil {
			c.logger.Warn("chaos run: a step failed (tried again in a second)", "experiment", r.Experiment, "run", r.ID, "err", err)
		}
	}
	c.startScheduled(ctx)
}

// retryRefused is how long a scheduled run that was refused waits before
// it is asked for again.
const retryRefused = 5 * time.Minute

// startScheduled starts the scheduled runs that are due on idle proxies.
func (c *Controller) startScheduled(ctx context.Context) {
	now := c.now()
	var due []string
	c.mu.Lock()
	for name, d := range c.defs {
		if d.Schedule == nil || c.active[d.Proxy] != nil || now.Sub(c.tried[name]) < retryRefused {
			continue
		}
		var last time.Time
		if rs := c.recent[name]; len(rs) > 0 {
			last = rs[0].Started
		}
		if d.Schedule.Due(last, now) {
			due = append(due, name)
		}
	}
	c.mu.Unlock()
	slices.Sort(due)
	for _, name := range due {
		if _, err := c.Start(ctx, name); err != nil {
			c.mu.Lock()
			c.tried[name] = now
			c.mu.Unlock()
			c.logger.Warn("chaos: a scheduled run was not started (asked again in 5 minutes)", "experiment", name, "err", err)
		}
	}
}

func (c *Controller) step(ctx context.Context, r *Run) error {
	c.mu.Lock()
	d := c.defs[r.Experiment]
	c.mu.Unlock()
	now := c.now()
	o := Observation{Now: now}
	var err error
	ctl, exp := CohortSLO(d.Name, Control), CohortSLO(d.Name, Experiment)
	if o.Control, err = c.measure.Counts(ctx, ctl, r.Started, now); err != nil {
		return err
	}
	if o.Experiment, err = c.measure.Counts(ctx, exp, r.Started, now); err != nil {
		return err
	}
	last := now.Add(-time.Minute)
	if last.Before(r.Started) {
		last = r.Started
	}
	if o.LastControl, err = c.measure.Counts(ctx, ctl, last, now); err != nil {
		return err
	}
	if o.LastExperiment, err = c.measure.Counts(ctx, exp, last, now); err != nil {
		return err
	}
	if o.BudgetRemaining, o.Objective, err = c.measure.Budget(ctx, d.SLO); err != nil {
		o.BudgetRemaining, o.Objective = math.NaN(), 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.active[r.Proxy] != r {
		return nil // stopped meanwhile
	}
	done, err := r.Step(d, o)
	if err != nil {
		return err
	}
	if lc, err := c.latency(ctx, ctl, exp, r.Started, now); err == nil {
		r.Latency = lc
	} else if ctx.Err() == nil {
		c.logger.Warn("chaos run: the cohorts' latencies cannot be read", "experiment", r.Experiment, "err", err)
	}
	if done {
		delete(c.active, r.Proxy)
		c.logger.Info("chaos run ended", "experiment", r.Experiment, "run", r.ID, "outcome", r.Outcome, "stopped_by", r.StoppedBy, "reason", r.Reason)
	}
	return c.save(ctx, r)
}

// latency compares the cohorts' latencies since the run started.
func (c *Controller) latency(ctx context.Context, ctl, exp string, from, to time.Time) (*LatencyComparison, error) {
	hc, thr, err := c.measure.Latency(ctx, ctl, from, to)
	if err != nil {
		return nil, err
	}
	he, _, err := c.measure.Latency(ctx, exp, from, to)
	if err != nil {
		return nil, err
	}
	return CompareLatency(hc, he, thr), nil
}

func (c *Controller) save(ctx context.Context, r *Run) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return c.store.PutState(ctx, runKeyPrefix+fmt.Sprintf("%012s", r.ID), b)
}

// Assignment is what a proxy is told to do: the run going on, with its
// cohorts and faults, or nothing (Run empty: inject nothing).
type Assignment struct {
	Run        string      `json:"run,omitempty"`
	Experiment string      `json:"experiment,omitempty"`
	Key        KeySource   `json:"key"`
	Salt       string      `json:"salt,omitempty"`
	Share      float64     `json:"share,omitempty"`
	Faults     []FaultSpec `json:"faults,omitempty"`
	SLOs       CohortNames `json:"slos"`
	// Paused asks the proxy to hold new requests (a dependency fails
	// over) until a later assignment says otherwise.
	Paused bool `json:"paused,omitempty"`
}

// CohortNames are the SLOs the proxy sends each cohort's requests to.
type CohortNames struct {
	Control    string `json:"control,omitempty"`
	Experiment string `json:"experiment,omitempty"`
}

// Assignment is the proxy's orders now.
func (c *Controller) Assignment(proxy string) Assignment {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := c.active[proxy]
	if r == nil {
		return Assignment{Paused: c.paused[proxy]}
	}
	d := c.defs[r.Experiment]
	a := Assignment{Paused: c.paused[proxy], Run: r.ID, Experiment: d.Name, Key: d.Cohort.Key, Salt: r.Salt, Share: d.Cohort.Share,
		SLOs: CohortNames{Control: CohortSLO(d.Name, Control), Experiment: CohortSLO(d.Name, Experiment)}}
	for _, f := range d.Faults {
		a.Faults = append(a.Faults, specOf(f))
	}
	return a
}

// SetPaused asks a proxy to hold new requests (true) or release them; the
// proxy follows at its next poll, within a quarter of a second.
func (c *Controller) SetPaused(proxy string, paused bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if paused {
		c.paused[proxy] = true
	} else {
		delete(c.paused, proxy)
	}
}

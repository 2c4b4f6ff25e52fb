// Package engine keeps every SLO's status current inside nines serve. It
// owns the set of SLO definitions, folds incoming rollups into the store
// and into one slo.Tracker per SLO, and answers status queries: the
// current window from the tracker's running sums, any other span by
// evaluating the stored rollups.
//
// The engine is the only writer of rollups in a server. It takes time from
// Config.Now, never from the wall clock directly, so tests drive it.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store"
)

// Errors the server maps to HTTP status codes.
var (
	// ErrUnknownSLO is returned for a name no loaded SLO has.
	ErrUnknownSLO = errors.New("unknown SLO")
	// ErrInvalid wraps input that can never be accepted (400).
	ErrInvalid = errors.New("invalid input")
)

// Config configures an Engine. Store is required; the rest have defaults.
type Config struct {
	Store store.Store
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// Logger receives operational messages; a discarding logger by default.
	Logger *slog.Logger
	// MaxLag is how far behind now a quantum may be and still be updated
	// (default 5 minutes). Older data is counted as late and reported.
	MaxLag time.Duration
	// MaxSkew is how far ahead of now data may be stamped, for clocks that
	// run fast (default 1 minute).
	MaxSkew time.Duration
	// Settle is how long after a quantum ends it is first judged (default
	// 1 minute): data that arrives shortly after its quantum closed (a
	// scrape interval, a batch) counts before the quantum is held to be
	// unmeasured, so statuses and burn rates do not flap at the edge.
	Settle time.Duration
	// RemoteWriteHold is how long after a quantum ends remote-write data
	// for it is awaited before its rollups are stored (default 30 s): the
	// buckets of one histogram may come in several requests.
	RemoteWriteHold time.Duration
	// ReplayQuiet is how long backfilling an SLO must pause before its
	// alerts are replayed over the history it changed (default 10 s), so
	// a backfill in many batches is replayed once; negative replays at
	// the next tick or read.
	ReplayQuiet time.Duration
	// OnTransition, when set, is told of every alert that fires or
	// resolves, in order, for notifiers. It is called with the SLO's lock
	// held, so it must not block or call back into the Engine: enqueue
	// and return.
	OnTransition func(s *slo.SLO, tr alert.Transition)
	// Role, when set, says whether this replica leads: only the leader
	// tells OnTransition, saves the alert state and takes metric samples
	// (replica.go). Feed, when set, brings in what other replicas commit.
	Role Role
	Feed Feed
}

func (c *Config) defaults() error {
	if c.Store == nil {
		return errors.New("engine: no store")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MaxLag == 0 {
		c.MaxLag = 5 * time.Minute
	}
	if c.MaxSkew == 0 {
		c.MaxSkew = time.Minute
	}
	if c.Settle == 0 {
		c.Settle = time.Minute
	}
	if c.RemoteWriteHold == 0 {
		c.RemoteWriteHold = 30 * time.Second
	}
	if c.ReplayQuiet == 0 {
		c.ReplayQuiet = 10 * time.Second
	}
	return nil
}

// Engine is safe for concurrent use.
type Engine struct {
	cfg Config

	mu   sync.RWMutex
	slos map[string]*entry
	// writes is held shared by every Append and exclusively while Load
	// rebuilds trackers from the store, so no batch lands in the store
	// between a tracker's rebuild and its taking over.
	writes sync.RWMutex

	lastTick atomic.Int64 // Unix ns of the last Tick
	// pastDayWrites counts the commits that stored rollups of a UTC day
	// before the commit's: backfills, imports, late data just after
	// midnight. Readers that cache past days (the UI) keep them while it
	// stands still.
	pastDayWrites atomic.Int64
	counters      Counters
	// collectors read metric series for the SLOs with a metric source,
	// one per protocol (see protocols); replaced with the SLO set, under mu.
	collectors map[string]*collector
	// health refuses commits at once while the store is failing (health.go).
	health storeHealth
	// alertSaveFailing is when saving the alert state began failing (Unix
	// ns), 0 while it works: the log says so once per outage.
	alertSaveFailing atomic.Int64
	// tookOver: TakeOver ran since this replica last stepped down
	// (replica.go).
	tookOver atomic.Bool
	// feed is the position in Config.Feed read up to (replica.go).
	feed struct {
		sync.Mutex
		at int64
	}
}

// entry is one loaded SLO with its run.
type entry struct {
	slo *slo.SLO
	// def is the SLO as one native spec document (spec.Convert): what the
	// store keeps, and how a reload tells a changed SLO from the same one
	// whatever file or format it came from.
	def []byte

	mu sync.Mutex
	// run is the SLO's tracker and alert state (see run).
	run *run
	// history holds recent transitions; historyDirty and stateDirty say
	// the history or the alert state has changes the store lacks, and
	// changes counts every such change, so a save that raced with one
	// does not clear it.
	history                  []alert.Transition
	historyDirty, stateDirty bool
	changes                  int64
	// notified is the firing set the notifiers were last told of, by
	// alert name: a step that is not live tells them nothing, and the next
	// live step tells them what changed since (see notify).
	notified map[string]alert.Alert
	// confirm asks the next live step to tell the notifiers again of the
	// alerts that were firing before a restart, so they keep holding them.
	confirm bool
	// pending holds what arrived for quanta the tracker has not reached
	// yet (not settled, or stamped a little ahead), merged per quantum,
	// until a step hands them over.
	pending map[int64]*slo.Rollup
	// explicitSince: the spec sets the start of the SLO's life; otherwise
	// it is the first quantum with data (lowered as earlier data arrives).
	explicitSince bool
	// latencyKept is the window's latencies as Status last read them
	// (keepLatency), under latencyMu, not mu: it is read and written
	// outside the SLO's lock.
	latencyMu   sync.Mutex
	latencyKept *hist.Histogram
	// replayFrom is the earliest quantum a backfill changed behind the
	// alerts' evaluation time (slo.NotStarted when none): the alerts are
	// replayed over the history once backfilling goes quiet, and not
	// evaluated live meanwhile. lastBackfill is when the last one came.
	replayFrom   int64
	lastBackfill time.Time
	// retired: a reload handed this entry's state to a new one; it is no
	// longer stepped, so no transition is decided (or told) twice.
	retired bool
	// feedFrom is the feed position its tracker was read from the store
	// at: later changes are folded in (replica.go).
	feedFrom int64
}

// handOver adds the pending rollups of quanta the tracker has reached.
// en.mu must be held.
func (en *entry) handOver(elapsed int64) {
	for start, r := range en.pending {
		if start < elapsed {
			en.run.tracker.Add(r)
			delete(en.pending, start)
		}
	}
}

// add folds r into the tracker, or keeps it pending when its quantum has
// not been reached. en.mu must be held.
//
// What is pending was stored already, and the store refuses a batch that
// would take a quantum's counts past 2^64−1 (store.ErrOverflow), so a
// part of a stored quantum fits too; should it not, the error wraps
// slo.ErrOverflow and the pending quantum keeps what it had rather than
// a count wrapped around.
func (en *entry) add(r *slo.Rollup) error {
	t := en.run.tracker
	if t.Add(r) || r.Start < t.Elapsed().UnixNano() {
		return nil
	}
	if en.pending == nil {
		en.pending = map[int64]*slo.Rollup{}
	}
	if p := en.pending[r.Start]; p != nil {
		return p.Merge(r)
	}
	var c slo.Rollup
	r.CopyTo(&c) // r may be an iterator's, which reuses its storage
	en.pending[r.Start] = &c
	return nil
}

// lowerSince moves the start of a life that follows the data to the
// earliest measured quantum of rs, when that is earlier. en.mu must be
// held, and rs must all be stored already.
func (en *entry) lowerSince(rs []*slo.Rollup) {
	if en.explicitSince {
		return
	}
	since := en.run.tracker.Since()
	for _, r := range rs {
		if r.Measured && r.Start < since {
			since = r.Start
		}
	}
	en.run.tracker.SetSince(since)
}

// PastDayWrites is a number that changes whenever rollups of a past UTC
// day are stored: what a cache of past days compares to know it is still
// right.
func (e *Engine) PastDayWrites() int64 { return e.pastDayWrites.Load() }

// Counters are the engine's own health figures for /metrics.
type Counters struct {
	// Events counts events taken over the events API, Samples metric
	// samples over remote write and OTLP, Rollups the quanta stored.
	Events, Samples, Rollups atomic.Int64
	// Rejected counts data not folded in, by reason.
	mu       sync.Mutex
	rejected map[string]int64
}

// Reject counts n units of data refused for reason.
func (c *Counters) Reject(reason string, n int64) {
	if n == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rejected == nil {
		c.rejected = map[string]int64{}
	}
	c.rejected[reason] += n
}

// Rejected returns a copy of the rejected counts by reason.
func (c *Counters) Rejected() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.rejected)
}

// New returns an engine with the SLO definitions kept in the store. Their
// trackers are rebuilt from the stored rollups, so a restart shows the same
// status it showed before.
func New(ctx context.Context, cfg Config) (*Engine, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, slos: map[string]*entry{}}
	if err := e.feedStart(ctx); err != nil {
		return nil, err
	}
	defs, err := cfg.Store.ListSLOs(ctx)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	files := map[string][]byte{}
	for _, d := range defs {
		files["stored/"+d.Name+".yaml"] = d.Def
	}
	if len(files) > 0 {
		if _, err := e.Load(ctx, files); err != nil {
			return nil, fmt.Errorf("engine: stored SLO definitions: %w", err)
		}
	}
	e.lastTick.Store(cfg.Now().UnixNano())
	return e, nil
}

// Counters returns the engine's health counters.
func (e *Engine) Counters() *Counters { return &e.counters }

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.cfg.Now() }

// EvalTime is the time statuses are evaluated at for s: the end of the
// last quantum that closed at least Settle ago.
func (e *Engine) EvalTime(s *slo.SLO, now time.Time) time.Time {
	return time.Unix(0, slo.QuantumStart(now.Add(-e.settle(s)).UnixNano(), s.Quantum)).UTC()
}

// settle is how long after a quantum of s ends it is first judged: the
// settle delay, and for an SLI fed by a probe's consensus the lateness
// limit before it. The consensus of a quantum is computed from the
// locations' results once they are final, and written once: judging it
// earlier would show a quantum no location had finished as unmeasured.
func (e *Engine) settle(s *slo.SLO) time.Duration {
	if finalWhenJudged(s) {
		return e.cfg.MaxLag + e.cfg.Settle
	}
	return e.cfg.Settle
}

// finalWhenJudged reports whether the quanta of s are written once, from
// inputs already final (a probe's consensus), so that they are judged
// late and final at once rather than settled and then final.
func finalWhenJudged(s *slo.SLO) bool { return s.SLI.Probe != nil }

// The states of a quantum's verdict.
const (
	// QuantumPending: the quantum is open, or closed less than the settle
	// delay ago; it is judged nowhere yet, and is never shown as bad.
	QuantumPending = "pending"
	// QuantumSettled: judged, but late data (up to the ingest max lag
	// after the quantum ends) may still change it.
	QuantumSettled = "settled"
	// QuantumFinal: judged, and only a backfill can change it.
	QuantumFinal = "final"
)

// Settled returns where the judged and the final quanta of s end at now
// (see QuantumState): quanta starting before judged have a verdict,
// those starting before final can change only by a backfill. settle and
// maxLag are the delays that set them.
func (e *Engine) Settled(s *slo.SLO, now time.Time) (judged, final time.Time, settle, maxLag time.Duration) {
	judged = e.EvalTime(s, now)
	if finalWhenJudged(s) {
		return judged, judged, e.settle(s), e.cfg.MaxLag
	}
	final = time.Unix(0, slo.QuantumStart(now.Add(-e.cfg.MaxLag).UnixNano(), s.Quantum)).UTC()
	return judged, final, e.cfg.Settle, e.cfg.MaxLag
}

// QuantumState says how final the verdict of the quantum of s that starts
// at start is at now.
func (e *Engine) QuantumState(s *slo.SLO, start, now time.Time) string {
	switch {
	case !start.Before(e.EvalTime(s, now)):
		return QuantumPending
	case !finalWhenJudged(s) && start.Add(s.Quantum).After(now.Add(-e.cfg.MaxLag)):
		return QuantumSettled
	}
	return QuantumFinal
}

// Load replaces the set of SLOs with those of files (name → spec text,
// native or OpenSLO, references resolved across the files). The set is
// validated first; on any error the old set stays and the error lists every
// problem. SLOs whose definition did not change keep their trackers; new and
// changed ones are rebuilt from the store.
func (e *Engine) Load(ctx context.Context, files map[string][]byte) ([]spec.Warning, error) {
	b, err := spec.LoadAllData(files)
	if err != nil {
		return b.Warnings, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	next := map[string]*entry{}
	for _, s := range b.SLOs {
		def, err := spec.Convert(spec.Native, s)
		if err != nil {
			return b.Warnings, fmt.Errorf("%w: SLO %s: %w", ErrInvalid, s.Name, err)
		}
		next[s.Name] = &entry{slo: s, def: def}
	}
	all := b.Warnings
	e.writes.Lock()
	defer e.writes.Unlock()
	now := e.cfg.Now()
	e.mu.RLock()
	old := e.slos
	e.mu.RUnlock()
	for name, en := range next {
		if !en.slo.Since.IsZero() && en.slo.Since.After(now) {
			return all, fmt.Errorf("%w: SLO %s: since %s is in the future (now %s): a life cannot start later than now; remove since: to start at the first data",
				ErrInvalid, name, en.slo.Since.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
		}
	}
	// An entry replaced by a new one is retired when its state is taken
	// over, so that no read steps it (and tells notifiers) twice; a
	// refused reload puts the old set back to work.
	committed := false
	defer func() {
		if !committed {
			for _, en := range old {
				en.mu.Lock()
				en.retired = false
				en.mu.Unlock()
			}
		}
	}()
	for _, name := range slices.Sorted(maps.Keys(next)) {
		en := next[name]
		prev := old[name]
		if prev != nil && string(prev.def) == string(en.def) {
			next[name] = prev
			continue
		}
		ws, err := e.judgeLineage(ctx, en.slo, now)
		all = append(all, ws...)
		if err != nil {
			return all, fmt.Errorf("SLO %s: %w", name, err)
		}
		if prev != nil && len(ws) == 0 && prev.slo.Since.Equal(en.slo.Since) && e.retarget(en, prev) {
			continue // judged again in memory: nothing to read
		}
		if err := e.rebuildHeld(ctx, en, prev, now); err != nil {
			return all, fmt.Errorf("SLO %s: %w", name, err)
		}
		if len(ws) > 0 && en.run.tracker.Since() != slo.NotStarted {
			// Its history was judged again: so are its alerts.
			en.replayFrom = en.run.tracker.Since()
		}
	}
	e.mu.RLock()
	prevCols := e.collectors
	e.mu.RUnlock()
	cols := map[string]*collector{}
	for _, p := range e.protocols() {
		col, err := e.newCollector(ctx, next, prevCols[p.name], p)
		if err != nil {
			return all, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		cols[p.name] = col
	}
	if err := e.persist(ctx, old, next, now); err != nil {
		return all, err
	}
	e.mu.Lock()
	e.slos, e.collectors = next, cols
	e.mu.Unlock()
	committed = true
	for name, en := range old {
		if next[name] != en {
			en.mu.Lock()
			en.retired = true
			en.mu.Unlock()
		}
	}
	return all, nil
}

// retarget gives en the run of prev judged again for en's SLO, when only
// what does not change an event's verdict's inputs changed (objective,
// method, noData, alerting, descriptions): no store read. It reports
// false when the tracker cannot be retargeted (see slo.Tracker.Retargeted).
func (e *Engine) retarget(en, prev *entry) bool {
	prev.mu.Lock()
	defer prev.mu.Unlock()
	t, ok := prev.run.tracker.Retargeted(en.slo, alert.Lookback(en.slo))
	if !ok {
		return false
	}
	en.run = &run{slo: en.slo, policy: alert.PolicyFor(en.slo), tracker: t, alerts: prev.run.alerts}
	en.explicitSince = !en.slo.Since.IsZero()
	en.history, en.notified = prev.history, prev.notified
	en.pending = maps.Clone(prev.pending)
	en.replayFrom, en.lastBackfill = prev.replayFrom, prev.lastBackfill
	en.feedFrom = prev.feedFrom
	prev.retired = true
	return true
}

// persist makes the store's definitions those of next.
func (e *Engine) persist(ctx context.Context, old, next map[string]*entry, now time.Time) error {
	for name, en := range next {
		if prev := old[name]; prev == en {
			continue
		}
		if err := e.cfg.Store.PutSLO(ctx, name, en.def, now); err != nil {
			return fmt.Errorf("storing SLO %s: %w", name, err)
		}
	}
	stored, err := e.cfg.Store.ListSLOs(ctx)
	if err != nil {
		return err
	}
	for _, d := range stored {
		if next[d.Name] == nil {
			if err := e.cfg.Store.DeleteSLO(ctx, d.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("removing SLO %s: %w", d.Name, err)
			}
			for _, key := range []string{historyKey(d.Name), lineageKey(d.Name)} {
				if _, err := e.cfg.Store.DeleteStatePrefix(ctx, key); err != nil {
					return fmt.Errorf("removing the alert history of SLO %s: %w", d.Name, err)
				}
			}
		}
	}
	return nil
}

// rebuild gives en a run at now from the stored rollups; those of quanta
// not settled yet become pending. The tracker looks back across the start
// of a calendar window as far as the SLO's longest alert window, so that
// burn rates early in a month see the end of the last one. When prev is
// the entry the SLO had before a reload, its alert state, history and
// notified set carry over; otherwise they come from the store, and the
// run starts where the stored alert state left off and catches up to
// now, quantum by quantum, as a replay does.
func (e *Engine) rebuild(ctx context.Context, en *entry, prev *entry, now time.Time) error {
	s := en.slo
	en.explicitSince = !s.Since.IsZero()
	since, err := e.lifeStart(ctx, s)
	if err != nil {
		return err
	}
	at := e.EvalTime(s, now)
	var saved alert.State
	replayFrom, lastBackfill := int64(slo.NotStarted), time.Time{}
	if prev != nil {
		prev.mu.Lock()
		saved, en.history, en.notified = prev.run.alerts, prev.history, prev.notified
		// A backfill under way still owes its replay.
		replayFrom, lastBackfill = prev.replayFrom, prev.lastBackfill
		prev.retired = true
		prev.mu.Unlock()
	} else {
		e.loadHistory(ctx, en)
		if saved, err = e.loadAlertState(ctx, s.Name); err != nil {
			e.cfg.Logger.Warn("reading alert state", "slo", s.Name, "err", err)
		}
		en.notified = firingSet(saved)
		en.confirm = len(saved.Alerts) > 0
	}
	start := at
	if c := saved.At; prev == nil && c.Before(at) && !c.Before(at.Add(-maxCatchUp)) && c.UnixNano()%int64(s.Quantum) == 0 {
		start = c
	}
	r, err := newRun(s, start, since)
	if err != nil {
		return err
	}
	r.alerts = saved
	en.run, en.pending, en.replayFrom, en.lastBackfill = r, nil, replayFrom, lastBackfill
	it := e.cfg.Store.Rollups(ctx, s.Name, s.Quantum, r.historyFrom().UnixNano(), now.Add(e.cfg.MaxSkew).UnixNano())
	defer it.Close()
	for it.Next() {
		if err := en.add(it.At()); err != nil {
			return fmt.Errorf("reading rollups: %w", err)
		}
	}
	if err := it.Err(); err != nil {
		return fmt.Errorf("reading rollups: %w", err)
	}
	return e.advance(en, at)
}

// maxCatchUp bounds how far back a restart resumes the alerts' evaluation
// to catch up quantum by quantum: past it, the alert state restored is
// carried to the present as it is.
const maxCatchUp = 3 * 24 * time.Hour

// lifeStart is the start of the life of s as the store knows it.
func (e *Engine) lifeStart(ctx context.Context, s *slo.SLO) (int64, error) {
	floor, err := StoredFloor(ctx, e.cfg.Store, s.Name)
	if err != nil {
		return 0, err
	}
	return StoredLifeStart(ctx, e.cfg.Store, s.Name, s, floor)
}

// SLOs returns the loaded SLOs sorted by name.
func (e *Engine) SLOs() []*slo.SLO {
	e.mu.RLock()
	defer e.mu.RUnlock()
	out := make([]*slo.SLO, 0, len(e.slos))
	for _, name := range slices.Sorted(maps.Keys(e.slos)) {
		out = append(out, e.slos[name].slo)
	}
	return out
}

// Definition returns the SLO as a native spec document.
func (e *Engine) Definition(name string) ([]byte, error) {
	en, err := e.entry(name)
	if err != nil {
		return nil, err
	}
	return en.def, nil
}

func (e *Engine) entry(name string) (*entry, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	en := e.slos[name]
	if en == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownSLO, name)
	}
	return en, nil
}

// SLO returns the loaded SLO called name.
func (e *Engine) SLO(name string) (*slo.SLO, error) {
	en, err := e.entry(name)
	if err != nil {
		return nil, err
	}
	return en.slo, nil
}

// Tick advances every SLO to now: quanta that closed without data
// become unmeasured, rolling windows slide, and the alerts are evaluated
// at every quantum that settled. The server calls it every few seconds;
// status reads advance their own SLO too. SLOs that a backfill changed
// behind their alerts have their alerts replayed once the backfill has
// gone quiet.
func (e *Engine) Tick(now time.Time) {
	e.mu.RLock()
	entries := slices.Collect(maps.Values(e.slos))
	e.mu.RUnlock()
	for _, en := range entries {
		e.replayIfDue(en, now)
		en.mu.Lock()
		if err := e.advance(en, e.EvalTime(en.slo, now)); err != nil {
			e.cfg.Logger.Error("advancing SLO", "slo", en.slo.Name, "err", err)
		}
		en.mu.Unlock()
	}
	if e.leading() {
		// A follower's alert state and collectors are the leader's to save.
		ctx := e.fenced(context.Background())
		e.flushMetrics(ctx, now)
		e.saveAlerts(ctx, entries)
	}
	e.lastTick.Store(now.UnixNano())
}

// LastTick is when the trackers were last advanced: the evaluation lag is
// the time since.
func (e *Engine) LastTick() time.Time { return time.Unix(0, e.lastTick.Load()) }

// AppendResult says what became of a batch.
type AppendResult struct {
	// Accepted counts the rollups stored; Late and Future those refused
	// because their quantum is too old to update or not yet begun.
	Accepted, Late, Future int
}

// Batch is rollups for any number of SLOs, and collector state, that are
// stored in one transaction: all or nothing. State commits with the
// rollups derived from it, so a counter's last value and the increase
// computed from it are never stored one without the other.
type Batch struct {
	// Source names where the data came from, for the ingest counters.
	Source string
	// Series holds the rollups by SLO name.
	Series map[string]*slo.Series
	// State is collector state to store, key → value.
	State map[string][]byte
	// Idempotency, when set, makes a retry of the batch count once
	// (idempotency.go).
	Idempotency *Idempotency
}

// Append stores the rollups of series for the SLO called name and folds
// them into its tracker. Rollups older than MaxLag or later than MaxSkew
// are refused and counted, the rest are stored in one transaction.
func (e *Engine) Append(ctx context.Context, name string, series *slo.Series, source string) (AppendResult, error) {
	res, err := e.Commit(ctx, &Batch{Source: source, Series: map[string]*slo.Series{name: series}})
	return res[name], err
}

// Backfill is Append without the lag limit: history loaded on purpose
// (an import, the demo's past day) updates quanta however old. The
// tracker takes what falls in its window.
func (e *Engine) Backfill(ctx context.Context, name string, series *slo.Series, source string) (AppendResult, error) {
	res, err := e.commit(ctx, &Batch{Source: source, Series: map[string]*slo.Series{name: series}}, -1)
	return res[name], err
}

// CommitBackfill is Commit without the lag limit, as Backfill is: a
// source that reads history on purpose (package pull catching up on an
// SLO's window) stores its rollups and its state in one transaction.
func (e *Engine) CommitBackfill(ctx context.Context, b *Batch) (map[string]AppendResult, error) {
	return e.commit(ctx, b, -1)
}

// Commit stores a batch as Append does, for several SLOs and with state,
// in one transaction.
func (e *Engine) Commit(ctx context.Context, b *Batch) (map[string]AppendResult, error) {
	return e.commit(ctx, b, e.cfg.MaxLag)
}

// commit stores b; maxLag < 0 accepts any age.
func (e *Engine) commit(ctx context.Context, b *Batch, maxLag time.Duration) (map[string]AppendResult, error) {
	e.writes.RLock()
	defer e.writes.RUnlock()
	return e.commitLocked(ctx, b, maxLag)
}

// commitLocked is commit for a caller that holds e.writes. Lock order:
// e.writes, then a collector's mutex, then an entry's.
func (e *Engine) commitLocked(ctx context.Context, b *Batch, maxLag time.Duration) (map[string]AppendResult, error) {
	now := e.cfg.Now()
	probe, err := e.health.admit()
	if err != nil {
		return nil, fmt.Errorf("storing %s batch: %w", b.Source, err)
	}
	type kept struct {
		en   *entry
		keep []*slo.Rollup
	}
	var todo []kept
	results := make(map[string]AppendResult, len(b.Series))
	var late, future int
	app := e.cfg.Store.Appender(ctx)
	fail := func(err error) (map[string]AppendResult, error) {
		app.Rollback()
		e.health.abandon(probe)
		return nil, err
	}
	for _, name := range slices.Sorted(maps.Keys(b.Series)) {
		series := b.Series[name]
		en, err := e.entry(name)
		if err != nil {
			return fail(err)
		}
		s := en.slo
		if series.Quantum != s.Quantum {
			return fail(fmt.Errorf("%w: rollups of %s quanta for SLO %s of %s quanta", ErrInvalid, series.Quantum, name, s.Quantum))
		}
		oldest := int64(math.MinInt64)
		if maxLag >= 0 {
			oldest = slo.QuantumStart(now.Add(-maxLag).UnixNano(), s.Quantum)
		}
		newest := now.Add(e.cfg.MaxSkew).UnixNano()
		var res AppendResult
		k := kept{en: en, keep: make([]*slo.Rollup, 0, len(series.Rollups))}
		for i := range series.Rollups {
			r := &series.Rollups[i]
			switch {
			case r.Start < oldest:
				res.Late++
				continue
			case r.Start > newest:
				res.Future++
				continue
			}
			if err := app.Append(s.Name, s.Quantum, r); err != nil {
				return fail(fmt.Errorf("SLO %s: %w", name, err))
			}
			k.keep = append(k.keep, r)
		}
		res.Accepted = len(k.keep)
		results[name] = res
		late, future = late+res.Late, future+res.Future
		todo = append(todo, k)
	}
	for _, key := range slices.Sorted(maps.Keys(b.State)) {
		if err := app.SetState(key, b.State[key]); err != nil {
			return fail(err)
		}
	}
	for reason, n := range map[string]int{"late": late, "future": future} {
		if n > 0 {
			if err := app.AddIngestStats(b.Source, reason, int64(n)); err != nil {
				return fail(err)
			}
		}
	}
	if err := idempotent(app, b.Idempotency, results, now); err != nil {
		return fail(err)
	}
	// A retry of a committed key fails here, before the trackers see it.
	err = app.Commit()
	e.health.done(probe, err, now)
	if err != nil {
		return nil, fmt.Errorf("storing %s batch: %w", b.Source, err)
	}
	today := now.UTC().Truncate(24 * time.Hour).UnixNano()
	for _, k := range todo {
		if slices.ContainsFunc(k.keep, func(r *slo.Rollup) bool { return r.Start < today }) {
			e.pastDayWrites.Add(1)
			break
		}
	}
	e.counters.Reject("late", int64(late))
	e.counters.Reject("future", int64(future))
	for _, k := range todo {
		e.counters.Rollups.Add(int64(len(k.keep)))
		en := k.en
		en.mu.Lock()
		err := e.advance(en, e.EvalTime(en.slo, now))
		en.lowerSince(k.keep)
		for _, r := range k.keep {
			if err := en.add(r); err != nil {
				// Stored already: the batch stands, the evaluation lacks it.
				e.cfg.Logger.Error("evaluating a stored quantum", "slo", en.slo.Name, "err", err)
			}
			if maxLag < 0 && r.Start < en.run.tracker.Elapsed().UnixNano() {
				// History changed in quanta the alerts were judged on (or
				// would have been, had there been data): replay them.
				en.replayFrom = min(en.replayFrom, r.Start)
			}
		}
		if maxLag < 0 && len(k.keep) > 0 {
			en.lastBackfill = now
		}
		en.mu.Unlock()
		if err != nil {
			// The batch is stored: answering with an error would have its
			// sender retry it and count it twice.
			e.cfg.Logger.Error("advancing SLO", "slo", en.slo.Name, "err", err)
		}
	}
	return results, nil
}

// advanced looks name up, locks its entry and advances its tracker to the
// evaluation time; the caller unlocks en.mu.
func (e *Engine) advanced(name string) (*entry, error) {
	en, err := e.entry(name)
	if err != nil {
		return nil, err
	}
	e.replayIfDue(en, e.cfg.Now())
	en.mu.Lock()
	if err := e.advance(en, e.EvalTime(en.slo, e.cfg.Now())); err != nil {
		en.mu.Unlock()
		return nil, err
	}
	return en, nil
}

// Summary is the SLO's current window from the tracker alone: counts,
// availability, budget and the exact inverse quantile, without latency
// quantiles or violation runs. It costs well under a microsecond, so lists
// and /metrics can show every SLO.
func (e *Engine) Summary(name string) (*slo.Result, error) {
	en, err := e.advanced(name)
	if err != nil {
		return nil, err
	}
	defer en.mu.Unlock()
	return en.run.tracker.Result(), nil
}

// Status is the SLO's current window at now, from the tracker, with the
// violation runs and the latency quantiles and histogram merged from the
// store.
func (e *Engine) Status(ctx context.Context, name string) (*slo.Result, error) {
	en, err := e.advanced(name)
	if err != nil {
		return nil, err
	}
	res := en.run.tracker.Result()
	res.Violations = en.run.tracker.Violations()
	en.mu.Unlock()
	h, err := e.latency(ctx, en.slo, res.Window.Start, res.At)
	switch {
	case err == nil:
		e.health.readOK()
		en.keepLatency(h)
	case errors.Is(err, store.ErrUnavailable) && en.lastLatency() != nil:
		// The counts come from memory; the latencies of the window are
		// the store's. Without it the answer is the last one known, and
		// StaleSince says so.
		e.health.readFailed(e.cfg.Now())
		e.cfg.Logger.Warn("status: the store cannot be read; answering with the latencies last read", "slo", name, "err", err)
		h = en.lastLatency()
	default:
		return nil, err
	}
	res.Latency.Histogram = *h
	res.Latency.Quantiles = quantiles(h)
	return res, nil
}

// StaleSince reports since when the store has failed the engine's
// writes or reads; meanwhile Status answers from memory, with the
// latencies it last read.
func (e *Engine) StaleSince() (time.Time, bool) { return e.health.staleSince(e.cfg.Now()) }

// keepLatency keeps a copy of h, the latencies of the SLO's window as
// last read, for Status to answer with while the store cannot be read.
func (en *entry) keepLatency(h *hist.Histogram) {
	en.latencyMu.Lock()
	defer en.latencyMu.Unlock()
	if en.latencyKept == nil {
		en.latencyKept = new(hist.Histogram)
	}
	h.CopyTo(en.latencyKept)
}

// lastLatency is a copy of what keepLatency kept, nil before.
func (en *entry) lastLatency() *hist.Histogram {
	en.latencyMu.Lock()
	defer en.latencyMu.Unlock()
	if en.latencyKept == nil {
		return nil
	}
	var h hist.Histogram
	en.latencyKept.CopyTo(&h)
	return &h
}

// Latency merges the latencies of the SLO called name over [from, to).
func (e *Engine) Latency(ctx context.Context, name string, from, to time.Time) (*hist.Histogram, error) {
	s, err := e.SLO(name)
	if err != nil {
		return nil, err
	}
	return e.latency(ctx, s, from, to)
}

// latency merges the latencies of [from, to): whole hours from the store's
// hourly histograms, the ragged edges from the per-quantum rollups.
func (e *Engine) latency(ctx context.Context, s *slo.SLO, from, to time.Time) (*hist.Histogram, error) {
	var h hist.Histogram
	f, t := from.UnixNano(), to.UnixNano()
	hourStart := slo.QuantumStart(f+int64(time.Hour)-1, time.Hour)
	hourEnd := slo.QuantumStart(t, time.Hour)
	if hourEnd <= hourStart || s.Quantum > time.Hour {
		return &h, e.mergeRollups(ctx, s, f, t, &h)
	}
	if err := e.mergeRollups(ctx, s, f, hourStart, &h); err != nil {
		return nil, err
	}
	it := e.cfg.Store.HourlyHistograms(ctx, s.Name, s.Quantum, hourStart, hourEnd)
	for it.Next() {
		_, hh := it.At()
		h.Merge(hh)
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return nil, err
	}
	return &h, e.mergeRollups(ctx, s, hourEnd, t, &h)
}

func (e *Engine) mergeRollups(ctx context.Context, s *slo.SLO, from, to int64, h *hist.Histogram) error {
	if to <= from {
		return nil
	}
	it := e.cfg.Store.Rollups(ctx, s.Name, s.Quantum, from, to)
	for it.Next() {
		h.Merge(&it.At().Latency)
	}
	return errors.Join(it.Err(), it.Close())
}

func quantiles(h *hist.Histogram) []slo.Quantile {
	if h.Count() == 0 {
		return nil
	}
	qs := make([]slo.Quantile, 0, len(slo.ReportedQuantiles))
	for _, q := range slo.ReportedQuantiles {
		qs = append(qs, slo.Quantile{Q: q, Seconds: h.Quantile(q)})
	}
	return qs
}

// Evaluate measures the SLO over any window from the stored rollups: the
// path for windows other than the SLO's own and for past times.
func (e *Engine) Evaluate(ctx context.Context, name string, w slo.Window, at time.Time) (*slo.Result, error) {
	s, err := e.SLO(name)
	if err != nil {
		return nil, err
	}
	series, err := e.load(ctx, name, w.Start, w.End)
	if err != nil {
		return nil, err
	}
	res, err := slo.Evaluate(s, series, w, at)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return res, nil
}

// Series returns the stored rollups of the SLO in [from, to).
func (e *Engine) Series(ctx context.Context, name string, from, to time.Time) (*slo.SLO, *slo.Series, error) {
	s, err := e.SLO(name)
	if err != nil {
		return nil, nil, err
	}
	series, err := e.load(ctx, name, from, to)
	return s, series, err
}

// load reads the stored rollups of the SLO called name in [from, to),
// with the start of its life.
func (e *Engine) load(ctx context.Context, name string, from, to time.Time) (*slo.Series, error) {
	en, err := e.entry(name)
	if err != nil {
		return nil, err
	}
	en.mu.Lock()
	since := en.run.tracker.Since()
	en.mu.Unlock()
	series, err := store.LoadSeries(ctx, e.cfg.Store, en.slo.Name, en.slo.Quantum, from.UnixNano(), to.UnixNano())
	if err != nil {
		return nil, err
	}
	series.Since = since
	return series, nil
}

// Since is the start of the life of the SLO called name (slo.Series.Since):
// its spec's since, or its first data; slo.NotStarted before any.
func (e *Engine) Since(name string) (time.Time, bool, error) {
	en, err := e.entry(name)
	if err != nil {
		return time.Time{}, false, err
	}
	en.mu.Lock()
	defer en.mu.Unlock()
	since := en.run.tracker.Since()
	if since == slo.NotStarted {
		return time.Time{}, false, nil
	}
	return time.Unix(0, since).UTC(), true, nil
}

// BurnRates returns the burn rate over each span ending now, from the
// tracker (spans longer than the elapsed window are clipped to it).
func (e *Engine) BurnRates(name string, spans []time.Duration) ([]float64, error) {
	en, err := e.advanced(name)
	if err != nil {
		return nil, err
	}
	defer en.mu.Unlock()
	rates := make([]float64, len(spans))
	for i, span := range spans {
		rates[i] = en.run.tracker.BurnRate(span)
	}
	return rates, nil
}

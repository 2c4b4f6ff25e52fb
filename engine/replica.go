package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// Several nines serve on one database (docs/replicas.md): every replica
// takes events and rollups and folds in what the others committed (the
// feed); one, the leader, tells the notifiers, saves the alert state and
// takes metric samples, whose counter baselines one collector holds.

// Role says whether this engine's replica leads; leader.Elector
// satisfies it. Without one (a process alone on its store, as on SQLite)
// the engine leads from the start, with nothing to take over.
type Role interface {
	Leading() bool
	// Holder is this replica's name in the lease: the leader's own writes
	// (metric collectors, alert state) carry it (store.WithLease), so
	// that the store refuses them once another replica leads.
	Holder() string
}

// Feed is the store's record of the rollups each replica appends, read
// by the others; store/postgres provides it.
type Feed interface {
	// HoldFeed keeps every replica's commits of rollups out until release
	// is called, and returns the feed's position at that moment: a
	// tracker read from the store meanwhile holds exactly the changes up
	// to it.
	HoldFeed(ctx context.Context) (head int64, release func(), err error)
	// Changes calls fn with each rollup other replicas appended after
	// position after, in commit order, and returns the position reached;
	// complete is false when some were pruned before this replica read
	// them. fn may keep r.
	Changes(ctx context.Context, after int64, fn func(seq int64, sli string, quantum time.Duration, r *slo.Rollup) error) (next int64, complete bool, err error)
}

// ErrFollower refuses metric samples on a replica that does not lead:
// the baselines of counters are the leader's, and a sender retries a
// 503, which a load balancer sends on to another replica.
var ErrFollower = fmt.Errorf("%w: this nines replica follows; metric samples (remote write, OTLP) are taken by the leader, so that every counter's increase is counted once: retry, or route them to the leader (docs/replicas.md)", store.ErrUnavailable)

// leading reports whether this replica leads: its role says so and it
// has taken over what the last leader left (TakeOver). Between winning
// the lease and the end of TakeOver it does not act as the leader: a
// collector of its own start would record samples over the last
// leader's records.
func (e *Engine) leading() bool {
	return e.cfg.Role == nil || e.cfg.Role.Leading() && e.tookOver.Load()
}

// fenced marks ctx's writes as the leader's (store.WithLease).
func (e *Engine) fenced(ctx context.Context) context.Context {
	if e.cfg.Role == nil {
		return ctx
	}
	return store.WithLease(ctx, e.cfg.Role.Holder())
}

// holdsLease reports whether this replica's role says it leads, taken
// over or not: TakeOver reads as the leader.
func (e *Engine) holdsLease() bool { return e.cfg.Role == nil || e.cfg.Role.Leading() }

// StepDown is told that this replica no longer leads: the next lease it
// wins, it takes over again from what the leader of the meantime left.
func (e *Engine) StepDown() { e.tookOver.Store(false) }

// feedStart reads the feed's position before the trackers are read, so
// that nothing committed after is missed.
func (e *Engine) feedStart(ctx context.Context) error {
	if e.cfg.Feed == nil {
		return nil
	}
	head, release, err := e.cfg.Feed.HoldFeed(ctx)
	if err != nil {
		return fmt.Errorf("engine: change feed: %w", err)
	}
	release()
	e.feed.Lock()
	e.feed.at = head
	e.feed.Unlock()
	return nil
}

// rebuildHeld is rebuild holding the feed, so that en's tracker holds
// exactly the changes up to the position it records.
func (e *Engine) rebuildHeld(ctx context.Context, en, prev *entry, now time.Time) error {
	if e.cfg.Feed == nil {
		return e.rebuild(ctx, en, prev, now)
	}
	head, release, err := e.cfg.Feed.HoldFeed(ctx)
	if err != nil {
		return fmt.Errorf("change feed: %w", err)
	}
	defer release()
	if err := e.rebuild(ctx, en, prev, now); err != nil {
		return err
	}
	en.feedFrom = head
	return nil
}

// Follow folds into the trackers the rollups other replicas committed
// since the last call; nines serve calls it every second. Reads on this
// replica then agree with the others' within that interval and the time
// a commit takes.
func (e *Engine) Follow(ctx context.Context) error {
	if e.cfg.Feed == nil {
		return nil
	}
	complete, err := e.follow(ctx)
	if err != nil || complete {
		return err
	}
	e.cfg.Logger.Warn("change feed: changes this replica had not read were pruned; reading every tracker from the store again")
	return e.resync(ctx)
}

func (e *Engine) follow(ctx context.Context) (bool, error) {
	e.writes.RLock()
	defer e.writes.RUnlock()
	e.feed.Lock()
	defer e.feed.Unlock()
	now := e.cfg.Now()
	today := now.UTC().Truncate(24 * time.Hour).UnixNano()
	pastDay := false
	next, complete, err := e.cfg.Feed.Changes(ctx, e.feed.at, func(seq int64, sli string, quantum time.Duration, r *slo.Rollup) error {
		e.mu.RLock()
		en := e.slos[sli]
		e.mu.RUnlock()
		if en == nil || en.slo.Quantum != quantum {
			return nil // an SLO this replica does not load (yet): read from the store when it does
		}
		en.mu.Lock()
		defer en.mu.Unlock()
		if seq <= en.feedFrom {
			return nil // read from the store with its tracker
		}
		if err := e.advance(en, e.EvalTime(en.slo, now)); err != nil {
			e.cfg.Logger.Error("advancing SLO", "slo", en.slo.Name, "err", err)
		}
		en.lowerSince([]*slo.Rollup{r})
		if err := en.add(r); err != nil {
			e.cfg.Logger.Error("evaluating a quantum another replica stored", "slo", en.slo.Name, "err", err)
		}
		// Not in this replica's ingest counters: the replica that stored
		// it counts it, so that a sum over replicas counts it once.
		pastDay = pastDay || r.Start < today
		return nil
	})
	if pastDay {
		e.pastDayWrites.Add(1)
	}
	if err != nil {
		return true, fmt.Errorf("engine: change feed: %w", err)
	}
	if complete {
		e.feed.at = next
	}
	return complete, nil
}

// resync reads every tracker from the store again, as at start, for a
// replica that missed changes.
func (e *Engine) resync(ctx context.Context) error {
	e.writes.Lock()
	defer e.writes.Unlock()
	if err := e.feedStart(ctx); err != nil {
		return err
	}
	now := e.cfg.Now()
	e.mu.RLock()
	old := e.slos
	e.mu.RUnlock()
	next := make(map[string]*entry, len(old))
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(old)) {
		prev := old[name]
		en := &entry{slo: prev.slo, def: prev.def}
		if err := e.rebuildHeld(ctx, en, prev, now); err != nil {
			errs = append(errs, fmt.Errorf("SLO %s: %w", name, err))
			prev.mu.Lock()
			prev.retired = false
			prev.mu.Unlock()
			next[name] = prev
			continue
		}
		next[name] = en
	}
	e.mu.Lock()
	e.slos = next
	e.mu.Unlock()
	return errors.Join(errs...)
}

// TakeOver prepares this replica to lead; nines serve calls it when the
// lease is won. The notifiers are told again of what the last leader
// saved as firing, and of what fired or resolved since (the next live
// step compares), so that no alert is lost or left firing across the
// change of leader; the metric collectors are read from the store,
// where the last leader recorded every sample it acknowledged.
func (e *Engine) TakeOver(ctx context.Context) error {
	e.writes.Lock()
	defer e.writes.Unlock()
	e.mu.RLock()
	slos := e.slos
	e.mu.RUnlock()
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(slos)) {
		en := slos[name]
		saved, err := e.loadAlertState(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("SLO %s: %w", name, err))
		}
		en.mu.Lock()
		en.notified = firingSet(saved)
		en.confirm = len(saved.Alerts) > 0
		// What this replica recorded while following goes to the store at
		// the next save.
		en.stateDirty, en.historyDirty = true, true
		en.changes++
		en.mu.Unlock()
	}
	cols := map[string]*collector{}
	for _, p := range e.protocols() {
		col, err := e.newCollector(ctx, slos, nil, p)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("engine: metric collector %s: %w", p.name, err))...)
		}
		cols[p.name] = col
	}
	e.mu.Lock()
	e.collectors = cols
	e.mu.Unlock()
	e.tookOver.Store(true)
	return errors.Join(errs...)
}

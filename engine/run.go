package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// run is the evaluation of one SLO through time: its tracker and its
// alert state, stepped one quantum at a time. It is the one evaluator of
// nines: nines serve keeps a run per SLO and steps it as quanta settle,
// and a replay (nines replay, a backfill) makes a run of its own and
// steps it over history. The same rollups in the same quanta therefore
// give the same statuses, burn rates and alert transitions live and
// offline. A run is not safe for concurrent use.
type run struct {
	slo     *slo.SLO
	policy  alert.Policy
	tracker *slo.Tracker
	alerts  alert.State
}

// newRun returns a run of s whose tracker stands at the evaluation time
// at, counting the SLO's life from since (slo.Series.Since). Its alert
// state is empty: nothing fires yet.
func newRun(s *slo.SLO, at time.Time, since int64) (*run, error) {
	t, err := slo.NewTrackerLookback(s, at, alert.Lookback(s))
	if err != nil {
		return nil, err
	}
	t.SetSince(since)
	return &run{slo: s, policy: alert.PolicyFor(s), tracker: t}, nil
}

// historyFrom is where a run at its current time needs rollups from: the
// start of its window, or for a calendar window as far before it as the
// alerts look back. It opens that history in the tracker.
func (r *run) historyFrom() time.Time {
	from := r.tracker.Window().Start
	if r.slo.Window.Calendar != slo.NotCalendar {
		from = from.Add(-alert.Lookback(r.slo))
		r.tracker.OpenHistory(from)
	}
	return from
}

// step moves the run to the end of a later quantum, b: the tracker
// advances to b and feed adds what is known of the quanta before b (the
// rollups that arrived or, in a replay, the next ones of history). The
// evaluator steps one quantum at a time; a longer step skips the alerts'
// evaluation of the quanta in between.
func (r *run) step(b time.Time, feed func(elapsed int64)) error {
	if err := r.tracker.AdvanceTo(b); err != nil {
		return err
	}
	feed(r.tracker.Elapsed().UnixNano())
	return nil
}

// evaluate runs the alert policy at the tracker's time. Transitions come
// back marked Replayed unless live.
func (r *run) evaluate(live bool) ([]alert.Transition, error) {
	st, trs, err := alert.Evaluate(r.policy, alert.TrackerSource{Tracker: r.tracker, SLO: r.slo}, r.alerts, r.tracker.Elapsed())
	if err != nil {
		return nil, err
	}
	r.alerts = st
	for i := range trs {
		trs[i].Replayed = !live
	}
	return trs, nil
}

// ReplayOptions says what a replay covers.
type ReplayOptions struct {
	// Key names the SLO's rollups in the store (the SLO's name in nines
	// serve's store).
	Key string
	// Since is the start of the SLO's life (slo.Series.Since; slo.LifeStart
	// finds it for a whole history). The replay starts there, or at From.
	Since int64
	// From and To bound the evaluation times replayed, (From, To]: every
	// quantum's end in between is one step. From defaults to the start of
	// the life, To is required.
	From, To time.Time
	// Step, when set, is called after every step with the tracker and the
	// alert state at that time and the step's transitions. It must not
	// keep the tracker.
	Step func(at time.Time, t *slo.Tracker, st alert.State, trs []alert.Transition)
}

// RollupSource is what a replay reads: the Rollups of store.Querier, so
// a store serves, and SeriesSource adapts a file's series.
type RollupSource interface {
	Rollups(ctx context.Context, sli string, quantum time.Duration, from, to int64) store.RollupIterator
}

// SeriesSource serves the rollups of one series, whatever the key.
func SeriesSource(s *slo.Series) RollupSource { return seriesSource{s} }

type seriesSource struct{ s *slo.Series }

func (ss seriesSource) Rollups(_ context.Context, _ string, quantum time.Duration, from, to int64) store.RollupIterator {
	if quantum != ss.s.Quantum {
		return store.ErrRollups(fmt.Errorf("%w: series of %s quanta, asked for %s", slo.ErrQuantumMismatch, ss.s.Quantum, quantum))
	}
	return &sliceIter{rs: ss.s.Range(from, to)}
}

// sliceIter walks rollups held in memory.
type sliceIter struct {
	rs  []slo.Rollup
	cur *slo.Rollup
}

func (it *sliceIter) Next() bool {
	if len(it.rs) == 0 {
		it.cur = nil
		return false
	}
	it.cur, it.rs = &it.rs[0], it.rs[1:]
	return true
}
func (it *sliceIter) At() *slo.Rollup { return it.cur }
func (it *sliceIter) Err() error      { return nil }
func (it *sliceIter) Close() error    { return nil }

// StoredLifeStart is the start of the life of s in what q holds: the
// spec's explicit since, or the first measured quantum, or
// slo.NotStarted; never before floor, where a restart of its history put
// the start of the current one (StoredFloor; math.MinInt64 for none).
// nines serve and nines replay --data agree on it.
func StoredLifeStart(ctx context.Context, q RollupSource, key string, s *slo.SLO, floor int64) (int64, error) {
	if !s.Since.IsZero() {
		return max(slo.QuantumStart(s.Since.UnixNano(), s.Quantum), floor), nil
	}
	it := q.Rollups(ctx, key, s.Quantum, floor, math.MaxInt64)
	defer it.Close()
	for it.Next() {
		if r := it.At(); r.Measured {
			return r.Start, nil
		}
	}
	if err := it.Err(); err != nil {
		return 0, fmt.Errorf("reading the first rollup: %w", err)
	}
	return slo.NotStarted, nil
}

// Replay runs the evaluator of nines serve over the history q holds for
// s, one quantum at a time, as if every rollup had arrived just before
// its quantum settled, and returns every alert transition, each marked
// Replayed, and the alert state at the end.
func Replay(ctx context.Context, s *slo.SLO, q RollupSource, opt ReplayOptions) ([]alert.Transition, alert.State, error) {
	if opt.Since == slo.NotStarted && opt.From.IsZero() {
		return nil, alert.State{}, fmt.Errorf("%w: replay of SLO %s: no data and no start: nothing to replay", ErrInvalid, s.Name)
	}
	from := opt.From
	if from.IsZero() {
		from = time.Unix(0, opt.Since).UTC()
	}
	from = time.Unix(0, slo.QuantumStart(from.UnixNano(), s.Quantum)).UTC()
	to := time.Unix(0, slo.QuantumStart(opt.To.UnixNano(), s.Quantum)).UTC()
	if !from.Before(to) {
		return nil, alert.State{}, fmt.Errorf("%w: replay of SLO %s: from %s is not before to %s", ErrInvalid, s.Name, from.Format(time.RFC3339), to.Format(time.RFC3339))
	}
	r, err := newRun(s, from, opt.Since)
	if err != nil {
		return nil, alert.State{}, err
	}
	it := q.Rollups(ctx, opt.Key, s.Quantum, r.historyFrom().UnixNano(), to.UnixNano())
	defer it.Close()
	f := feeder{it: it, t: r.tracker}
	f.feed(from.UnixNano())
	var out []alert.Transition
	for b := from.Add(s.Quantum); !b.After(to); b = b.Add(s.Quantum) {
		err := r.step(b, f.feed)
		var trs []alert.Transition
		if err == nil {
			trs, err = r.evaluate(false)
		}
		if err != nil {
			return nil, alert.State{}, fmt.Errorf("replay of SLO %s at %s: %w", s.Name, b.Format(time.RFC3339), err)
		}
		out = append(out, trs...)
		if opt.Step != nil {
			opt.Step(b, r.tracker, r.alerts, trs)
		}
		if ctx.Err() != nil {
			return nil, alert.State{}, ctx.Err()
		}
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return nil, alert.State{}, fmt.Errorf("replay of SLO %s: reading rollups: %w", s.Name, err)
	}
	return out, r.alerts, nil
}

// feeder hands a tracker the rollups of an iterator in order, each once
// its quantum has elapsed.
type feeder struct {
	it   store.RollupIterator
	t    *slo.Tracker
	next *slo.Rollup
	done bool
}

// feed adds every rollup of a quantum starting before elapsed.
func (f *feeder) feed(elapsed int64) {
	for {
		if f.next == nil && !f.done {
			if f.it.Next() {
				f.next = f.it.At()
			} else {
				f.done = true
			}
		}
		if f.next == nil || f.next.Start >= elapsed {
			return
		}
		f.t.Update(f.next)
		f.next = nil
	}
}

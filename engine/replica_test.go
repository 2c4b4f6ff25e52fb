package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
)

// change is one rollup another replica committed.
type change struct {
	seq int64
	sli string
	r   slo.Rollup
}

// fakeFeed is the change feed as other replicas fill it.
type fakeFeed struct {
	mu         sync.Mutex
	head       int64 // HoldFeed's answer
	changes    []change
	incomplete bool
}

func (f *fakeFeed) HoldFeed(context.Context) (int64, func(), error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.head, func() {}, nil
}

func (f *fakeFeed) Changes(_ context.Context, after int64, fn func(int64, string, time.Duration, *slo.Rollup) error) (int64, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.incomplete {
		f.incomplete = false
		return after, false, nil
	}
	next := after
	for _, c := range f.changes {
		if c.seq > after {
			r := c.r
			if err := fn(c.seq, c.sli, time.Minute, &r); err != nil {
				return next, true, err
			}
			next = c.seq
		}
	}
	return next, true, nil
}

func (f *fakeFeed) add(seq int64, start time.Time, attempted, good uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes = append(f.changes, change{seq, "api", slo.Rollup{Start: start.UnixNano(), Attempted: attempted, Good: good, Errors: attempted - good, Measured: true}})
}

// follower is a settable role.
type follower struct{ leading bool }

func (f *follower) Leading() bool  { return f.leading }
func (f *follower) Holder() string { return "test" }

func TestFollowingOtherReplicas(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	settled := now.Truncate(time.Minute).Add(-3 * time.Minute)
	newEngine := func(t *testing.T, feed *fakeFeed, role Role) (*Engine, *sqlite.DB) {
		t.Helper()
		db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		e, err := New(ctx, Config{Store: db, Now: func() time.Time { return now }, Feed: feed, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(apiSpec)}); err != nil {
			t.Fatal(err)
		}
		return e, db
	}
	total := func(t *testing.T, e *Engine) uint64 {
		t.Helper()
		res, err := e.Summary("api")
		if err != nil {
			t.Fatal(err)
		}
		return res.Events.Total
	}
	t.Run("What other replicas commit is folded in once, however often the feed is read.", func(t *testing.T) {
		feed := &fakeFeed{}
		e, _ := newEngine(t, feed, nil)
		feed.add(1, settled, 100, 90)
		feed.add(2, settled.Add(time.Minute), 50, 50)
		for range 3 {
			if err := e.Follow(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := total(t, e); got != 150 {
			t.Errorf("%d events, want 150", got)
		}
	})
	t.Run("Changes a tracker was read from the store with are not counted again.", func(t *testing.T) {
		feed := &fakeFeed{head: 5}
		e, _ := newEngine(t, feed, nil)
		feed.add(4, settled, 1000, 1000) // committed before the tracker was read: in the store
		feed.add(6, settled, 7, 7)
		if err := e.Follow(ctx); err != nil {
			t.Fatal(err)
		}
		if got := total(t, e); got != 7 {
			t.Errorf("%d events, want only the 7 committed after the read", got)
		}
	})
	t.Run("A replica that missed pruned changes reads its trackers from the store again.", func(t *testing.T) {
		feed := &fakeFeed{}
		e, db := newEngine(t, feed, nil)
		app := db.Appender(ctx)
		if err := app.Append("api", time.Minute, &slo.Rollup{Start: settled.UnixNano(), Attempted: 40, Good: 40, Measured: true}); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		feed.incomplete = true
		if err := e.Follow(ctx); err != nil {
			t.Fatal(err)
		}
		if got := total(t, e); got != 40 {
			t.Errorf("%d events after the resync, want the 40 stored", got)
		}
	})
	t.Run("A follower refuses metric samples as unavailable, so that senders retry at the leader.", func(t *testing.T) {
		e, _ := newEngine(t, &fakeFeed{}, &follower{})
		_, err := e.IngestMetrics(ctx, "remote-write", nil)
		if !errors.Is(err, ErrFollower) || !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("IngestMetrics on a follower: %v", err)
		}
	})
}

func TestOnlyTheLeaderTellsNotifiers(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	clock := func() time.Time { return now }
	spec := `name: quiet
service: quiet
sli: {good: {ok: true}}
objective: 99
window: {rolling: 1h}
since: 2026-11-25T09:00:00Z
alerting: {noData: {after: 10m, severity: page}}
`
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type told struct {
		replica string
		tr      alert.Transition
	}
	var mu sync.Mutex
	var calls []told
	engineOf := func(name string, role Role) *Engine {
		e, err := New(ctx, Config{Store: db, Now: clock, Role: role, OnTransition: func(_ *slo.SLO, tr alert.Transition) {
			mu.Lock()
			calls = append(calls, told{name, tr})
			mu.Unlock()
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Load(ctx, map[string][]byte{"quiet.yaml": []byte(spec)}); err != nil {
			t.Fatal(err)
		}
		return e
	}
	a := engineOf("a", &follower{leading: true})
	if err := a.TakeOver(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute) // the first quantum stepped live
	a.Tick(now)
	if len(calls) != 1 || calls[0].replica != "a" || calls[0].tr.Kind != alert.Fire {
		t.Fatalf("the leader told %+v, want one fire", calls)
	}
	t.Run("A replica that won the lease acts as the leader only once it took over.", func(t *testing.T) {
		e := engineOf("c", &follower{leading: true})
		if _, err := e.IngestMetrics(ctx, "remote-write", nil); !errors.Is(err, ErrFollower) {
			t.Errorf("metric samples before the take-over: %v", err)
		}
		if err := e.TakeOver(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := e.IngestMetrics(ctx, "remote-write", nil); errors.Is(err, ErrFollower) {
			t.Errorf("metric samples after the take-over: %v", err)
		}
		e.StepDown()
		if _, err := e.IngestMetrics(ctx, "remote-write", nil); !errors.Is(err, ErrFollower) {
			t.Errorf("metric samples after stepping down: %v", err)
		}
	})
	role := &follower{}
	b := engineOf("b", role)
	now = now.Add(time.Minute)
	b.Tick(now)
	if len(calls) != 1 {
		t.Fatalf("a follower told the notifiers: %+v", calls[1:])
	}
	if st, _, err := b.Alerts("quiet"); err != nil || len(st.Alerts) != 1 {
		t.Fatalf("the follower's own view: %+v, %v; want the alert firing", st, err)
	}
	// a dies; b leads and tells the notifiers again of what a said fires,
	// with its first start, so that they keep it rather than open another.
	role.leading = true
	if err := b.TakeOver(ctx); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	b.Tick(now)
	if len(calls) != 2 || calls[1].replica != "b" || calls[1].tr.Kind != alert.Fire || !calls[1].tr.Since.Equal(calls[0].tr.Since) {
		t.Fatalf("after the take-over: %+v, want b to confirm a's alert with its start", calls)
	}
}

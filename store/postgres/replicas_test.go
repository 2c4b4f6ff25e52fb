package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/internal/pgtest"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

func TestLease(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	t.Run("Of two contenders the first holds the lease and renews it; the other sees it held.", func(t *testing.T) {
		if got, err := a.AcquireLease(ctx, "a", time.Minute); err != nil || got != "a" {
			t.Fatalf("a: %q, %v; want a", got, err)
		}
		if got, err := b.AcquireLease(ctx, "b", time.Minute); err != nil || got != "a" {
			t.Fatalf("b: %q, %v; want a still", got, err)
		}
		if got, err := a.AcquireLease(ctx, "a", time.Minute); err != nil || got != "a" {
			t.Fatalf("a renewing: %q, %v", got, err)
		}
	})
	t.Run("A released lease goes to the next contender at once.", func(t *testing.T) {
		if err := a.ReleaseLease(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if got, err := b.AcquireLease(ctx, "b", 1100*time.Millisecond); err != nil || got != "b" {
			t.Fatalf("b: %q, %v; want b", got, err)
		}
	})
	t.Run("An expired lease goes to the next contender, never before.", func(t *testing.T) {
		if got, _ := a.AcquireLease(ctx, "a", time.Minute); got != "b" {
			t.Fatalf("a got %q while b's lease runs", got)
		}
		time.Sleep(1200 * time.Millisecond)
		if got, err := a.AcquireLease(ctx, "a", time.Minute); err != nil || got != "a" {
			t.Fatalf("a after b's lease expired: %q, %v", got, err)
		}
	})
}

func TestLeaderWritesAreFenced(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).UnixNano()
	write := func(db *DB, holder string) error {
		app := db.Appender(store.WithLease(ctx, holder))
		if err := app.Append("api", time.Minute, &slo.Rollup{Start: start, Attempted: 1, Good: 1, Measured: true}); err != nil {
			t.Fatal(err)
		}
		if err := app.SetState("collector/x", []byte("1")); err != nil {
			t.Fatal(err)
		}
		return app.Commit()
	}
	count := func() uint64 {
		t.Helper()
		it := b.Rollups(ctx, "api", time.Minute, start, start+1)
		defer it.Close()
		if !it.Next() {
			return 0
		}
		return it.At().Attempted
	}
	if got, err := a.AcquireLease(ctx, "a", 1500*time.Millisecond); err != nil || got != "a" {
		t.Fatalf("a: %q, %v", got, err)
	}
	t.Run("The holder's write commits.", func(t *testing.T) {
		if err := write(a, "a"); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Errorf("stored %d, want 1", n)
		}
	})
	t.Run("A write marked with another replica's name is refused whole.", func(t *testing.T) {
		if err := write(b, "b"); !errors.Is(err, store.ErrLeaseLost) || !errors.Is(err, store.ErrUnavailable) {
			t.Errorf("err %v, want ErrLeaseLost (an ErrUnavailable)", err)
		}
		if n := count(); n != 1 {
			t.Errorf("stored %d, want 1 still", n)
		}
	})
	t.Run("Once the lease expired, the old holder's writes are refused, before anyone took it.", func(t *testing.T) {
		time.Sleep(1600 * time.Millisecond)
		if err := write(a, "a"); !errors.Is(err, store.ErrLeaseLost) {
			t.Errorf("err %v, want ErrLeaseLost", err)
		}
	})
	t.Run("A write in flight holds the lease: the take-over waits for its commit.", func(t *testing.T) {
		if got, err := a.AcquireLease(ctx, "a", time.Second); err != nil || got != "a" {
			t.Fatalf("a: %q, %v", got, err)
		}
		tx, err := a.pool.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx)
		if err := checkLease(store.WithLease(ctx, "a"), tx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1100 * time.Millisecond) // expired, but held
		took := make(chan string, 1)
		go func() {
			got, _ := b.AcquireLease(ctx, "b", time.Minute)
			took <- got
		}()
		select {
		case got := <-took:
			t.Fatalf("the lease went to %q while a's write was in flight", got)
		case <-time.After(300 * time.Millisecond):
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if got := <-took; got != "b" {
			t.Errorf("after the commit the lease went to %q, want b", got)
		}
	})
}

func TestChangeFeed(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	a.SetOrigin("a")
	b.SetOrigin("b")
	q := time.Minute
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).UnixNano()
	appendGood := func(db *DB, n uint64) {
		t.Helper()
		app := db.Appender(ctx)
		if err := app.Append("api", q, &slo.Rollup{Start: start, Attempted: n, Good: n, Measured: true}); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	appendGood(a, 3)
	appendGood(b, 5)
	appendGood(a, 7)
	t.Run("A replica reads what the others appended, in commit order, not its own.", func(t *testing.T) {
		var got []uint64
		next, complete, err := b.Changes(ctx, 0, func(_ int64, sli string, qq time.Duration, r *slo.Rollup) error {
			if sli != "api" || qq != q || r.Start != start {
				t.Errorf("change of %s/%s@%d", sli, qq, r.Start)
			}
			got = append(got, r.Attempted)
			return nil
		})
		if err != nil || !complete {
			t.Fatalf("Changes: %v, complete %v", err, complete)
		}
		if len(got) != 2 || got[0] != 3 || got[1] != 7 {
			t.Errorf("b read %v: want a's 3 and 7", got)
		}
		n := 0
		if _, _, err := b.Changes(ctx, next, func(int64, string, time.Duration, *slo.Rollup) error { n++; return nil }); err != nil || n != 0 {
			t.Errorf("read again from %d: %d changes, %v; want none", next, n, err)
		}
	})
	t.Run("A hold keeps every replica's commits out until released, and names the head.", func(t *testing.T) {
		head, release, err := a.HoldFeed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		done := make(chan struct{})
		wg.Go(func() { appendGood(b, 11); close(done) })
		select {
		case <-done:
			t.Error("b committed during the hold")
		case <-time.After(300 * time.Millisecond):
		}
		release()
		wg.Wait()
		var got []uint64
		if _, _, err := a.Changes(ctx, head, func(_ int64, _ string, _ time.Duration, r *slo.Rollup) error {
			got = append(got, r.Attempted)
			return nil
		}); err != nil || len(got) != 1 || got[0] != 11 {
			t.Errorf("after the head a read %v, %v: want b's 11 alone", got, err)
		}
	})
	t.Run("A replica behind what was pruned is told its view is incomplete.", func(t *testing.T) {
		if _, err := a.PruneChanges(ctx, -time.Hour); err != nil {
			t.Fatal(err)
		}
		_, complete, err := b.Changes(ctx, 0, func(int64, string, time.Duration, *slo.Rollup) error { return nil })
		if err != nil || complete {
			t.Errorf("Changes from 0 after pruning: complete %v, %v; want incomplete", complete, err)
		}
	})
}

func TestClaimState(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	a, b := open(t, url), open(t, url)
	if err := a.PutState(ctx, "notify/outbox/1", []byte("x")); err != nil {
		t.Fatal(err)
	}
	t.Run("While one replica holds a record the other skips it, and the holder's removal is final.", func(t *testing.T) {
		ran, _, err := a.ClaimState(ctx, "notify/outbox/1", func(ctx context.Context) bool {
			ran, exists, err := b.ClaimState(ctx, "notify/outbox/1", func(context.Context) bool { t.Error("b ran while a held it"); return false })
			if err != nil || ran || !exists {
				t.Errorf("b: ran %v exists %v, %v; want skipped as held", ran, exists, err)
			}
			return true
		})
		if err != nil || !ran {
			t.Fatalf("a: ran %v, %v", ran, err)
		}
		ran, exists, err := b.ClaimState(ctx, "notify/outbox/1", func(context.Context) bool { return true })
		if err != nil || ran || exists {
			t.Errorf("b after a removed it: ran %v exists %v, %v; want gone", ran, exists, err)
		}
	})
}

// BenchmarkCommitWithFeed is the cost of the change feed on a commit of
// rollups: the batch of one events request touches a quantum or two.
func BenchmarkCommitWithFeed(b *testing.B) {
	for _, c := range []struct {
		name   string
		origin string
		n      int
	}{{"alone, 1 rollup", "", 1}, {"replica, 1 rollup", "a", 1}, {"alone, 100 rollups", "", 100}, {"replica, 100 rollups", "a", 100}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			db, err := Open(ctx, pgtest.URL(b), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			if c.origin != "" {
				db.SetOrigin(c.origin)
			}
			start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC).UnixNano()
			for b.Loop() {
				app := db.Appender(ctx)
				for i := range c.n {
					if err := app.Append(fmt.Sprintf("sli-%d", i), time.Minute, &slo.Rollup{Start: start, Attempted: 10, Good: 9, Measured: true}); err != nil {
						b.Fatal(err)
					}
				}
				if err := app.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

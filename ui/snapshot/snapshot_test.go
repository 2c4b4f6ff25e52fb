package snapshot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
	"github.com/nines-sre/nines/ui/snapshot"
)

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func open(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func meta(i int) snapshot.Meta {
	return snapshot.Meta{SLO: "checkout-availability", Taken: t0.Add(time.Duration(i) * time.Minute), From: t0.Add(-time.Hour), To: t0}
}

// TestConcurrentFreezesStopAtTheCap: of 60 freezes at once against a cap
// of 25, exactly 25 are stored and the rest fail with ErrFull.
func TestConcurrentFreezesStopAtTheCap(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	shelf, err := snapshot.New(db, 25)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 60)
	for i := range errs {
		wg.Go(func() { _, errs[i] = shelf.Put(ctx, meta(i), fmt.Sprintf("<p>page %d</p>", i)) })
	}
	wg.Wait()
	stored, full := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			stored++
		case errors.Is(err, snapshot.ErrFull):
			full++
		default:
			t.Fatal(err)
		}
	}
	inStore := 0
	if err := db.RangeState(ctx, snapshot.Prefix, func(string, []byte) error { inStore++; return nil }); err != nil {
		t.Fatal(err)
	}
	if stored != 25 || full != 35 || inStore != 25 {
		t.Errorf("%d stored, %d refused, %d in the store; want 25, 35, 25", stored, full, inStore)
	}
}

// TestShelfReadsWhatIsStored: a new Shelf on a store with snapshots counts
// them (an undecodable one too, so it can be deleted), lists the newest
// first and keeps the cap across the restart.
func TestShelfReadsWhatIsStored(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	first, _ := snapshot.New(db, 3)
	var ids []string
	for i := range 2 {
		m, err := first.Put(ctx, meta(i), "body")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if err := db.PutState(ctx, snapshot.Prefix+"00000000000000ff", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	again, _ := snapshot.New(db, 3)
	list, err := again.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].ID != ids[1] || list[1].ID != ids[0] || list[2].ID != "00000000000000ff" {
		t.Fatalf("list after a restart: %+v", list)
	}
	if _, err := again.Put(ctx, meta(9), "body"); !errors.Is(err, snapshot.ErrFull) {
		t.Errorf("a fourth snapshot under a cap of 3: %v", err)
	}
	if err := again.Delete(ctx, "00000000000000ff"); err != nil {
		t.Fatal(err)
	}
	if _, err := again.Put(ctx, meta(9), "body"); err != nil {
		t.Errorf("a freeze after a delete: %v", err)
	}
}

func TestShelfPutGetDelete(t *testing.T) {
	ctx := context.Background()
	shelf, _ := snapshot.New(open(t), 1)
	m, err := shelf.Put(ctx, meta(0), "<p>x</p>")
	if err != nil || !snapshot.ValidID(m.ID) {
		t.Fatalf("Put: %+v, %v", m, err)
	}
	// The same page frozen again is the same snapshot, not a second one.
	if again, err := shelf.Put(ctx, meta(0), "<p>x</p>"); err != nil || again.ID != m.ID {
		t.Errorf("the same freeze again: %+v, %v; want %s", again, err, m.ID)
	}
	d, err := shelf.Get(ctx, m.ID)
	if err != nil || d.Body != "<p>x</p>" || d.Meta != m {
		t.Errorf("Get: %+v, %v", d, err)
	}
	for _, id := range []string{"0123456789abcdef", "../../etc/passwd", "0123456789ABCDEF", ""} {
		if _, err := shelf.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q): %v, want not found", id, err)
		}
		if err := shelf.Delete(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete(%q): %v, want not found", id, err)
		}
	}
	if err := shelf.Delete(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := shelf.Get(ctx, m.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete: %v", err)
	}
}

func TestNewChecksTheCap(t *testing.T) {
	db := open(t)
	for _, max := range []int{-1, snapshot.MaxLimit + 1} {
		if _, err := snapshot.New(db, max); err == nil {
			t.Errorf("New with a cap of %d: no error", max)
		}
	}
	off, err := snapshot.New(db, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := off.Put(context.Background(), meta(0), "x"); !errors.Is(err, snapshot.ErrFull) {
		t.Errorf("Put with a cap of 0: %v", err)
	}
}

// BenchmarkPutAtTwoThousand times a freeze's store step with 1,999
// snapshots of 100 KB already kept: the cap is checked in memory, not by
// reading them.
func BenchmarkPutAtTwoThousand(b *testing.B) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	body := strings.Repeat("x", 100<<10)
	shelf, _ := snapshot.New(db, 2000)
	for i := range 1999 {
		if _, err := shelf.Put(ctx, meta(i), body); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		m, err := shelf.Put(ctx, meta(10_000+i), body)
		if err != nil {
			b.Fatal(err)
		}
		if err := shelf.Delete(ctx, m.ID); err != nil {
			b.Fatal(err)
		}
	}
}

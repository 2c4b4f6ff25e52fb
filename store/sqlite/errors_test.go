package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// codeErr stands for the driver's error, whose fields are not exported.
type codeErr int

func (c codeErr) Error() string { return fmt.Sprintf("sqlite code %d", int(c)) }
func (c codeErr) Code() int     { return int(c) }

func TestClassifyNamesTheFailingDisk(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		want error // nil: left as it is
	}{
		{"A full database is full.", codeErr(sqlite3.SQLITE_FULL), store.ErrFull},
		{"A failed fsync makes the store unavailable.", codeErr(sqlite3.SQLITE_IOERR | 4<<8), store.ErrUnavailable},
		{"A failed write makes the store unavailable.", codeErr(sqlite3.SQLITE_IOERR | 3<<8), store.ErrUnavailable},
		{"A lock held past the busy timeout makes the store unavailable.", codeErr(sqlite3.SQLITE_BUSY), store.ErrUnavailable},
		{"A file that turned read-only makes the store unavailable.", codeErr(sqlite3.SQLITE_READONLY), store.ErrUnavailable},
		{"ENOSPC from the file system is full.", fmt.Errorf("stat: %w", syscall.ENOSPC), store.ErrFull},
		{"EIO from the file system makes the store unavailable.", fmt.Errorf("stat: %w", syscall.EIO), store.ErrUnavailable},
		{"A constraint failure is nines' own fault.", codeErr(sqlite3.SQLITE_CONSTRAINT), nil},
		{"A corrupt file is not something to retry.", codeErr(sqlite3.SQLITE_CORRUPT), nil},
		{"Other errors pass through.", errors.New("boom"), nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := classify(c.err)
			if !errors.Is(got, c.err) {
				t.Fatalf("classify(%v) = %v: lost the cause", c.err, got)
			}
			for _, s := range []error{store.ErrFull, store.ErrUnavailable} {
				if errors.Is(got, s) != (s == c.want) {
					t.Errorf("classify(%v) = %v: errors.Is(%v) = %v", c.err, got, s, errors.Is(got, s))
				}
			}
		})
	}
}

// appendSome commits n rollups of one SLI from quantum first on.
func appendSome(ctx context.Context, db *DB, first, n int) error {
	app := db.Appender(ctx)
	for i := first; i < first+n; i++ {
		r := slo.Rollup{Start: int64(i) * int64(time.Minute), Attempted: 10, Good: 9, Measured: true}
		if err := app.Append("full", time.Minute, &r); err != nil {
			return err
		}
	}
	return app.Commit()
}

func count(t *testing.T, db *DB) int {
	t.Helper()
	it := db.Rollups(context.Background(), "full", time.Minute, 0, 1<<62)
	defer it.Close()
	n := 0
	for it.Next() {
		n++
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// A real SQLITE_FULL, from a database capped a few pages above its size:
// the commit fails with store.ErrFull, stores nothing, and once there is
// room again the same write succeeds.
func TestDiskFullIsErrFull(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	if err := appendSome(ctx, db, 0, 10); err != nil {
		t.Fatal(err)
	}
	var pages int
	if err := db.w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+1)); err != nil {
		t.Fatal(err)
	}
	err := appendSome(ctx, db, 10, 20_000)
	if !errors.Is(err, store.ErrFull) {
		t.Fatalf("commit past the size limit: %v, want store.ErrFull", err)
	}
	if n := count(t, db); n != 10 {
		t.Fatalf("%d rollups after the failed commit, want the 10 before it", n)
	}
	if _, err := db.w.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if err := appendSome(ctx, db, 10, 20_000); err != nil {
		t.Fatalf("the same commit with room again: %v", err)
	}
	if n := count(t, db); n != 20_010 {
		t.Fatalf("%d rollups, want 20,010", n)
	}
}

// A real SQLITE_BUSY: another process holds the write lock past the busy
// timeout. The commit fails with store.ErrUnavailable and succeeds once
// the lock is released.
func TestLockHeldPastBusyTimeoutIsErrUnavailable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(ctx, dir, Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	other, err := sql.Open("sqlite", dsn(db.Path(), "immediate"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(ctx, nil) // BEGIN IMMEDIATE: takes the write lock
	if err != nil {
		t.Fatal(err)
	}
	err = appendSome(ctx, db, 0, 5)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("commit while another process holds the lock: %v, want store.ErrUnavailable", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := appendSome(ctx, db, 0, 5); err != nil {
		t.Fatalf("the same commit once the lock is free: %v", err)
	}
	if n := count(t, db); n != 5 {
		t.Fatalf("%d rollups, want 5", n)
	}
}

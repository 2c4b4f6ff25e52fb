// Package sqlite is the embedded store of nines serve: one SQLite file
// under the data directory, through the pure-Go modernc.org/sqlite driver
// (no cgo, so the binary stays static).
//
// Durability: the database runs in WAL mode with synchronous=FULL by
// default, so Commit returns only after the write-ahead log is fsynced.
// With NORMAL a committed batch survives the process being killed but not
// the machine losing power (the last commits may sit in the page cache);
// DESIGN.md promises that acknowledged writes survive a crash, and since
// writes come in batches (one Appender per flush) the fsync is paid per
// batch, not per sample. Options.Sync can trade that for NORMAL.
//
// Concurrency: all writes go through one connection, so they never fail
// with SQLITE_BUSY against each other and take the write lock at BEGIN
// (BEGIN IMMEDIATE) rather than upgrading mid-transaction; reads use a
// pool of query-only connections and, in WAL mode, never wait for writes.
//
// The on-disk format is documented in schema.go; every change to it is a
// new migration, and a database from a newer nines is refused (see
// ErrNewerSchema) rather than misread.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// The driver registers itself as "sqlite" with database/sql.
	_ "modernc.org/sqlite"

	"github.com/nines-sre/nines/store"
)

// FileName is the name of the database file inside the data directory.
// SQLite keeps FileName-wal and FileName-shm beside it while open.
const FileName = "nines.db"

// Sync is SQLite's synchronous setting for the write connection.
type Sync int

const (
	// SyncFull fsyncs the log at every commit: a committed batch survives
	// power loss. The default.
	SyncFull Sync = iota
	// SyncNormal fsyncs only at checkpoints: a committed batch survives
	// the process dying, but the last batches may be lost if the machine
	// does. The database stays consistent either way.
	SyncNormal
)

// Options tune Open. The zero value is what nines serve uses.
type Options struct {
	// Readers is the number of read connections (default: GOMAXPROCS, at
	// least 2). Each holds its own page cache.
	Readers int
	// BusyTimeout is how long a statement waits for a lock held by another
	// process (or by a checkpoint) before failing with SQLITE_BUSY
	// (default 5 s).
	BusyTimeout time.Duration
	// Sync is the durability of a commit (default SyncFull).
	Sync Sync
}

// DB is a store.Store in one SQLite file. It is safe for concurrent use.
type DB struct {
	path string
	w    *sql.DB // exactly one connection: every write goes through it
	r    *sql.DB // query_only pool

	ws    stmts // prepared on w
	rs    stmts // prepared on r
	batch int   // rows per compaction transaction

	closed atomic.Bool
	mu     sync.Mutex
	iters  map[closer]struct{} // open iterators, ended by Close
}

type closer interface{ abort() }

var _ store.Store = (*DB)(nil)

// Open opens the store in dir, creating dir (mode 0o750) and the database
// if needed and migrating an older schema. It fails with an error wrapping
// ErrNewerSchema for a database written by a newer nines.
func Open(ctx context.Context, dir string, opts Options) (*DB, error) {
	if dir == "" {
		return nil, fmt.Errorf("sqlite: open: %w: empty data directory", store.ErrInvalid)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	abs, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", dir, err)
	}
	if opts.Readers <= 0 {
		opts.Readers = max(2, runtime.GOMAXPROCS(0))
	}
	if opts.BusyTimeout <= 0 {
		opts.BusyTimeout = 5 * time.Second
	}
	syncMode := "FULL"
	if opts.Sync == SyncNormal {
		syncMode = "NORMAL"
	}
	busy := fmt.Sprintf("busy_timeout(%d)", opts.BusyTimeout.Milliseconds())
	db := &DB{path: abs, iters: make(map[closer]struct{}), batch: compactBatch}

	// auto_vacuum only takes effect before the first table is created, so
	// it comes first; INCREMENTAL lets Compact hand freed pages back to the
	// file system instead of leaving the file at its high-water mark.
	//
	// A commit of one minute of 1,000 SLIs dirties a leaf page per SLI
	// (rollups are ordered by SLI first), about 4 MiB. The default page
	// cache (2 MiB) would re-read those pages on every commit and the
	// default checkpoint interval (1,000 pages) would copy them into the
	// file after every commit; 32 MiB of cache and a checkpoint every
	// 4,096 pages, with the log truncated back to 64 MiB at most, cost
	// 30% less per commit (docs/performance.md).
	db.w, err = sql.Open("sqlite", dsn(abs, "immediate",
		"auto_vacuum(INCREMENTAL)", "journal_mode(WAL)", "synchronous("+syncMode+")", busy,
		"cache_size(-32768)", "wal_autocheckpoint(4096)", "journal_size_limit(67108864)"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", abs, err)
	}
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	db.w.SetConnMaxLifetime(0)
	db.w.SetConnMaxIdleTime(0)

	fail := func(err error) (*DB, error) {
		_ = db.w.Close()
		if db.r != nil {
			_ = db.r.Close()
		}
		return nil, err
	}
	var mode string
	if err := db.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", abs, err))
	}
	if !strings.EqualFold(mode, "wal") {
		// WAL is what lets readers run beside the writer; a file system
		// without shared memory support (some network mounts) falls back.
		return fail(fmt.Errorf("sqlite: open %s: journal mode is %q, want wal (is the data directory on a network file system?)", abs, mode))
	}
	if err := migrate(ctx, db.w, abs); err != nil {
		return fail(err)
	}

	db.r, err = sql.Open("sqlite", dsn(abs, "", "query_only(1)", busy))
	if err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", abs, err))
	}
	db.r.SetMaxOpenConns(opts.Readers)
	db.r.SetMaxIdleConns(opts.Readers)
	db.r.SetConnMaxLifetime(0)
	db.r.SetConnMaxIdleTime(0)
	if err := db.prepare(ctx); err != nil {
		return fail(fmt.Errorf("sqlite: open %s: %w", abs, err))
	}
	return db, nil
}

// dsn builds a file: URI so that any path works (spaces, '?', '#'), with
// the driver's per-connection PRAGMAs, which it runs on every new
// connection of the pool.
func dsn(path, txlock string, pragmas ...string) string {
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(path)}
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	if txlock != "" {
		q.Set("_txlock", txlock)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close implements store.Store.
func (db *DB) Close() error {
	if !db.closed.CompareAndSwap(false, true) {
		return nil
	}
	db.mu.Lock()
	iters := db.iters
	db.iters = nil
	db.mu.Unlock()
	for it := range iters {
		it.abort()
	}
	// sql.DB.Close waits for the connections in use, so a commit or
	// compaction batch in flight finishes first; Compact stops at the
	// next batch.
	db.rs.close()
	db.ws.close()
	rerr := db.r.Close()
	// Closing the last connection checkpoints the log into the main file
	// and removes it.
	werr := db.w.Close()
	if err := errors.Join(rerr, werr); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", db.path, err)
	}
	return nil
}

// Size implements store.Store: the database file plus its write-ahead log.
func (db *DB) Size(ctx context.Context) (int64, error) {
	if db.closed.Load() {
		return 0, fmt.Errorf("sqlite: size: %w", store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("sqlite: size: %w", err)
	}
	var n int64
	for _, p := range []string{db.path, db.path + "-wal"} {
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("sqlite: size: %w", err)
		}
		n += fi.Size()
	}
	return n, nil
}

// Checkpoint copies the write-ahead log into the database file and
// truncates the log. SQLite checkpoints on its own every 1,000 pages or so;
// this is for backups and for measuring the file.
func (db *DB) Checkpoint(ctx context.Context) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: checkpoint: %w", store.ErrClosed)
	}
	var busy, logPages, done int
	err := db.ws.checkpoint.QueryRowContext(ctx).Scan(&busy, &logPages, &done)
	if err != nil {
		return db.wrap(ctx, err, "checkpoint")
	}
	if busy != 0 {
		return fmt.Errorf("sqlite: checkpoint %s: readers kept %d of %d log pages from being checkpointed", db.path, logPages-done, logPages)
	}
	return nil
}

// wrap adds context to err and makes closing, cancellation and a failing
// disk recognisable with errors.Is whatever the driver said: a query
// interrupted by a cancelled context comes back from SQLite as
// "interrupted", a full disk as SQLITE_FULL (see classify).
func (db *DB) wrap(ctx context.Context, err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	switch {
	case db.closed.Load() && !errors.Is(err, store.ErrClosed):
		return fmt.Errorf("sqlite: %s: %w (%v)", msg, store.ErrClosed, err)
	case ctx != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return fmt.Errorf("sqlite: %s: %w (%v)", msg, ctx.Err(), err)
	}
	return fmt.Errorf("sqlite: %s: %w", msg, classify(err))
}

// check returns ErrClosed or the context's error before any work starts.
func (db *DB) check(ctx context.Context, format string, args ...any) error {
	if db.closed.Load() {
		return fmt.Errorf("sqlite: %s: %w", fmt.Sprintf(format, args...), store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sqlite: %s: %w", fmt.Sprintf(format, args...), err)
	}
	return nil
}

// track registers an open iterator so that Close can end it: sql.DB.Close
// would otherwise wait forever for a caller that forgot one.
func (db *DB) track(it closer) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.iters == nil {
		return false
	}
	db.iters[it] = struct{}{}
	return true
}

func (db *DB) untrack(it closer) {
	db.mu.Lock()
	defer db.mu.Unlock()
	delete(db.iters, it)
}

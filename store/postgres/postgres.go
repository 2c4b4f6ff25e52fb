// Package postgres is the store of nines serve in PostgreSQL (13 or
// newer), for platform teams that run PostgreSQL already and want nines'
// data there: rollups, SLO definitions, collector and alert state, the
// notify outbox, snapshots, annotations and incidents. It implements
// store.Store and incident.Store, and passes the same contract suites as
// store/sqlite.
//
// Durability: every write is one transaction, and a call returns nil only
// after its COMMIT returned, so what nines acknowledges is what
// PostgreSQL committed (with the server's synchronous_commit, on by
// default). A connection lost mid-write rolls the transaction back; the
// call fails with an error wrapping store.ErrUnavailable, and the same
// write may be sent again (idempotency keys make a retry count once).
//
// Concurrency: writes of rollups (appends and compaction batches) take a
// transaction-level advisory lock, so they are serialised as in SQLite
// even across several processes on one database: the read-merge-write of
// a quantum never loses a concurrent merge. Incident writes take another
// one. Everything else is a single statement or reads in a REPEATABLE
// READ snapshot.
//
// The schema is versioned (schema.go); Open applies missing migrations
// under an advisory lock and refuses a database written by a newer nines.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/store"
)

// Options tune Open. The zero value is what nines serve uses.
type Options struct {
	// MaxConns is the size of the connection pool (default 16; a
	// pool_max_conns in the URL wins). An open iterator holds a
	// connection until it ends, as does a write waiting for the rollups
	// lock, so the pool is larger than the number of CPUs.
	MaxConns int32
	// ConnectTimeout bounds the first connection (default 10 s).
	ConnectTimeout time.Duration
}

// DB is a store.Store and an incident.Store in one PostgreSQL database.
// It is safe for concurrent use.
type DB struct {
	pool *pgxpool.Pool
	name string // the URL without its password, for messages

	batch int // rows per compaction transaction
	// origin names this process in the change feed (replicas.go); nil
	// records no changes.
	origin atomic.Pointer[string]

	closed atomic.Bool
	mu     sync.Mutex
	iters  map[*rowsIter]struct{} // open iterators, ended by Close
}

var (
	_ store.Store    = (*DB)(nil)
	_ incident.Store = (*DB)(nil)
)

// Advisory lock keys, in the two-int form so that they cannot collide with
// the one-bigint keys applications usually pick: classid "nine" in ASCII.
const (
	lockClass     = 0x6e696e65
	lockMigrate   = 1 // session lock held while migrating
	lockRollups   = 2 // transaction lock of every write of rollups
	lockIncidents = 3 // transaction lock of every write of incidents
)

// Redact returns the URL with its password replaced by "xxxxx", for
// messages and logs.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "postgres://(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.String()
}

// Open connects to the database at rawURL (postgres:// or postgresql://,
// or a key=value connection string; see docs/postgres.md), migrates its
// schema and returns the store. It fails with an error wrapping
// store.ErrUnavailable when the server cannot be reached, and with one
// wrapping ErrNewerSchema for a database written by a newer nines.
func Open(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	db, err := connect(ctx, rawURL, opts)
	if err != nil {
		return nil, err
	}
	if _, err := db.migrate(ctx, len(migrations)); err != nil {
		db.pool.Close()
		return nil, err
	}
	return db, nil
}

// connect opens the pool and checks that the server answers, without
// touching the schema.
func connect(ctx context.Context, rawURL string, opts Options) (*DB, error) {
	name := Redact(rawURL)
	cfg, err := pgxpool.ParseConfig(rawURL)
	if err != nil {
		// pgx's message may quote the URL, password included.
		return nil, fmt.Errorf("postgres: %s: %w: the URL does not parse as a PostgreSQL connection string (postgres://user@host:5432/db?sslmode=…)", name, store.ErrInvalid)
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 16
	}
	if !strings.Contains(rawURL, "pool_max_conns") {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 10 * time.Second
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %s: %w: %w", name, store.ErrUnavailable, err)
	}
	pctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	if err := pool.Ping(pctx); err != nil {
		pool.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("postgres: %s: %w", name, ctx.Err())
		}
		return nil, fmt.Errorf("postgres: %s: %w: %w", name, store.ErrUnavailable, err)
	}
	return &DB{pool: pool, name: name, batch: compactBatch, iters: make(map[*rowsIter]struct{})}, nil
}

// Name returns the database's URL without its password.
func (db *DB) Name() string { return db.name }

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
	// Close waits for the connections in use: a commit in flight
	// finishes first.
	db.pool.Close()
	return nil
}

// Size implements store.Store: the bytes of nines' tables in the schema
// they live in, their indexes and TOAST included.
func (db *DB) Size(ctx context.Context) (int64, error) {
	if err := db.check(ctx, "size"); err != nil {
		return 0, err
	}
	var n int64
	err := db.pool.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint
		FROM pg_class c JOIN pg_namespace s ON s.oid = c.relnamespace
		WHERE s.nspname = current_schema() AND c.relkind = 'r' AND c.relname = ANY($1)`, tableNames).Scan(&n)
	if err != nil {
		return 0, db.wrap(ctx, err, "size")
	}
	return n, nil
}

// check returns ErrClosed or the context's error before any work starts.
func (db *DB) check(ctx context.Context, format string, args ...any) error {
	if db.closed.Load() {
		return fmt.Errorf("postgres: %s: %w", fmt.Sprintf(format, args...), store.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("postgres: %s: %w", fmt.Sprintf(format, args...), err)
	}
	return nil
}

// wrap adds context to err and makes closing, cancellation and a failing
// server recognisable with errors.Is (see classify).
func (db *DB) wrap(ctx context.Context, err error, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	switch {
	case db.closed.Load() && !errors.Is(err, store.ErrClosed):
		return fmt.Errorf("postgres: %s: %w (%v)", msg, store.ErrClosed, err)
	case ctx != nil && ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return fmt.Errorf("postgres: %s: %w (%v)", msg, ctx.Err(), err)
	}
	return fmt.Errorf("postgres: %s: %w", msg, classify(err))
}

// write runs fn in a READ COMMITTED transaction, holding the advisory
// lock lock unless it is 0, and commits it.
func (db *DB) write(ctx context.Context, op string, lock int, fn func(pgx.Tx) error) error {
	var opts pgx.TxOptions
	if lock != 0 {
		// The lock is taken with BEGIN, in the same round trip.
		opts.BeginQuery = fmt.Sprintf("BEGIN; SELECT pg_advisory_xact_lock(%d, %d)", lockClass, lock)
	}
	return db.inTx(ctx, op, opts, fn)
}

// read runs fn in a read-only REPEATABLE READ transaction: everything fn
// reads comes from one snapshot.
func (db *DB) read(ctx context.Context, op string, fn func(pgx.Tx) error) error {
	return db.inTx(ctx, op, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, fn)
}

// inTx runs fn in a transaction begun with opts and commits it; an error
// of fn rolls it back and is returned wrapped, unless it is a domain
// error.
func (db *DB) inTx(ctx context.Context, op string, opts pgx.TxOptions, fn func(pgx.Tx) error) error {
	if err := db.check(ctx, "%s", op); err != nil {
		return err
	}
	tx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return db.wrap(ctx, err, "%s: begin", op)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if err := fn(tx); err != nil {
		var de *domainError
		if errors.As(err, &de) {
			return de.err
		}
		return db.wrap(ctx, err, "%s", op)
	}
	if err := tx.Commit(ctx); err != nil {
		return db.wrap(ctx, err, "%s: commit", op)
	}
	return nil
}

// domainError carries an error that is not the database's (an incident
// the caller's function refused, a duplicate key) through write and read
// unwrapped, so that it reaches the caller in its own words.
type domainError struct{ err error }

func (e *domainError) Error() string { return e.err.Error() }
func (e *domainError) Unwrap() error { return e.err }

func domain(err error) error { return &domainError{err} }

// track registers an open iterator so that Close can end it.
func (db *DB) track(it *rowsIter) bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.iters == nil {
		return false
	}
	db.iters[it] = struct{}{}
	return true
}

func (db *DB) untrack(it *rowsIter) {
	db.mu.Lock()
	defer db.mu.Unlock()
	delete(db.iters, it)
}

package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// rowsIter is what both iterators share: the open rows, the error that
// ended them, and the registration with the DB that lets Close end them.
// A query is one statement, so it reads one snapshot.
//
// pgx rows may not be closed from another goroutine while Next runs, so
// Close cancels the query's context first (which ends a Next waiting for
// the network) and then takes mu, which every step of the iteration
// holds, to close the rows.
type rowsIter struct {
	db      *DB
	ctx     context.Context
	cancel  context.CancelFunc
	what    string // for errors: "rollups checkout@1m"
	mu      sync.Mutex
	rows    pgx.Rows
	aborted bool
	err     error
	done    bool
}

func (it *rowsIter) start(ctx context.Context, db *DB, what, sql string, args ...any) {
	it.db, it.what = db, what
	if err := db.check(ctx, "%s", what); err != nil {
		it.err, it.done = err, true
		return
	}
	it.ctx, it.cancel = context.WithCancel(ctx)
	it.mu.Lock()
	defer it.mu.Unlock()
	if !db.track(it) {
		it.cancel()
		it.err, it.done = fmt.Errorf("postgres: %s: %w", what, store.ErrClosed), true
		return
	}
	rows, err := db.pool.Query(it.ctx, sql, args...)
	if err != nil {
		db.untrack(it)
		it.cancel()
		it.err, it.done = db.wrap(ctx, err, "%s", what), true
		return
	}
	it.rows = rows
}

// abort is called by DB.Close, possibly from another goroutine.
func (it *rowsIter) abort() {
	it.cancel()
	it.mu.Lock()
	defer it.mu.Unlock()
	it.aborted = true
	if it.rows != nil {
		it.rows.Close()
	}
}

// next advances the rows and calls scan on the new row, finishing the
// iteration at the end or on error.
func (it *rowsIter) next(scan func(pgx.Rows) error) bool {
	if it.done {
		return false
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	if it.aborted {
		return it.finish(fmt.Errorf("postgres: %s: %w", it.what, store.ErrClosed))
	}
	if it.rows.Next() {
		if err := scan(it.rows); err != nil {
			return it.finish(err)
		}
		return true
	}
	var err error
	switch rerr := it.rows.Err(); {
	case it.aborted || it.db.closed.Load() && rerr != nil:
		err = fmt.Errorf("postgres: %s: %w", it.what, store.ErrClosed)
	case rerr != nil:
		err = it.db.wrap(it.ctx, rerr, "%s", it.what)
	case it.ctx.Err() != nil:
		err = fmt.Errorf("postgres: %s: %w", it.what, it.ctx.Err())
	}
	return it.finish(err)
}

// finish ends the iteration with err (nil at the end of the rows). The
// caller holds mu.
func (it *rowsIter) finish(err error) bool {
	if it.done {
		return false
	}
	it.done, it.err = true, err
	if it.rows != nil {
		it.rows.Close()
		it.db.untrack(it)
		it.cancel()
	}
	return false
}

func (it *rowsIter) close() {
	if it.done {
		return
	}
	it.mu.Lock()
	defer it.mu.Unlock()
	it.finish(nil)
}

// Rollups implements store.Querier.
func (db *DB) Rollups(ctx context.Context, sli string, quantum time.Duration, from, to int64) store.RollupIterator {
	if err := store.CheckSeries(sli, quantum); err != nil {
		return store.ErrRollups(fmt.Errorf("postgres: rollups: %w", err))
	}
	it := &rollupIter{}
	it.start(ctx, db, fmt.Sprintf("rollups %s/%v [%d,%d)", sli, quantum, from, to),
		`SELECT start_ns, `+rollupCols+` FROM rollups
		WHERE series = (SELECT id FROM series WHERE sli = $1 AND quantum_ns = $2) AND start_ns >= $3 AND start_ns < $4
		ORDER BY start_ns`,
		[]byte(sli), int64(quantum), from, to)
	it.dest = append([]any{&it.cur.Start}, it.row.dest()...)
	return it
}

type rollupIter struct {
	rowsIter
	cur  slo.Rollup
	row  rollupRow
	dest []any
}

func (it *rollupIter) Next() bool {
	return it.next(func(rows pgx.Rows) error {
		if err := rows.Scan(it.dest...); err != nil {
			return it.db.wrap(it.ctx, err, "%s", it.what)
		}
		if err := it.row.rollup(&it.cur); err != nil {
			return fmt.Errorf("postgres: %s: quantum %d: %w", it.what, it.cur.Start, err)
		}
		return nil
	})
}

func (it *rollupIter) At() *slo.Rollup { return &it.cur }
func (it *rollupIter) Err() error      { return it.err }
func (it *rollupIter) Close() error    { it.close(); return nil }

// HourlyHistograms implements store.Querier.
func (db *DB) HourlyHistograms(ctx context.Context, sli string, quantum time.Duration, from, to int64) store.HistogramIterator {
	if err := store.CheckSeries(sli, quantum); err != nil {
		return store.ErrHistograms(fmt.Errorf("postgres: hourly histograms: %w", err))
	}
	// Hours H in [from, to) hold the quanta starting in [H, H+1h), so
	// quanta from the first whole hour at or after from to the first whole
	// hour at or after to. One statement reads both tables, so the hourly
	// rows and the quantum rows come from one snapshot: a Compact
	// committing in between cannot make a histogram count twice or not at
	// all.
	lo, hi := store.CeilHour(from), store.CeilHour(to)
	it := &hourlyIter{}
	it.start(ctx, db, fmt.Sprintf("hourly histograms %s/%v [%d,%d)", sli, quantum, from, to),
		`WITH s AS (SELECT id FROM series WHERE sli = $1 AND quantum_ns = $2)
		SELECT start_ns, hist FROM hourly
			WHERE series = (SELECT id FROM s) AND start_ns >= $3 AND start_ns < $4
		UNION ALL
		SELECT start_ns, hist FROM rollups
			WHERE series = (SELECT id FROM s) AND start_ns >= $3 AND start_ns < $4 AND hist IS NOT NULL
		ORDER BY 1`,
		[]byte(sli), int64(quantum), lo, hi)
	return it
}

// hourlyIter merges, hour by hour, the hourly rows of compacted quanta with
// the histograms of quanta not compacted yet. The query returns both kinds
// in start order, so one row of look-ahead is enough.
type hourlyIter struct {
	rowsIter
	store.HourMerger
	blob []byte
}

func (it *hourlyIter) Next() bool { return it.HourMerger.Next(it.read) && it.err == nil }

// read decodes the next row into h and returns its start.
func (it *hourlyIter) read(h *hist.Histogram) (int64, bool) {
	var start int64
	ok := it.next(func(rows pgx.Rows) error {
		if err := rows.Scan(&start, &it.blob); err != nil {
			return it.db.wrap(it.ctx, err, "%s", it.what)
		}
		if err := decodeHist(h, it.blob); err != nil {
			return fmt.Errorf("postgres: %s: histogram at %d: %w", it.what, start, err)
		}
		return nil
	})
	return start, ok
}

func (it *hourlyIter) Err() error   { return it.err }
func (it *hourlyIter) Close() error { it.close(); return nil }

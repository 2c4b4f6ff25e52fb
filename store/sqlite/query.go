package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// rowsIter is what both iterators share: the open rows, the error that
// ended them, and the registration with the DB that lets Close end them.
type rowsIter struct {
	db      *DB
	ctx     context.Context
	rows    *sql.Rows
	what    string // for errors: "rollups checkout@1m"
	err     error
	done    bool
	aborted atomic.Bool
}

func (it *rowsIter) start(ctx context.Context, db *DB, st *sql.Stmt, what string, self closer, args ...any) {
	it.db, it.ctx, it.what = db, ctx, what
	if err := db.check(ctx, "%s", what); err != nil {
		it.err, it.done = err, true
		return
	}
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		it.err, it.done = db.wrap(ctx, err, "%s", what), true
		return
	}
	it.rows = rows
	if !db.track(self) {
		_ = rows.Close()
		it.err, it.done = fmt.Errorf("sqlite: %s: %w", what, store.ErrClosed), true
	}
}

// abort is called by DB.Close, possibly from another goroutine; sql.Rows
// allows Close concurrently with Next.
func (it *rowsIter) abort() {
	it.aborted.Store(true)
	_ = it.rows.Close()
}

// next advances the rows, finishing the iteration at the end or on error.
func (it *rowsIter) next(self closer) bool {
	if it.done {
		return false
	}
	if it.rows.Next() {
		return true
	}
	err := it.rows.Err()
	switch {
	case it.aborted.Load():
		it.err = fmt.Errorf("sqlite: %s: %w", it.what, store.ErrClosed)
	case err != nil:
		it.err = it.db.wrap(it.ctx, err, "%s", it.what)
	case it.ctx.Err() != nil:
		it.err = fmt.Errorf("sqlite: %s: %w", it.what, it.ctx.Err())
	}
	it.finish(self)
	return false
}

func (it *rowsIter) fail(self closer, err error) bool {
	it.err = err
	it.finish(self)
	return false
}

func (it *rowsIter) finish(self closer) {
	if it.done {
		return
	}
	it.done = true
	if it.rows != nil {
		if err := it.rows.Close(); err != nil && it.err == nil && !it.aborted.Load() {
			it.err = it.db.wrap(it.ctx, err, "%s", it.what)
		}
		it.db.untrack(self)
	}
}

// Rollups implements store.Querier.
func (db *DB) Rollups(ctx context.Context, sli string, quantum time.Duration, from, to int64) store.RollupIterator {
	if err := store.CheckSeries(sli, quantum); err != nil {
		return store.ErrRollups(fmt.Errorf("sqlite: rollups: %w", err))
	}
	it := &rollupIter{from: from, to: to, quantum: int64(quantum)}
	lo, hi := hourRange(from, to)
	it.start(ctx, db, db.rs.rollups, fmt.Sprintf("rollups %s/%v [%d,%d)", sli, quantum, from, to), it,
		sli, int64(quantum), from, to, lo, hi)
	return it
}

type rollupIter struct {
	rowsIter
	from, to, quantum int64
	cur               slo.Rollup
	blob              sql.RawBytes
	sblob             sql.RawBytes
	sc                statusCodec
	block             []byte       // the block being read, copied from its row
	es                []blockEntry // its quanta in [from, to) not read yet
	esBuf             []blockEntry
	// Scanned into here rather than into locals, which Scan would move
	// to the heap on every row.
	part int64
	c    [5]int64
}

func (it *rollupIter) Next() bool {
	for len(it.es) == 0 {
		if !it.next(it) {
			return false
		}
		r, c := &it.cur, &it.c
		if err := it.rows.Scan(&it.part, &r.Start, &c[0], &c[1], &c[2], &c[3], &c[4], &r.Measured, &it.blob, &it.sblob); err != nil {
			return it.fail(it, it.db.wrap(it.ctx, err, "%s", it.what))
		}
		if it.part == 1 {
			return it.fromRow(c)
		}
		// A block of compacted quanta: its own copy, because the
		// statuses of its entries alias it across calls.
		it.block = append(it.block[:0], it.sblob...)
		hour := keyHour(r.Start)
		es, err := decodeBlock(it.esBuf[:0], it.block, hour, it.quantum)
		it.esBuf = es
		if err != nil {
			return it.fail(it, fmt.Errorf("sqlite: %s: hour %d: %w", it.what, hour, err))
		}
		lo, _ := findEntry(es, it.from)
		hi, _ := findEntry(es, it.to)
		it.es = es[lo:hi]
	}
	e := &it.es[0]
	it.es = it.es[1:]
	if err := e.toRollup(&it.cur, &it.sc); err != nil {
		return it.fail(it, fmt.Errorf("sqlite: %s: %w", it.what, err))
	}
	return true
}

// fromRow sets it.cur from a row of rollups, its counts c.
func (it *rollupIter) fromRow(c *[5]int64) bool {
	r := &it.cur
	r.Attempted, r.Good, r.Errors, r.Slow, r.OverThreshold = uint64(c[0]), uint64(c[1]), uint64(c[2]), uint64(c[3]), uint64(c[4])
	// RawBytes points into the driver's buffer: decoding from it saves
	// copying every histogram once more.
	if err := decode(&r.Latency, it.blob); err != nil {
		return it.fail(it, fmt.Errorf("sqlite: %s: histogram of quantum %d: %w", it.what, r.Start, err))
	}
	if err := it.sc.decode(r, it.sblob); err != nil {
		return it.fail(it, fmt.Errorf("sqlite: %s: statuses of quantum %d: %w", it.what, r.Start, err))
	}
	return true
}

func (it *rollupIter) At() *slo.Rollup { return &it.cur }
func (it *rollupIter) Err() error      { return it.err }
func (it *rollupIter) Close() error    { it.finish(it); return nil }

// HourlyHistograms implements store.Querier.
func (db *DB) HourlyHistograms(ctx context.Context, sli string, quantum time.Duration, from, to int64) store.HistogramIterator {
	if err := store.CheckSeries(sli, quantum); err != nil {
		return store.ErrHistograms(fmt.Errorf("sqlite: hourly histograms: %w", err))
	}
	// Hours H in [from, to) hold the quanta starting in [H, H+1h), so
	// quanta from the first whole hour at or after from to the first whole
	// hour at or after to.
	lo, hi := store.CeilHour(from), store.CeilHour(to)
	it := &hourlyIter{}
	klo, khi := hourIndex(lo), hourIndex(hi)
	it.start(ctx, db, db.rs.hourly, fmt.Sprintf("hourly histograms %s/%v [%d,%d)", sli, quantum, from, to), it,
		sli, int64(quantum), lo, hi, klo, khi)
	return it
}

// hourlyIter merges, hour by hour, the hourly rows of compacted quanta with
// the histograms of quanta not compacted yet. The query returns both kinds
// in start order, so one row of look-ahead is enough.
type hourlyIter struct {
	rowsIter
	store.HourMerger
	blob sql.RawBytes
	part int64 // scanned: 0 an hourly row, 1 a quantum's
}

func (it *hourlyIter) Next() bool { return it.HourMerger.Next(it.read) && it.err == nil }

// read decodes the next row into h and returns its start.
func (it *hourlyIter) read(h *hist.Histogram) (int64, bool) {
	if !it.next(it) {
		return 0, false
	}
	var start int64
	if err := it.rows.Scan(&it.part, &start, &it.blob); err != nil {
		return 0, it.fail(it, it.db.wrap(it.ctx, err, "%s", it.what))
	}
	if it.part == 0 {
		start = keyHour(start)
	}
	if err := decode(h, it.blob); err != nil {
		return 0, it.fail(it, fmt.Errorf("sqlite: %s: histogram at %d: %w", it.what, start, err))
	}
	return start, true
}

func (it *hourlyIter) Err() error   { return it.err }
func (it *hourlyIter) Close() error { it.finish(it); return nil }

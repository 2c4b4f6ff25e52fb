package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/store"
)

// compactBatch bounds the rows one compaction transaction reads or
// deletes: about 2 MB of histograms, a few tens of milliseconds that
// appends wait at most. Tests shrink DB.batch to exercise batching.
const compactBatch = 4096

// vacuumPages is how many free pages one transaction returns to the file
// system: 4 MiB of 4 KiB pages.
const vacuumPages = 1024

type seriesRow struct {
	sli     string
	quantum int64
	mark    int64 // hist_before_ns
}

// Compact implements store.Compactor.
//
// For each series, in order: histograms of quanta before the Full cut are
// merged into their hours and dropped from the quanta, and the series' mark
// (hist_before_ns) moves to the cut in the same transaction as the last of
// them; then rollups and hourly rows past their horizons are deleted.
// Appends read the mark inside their own write transaction, so an append
// either precedes a batch (and is moved by it or the next one) or follows
// it (and goes to the hour directly): none is lost or counted twice.
func (db *DB) Compact(ctx context.Context, now time.Time, p store.Retention) (store.CompactStats, error) {
	var st store.CompactStats
	full, counts, hourly, err := p.Cutoffs(now)
	if err != nil {
		return st, fmt.Errorf("sqlite: compact: %w", err)
	}
	if err := db.check(ctx, "compact"); err != nil {
		return st, err
	}
	series, err := db.listSeries(ctx)
	if err != nil {
		return st, err
	}
	c := &compaction{db: db, ctx: ctx, st: &st}
	defer c.rollback()
	for _, s := range series {
		for s.mark < full {
			if err := c.begin(); err != nil {
				return st, err
			}
			done, err := c.move(s, full)
			if err != nil {
				return st, db.wrap(ctx, err, "compact %s/%v: move histograms", s.sli, time.Duration(s.quantum))
			}
			if done {
				s.mark = full
			}
		}
		if err := c.deleteOld(s, db.ws.rollupNth, db.ws.rollupDel, counts, &c.pending.DeletedRollups); err != nil {
			return st, db.wrap(ctx, err, "compact %s/%v: delete rollups", s.sli, time.Duration(s.quantum))
		}
		if err := c.deleteOld(s, db.ws.hourlyNth, db.ws.hourlyDel, hourly, &c.pending.DeletedHourly); err != nil {
			return st, db.wrap(ctx, err, "compact %s/%v: delete hourly", s.sli, time.Duration(s.quantum))
		}
	}
	if err := c.forgetKeys(p.KeysCutoff(now)); err != nil {
		return st, db.wrap(ctx, err, "compact: forget idempotency keys")
	}
	if err := c.commit(); err != nil {
		return st, err
	}
	if err := db.vacuum(ctx, &st); err != nil {
		return st, err
	}
	return st, nil
}

func (db *DB) listSeries(ctx context.Context) ([]seriesRow, error) {
	rows, err := db.ws.seriesAll.QueryContext(ctx)
	if err != nil {
		return nil, db.wrap(ctx, err, "compact: list series")
	}
	defer rows.Close()
	var ss []seriesRow
	for rows.Next() {
		var s seriesRow
		if err := rows.Scan(&s.sli, &s.quantum, &s.mark); err != nil {
			return nil, db.wrap(ctx, err, "compact: list series")
		}
		ss = append(ss, s)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, err, "compact: list series")
	}
	return ss, nil
}

// compaction is the transaction in progress and its row budget. Steps of
// several series share a transaction until the budget is spent, so a
// thousand small series do not cost a thousand commits.
type compaction struct {
	db      *DB
	ctx     context.Context
	st      *store.CompactStats // what committed batches did
	pending store.CompactStats  // what the open batch did
	tx      *sql.Tx
	bound   map[*sql.Stmt]*sql.Stmt
	m       *merger
	budget  int
	changed bool
	scratch hist.Histogram
	sc      statusCodec
	moved   []movedRow // reused across batches
}

func (c *compaction) begin() error {
	if c.tx != nil {
		return nil
	}
	if err := c.db.check(c.ctx, "compact"); err != nil {
		return err
	}
	tx, err := c.db.w.BeginTx(c.ctx, nil)
	if err != nil {
		return c.db.wrap(c.ctx, err, "compact: begin")
	}
	c.tx, c.budget, c.changed, c.pending = tx, c.db.batch, false, store.CompactStats{}
	c.bound = make(map[*sql.Stmt]*sql.Stmt)
	c.m = newMerger(c.ctx, tx, c.db)
	return nil
}

func (c *compaction) stmt(s *sql.Stmt) *sql.Stmt {
	t := c.bound[s]
	if t == nil {
		t = c.tx.StmtContext(c.ctx, s)
		c.bound[s] = t
	}
	return t
}

// spend charges n rows to the transaction and commits it once the budget
// is gone.
func (c *compaction) spend(n int) error {
	c.budget -= max(n, 1)
	if c.budget > 0 {
		return nil
	}
	return c.commit()
}

func (c *compaction) commit() error {
	if c.tx == nil {
		return nil
	}
	tx := c.tx
	c.tx = nil
	if err := tx.Commit(); err != nil {
		return c.db.wrap(c.ctx, err, "compact: commit")
	}
	if c.changed {
		c.st.Batches++
	}
	c.st.Moved += c.pending.Moved
	c.st.Hours += c.pending.Hours
	c.st.DeletedRollups += c.pending.DeletedRollups
	c.st.DeletedHourly += c.pending.DeletedHourly
	c.st.DeletedKeys += c.pending.DeletedKeys
	return nil
}

func (c *compaction) rollback() {
	if c.tx != nil {
		_ = c.tx.Rollback()
		c.tx = nil
	}
}

type hourAcc struct {
	hour int64
	n    int // quanta merged into h
	h    *hist.Histogram
}

// movedRow is a quantum whose histogram a batch moves: what it is written
// back with.
type movedRow struct {
	start    int64
	c        [5]int64
	measured bool
	statuses []byte // without their histograms
}

// move merges the histograms of s's quanta in [s.mark, full) into their
// hours, at most a budget's worth, and reports whether none is left. Only
// whole hours move, unless one hour alone exceeds the budget, so readers
// rarely see an hour half moved (and HourlyHistograms is exact even then).
//
// Every batch scans from the mark, not from where the previous batch
// stopped: an append committed between two batches may have put a
// histogram back into a quantum already moved, and the batch that
// advances the mark must leave none below it. Moved quanta are skipped by
// "hist IS NOT NULL", so the rescan costs an index walk over small rows.
func (c *compaction) move(s seriesRow, full int64) (done bool, err error) {
	limit := c.budget
	rows, err := c.stmt(c.db.ws.moveSel).QueryContext(c.ctx, s.sli, s.quantum, s.mark, full, limit)
	if err != nil {
		return false, err
	}
	var (
		hours []hourAcc
		moved = c.moved[:0]
		blob  sql.RawBytes
		sblob sql.RawBytes
	)
	for rows.Next() {
		var r movedRow
		if err := rows.Scan(&r.start, &r.c[0], &r.c[1], &r.c[2], &r.c[3], &r.c[4], &r.measured, &blob, &sblob); err != nil {
			_ = rows.Close()
			return false, err
		}
		if err := decode(&c.scratch, blob); err != nil {
			_ = rows.Close()
			return false, fmt.Errorf("histogram of quantum %d: %w", r.start, err)
		}
		// The statuses' histograms go with the quantum's; their counts
		// stay.
		if r.statuses, err = c.sc.strip(nil, sblob); err != nil {
			_ = rows.Close()
			return false, fmt.Errorf("statuses of quantum %d: %w", r.start, err)
		}
		h := store.HourOf(r.start)
		if len(hours) == 0 || hours[len(hours)-1].hour != h {
			hours = append(hours, hourAcc{hour: h, h: new(hist.Histogram)})
		}
		a := &hours[len(hours)-1]
		a.h.Merge(&c.scratch)
		a.n++
		moved = append(moved, r)
	}
	c.moved = moved
	if err := rows.Close(); err != nil {
		return false, err
	}
	done = len(moved) < limit
	if !done && len(hours) > 1 {
		// There may be more: leave the last hour, maybe incomplete, to the
		// next batch.
		moved = moved[:len(moved)-hours[len(hours)-1].n]
		hours = hours[:len(hours)-1]
	}
	for _, a := range hours {
		if err := c.m.mergeHourly(rollupKey{s.sli, s.quantum, a.hour}, a.h); err != nil {
			return false, err
		}
	}
	del, ins := c.stmt(c.db.ws.moveDel), c.stmt(c.db.ws.rollupIns)
	for _, r := range moved {
		if _, err := del.ExecContext(c.ctx, s.sli, s.quantum, r.start); err != nil {
			return false, err
		}
		res, err := ins.ExecContext(c.ctx, s.sli, s.quantum, r.start, r.c[0], r.c[1], r.c[2], r.c[3], r.c[4], r.measured, nil, r.statuses)
		if err != nil {
			return false, err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			// Cannot happen inside one write transaction; if it did, the
			// rollback keeps the histogram where it was.
			return false, fmt.Errorf("quantum %d: rewrite without histogram changed %d rows: %v", r.start, n, err)
		}
	}
	if done {
		if _, err := c.stmt(c.db.ws.seriesSetMark).ExecContext(c.ctx, full, s.sli, s.quantum, full); err != nil {
			return false, err
		}
	}
	c.changed = true
	c.pending.Moved += int64(len(moved))
	c.pending.Hours += int64(len(hours))
	return done, c.spend(len(moved))
}

// deleteOld deletes the rows of s starting before cut from one table, a
// budget's worth per transaction.
func (c *compaction) deleteOld(s seriesRow, nth, del *sql.Stmt, cut int64, count *int64) error {
	for {
		if err := c.begin(); err != nil {
			return err
		}
		bound, done := cut, true
		err := c.stmt(nth).QueryRowContext(c.ctx, s.sli, s.quantum, cut, c.budget).Scan(&bound)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			bound = cut
		case err != nil:
			return err
		default:
			done = false
		}
		res, err := c.stmt(del).ExecContext(c.ctx, s.sli, s.quantum, bound)
		if _, err := c.tally(res, err, count); err != nil || done {
			return err
		}
	}
}

// tally adds the rows a delete removed to count and charges them to the
// transaction's budget.
func (c *compaction) tally(res sql.Result, err error, count *int64) (int64, error) {
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if n > 0 {
		c.changed = true
		*count += n
	}
	return n, c.spend(int(n))
}

// forgetKeys deletes the idempotency keys committed before cut, a
// budget's worth per transaction.
func (c *compaction) forgetKeys(cut int64) error {
	for {
		if err := c.begin(); err != nil {
			return err
		}
		limit := c.budget
		res, err := c.stmt(c.db.ws.keyDelOld).ExecContext(c.ctx, cut, limit)
		n, err := c.tally(res, err, &c.pending.DeletedKeys)
		if err != nil || n < int64(limit) {
			return err
		}
	}
}

// vacuum hands the pages that compaction freed back to the file system,
// so retention shrinks the file rather than only stopping its growth.
func (db *DB) vacuum(ctx context.Context, st *store.CompactStats) error {
	last := int64(-1)
	for {
		var free int64
		if err := db.ws.freePages.QueryRowContext(ctx).Scan(&free); err != nil {
			return db.wrap(ctx, err, "compact: freelist_count")
		}
		if free == 0 || free == last {
			// Done, or the file was not created with auto_vacuum and
			// nothing can be returned.
			return nil
		}
		last = free
		if err := db.check(ctx, "compact: vacuum"); err != nil {
			return err
		}
		if _, err := db.ws.incrVacuum.ExecContext(ctx); err != nil {
			return db.wrap(ctx, err, "compact: incremental vacuum")
		}
		st.Batches++
	}
}

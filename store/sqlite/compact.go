package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
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
	id      int64
	sli     string
	quantum int64
	mark    int64 // hist_before_ns
}

// Compact implements store.Compactor.
//
// For each series, in order: quanta before the Full cut leave rollups,
// their histograms merged into their hours and their counts into their
// hours' blocks, and the series' mark (hist_before_ns) moves past them in
// the same transaction; then blocks and hourly rows past their horizons
// are deleted. Appends read the mark inside their own write transaction,
// so an append either precedes a batch (and is moved by it or the next
// one) or follows it (and goes to the block and the hour directly): none
// is lost or counted twice.
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
			mark, err := c.move(s, full)
			if err != nil {
				return st, db.wrap(ctx, err, "compact %s/%v: move histograms", s.sli, time.Duration(s.quantum))
			}
			s.mark = mark
		}
		if err := c.deleteOld(db.ws.rollupNth, db.ws.rollupDel, []any{s.id}, counts, &c.pending.DeletedRollups); err != nil {
			return st, db.wrap(ctx, err, "compact %s/%v: delete rollups", s.sli, time.Duration(s.quantum))
		}
		if err := c.deleteCounts(s, counts); err != nil {
			return st, db.wrap(ctx, err, "compact %s/%v: delete compacted rollups", s.sli, time.Duration(s.quantum))
		}
		base := hourKey(s.id, 0)
		if err := c.deleteOld(db.ws.hourlyNth, db.ws.hourlyDel, []any{base}, base+hourIndex(hourly), &c.pending.DeletedHourly); err != nil {
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
		if err := rows.Scan(&s.id, &s.sli, &s.quantum, &s.mark); err != nil {
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
	db        *DB
	ctx       context.Context
	st        *store.CompactStats // what committed batches did
	pending   store.CompactStats  // what the open batch did
	tx        *sql.Tx
	bound     map[*sql.Stmt]*sql.Stmt
	m         *merger
	budget    int
	changed   bool
	scratch   hist.Histogram
	sc        statusCodec
	moved     []blockEntry // reused across batches
	scratchEs []blockEntry
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

// move moves the quanta of s in [s.mark, full) out of rollups, at most a
// budget's worth: their histograms merged into their hours, their counts
// into their blocks. It returns the series' new mark, full once none is
// left. Only whole hours move, unless one hour alone exceeds the budget,
// so readers rarely see an hour half moved (and both reads are exact even
// then).
func (c *compaction) move(s seriesRow, full int64) (mark int64, err error) {
	limit := c.budget
	rows, err := c.stmt(c.db.ws.moveSel).QueryContext(c.ctx, s.id, s.mark, full, limit)
	if err != nil {
		return s.mark, err
	}
	var (
		hours []hourAcc
		moved = c.moved[:0]
		blob  sql.RawBytes
		sblob sql.RawBytes
	)
	for rows.Next() {
		var e blockEntry
		var cs [5]int64
		if err := rows.Scan(&e.start, &cs[0], &cs[1], &cs[2], &cs[3], &cs[4], &e.measured, &blob, &sblob); err != nil {
			_ = rows.Close()
			return s.mark, err
		}
		for i := range cs {
			e.c[i] = uint64(cs[i])
		}
		if err := decode(&c.scratch, blob); err != nil {
			_ = rows.Close()
			return s.mark, fmt.Errorf("histogram of quantum %d: %w", e.start, err)
		}
		// The statuses' histograms go with the quantum's; their counts
		// stay.
		if e.statuses, err = c.sc.strip(nil, sblob); err != nil {
			_ = rows.Close()
			return s.mark, fmt.Errorf("statuses of quantum %d: %w", e.start, err)
		}
		h := store.HourOf(e.start)
		if len(hours) == 0 || hours[len(hours)-1].hour != h {
			hours = append(hours, hourAcc{hour: h, h: new(hist.Histogram)})
		}
		a := &hours[len(hours)-1]
		a.h.Merge(&c.scratch)
		a.n++
		moved = append(moved, e)
	}
	c.moved = moved
	if err := rows.Close(); err != nil {
		return s.mark, err
	}
	done := len(moved) < limit
	if !done && len(hours) > 1 {
		// There may be more: leave the last hour, maybe incomplete, to the
		// next batch.
		moved = moved[:len(moved)-hours[len(hours)-1].n]
		hours = hours[:len(hours)-1]
	}
	mark = full
	if !done {
		mark = moved[len(moved)-1].start + 1
	}
	for _, a := range hours {
		if err := c.m.mergeHourly(hourKey(s.id, a.hour), a.h); err != nil {
			return s.mark, err
		}
	}
	for _, e := range moved {
		b, err := c.m.block(s.id, s.quantum, e.start)
		if err != nil {
			return s.mark, err
		}
		i, found := findEntry(b.es, e.start)
		if found {
			// Below the mark and in rollups at once: appends never write
			// both, so the file was changed behind nines' back.
			return s.mark, fmt.Errorf("quantum %d is stored both compacted and not", e.start)
		}
		b.es, b.dirty = slices.Insert(b.es, i, e), true
	}
	if err := c.m.storeBlock(); err != nil {
		return s.mark, err
	}
	if _, err := c.stmt(c.db.ws.moveDel).ExecContext(c.ctx, s.id, s.mark, mark); err != nil {
		return s.mark, err
	}
	if _, err := c.stmt(c.db.ws.seriesSetMark).ExecContext(c.ctx, mark, s.id, mark); err != nil {
		return s.mark, err
	}
	c.changed = true
	c.pending.Moved += int64(len(moved))
	c.pending.Hours += int64(len(hours))
	return mark, c.spend(len(moved))
}

// deleteOld deletes the rows of one table below cut, a budget's worth per
// transaction: nth finds the bound of a batch from (prefix, cut, budget)
// and del deletes up to it from (prefix, bound).
func (c *compaction) deleteOld(nth, del *sql.Stmt, prefix []any, cut int64, count *int64) error {
	for {
		if err := c.begin(); err != nil {
			return err
		}
		bound, done := cut, true
		err := c.stmt(nth).QueryRowContext(c.ctx, append(prefix, cut, c.budget)...).Scan(&bound)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			bound = cut
		case err != nil:
			return err
		default:
			done = false
		}
		res, err := c.stmt(del).ExecContext(c.ctx, append(prefix, bound)...)
		if _, err := c.tally(res, err, count); err != nil || done {
			return err
		}
	}
}

// deleteCounts deletes the compacted quanta of s starting before cut: the
// blocks of the hours before cut's whole, and those quanta of cut's hour.
func (c *compaction) deleteCounts(s seriesRow, cut int64) error {
	base := hourKey(s.id, 0)
	for lo, hi := base, base+hourIndex(cut); lo < hi; {
		if err := c.begin(); err != nil {
			return err
		}
		// About a budget's worth of quanta: a block holds an hour of
		// minutes.
		rows, err := c.stmt(c.db.ws.blockSel).QueryContext(c.ctx, lo, hi, max(c.budget/60, 1))
		if err != nil {
			return err
		}
		var quanta, blocks int
		for rows.Next() {
			var key int64
			var blob sql.RawBytes
			if err := rows.Scan(&key, &blob); err != nil {
				_ = rows.Close()
				return err
			}
			if c.scratchEs, err = decodeBlock(c.scratchEs[:0], blob, keyHour(key), s.quantum); err != nil {
				_ = rows.Close()
				return fmt.Errorf("block of hour %d: %w", keyHour(key), err)
			}
			quanta += len(c.scratchEs)
			blocks++
			lo = key + 1
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if blocks == 0 {
			break
		}
		if _, err := c.stmt(c.db.ws.blockDel).ExecContext(c.ctx, base, lo); err != nil {
			return err
		}
		c.changed = true
		c.pending.DeletedRollups += int64(quanta)
		if err := c.spend(quanta); err != nil {
			return err
		}
	}
	if cut <= 0 || cut >= store.MaxTimeNs || store.HourOf(cut) == cut {
		return nil
	}
	if err := c.begin(); err != nil {
		return err
	}
	b, err := c.m.block(s.id, s.quantum, cut)
	if err != nil {
		return err
	}
	i, _ := findEntry(b.es, cut)
	if i > 0 {
		b.es, b.dirty = b.es[i:], true
		c.changed = true
		c.pending.DeletedRollups += int64(i)
	}
	if err := c.m.storeBlock(); err != nil {
		return err
	}
	return c.spend(i)
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

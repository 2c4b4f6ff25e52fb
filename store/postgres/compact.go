package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/store"
)

// compactBatch bounds the rows one compaction transaction reads or
// deletes, so that appends wait for one batch at most. Tests shrink
// DB.batch to exercise batching.
const compactBatch = 4096

// compactSeries is a series Compact visits.
type compactSeries struct {
	seriesRow
	sli     string
	quantum int64
}

// Compact implements store.Compactor, as store/sqlite does: for each
// series, histograms of quanta before the Full cut are merged into their
// hours and dropped from the quanta, and the series' mark moves to the
// cut in the transaction of the last of them; then rollups and hourly
// rows past their horizons are deleted. Every batch holds the rollups
// lock, so an append either precedes a batch (and is moved by it or the
// next one) or follows it (and goes to the hour directly).
//
// Deleted rows are reclaimed by PostgreSQL's autovacuum, which makes
// their space reusable rather than shrinking the files.
func (db *DB) Compact(ctx context.Context, now time.Time, p store.Retention) (store.CompactStats, error) {
	var st store.CompactStats
	full, counts, hourly, err := p.Cutoffs(now)
	if err != nil {
		return st, fmt.Errorf("postgres: compact: %w", err)
	}
	if err := db.check(ctx, "compact"); err != nil {
		return st, err
	}
	var series []compactSeries
	rows, err := db.pool.Query(ctx, `SELECT id, sli, quantum_ns, hist_before_ns FROM series ORDER BY sli, quantum_ns`)
	if err != nil {
		return st, db.wrap(ctx, err, "compact: list series")
	}
	var s compactSeries
	var sli []byte
	if _, err := pgx.ForEachRow(rows, []any{&s.id, &sli, &s.quantum, &s.mark}, func() error {
		s.sli = string(sli)
		series = append(series, s)
		return nil
	}); err != nil {
		return st, db.wrap(ctx, err, "compact: list series")
	}
	step := func(op string, fn func(tx pgx.Tx) (more bool, err error)) error {
		for {
			more := false
			if err := db.write(ctx, op, lockRollups, func(tx pgx.Tx) (err error) {
				more, err = fn(tx)
				return err
			}); err != nil {
				return err
			}
			if !more {
				return nil
			}
		}
	}
	for _, s := range series {
		what := fmt.Sprintf("compact %s/%v", s.sli, time.Duration(s.quantum))
		if s.mark < full {
			if err := step(what+": move histograms", func(tx pgx.Tx) (bool, error) {
				return db.move(ctx, tx, s, full, &st)
			}); err != nil {
				return st, err
			}
		}
		for _, del := range []struct {
			table string
			cut   int64
			n     *int64
		}{{"rollups", counts, &st.DeletedRollups}, {"hourly", hourly, &st.DeletedHourly}} {
			// Most series have nothing past a horizon in most hours: a
			// look along the primary key, without the lock, spares them
			// a transaction that holds it. A row it misses waits for the
			// next Compact.
			var old bool
			if err := db.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+del.table+` WHERE series = $1 AND start_ns < $2)`,
				s.id, del.cut).Scan(&old); err != nil {
				return st, db.wrap(ctx, err, "%s: find old %s", what, del.table)
			}
			if !old {
				continue
			}
			err := step(what+": delete old "+del.table, func(tx pgx.Tx) (bool, error) {
				tag, err := tx.Exec(ctx, `DELETE FROM `+del.table+` WHERE (series, start_ns) IN
					(SELECT series, start_ns FROM `+del.table+` WHERE series = $1 AND start_ns < $2
					ORDER BY start_ns LIMIT $3)`, s.id, del.cut, db.batch)
				if err != nil {
					return false, err
				}
				n := tag.RowsAffected()
				*del.n += n
				if n > 0 {
					st.Batches++
				}
				return n == int64(db.batch), nil
			})
			if err != nil {
				return st, err
			}
		}
	}
	err = step("compact: forget idempotency keys", func(tx pgx.Tx) (bool, error) {
		tag, err := tx.Exec(ctx, `DELETE FROM idempotency WHERE key IN
			(SELECT key FROM idempotency WHERE at_ns < $1 ORDER BY at_ns LIMIT $2)`, p.KeysCutoff(now), db.batch)
		if err != nil {
			return false, err
		}
		n := tag.RowsAffected()
		st.DeletedKeys += n
		if n > 0 {
			st.Batches++
		}
		return n == int64(db.batch), nil
	})
	if err != nil {
		return st, err
	}
	// Fresh statistics keep the planner reading a range of quanta along
	// the primary key, already in order: with the estimate of a table
	// autovacuum has not analysed yet (a bulk import, a new series) it
	// sorts 30 days of rollups on disk instead, 5× slower. A role that
	// does not own the tables gets a warning, not an error, and relies on
	// autovacuum.
	if _, err := db.pool.Exec(ctx, `ANALYZE series, rollups, hourly`); err != nil {
		return st, db.wrap(ctx, err, "compact: analyze")
	}
	return st, nil
}

// move merges the histograms of s's quanta in [s.mark, full) into their
// hours, at most a batch's worth, and reports whether more are left. Only
// whole hours move, unless one hour alone exceeds the batch. Every batch
// scans from the mark: an append committed between two batches may have
// put a histogram back into a quantum already moved, and the batch that
// advances the mark must leave none below it. st counts the batch before
// it commits: a failed commit ends Compact with an error, and the next
// Compact redoes the batch.
func (db *DB) move(ctx context.Context, tx pgx.Tx, s compactSeries, full int64, st *store.CompactStats) (more bool, err error) {
	limit := db.batch
	// A status's latencies are among the quantum's: without a histogram
	// of its own, a quantum has none for its statuses either.
	rows, err := tx.Query(ctx, `SELECT start_ns, hist FROM rollups
		WHERE series = $1 AND start_ns >= $2 AND start_ns < $3 AND hist IS NOT NULL
		ORDER BY start_ns LIMIT $4`, s.id, s.mark, full, limit)
	if err != nil {
		return false, err
	}
	type hourAcc struct {
		hour int64
		n    int
		h    *hist.Histogram
	}
	var (
		hours   []hourAcc
		starts  []int64
		start   int64
		blob    []byte
		scratch hist.Histogram
	)
	_, err = pgx.ForEachRow(rows, []any{&start, &blob}, func() error {
		if err := decodeHist(&scratch, blob); err != nil {
			return domain(fmt.Errorf("postgres: compact %s: histogram of quantum %d: %w", s.sli, start, err))
		}
		h := store.HourOf(start)
		if len(hours) == 0 || hours[len(hours)-1].hour != h {
			hours = append(hours, hourAcc{hour: h, h: new(hist.Histogram)})
		}
		a := &hours[len(hours)-1]
		a.h.Merge(&scratch)
		a.n++
		starts = append(starts, start)
		return nil
	})
	if err != nil {
		return false, err
	}
	done := len(starts) < limit
	if !done && len(hours) > 1 {
		// There may be more: leave the last hour, maybe incomplete, to the
		// next batch.
		starts = starts[:len(starts)-hours[len(hours)-1].n]
		hours = hours[:len(hours)-1]
	}
	m := make(map[rowKey]*hist.Histogram)
	for _, a := range hours {
		if a.h.Count() > 0 {
			m[rowKey{s.id, a.hour}] = a.h
		}
	}
	b := &pgx.Batch{}
	if len(m) > 0 {
		if err := mergeHourly(ctx, tx, b, m); err != nil {
			return false, err
		}
	}
	// The statuses' histograms go with the quantum's; their counts stay.
	b.Queue(`UPDATE rollups SET hist = NULL, status_hists = NULL, status_derived = 0
		WHERE series = $1 AND start_ns = ANY($2)`, s.id, starts)
	if done {
		b.Queue(`UPDATE series SET hist_before_ns = $1 WHERE id = $2 AND hist_before_ns < $1`, full, s.id)
	}
	if err := sendBatch(ctx, tx, b); err != nil {
		return false, err
	}
	if len(starts) > 0 {
		st.Batches++
	}
	st.Moved += int64(len(starts))
	st.Hours += int64(len(hours))
	return !done, nil
}

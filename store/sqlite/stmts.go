package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
)

// Statements are prepared once at Open. A write statement is bound to a
// transaction with Tx.StmtContext, which finds the copy already prepared
// on the single write connection instead of compiling it again.
type writeStmts struct {
	seriesIns, seriesSetMark, seriesAll *sql.Stmt

	rollupIns, rollupGet, rollupUpd *sql.Stmt
	countsGet, countsUpd            *sql.Stmt
	hourlyGet, hourlyPut            *sql.Stmt

	moveSel, moveDel      *sql.Stmt
	rollupNth, rollupDel  *sql.Stmt
	hourlyNth, hourlyDel  *sql.Stmt
	freePages, incrVacuum *sql.Stmt

	sloPut, sloDel                        *sql.Stmt
	statePut, stateDelRange, stateDelFrom *sql.Stmt
	statsAdd                              *sql.Stmt
	keyIns, keyGet, keyDelOld             *sql.Stmt
}

type readStmts struct {
	rollups, hourly      *sql.Stmt
	sloGet, sloList      *sql.Stmt
	stateGet, stateRange *sql.Stmt
	stateFrom, statsAll  *sql.Stmt
}

const rollupCols = `attempted, good, errors, slow, over_threshold, measured, hist, statuses`

func (db *DB) prepare(ctx context.Context) error {
	var err error
	prep := func(c *sql.DB, dst **sql.Stmt, query string) {
		if err != nil {
			return
		}
		if *dst, err = c.PrepareContext(ctx, query); err != nil {
			err = fmt.Errorf("prepare %q: %w", query, err)
		}
	}
	w, ws := db.w, &db.ws
	prep(w, &ws.seriesIns, `INSERT INTO series (sli, quantum_ns, hist_before_ns) VALUES (?, ?, ?)`)
	prep(w, &ws.seriesSetMark, `UPDATE series SET hist_before_ns = ? WHERE sli = ? AND quantum_ns = ? AND hist_before_ns < ?`)
	prep(w, &ws.seriesAll, `SELECT sli, quantum_ns, hist_before_ns FROM series ORDER BY sli, quantum_ns`)

	// The common append is a new quantum: one INSERT that does nothing on
	// a conflict, and only then the read-modify-write of a merge.
	prep(w, &ws.rollupIns, `INSERT INTO rollups (sli, quantum_ns, start_ns, `+rollupCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	prep(w, &ws.rollupGet, `SELECT `+rollupCols+` FROM rollups WHERE sli = ? AND quantum_ns = ? AND start_ns = ?`)
	prep(w, &ws.rollupUpd, `UPDATE rollups SET attempted = ?, good = ?, errors = ?, slow = ?, over_threshold = ?, measured = ?, hist = ?, statuses = ?
		WHERE sli = ? AND quantum_ns = ? AND start_ns = ?`)
	// Re-judging reads what it must check and rewrite, not the histogram.
	prep(w, &ws.countsGet, `SELECT attempted, statuses FROM rollups WHERE sli = ? AND quantum_ns = ? AND start_ns = ?`)
	prep(w, &ws.countsUpd, `UPDATE rollups SET good = ?, errors = ?, slow = ?, over_threshold = ?, statuses = ?
		WHERE sli = ? AND quantum_ns = ? AND start_ns = ?`)
	prep(w, &ws.hourlyGet, `SELECT hist FROM hourly WHERE sli = ? AND quantum_ns = ? AND start_ns = ?`)
	prep(w, &ws.hourlyPut, `INSERT INTO hourly (sli, quantum_ns, start_ns, hist) VALUES (?, ?, ?, ?)
		ON CONFLICT DO UPDATE SET hist = excluded.hist`)

	prep(w, &ws.moveSel, `SELECT start_ns, `+rollupCols+` FROM rollups
		WHERE sli = ? AND quantum_ns = ? AND start_ns >= ? AND start_ns < ? AND hist IS NOT NULL
		ORDER BY start_ns LIMIT ?`)
	// Compact drops a histogram by deleting the row and inserting it again
	// without: SQLite rebalances B-tree pages that a delete leaves under a
	// third full but not those an update shrinks, so UPDATE … SET hist =
	// NULL would leave the file as large as before, its pages 90% empty.
	prep(w, &ws.moveDel, `DELETE FROM rollups WHERE sli = ? AND quantum_ns = ? AND start_ns = ?`)
	// SQLite is not built with DELETE … LIMIT, so a batch of deletes is
	// bounded by the start of the row one past the batch.
	prep(w, &ws.rollupNth, `SELECT start_ns FROM rollups WHERE sli = ? AND quantum_ns = ? AND start_ns < ?
		ORDER BY start_ns LIMIT 1 OFFSET ?`)
	prep(w, &ws.rollupDel, `DELETE FROM rollups WHERE sli = ? AND quantum_ns = ? AND start_ns < ?`)
	prep(w, &ws.hourlyNth, `SELECT start_ns FROM hourly WHERE sli = ? AND quantum_ns = ? AND start_ns < ?
		ORDER BY start_ns LIMIT 1 OFFSET ?`)
	prep(w, &ws.hourlyDel, `DELETE FROM hourly WHERE sli = ? AND quantum_ns = ? AND start_ns < ?`)
	prep(w, &ws.freePages, `PRAGMA freelist_count`)
	prep(w, &ws.incrVacuum, `PRAGMA incremental_vacuum(`+strconv.Itoa(vacuumPages)+`)`)

	prep(w, &ws.sloPut, `INSERT INTO slos (name, def, updated_ns) VALUES (?, ?, ?)
		ON CONFLICT DO UPDATE SET def = excluded.def, updated_ns = excluded.updated_ns`)
	prep(w, &ws.sloDel, `DELETE FROM slos WHERE name = ?`)
	prep(w, &ws.statePut, `INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value`)
	prep(w, &ws.stateDelRange, `DELETE FROM state WHERE key >= ? AND key < ?`)
	prep(w, &ws.stateDelFrom, `DELETE FROM state WHERE key >= ?`)
	prep(w, &ws.statsAdd, `INSERT INTO ingest_stats (source, reason, n) VALUES (?, ?, ?)
		ON CONFLICT DO UPDATE SET n = n + excluded.n`)

	prep(w, &ws.keyIns, `INSERT INTO idempotency (key, request, reply, at_ns) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	prep(w, &ws.keyGet, `SELECT request, reply, at_ns FROM idempotency WHERE key = ?`)
	// A budget's worth of keys per statement (SQLite has no DELETE …
	// LIMIT), oldest first along the index.
	prep(w, &ws.keyDelOld, `DELETE FROM idempotency WHERE key IN
		(SELECT key FROM idempotency WHERE at_ns < ? ORDER BY at_ns LIMIT ?)`)

	r, rs := db.r, &db.rs
	prep(r, &rs.rollups, `SELECT start_ns, `+rollupCols+` FROM rollups
		WHERE sli = ? AND quantum_ns = ? AND start_ns >= ? AND start_ns < ? ORDER BY start_ns`)
	// One statement reads both tables, so the hourly rows and the quantum
	// rows come from one snapshot: a Compact committing in between cannot
	// make a histogram count twice or not at all.
	prep(r, &rs.hourly, `SELECT start_ns, hist FROM hourly
			WHERE sli = ?1 AND quantum_ns = ?2 AND start_ns >= ?3 AND start_ns < ?4
		UNION ALL
		SELECT start_ns, hist FROM rollups
			WHERE sli = ?1 AND quantum_ns = ?2 AND start_ns >= ?3 AND start_ns < ?4 AND hist IS NOT NULL
		ORDER BY 1`)
	prep(r, &rs.sloGet, `SELECT def, updated_ns FROM slos WHERE name = ?`)
	prep(r, &rs.sloList, `SELECT name, def, updated_ns FROM slos ORDER BY name`)
	prep(r, &rs.stateGet, `SELECT value FROM state WHERE key = ?`)
	prep(r, &rs.stateRange, `SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key`)
	prep(r, &rs.stateFrom, `SELECT key, value FROM state WHERE key >= ? ORDER BY key`)
	prep(r, &rs.statsAll, `SELECT source, reason, n FROM ingest_stats ORDER BY source, reason`)
	return err
}

func closeStmts(ss ...*sql.Stmt) {
	for _, s := range ss {
		if s != nil {
			_ = s.Close()
		}
	}
}

func (ws *writeStmts) close() {
	closeStmts(ws.seriesIns, ws.seriesSetMark, ws.seriesAll,
		ws.rollupIns, ws.rollupGet, ws.rollupUpd, ws.countsGet, ws.countsUpd, ws.hourlyGet, ws.hourlyPut,
		ws.moveSel, ws.moveDel, ws.rollupNth, ws.rollupDel, ws.hourlyNth, ws.hourlyDel,
		ws.freePages, ws.incrVacuum,
		ws.sloPut, ws.sloDel, ws.statePut, ws.stateDelRange, ws.stateDelFrom, ws.statsAdd,
		ws.keyIns, ws.keyGet, ws.keyDelOld)
}

func (rs *readStmts) close() {
	closeStmts(rs.rollups, rs.hourly, rs.sloGet, rs.sloList, rs.stateGet, rs.stateRange, rs.stateFrom, rs.statsAll)
}

// prefixEnd returns the smallest string greater than every string with
// the given prefix, or ok false when there is none (the prefix is empty or
// all 0xff bytes). SQLite compares TEXT with memcmp, so this bounds an
// index range scan.
func prefixEnd(prefix string) (end string, ok bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

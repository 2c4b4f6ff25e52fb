package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
)

// stmts holds the prepared statements, by purpose. The DB has two sets:
// ws, prepared on the single write connection, and rs, on the read pool;
// each statement of the list below is in the set(s) of the connections it
// runs on, and the fields of the other set stay nil. A write statement is
// bound to a transaction with Tx.StmtContext, which finds the copy
// already prepared on the connection instead of compiling it again.
type stmts struct {
	seriesIns, seriesSetMark, seriesAll, seriesMarks *sql.Stmt

	rollupIns, rollupGet, rollupUpd *sql.Stmt
	countsGet, countsUpd            *sql.Stmt
	hourlyGet, hourlyPut            *sql.Stmt
	blockGet, blockPut              *sql.Stmt

	moveSel, moveDel      *sql.Stmt
	rollupNth, rollupDel  *sql.Stmt
	hourlyNth, hourlyDel  *sql.Stmt
	blockSel, blockDel    *sql.Stmt
	freePages, incrVacuum *sql.Stmt
	checkpoint            *sql.Stmt

	sloPut, sloDel                        *sql.Stmt
	statePut, stateDelRange, stateDelFrom *sql.Stmt
	statsAdd                              *sql.Stmt
	keyIns, keyGet, keyDelOld             *sql.Stmt

	rollups, hourly      *sql.Stmt
	sloGet, sloList      *sql.Stmt
	stateGet, stateRange *sql.Stmt
	stateFrom, statsAll  *sql.Stmt

	annIns, annDel, annList *sql.Stmt

	incIns, incUpd, incBodyIns, incBodyUpd *sql.Stmt
	incGet, incGroup, incVersion, incList  *sql.Stmt
	entryIns, entriesOf, lastSeq           *sql.Stmt
	repairIns, repairUpd, repairsOf        *sql.Stmt
	repairsAll                             *sql.Stmt
	burnsDel, burnIns, burnsOf, burnsAll   *sql.Stmt
	factsGen, factsAll, factsSince         *sql.Stmt
}

// conns says which connections a statement is prepared on.
type conns int

const (
	onWrite conns = 1 << iota
	onRead
	onBoth = onWrite | onRead
)

// statement is one SQL statement of the store.
type statement struct {
	on  conns
	sql string
	// scans says why the statement reads a table whole, or walks an index
	// of one without a bound, when that is its purpose (every SLO for the
	// list, every repair item for the debt report); sorts why a sort it
	// needs is a small one. Empty for statements that must find their
	// rows through an index and in order: TestQueryPlans holds them to it.
	scans, sorts string
	// field is where the prepared statement goes in a set.
	field func(*stmts) **sql.Stmt
}

const rollupCols = `attempted, good, errors, slow, over_threshold, measured, hist, statuses`

// nextGen is the gen of a write: one past the highest, found through the
// index. Writes are serialised on the one write connection, so gens only
// grow.
const nextGen = `(SELECT coalesce(max(gen), 0) + 1 FROM incidents)`

// incidentCols are the columns scanIncident reads, from incidentFrom.
const incidentCols = `incidents.id, version, status, severity, owner, title, detected_by, group_key,
	impact_start_ns, detected_ns, engaged_ns, mitigated_ns, resolved_ns, created_ns, updated_ns, incident_bodies.body`

const incidentFrom = ` FROM incidents JOIN incident_bodies ON incident_bodies.id = incidents.id`

const repairCols = `id, incident_id, title, term, phase, owner, status, created_ns, due_ns, closed_ns, link`

const burnCols = `incident_id, slo, from_ns, to_ns, unit, spent, total, share, error`

// statements lists every statement the store runs after Open, once: Open
// prepares them from here and TestQueryPlans explains each, so the plans
// tested are those of the statements run. (Open's own PRAGMAs and the
// migrations in schema.go run before, once.) It is a function so that
// the list cannot be changed.
func statements() []statement {
	// recordCols as "a = ?, b = ?" and as "?, ?".
	sets := strings.Join(recordCols, " = ?, ") + " = ?"
	marks := strings.Repeat("?, ", len(recordCols))
	return []statement{
		{on: onWrite, sql: `INSERT INTO series (sli, quantum_ns, hist_before_ns) VALUES (?, ?, ?) RETURNING id`,
			field: func(s *stmts) **sql.Stmt { return &s.seriesIns }},
		{on: onWrite, sql: `UPDATE series SET hist_before_ns = ? WHERE id = ? AND hist_before_ns < ?`,
			field: func(s *stmts) **sql.Stmt { return &s.seriesSetMark }},
		{on: onWrite, sql: `SELECT id, sli, quantum_ns, hist_before_ns FROM series ORDER BY id`,
			scans: "Compact visits every series",
			field: func(s *stmts) **sql.Stmt { return &s.seriesAll }},
		// A commit looks its series up a chunk at a time: one query per
		// series cost a fifth of a 1,000-SLI commit. The last chunk is
		// padded with its last pair, whose row then comes back twice.
		{on: onWrite, sql: `SELECT s.sli, s.quantum_ns, s.id, s.hist_before_ns FROM (VALUES ` +
			strings.Repeat("(?, ?), ", seriesChunk-1) + `(?, ?)) AS v JOIN series AS s ON s.sli = v.column1 AND s.quantum_ns = v.column2`,
			field: func(s *stmts) **sql.Stmt { return &s.seriesMarks }},

		// The common append is a new quantum: one INSERT that does nothing on
		// a conflict, and only then the read-modify-write of a merge.
		{on: onWrite, sql: `INSERT INTO rollups (series, start_ns, ` + rollupCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			field: func(s *stmts) **sql.Stmt { return &s.rollupIns }},
		{on: onWrite, sql: `SELECT ` + rollupCols + ` FROM rollups WHERE series = ? AND start_ns = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.rollupGet }},
		{on: onWrite, sql: `UPDATE rollups SET attempted = ?, good = ?, errors = ?, slow = ?, over_threshold = ?, measured = ?, hist = ?, statuses = ?
		WHERE series = ? AND start_ns = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.rollupUpd }},
		// Re-judging reads what it must check and rewrite, not the histogram.
		{on: onWrite, sql: `SELECT attempted, statuses FROM rollups WHERE series = ? AND start_ns = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.countsGet }},
		{on: onWrite, sql: `UPDATE rollups SET good = ?, errors = ?, slow = ?, over_threshold = ?, statuses = ?
		WHERE series = ? AND start_ns = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.countsUpd }},
		{on: onWrite, sql: `SELECT hist FROM hourly WHERE key = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.hourlyGet }},
		{on: onWrite, sql: `INSERT INTO hourly (key, hist) VALUES (?, ?) ON CONFLICT DO UPDATE SET hist = excluded.hist`,
			field: func(s *stmts) **sql.Stmt { return &s.hourlyPut }},
		{on: onWrite, sql: `SELECT quanta FROM blocks WHERE key = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.blockGet }},
		{on: onWrite, sql: `INSERT INTO blocks (key, quanta) VALUES (?, ?) ON CONFLICT DO UPDATE SET quanta = excluded.quanta`,
			field: func(s *stmts) **sql.Stmt { return &s.blockPut }},

		{on: onWrite, sql: `SELECT start_ns, ` + rollupCols + ` FROM rollups
		WHERE series = ? AND start_ns >= ? AND start_ns < ? ORDER BY start_ns LIMIT ?`,
			field: func(s *stmts) **sql.Stmt { return &s.moveSel }},
		// Moved quanta leave rollups as a range, so whole pages are freed
		// instead of rows shrunk in place (which left pages half empty).
		{on: onWrite, sql: `DELETE FROM rollups WHERE series = ? AND start_ns >= ? AND start_ns < ?`,
			field: func(s *stmts) **sql.Stmt { return &s.moveDel }},
		// SQLite is not built with DELETE … LIMIT, so a batch of deletes is
		// bounded by the start (or key) of the row one past the batch.
		{on: onWrite, sql: `SELECT start_ns FROM rollups WHERE series = ? AND start_ns < ?
		ORDER BY start_ns LIMIT 1 OFFSET ?`,
			field: func(s *stmts) **sql.Stmt { return &s.rollupNth }},
		{on: onWrite, sql: `DELETE FROM rollups WHERE series = ? AND start_ns < ?`,
			field: func(s *stmts) **sql.Stmt { return &s.rollupDel }},
		{on: onWrite, sql: `SELECT key FROM hourly WHERE key >= ? AND key < ? ORDER BY key LIMIT 1 OFFSET ?`,
			field: func(s *stmts) **sql.Stmt { return &s.hourlyNth }},
		{on: onWrite, sql: `DELETE FROM hourly WHERE key >= ? AND key < ?`,
			field: func(s *stmts) **sql.Stmt { return &s.hourlyDel }},
		// Compact counts the quanta of the blocks it deletes.
		{on: onWrite, sql: `SELECT key, quanta FROM blocks WHERE key >= ? AND key < ? ORDER BY key LIMIT ?`,
			field: func(s *stmts) **sql.Stmt { return &s.blockSel }},
		{on: onWrite, sql: `DELETE FROM blocks WHERE key >= ? AND key < ?`,
			field: func(s *stmts) **sql.Stmt { return &s.blockDel }},
		{on: onWrite, sql: `PRAGMA freelist_count`,
			field: func(s *stmts) **sql.Stmt { return &s.freePages }},
		{on: onWrite, sql: `PRAGMA incremental_vacuum(` + strconv.Itoa(vacuumPages) + `)`,
			field: func(s *stmts) **sql.Stmt { return &s.incrVacuum }},
		{on: onWrite, sql: `PRAGMA wal_checkpoint(TRUNCATE)`,
			field: func(s *stmts) **sql.Stmt { return &s.checkpoint }},

		{on: onWrite, sql: `INSERT INTO slos (name, def, updated_ns) VALUES (?, ?, ?)
		ON CONFLICT DO UPDATE SET def = excluded.def, updated_ns = excluded.updated_ns`,
			field: func(s *stmts) **sql.Stmt { return &s.sloPut }},
		{on: onWrite, sql: `DELETE FROM slos WHERE name = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.sloDel }},
		{on: onWrite, sql: `INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT DO UPDATE SET value = excluded.value`,
			field: func(s *stmts) **sql.Stmt { return &s.statePut }},
		{on: onWrite, sql: `DELETE FROM state WHERE key >= ? AND key < ?`,
			field: func(s *stmts) **sql.Stmt { return &s.stateDelRange }},
		{on: onWrite, sql: `DELETE FROM state WHERE key >= ?`,
			field: func(s *stmts) **sql.Stmt { return &s.stateDelFrom }},
		{on: onWrite, sql: `INSERT INTO ingest_stats (source, reason, n) VALUES (?, ?, ?)
		ON CONFLICT DO UPDATE SET n = n + excluded.n`,
			field: func(s *stmts) **sql.Stmt { return &s.statsAdd }},

		{on: onWrite, sql: `INSERT INTO idempotency (key, request, reply, at_ns) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING`,
			field: func(s *stmts) **sql.Stmt { return &s.keyIns }},
		{on: onWrite, sql: `SELECT request, reply, at_ns FROM idempotency WHERE key = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.keyGet }},
		// A budget's worth of keys per statement (SQLite has no DELETE …
		// LIMIT), oldest first along the index.
		{on: onWrite, sql: `DELETE FROM idempotency WHERE key IN
		(SELECT key FROM idempotency WHERE at_ns < ? ORDER BY at_ns LIMIT ?)`,
			field: func(s *stmts) **sql.Stmt { return &s.keyDelOld }},

		// The read statements find the series by name and read both of its
		// tables in one statement, so that both come from one snapshot: a
		// Compact committing in between cannot make a quantum or a
		// histogram count twice or not at all. ?1 and ?2 name the series,
		// [?3, ?4) bounds the quanta's starts and [?5, ?6) the hours'
		// index (hourKeys). Every compacted quantum starts before every
		// quantum in rollups, so the blocks (0) come first, then the rows (1).
		{on: onRead, sql: `SELECT 0, b.key, 0, 0, 0, 0, 0, 0, NULL, b.quanta FROM series AS s JOIN blocks AS b
			ON b.key >= (s.id << 21) + ?5 AND b.key < (s.id << 21) + ?6
			WHERE s.sli = ?1 AND s.quantum_ns = ?2
		UNION ALL
		SELECT 1, r.start_ns, ` + rollupCols + ` FROM series AS s JOIN rollups AS r
			ON r.series = s.id AND r.start_ns >= ?3 AND r.start_ns < ?4
			WHERE s.sli = ?1 AND s.quantum_ns = ?2
		ORDER BY 1, 2`,
			field: func(s *stmts) **sql.Stmt { return &s.rollups }},
		{on: onRead, sql: `SELECT 0, h.key, h.hist FROM series AS s JOIN hourly AS h
			ON h.key >= (s.id << 21) + ?5 AND h.key < (s.id << 21) + ?6
			WHERE s.sli = ?1 AND s.quantum_ns = ?2
		UNION ALL
		SELECT 1, r.start_ns, r.hist FROM series AS s JOIN rollups AS r
			ON r.series = s.id AND r.start_ns >= ?3 AND r.start_ns < ?4 AND r.hist IS NOT NULL
			WHERE s.sli = ?1 AND s.quantum_ns = ?2
		ORDER BY 1, 2`,
			field: func(s *stmts) **sql.Stmt { return &s.hourly }},
		{on: onRead, sql: `SELECT def, updated_ns FROM slos WHERE name = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.sloGet }},
		{on: onRead, sql: `SELECT name, def, updated_ns FROM slos ORDER BY name`,
			scans: "lists every SLO",
			field: func(s *stmts) **sql.Stmt { return &s.sloList }},
		{on: onRead, sql: `SELECT value FROM state WHERE key = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.stateGet }},
		{on: onRead, sql: `SELECT key, value FROM state WHERE key >= ? AND key < ? ORDER BY key`,
			field: func(s *stmts) **sql.Stmt { return &s.stateRange }},
		{on: onRead, sql: `SELECT key, value FROM state WHERE key >= ? ORDER BY key`,
			field: func(s *stmts) **sql.Stmt { return &s.stateFrom }},
		{on: onRead, sql: `SELECT source, reason, n FROM ingest_stats ORDER BY source, reason`,
			scans: "reads every counter",
			field: func(s *stmts) **sql.Stmt { return &s.statsAll }},

		// Annotations: a query names the newest ?5 (-1: all) in [?1, ?2),
		// of an SLO (?3) and a service (?4) when set; an SLO without a
		// service sees only its own and the global ones. Newest first
		// along the index, reversed by the caller.
		{on: onWrite, sql: `INSERT INTO annotations (at_ns, slo, service, kind, title, text, url, labels)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			field: func(s *stmts) **sql.Stmt { return &s.annIns }},
		{on: onWrite, sql: `DELETE FROM annotations WHERE id = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.annDel }},
		{on: onRead, sql: `SELECT id, at_ns, slo, service, kind, title, text, url, labels FROM annotations
			WHERE at_ns >= ?1 AND at_ns < ?2
				AND (?3 = '' OR slo IN ('', ?3)) AND (?4 = '' OR service IN ('', ?4))
				AND (?3 = '' OR ?4 <> '' OR slo <> '' OR service = '')
			ORDER BY at_ns DESC, id DESC LIMIT ?5`,
			field: func(s *stmts) **sql.Stmt { return &s.annList }},

		// Incidents (incident.go).
		{on: onWrite, sql: `INSERT INTO incidents (` + strings.Join(recordCols, ", ") + `, created_ns, gen)
			VALUES (` + marks + `?, ` + nextGen + `)`,
			field: func(s *stmts) **sql.Stmt { return &s.incIns }},
		{on: onWrite, sql: `UPDATE incidents SET ` + sets + `, gen = ` + nextGen + ` WHERE id = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.incUpd }},
		{on: onWrite, sql: `INSERT INTO incident_bodies (id, body) VALUES (?, ?)`,
			field: func(s *stmts) **sql.Stmt { return &s.incBodyIns }},
		{on: onWrite, sql: `UPDATE incident_bodies SET body = ? WHERE id = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.incBodyUpd }},
		{on: onBoth, sql: `SELECT ` + incidentCols + incidentFrom + ` WHERE incidents.id = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.incGet }},
		// The caller's group key is never empty; saying so lets the
		// partial index on group keys serve the lookup.
		{on: onWrite, sql: `SELECT id FROM incidents WHERE service = ? AND group_key = ? AND group_key <> ''
			AND status IN ('open', 'mitigated') ORDER BY id DESC LIMIT 1`,
			field: func(s *stmts) **sql.Stmt { return &s.incGroup }},
		{on: onWrite, sql: `SELECT version FROM incidents WHERE id = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.incVersion }},
		// A page of the list, newest impact first along incidents_order:
		// ?1 a service ('' any), ?2 the statuses as "\nopen\nmitigated\n" ('' any),
		// ?3 a severity (0 any), ?4 and ?5 the impact start's bounds (NULL
		// none), ?6 the limit and ?7 the offset.
		{on: onRead, sql: `SELECT ` + incidentCols + incidentFrom + `
			WHERE (?1 = '' OR instr(char(10) || services || char(10), char(10) || ?1 || char(10)) > 0)
				AND (?2 = '' OR instr(?2, char(10) || status || char(10)) > 0)
				AND (?3 = 0 OR severity = ?3)
				AND (?4 IS NULL OR impact_start_ns >= ?4) AND (?5 IS NULL OR impact_start_ns < ?5)
			ORDER BY coalesce(impact_start_ns, detected_ns, created_ns) DESC, incidents.id DESC LIMIT ?6 OFFSET ?7`,
			scans: "walks the incidents newest first along incidents_order until the page is full",
			field: func(s *stmts) **sql.Stmt { return &s.incList }},
		{on: onWrite, sql: `INSERT INTO incident_timeline (incident_id, seq, at_ns, kind, author, text) VALUES (?, ?, ?, ?, ?, ?)`,
			field: func(s *stmts) **sql.Stmt { return &s.entryIns }},
		{on: onBoth, sql: `SELECT seq, at_ns, kind, author, text FROM incident_timeline WHERE incident_id = ? ORDER BY at_ns, seq`,
			sorts: "one incident's entries, at most incident.MaxEntries",
			field: func(s *stmts) **sql.Stmt { return &s.entriesOf }},
		{on: onWrite, sql: `SELECT max(seq) FROM incident_timeline WHERE incident_id = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.lastSeq }},
		{on: onWrite, sql: `INSERT INTO repair_items (incident_id, title, norm_title, term, phase, owner, status, created_ns, due_ns, closed_ns, link)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			field: func(s *stmts) **sql.Stmt { return &s.repairIns }},
		{on: onWrite, sql: `UPDATE repair_items SET title = ?, norm_title = ?, term = ?, phase = ?, owner = ?, status = ?, due_ns = ?, closed_ns = ?, link = ?
			WHERE id = ? AND incident_id = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.repairUpd }},
		{on: onBoth, sql: `SELECT ` + repairCols + ` FROM repair_items WHERE incident_id = ? ORDER BY id`,
			sorts: "one incident's repair items, at most incident.MaxRepairs",
			field: func(s *stmts) **sql.Stmt { return &s.repairsOf }},
		{on: onRead, sql: `SELECT ` + repairCols + ` FROM repair_items ORDER BY id`,
			scans: "the debt report reads every repair item",
			field: func(s *stmts) **sql.Stmt { return &s.repairsAll }},
		{on: onWrite, sql: `DELETE FROM incident_burns WHERE incident_id = ?`,
			field: func(s *stmts) **sql.Stmt { return &s.burnsDel }},
		{on: onWrite, sql: `INSERT OR REPLACE INTO incident_burns (` + burnCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			field: func(s *stmts) **sql.Stmt { return &s.burnIns }},
		{on: onBoth, sql: `SELECT ` + burnCols + ` FROM incident_burns WHERE incident_id = ? ORDER BY incident_id, slo`,
			field: func(s *stmts) **sql.Stmt { return &s.burnsOf }},
		{on: onRead, sql: `SELECT ` + burnCols + ` FROM incident_burns ORDER BY incident_id, slo`,
			scans: "the incident metrics read the budget burned of every incident",
			field: func(s *stmts) **sql.Stmt { return &s.burnsAll }},
		{on: onRead, sql: `SELECT coalesce(max(gen), 0) FROM incidents`,
			field: func(s *stmts) **sql.Stmt { return &s.factsGen }},
		{on: onRead, sql: `SELECT id, facts FROM incidents`,
			scans: "the reports' cache reads the facts of every incident once, then only the changes",
			field: func(s *stmts) **sql.Stmt { return &s.factsAll }},
		{on: onRead, sql: `SELECT id, facts FROM incidents WHERE gen > ?`,
			field: func(s *stmts) **sql.Stmt { return &s.factsSince }},
	}
}

// prepare prepares every statement of the list on its connections.
func (db *DB) prepare(ctx context.Context) error {
	for _, st := range statements() {
		for _, c := range []struct {
			on   conns
			pool *sql.DB
			set  *stmts
		}{{onWrite, db.w, &db.ws}, {onRead, db.r, &db.rs}} {
			if st.on&c.on == 0 {
				continue
			}
			p, err := c.pool.PrepareContext(ctx, st.sql)
			if err != nil {
				return fmt.Errorf("prepare %q: %w", st.sql, err)
			}
			*st.field(c.set) = p
		}
	}
	return nil
}

// close closes the statements of the set.
func (s *stmts) close() {
	for _, st := range statements() {
		if p := *st.field(s); p != nil {
			_ = p.Close()
		}
	}
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

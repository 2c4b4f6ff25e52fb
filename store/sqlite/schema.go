package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/nines-sre/nines/store"
)

// migrations[i] takes the schema from version i to i+1. Append only: a
// released migration is never edited, because databases in the field have
// run it already. Each runs in its own transaction with the version bump.
//
// Counts are stored as the int64 bit pattern of the uint64 (SQLite
// integers are signed); they are only ever added in Go, never in SQL.
var migrations = []string{
	// 0 → 1: the first schema.
	`
CREATE TABLE series (
	sli            TEXT    NOT NULL,
	quantum_ns     INTEGER NOT NULL,
	-- Quanta starting before hist_before_ns have their histograms in
	-- hourly, never in rollups: Compact moved them, and appends to them
	-- go straight there.
	hist_before_ns INTEGER NOT NULL,
	PRIMARY KEY (sli, quantum_ns)
) WITHOUT ROWID;

CREATE TABLE rollups (
	sli            TEXT    NOT NULL,
	quantum_ns     INTEGER NOT NULL,
	start_ns       INTEGER NOT NULL,
	attempted      INTEGER NOT NULL,
	good           INTEGER NOT NULL,
	errors         INTEGER NOT NULL,
	slow           INTEGER NOT NULL,
	over_threshold INTEGER NOT NULL,
	measured       INTEGER NOT NULL,
	hist           BLOB,    -- libcircllhist serialization; NULL when empty
	PRIMARY KEY (sli, quantum_ns, start_ns)
) WITHOUT ROWID;

-- A rowid table, unlike the others: an hour's histogram is often over
-- the 1,002 bytes a WITHOUT ROWID row may keep in a 4 KiB page, and the
-- rest would take an overflow page of its own, 3 KiB wasted per hour.
CREATE TABLE hourly (
	sli        TEXT    NOT NULL,
	quantum_ns INTEGER NOT NULL, -- of the rollups merged into it
	start_ns   INTEGER NOT NULL, -- the hour
	hist       BLOB    NOT NULL,
	PRIMARY KEY (sli, quantum_ns, start_ns)
);

CREATE TABLE slos (
	name       TEXT    NOT NULL PRIMARY KEY,
	def        BLOB    NOT NULL,
	updated_ns INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE state (
	key   TEXT NOT NULL PRIMARY KEY,
	value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE ingest_stats (
	source TEXT    NOT NULL,
	reason TEXT    NOT NULL,
	n      INTEGER NOT NULL,
	PRIMARY KEY (source, reason)
) WITHOUT ROWID;
`,
	// 1 → 2: deploy and change annotations.
	annotationsSchema,
	// 2 → 3: incidents (incident.go).
	incidentSchema,
	// 3 → 4: idempotency keys, committed with the batches they name.
	`
CREATE TABLE idempotency (
	key     TEXT    NOT NULL PRIMARY KEY,
	request BLOB    NOT NULL, -- the caller's fingerprint of the request
	reply   BLOB    NOT NULL, -- what the first batch answered
	at_ns   INTEGER NOT NULL
) WITHOUT ROWID;
-- Compact forgets keys by age.
CREATE INDEX idempotency_at ON idempotency (at_ns);
`,
	// 4 → 5: counts and latencies per status code, which re-judging an
	// edited SLI reads; the format is documented in statuses.go. NULL for
	// rollups stored before, and for sources that keep none.
	`ALTER TABLE rollups ADD COLUMN statuses BLOB;`,
	// 5 → 6: the incident list's order, so that a page of it walks the
	// newest incidents instead of sorting all of them.
	`CREATE INDEX incidents_order ON incidents (coalesce(impact_start_ns, detected_ns, created_ns), id);`,
	// 6 → 7: series get numeric ids that rollups are keyed by instead of
	// the SLI's name and quantum, and compacted quanta move into blocks
	// of an hour (blocks.go), with packBlocks below: an SLI-year of busy
	// minutes takes 55 % of the disk it did, of quiet ones 30 %
	// (docs/performance.md).
	`
CREATE TABLE series_v7 (
	id             INTEGER PRIMARY KEY,
	sli            TEXT    NOT NULL,
	quantum_ns     INTEGER NOT NULL,
	-- Quanta starting before hist_before_ns are compacted: their counts
	-- are in blocks and their histograms in hourly, never in rollups.
	-- Compact moves them, and appends to them go straight there.
	hist_before_ns INTEGER NOT NULL,
	UNIQUE (sli, quantum_ns)
);
INSERT INTO series_v7 (sli, quantum_ns, hist_before_ns)
	SELECT sli, quantum_ns, hist_before_ns FROM series ORDER BY sli, quantum_ns;

CREATE TABLE rollups_v7 (
	series         INTEGER NOT NULL, -- series.id
	start_ns       INTEGER NOT NULL,
	attempted      INTEGER NOT NULL,
	good           INTEGER NOT NULL,
	errors         INTEGER NOT NULL,
	slow           INTEGER NOT NULL,
	over_threshold INTEGER NOT NULL,
	measured       INTEGER NOT NULL,
	hist           BLOB,    -- libcircllhist serialization; NULL when empty
	statuses       BLOB,    -- statuses.go; NULL when none are kept
	PRIMARY KEY (series, start_ns)
) WITHOUT ROWID;
INSERT INTO rollups_v7
	SELECT s.id, r.start_ns, r.attempted, r.good, r.errors, r.slow, r.over_threshold, r.measured, r.hist, r.statuses
	FROM rollups AS r JOIN series_v7 AS s ON s.sli = r.sli AND s.quantum_ns = r.quantum_ns
	WHERE r.start_ns >= s.hist_before_ns
	ORDER BY s.id, r.start_ns;

-- key is hourKey(series.id, hour) (blocks.go). Rowid tables: an hour's
-- histogram is often over the 1,002 bytes a WITHOUT ROWID row may keep
-- in a 4 KiB page, and the rest would take an overflow page of its own.
CREATE TABLE hourly_v7 (
	key  INTEGER PRIMARY KEY,
	hist BLOB NOT NULL
);
INSERT INTO hourly_v7 (key, hist)
	SELECT (s.id << 21) | (h.start_ns / 3600000000000), h.hist
	FROM hourly AS h JOIN series_v7 AS s ON s.sli = h.sli AND s.quantum_ns = h.quantum_ns
	ORDER BY 1;

CREATE TABLE blocks (
	key    INTEGER PRIMARY KEY,
	quanta BLOB NOT NULL -- the hour's compacted quanta (blocks.go)
);
`,
}

// post runs Go code after the SQL of a migration, in its transaction,
// where SQL alone cannot say what the step does.
var post = map[int]func(ctx context.Context, tx *sql.Tx) error{
	6: packBlocks,
}

// packBlocks finishes migration 6 → 7: it writes the compacted rollups of
// schema 6 (rows without histograms below their series' mark) into blocks,
// an hour at a time, and puts the new tables in the old ones' place.
func packBlocks(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `
		SELECT s.id, s.quantum_ns, r.start_ns, r.attempted, r.good, r.errors, r.slow, r.over_threshold, r.measured, r.hist IS NOT NULL, r.statuses
		FROM rollups AS r JOIN series_v7 AS s ON s.sli = r.sli AND s.quantum_ns = r.quantum_ns
		WHERE r.start_ns < s.hist_before_ns
		ORDER BY s.id, r.start_ns`)
	if err != nil {
		return err
	}
	defer rows.Close()
	var (
		es       []blockEntry
		id, q, h int64 = -1, 0, 0
		buf      []byte
	)
	flush := func() error {
		if len(es) == 0 {
			return nil
		}
		buf = encodeBlock(buf[:0], h, q, es)
		es = es[:0]
		_, err := tx.ExecContext(ctx, `INSERT INTO blocks (key, quanta) VALUES (?, ?)`, hourKey(id, h), buf)
		return err
	}
	for rows.Next() {
		var (
			e        blockEntry
			c        [5]int64
			sid, sq  int64
			hasHist  bool
			statuses []byte
		)
		if err := rows.Scan(&sid, &sq, &e.start, &c[0], &c[1], &c[2], &c[3], &c[4], &e.measured, &hasHist, &statuses); err != nil {
			return err
		}
		if hasHist {
			// Schema 6 moved every histogram below the mark to hourly.
			return fmt.Errorf("series %d: quantum %d below the compaction mark keeps a histogram", sid, e.start)
		}
		for i := range c {
			e.c[i] = uint64(c[i])
		}
		e.statuses = statuses
		if sid != id || store.HourOf(e.start) != h {
			if err := flush(); err != nil {
				return err
			}
			id, q, h = sid, sq, store.HourOf(e.start)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if err := rows.Close(); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `
		DROP TABLE rollups;
		DROP TABLE hourly;
		DROP TABLE series;
		ALTER TABLE series_v7 RENAME TO series;
		ALTER TABLE rollups_v7 RENAME TO rollups;
		ALTER TABLE hourly_v7 RENAME TO hourly;`)
	return err
}

// ErrNewerSchema is returned by Open for a database written by a newer
// nines, whose schema this build does not know.
var ErrNewerSchema = errors.New("database schema is newer than this build of nines")

// migrate brings the schema to the newest version, one transaction per step so
// that a crash leaves a consistent version. Each step re-reads the version
// inside its write transaction: two processes opening one new database
// race harmlessly.
func migrate(ctx context.Context, w *sql.DB, path string) error {
	return migrateTo(ctx, w, path, len(migrations))
}

// migrateTo is migrate up to version to; tests write older files with it.
func migrateTo(ctx context.Context, w *sql.DB, path string, to int) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: %s: create schema_version: %w", path, err)
	}
	for {
		done, err := migrateStep(ctx, w, path, to)
		if err != nil || done {
			return err
		}
	}
}

func migrateStep(ctx context.Context, w *sql.DB, path string, to int) (done bool, err error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("sqlite: %s: migrate: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	v, err := readVersion(ctx, tx)
	if err != nil {
		return false, fmt.Errorf("sqlite: %s: read schema version: %w", path, err)
	}
	switch {
	case v > len(migrations):
		return false, fmt.Errorf("sqlite: %s: schema version %d, this nines knows up to %d: %w; run a newer nines or restore a backup",
			path, v, len(migrations), ErrNewerSchema)
	case v >= to:
		return true, tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("sqlite: %s: migrate schema %d → %d: %w", path, v, v+1, err)
	}
	if fn := post[v]; fn != nil {
		if err := fn(ctx, tx); err != nil {
			return false, fmt.Errorf("sqlite: %s: migrate schema %d → %d: %w", path, v, v+1, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM schema_version`); err != nil {
		return false, fmt.Errorf("sqlite: %s: migrate schema %d → %d: %w", path, v, v+1, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version) VALUES (?)`, v+1); err != nil {
		return false, fmt.Errorf("sqlite: %s: migrate schema %d → %d: %w", path, v, v+1, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("sqlite: %s: migrate schema %d → %d: commit: %w", path, v, v+1, err)
	}
	return false, nil
}

func readVersion(ctx context.Context, tx *sql.Tx) (int, error) {
	var v int
	err := tx.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
}

// ErrNewerSchema is returned by Open for a database written by a newer
// nines, whose schema this build does not know.
var ErrNewerSchema = errors.New("database schema is newer than this build of nines")

// migrate brings the schema to the newest version, one transaction per step so
// that a crash leaves a consistent version. Each step re-reads the version
// inside its write transaction: two processes opening one new database
// race harmlessly.
func migrate(ctx context.Context, w *sql.DB, path string) error {
	if _, err := w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: %s: create schema_version: %w", path, err)
	}
	for {
		done, err := migrateStep(ctx, w, path)
		if err != nil || done {
			return err
		}
	}
}

func migrateStep(ctx context.Context, w *sql.DB, path string) (done bool, err error) {
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
	case v == len(migrations):
		return true, tx.Commit()
	}
	if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
		return false, fmt.Errorf("sqlite: %s: migrate schema %d → %d: %w", path, v, v+1, err)
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

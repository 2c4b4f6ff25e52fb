package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/nines-sre/nines/store"
)

// annotationsSchema is the migration that adds annotations. They are few
// (deploys, config pushes), so one table with an index on time serves
// every query.
const annotationsSchema = `
CREATE TABLE annotations (
	id      INTEGER PRIMARY KEY,
	at_ns   INTEGER NOT NULL,
	slo     TEXT    NOT NULL, -- '' when it applies more widely
	service TEXT    NOT NULL, -- '' when it applies to every service
	kind    TEXT    NOT NULL,
	title   TEXT    NOT NULL,
	text    TEXT    NOT NULL,
	url     TEXT    NOT NULL,
	labels  TEXT    NOT NULL  -- JSON object
);
CREATE INDEX annotations_at ON annotations (at_ns);
`

// AddAnnotation implements store.Annotations.
func (db *DB) AddAnnotation(ctx context.Context, a store.Annotation) (int64, error) {
	if err := store.CheckAnnotation(a); err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	labels, err := json.Marshal(a.Labels)
	if err != nil {
		return 0, fmt.Errorf("sqlite: add annotation: %w", err)
	}
	if a.Labels == nil {
		labels = []byte("{}")
	}
	var id int64
	err = db.write(ctx, "add annotation", func(tx *sql.Tx) error {
		return tx.StmtContext(ctx, db.ws.annIns).QueryRowContext(ctx,
			a.At.UnixNano(), a.SLO, a.Service, a.Kind, a.Title, a.Text, a.URL, string(labels)).Scan(&id)
	})
	return id, err
}

// Annotations implements store.Annotations.
func (db *DB) Annotations(ctx context.Context, q store.AnnotationQuery) ([]store.Annotation, error) {
	if err := db.check(ctx, "annotations"); err != nil {
		return nil, err
	}
	limit := int64(-1) // SQLite: no limit
	if q.Limit > 0 {
		limit = int64(q.Limit)
	}
	rows, err := db.rs.annList.QueryContext(ctx, store.ClampNs(q.From), store.ClampNs(q.To), q.SLO, q.Service, limit)
	if err != nil {
		return nil, db.wrap(ctx, err, "annotations")
	}
	defer rows.Close()
	var out []store.Annotation
	for rows.Next() {
		var a store.Annotation
		var ns int64
		var labels string
		if err := rows.Scan(&a.ID, &ns, &a.SLO, &a.Service, &a.Kind, &a.Title, &a.Text, &a.URL, &labels); err != nil {
			return nil, db.wrap(ctx, err, "annotations")
		}
		a.At = time.Unix(0, ns).UTC()
		if labels != "{}" && labels != "null" {
			if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
				return nil, fmt.Errorf("sqlite: annotation %d: labels: %w", a.ID, err)
			}
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, err, "annotations")
	}
	slices.Reverse(out)
	return out, nil
}

// DeleteAnnotation implements store.Annotations.
func (db *DB) DeleteAnnotation(ctx context.Context, id int64) error {
	return db.write(ctx, fmt.Sprintf("delete annotation %d", id), func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, db.ws.annDel).ExecContext(ctx, id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("annotation %d: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

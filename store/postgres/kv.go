package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nines-sre/nines/store"
)

// PutSLO implements store.SLOs.
func (db *DB) PutSLO(ctx context.Context, name string, def []byte, updated time.Time) error {
	def, err := store.CheckSLODef(name, def, updated)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return db.write(ctx, "put slo "+name, 0, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO slos (name, def, updated_ns) VALUES ($1, $2, $3)
			ON CONFLICT (name) DO UPDATE SET def = excluded.def, updated_ns = excluded.updated_ns`, name, def, updated.UnixNano())
		return err
	})
}

// GetSLO implements store.SLOs.
func (db *DB) GetSLO(ctx context.Context, name string) (store.SLODef, error) {
	if err := db.check(ctx, "get slo %s", name); err != nil {
		return store.SLODef{}, err
	}
	d := store.SLODef{Name: name}
	var ns int64
	err := db.pool.QueryRow(ctx, `SELECT def, updated_ns FROM slos WHERE name = $1`, name).Scan(&d.Def, &ns)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.SLODef{}, fmt.Errorf("postgres: slo %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return store.SLODef{}, db.wrap(ctx, err, "get slo %s", name)
	}
	d.Updated = time.Unix(0, ns).UTC()
	return d, nil
}

// ListSLOs implements store.SLOs.
func (db *DB) ListSLOs(ctx context.Context) ([]store.SLODef, error) {
	if err := db.check(ctx, "list slos"); err != nil {
		return nil, err
	}
	// Sorted by bytes, as SQLite does, whatever the database's collation.
	rows, err := db.pool.Query(ctx, `SELECT name, def, updated_ns FROM slos ORDER BY name COLLATE "C"`)
	if err != nil {
		return nil, db.wrap(ctx, err, "list slos")
	}
	var defs []store.SLODef
	var d store.SLODef
	var ns int64
	_, err = pgx.ForEachRow(rows, []any{&d.Name, &d.Def, &ns}, func() error {
		d.Updated = time.Unix(0, ns).UTC()
		defs = append(defs, d)
		d.Def = nil
		return nil
	})
	if err != nil {
		return nil, db.wrap(ctx, err, "list slos")
	}
	return defs, nil
}

// DeleteSLO implements store.SLOs.
func (db *DB) DeleteSLO(ctx context.Context, name string) error {
	return db.write(ctx, "delete slo "+name, 0, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM slos WHERE name = $1`, name)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return domain(fmt.Errorf("postgres: delete slo %s: %w", name, store.ErrNotFound))
		}
		return nil
	})
}

// PutState implements store.State.
func (db *DB) PutState(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("postgres: put state: %w: empty key", store.ErrInvalid)
	}
	if value == nil {
		value = []byte{}
	}
	return db.write(ctx, "put state "+key, 0, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			[]byte(key), value)
		return err
	})
}

// GetState implements store.State.
func (db *DB) GetState(ctx context.Context, key string) ([]byte, error) {
	if err := db.check(ctx, "get state %q", key); err != nil {
		return nil, err
	}
	var v []byte
	err := db.pool.QueryRow(ctx, `SELECT value FROM state WHERE key = $1`, []byte(key)).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: state %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, db.wrap(ctx, err, "get state %q", key)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// prefixRange returns the WHERE clause and arguments selecting the state
// keys that start with prefix: a range of the primary key, open-ended
// when no key bounds it above (an empty prefix, or one of 0xff bytes).
func prefixRange(prefix string) (string, []any) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] != 0xff {
			end := append([]byte{}, b[:i+1]...)
			end[i]++
			return `key >= $1 AND key < $2`, []any{[]byte(prefix), end}
		}
	}
	return `key >= $1`, []any{[]byte(prefix)}
}

// RangeState implements store.State.
func (db *DB) RangeState(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	if err := db.check(ctx, "range state %q", prefix); err != nil {
		return err
	}
	where, args := prefixRange(prefix)
	rows, err := db.pool.Query(ctx, `SELECT key, value FROM state WHERE `+where+` ORDER BY key`, args...)
	if err != nil {
		return db.wrap(ctx, err, "range state %q", prefix)
	}
	var k, v []byte
	var fnErr error
	_, err = pgx.ForEachRow(rows, []any{&k, &v}, func() error {
		val := v
		if val == nil {
			val = []byte{}
		}
		v = nil // fn may keep the value
		if err := fn(string(k), val); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return db.wrap(ctx, err, "range state %q", prefix)
	}
	return nil
}

// DeleteStatePrefix implements store.State.
func (db *DB) DeleteStatePrefix(ctx context.Context, prefix string) (int64, error) {
	var n int64
	err := db.write(ctx, fmt.Sprintf("delete state %q", prefix), 0, func(tx pgx.Tx) error {
		where, args := prefixRange(prefix)
		tag, err := tx.Exec(ctx, `DELETE FROM state WHERE `+where, args...)
		n = tag.RowsAffected()
		return err
	})
	return n, err
}

// AddIngestStats implements store.State.
func (db *DB) AddIngestStats(ctx context.Context, source, reason string, n int64) error {
	return db.write(ctx, "ingest stats "+source+"/"+reason, 0, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, statsAdd, source, reason, n)
		return err
	})
}

// IngestStats implements store.State.
func (db *DB) IngestStats(ctx context.Context) (map[store.IngestKey]int64, error) {
	if err := db.check(ctx, "ingest stats"); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT source, reason, n FROM ingest_stats`)
	if err != nil {
		return nil, db.wrap(ctx, err, "ingest stats")
	}
	m := make(map[store.IngestKey]int64)
	var k store.IngestKey
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&k.Source, &k.Reason, &n}, func() error {
		m[k] = n
		return nil
	})
	if err != nil {
		return nil, db.wrap(ctx, err, "ingest stats")
	}
	return m, nil
}

// AddAnnotation implements store.Annotations.
func (db *DB) AddAnnotation(ctx context.Context, a store.Annotation) (int64, error) {
	if err := store.CheckAnnotation(a); err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	labels := []byte("{}")
	if a.Labels != nil {
		var err error
		if labels, err = json.Marshal(a.Labels); err != nil {
			return 0, fmt.Errorf("postgres: add annotation: %w", err)
		}
	}
	var id int64
	err := db.write(ctx, "add annotation", 0, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO annotations (at_ns, slo, service, kind, title, text, url, labels)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb) RETURNING id`,
			a.At.UnixNano(), a.SLO, a.Service, a.Kind, a.Title, a.Text, a.URL, string(labels)).Scan(&id)
	})
	return id, err
}

// Annotations implements store.Annotations. A query names the newest $5
// (NULL: all) in [$1, $2), of an SLO ($3) and a service ($4) when set; an
// SLO without a service sees only its own and the global ones. Newest
// first along the index, reversed here.
func (db *DB) Annotations(ctx context.Context, q store.AnnotationQuery) ([]store.Annotation, error) {
	if err := db.check(ctx, "annotations"); err != nil {
		return nil, err
	}
	var limit *int64
	if q.Limit > 0 {
		l := int64(q.Limit)
		limit = &l
	}
	rows, err := db.pool.Query(ctx, `SELECT id, at_ns, slo, service, kind, title, text, url, labels::text FROM annotations
		WHERE at_ns >= $1 AND at_ns < $2
			AND ($3 = '' OR slo IN ('', $3)) AND ($4 = '' OR service IN ('', $4))
			AND ($3 = '' OR $4 <> '' OR slo <> '' OR service = '')
		ORDER BY at_ns DESC, id DESC LIMIT $5`,
		store.ClampNs(q.From), store.ClampNs(q.To), q.SLO, q.Service, limit)
	if err != nil {
		return nil, db.wrap(ctx, err, "annotations")
	}
	var out []store.Annotation
	var a store.Annotation
	var ns int64
	var labels string
	_, err = pgx.ForEachRow(rows, []any{&a.ID, &ns, &a.SLO, &a.Service, &a.Kind, &a.Title, &a.Text, &a.URL, &labels}, func() error {
		a.At, a.Labels = time.Unix(0, ns).UTC(), nil
		if labels != "{}" && labels != "null" {
			if err := json.Unmarshal([]byte(labels), &a.Labels); err != nil {
				return fmt.Errorf("annotation %d: labels: %w", a.ID, err)
			}
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, db.wrap(ctx, err, "annotations")
	}
	slices.Reverse(out)
	return out, nil
}

// DeleteAnnotation implements store.Annotations.
func (db *DB) DeleteAnnotation(ctx context.Context, id int64) error {
	return db.write(ctx, fmt.Sprintf("delete annotation %d", id), 0, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM annotations WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return domain(fmt.Errorf("postgres: annotation %d: %w", id, store.ErrNotFound))
		}
		return nil
	})
}

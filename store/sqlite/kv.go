package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/nines-sre/nines/store"
)

// PutSLO implements store.SLOs.
func (db *DB) PutSLO(ctx context.Context, name string, def []byte, updated time.Time) error {
	def, err := store.CheckSLODef(name, def, updated)
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return db.write(ctx, "put slo "+name, func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, db.ws.sloPut).ExecContext(ctx, name, def, updated.UnixNano())
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
	err := db.rs.sloGet.QueryRowContext(ctx, name).Scan(&d.Def, &ns)
	if errors.Is(err, sql.ErrNoRows) {
		return store.SLODef{}, fmt.Errorf("sqlite: slo %q: %w", name, store.ErrNotFound)
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
	rows, err := db.rs.sloList.QueryContext(ctx)
	if err != nil {
		return nil, db.wrap(ctx, err, "list slos")
	}
	defer rows.Close()
	var defs []store.SLODef
	for rows.Next() {
		var d store.SLODef
		var ns int64
		if err := rows.Scan(&d.Name, &d.Def, &ns); err != nil {
			return nil, db.wrap(ctx, err, "list slos")
		}
		d.Updated = time.Unix(0, ns).UTC()
		defs = append(defs, d)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, err, "list slos")
	}
	return defs, nil
}

// DeleteSLO implements store.SLOs.
func (db *DB) DeleteSLO(ctx context.Context, name string) error {
	return db.write(ctx, "delete slo "+name, func(tx *sql.Tx) error {
		res, err := tx.StmtContext(ctx, db.ws.sloDel).ExecContext(ctx, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
}

// PutState implements store.State.
func (db *DB) PutState(ctx context.Context, key string, value []byte) error {
	if key == "" {
		return fmt.Errorf("sqlite: put state: %w: empty key", store.ErrInvalid)
	}
	if value == nil {
		value = []byte{}
	}
	return db.write(ctx, "put state "+key, func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, db.ws.statePut).ExecContext(ctx, key, value)
		return err
	})
}

// GetState implements store.State.
func (db *DB) GetState(ctx context.Context, key string) ([]byte, error) {
	if err := db.check(ctx, "get state %q", key); err != nil {
		return nil, err
	}
	var v []byte
	err := db.rs.stateGet.QueryRowContext(ctx, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlite: state %q: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return nil, db.wrap(ctx, err, "get state %q", key)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// RangeState implements store.State.
func (db *DB) RangeState(ctx context.Context, prefix string, fn func(key string, value []byte) error) error {
	if err := db.check(ctx, "range state %q", prefix); err != nil {
		return err
	}
	var rows *sql.Rows
	var err error
	if end, ok := prefixEnd(prefix); ok {
		rows, err = db.rs.stateRange.QueryContext(ctx, prefix, end)
	} else {
		rows, err = db.rs.stateFrom.QueryContext(ctx, prefix)
	}
	if err != nil {
		return db.wrap(ctx, err, "range state %q", prefix)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var v []byte
		if err := rows.Scan(&k, &v); err != nil {
			return db.wrap(ctx, err, "range state %q", prefix)
		}
		if v == nil {
			v = []byte{}
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return db.wrap(ctx, err, "range state %q", prefix)
	}
	return nil
}

// DeleteStatePrefix implements store.State.
func (db *DB) DeleteStatePrefix(ctx context.Context, prefix string) (int64, error) {
	var n int64
	err := db.write(ctx, fmt.Sprintf("delete state %q", prefix), func(tx *sql.Tx) error {
		var res sql.Result
		var err error
		if end, ok := prefixEnd(prefix); ok {
			res, err = tx.StmtContext(ctx, db.ws.stateDelRange).ExecContext(ctx, prefix, end)
		} else {
			res, err = tx.StmtContext(ctx, db.ws.stateDelFrom).ExecContext(ctx, prefix)
		}
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}

// AddIngestStats implements store.State.
func (db *DB) AddIngestStats(ctx context.Context, source, reason string, n int64) error {
	return db.write(ctx, "ingest stats "+source+"/"+reason, func(tx *sql.Tx) error {
		_, err := tx.StmtContext(ctx, db.ws.statsAdd).ExecContext(ctx, source, reason, n)
		return err
	})
}

// IngestStats implements store.State.
func (db *DB) IngestStats(ctx context.Context) (map[store.IngestKey]int64, error) {
	if err := db.check(ctx, "ingest stats"); err != nil {
		return nil, err
	}
	rows, err := db.rs.statsAll.QueryContext(ctx)
	if err != nil {
		return nil, db.wrap(ctx, err, "ingest stats")
	}
	defer rows.Close()
	m := make(map[store.IngestKey]int64)
	for rows.Next() {
		var k store.IngestKey
		var n int64
		if err := rows.Scan(&k.Source, &k.Reason, &n); err != nil {
			return nil, db.wrap(ctx, err, "ingest stats")
		}
		m[k] = n
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, err, "ingest stats")
	}
	return m, nil
}

package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/postgres"
	"github.com/nines-sre/nines/store/sqlite"
)

// servingStore is what nines serve keeps its data in: rollups, SLOs,
// state (collector and alert state, the notify outbox, snapshots),
// annotations, and incidents. Both backends implement all of it.
type servingStore interface {
	store.Store
	incident.Store
}

// storeFlagHelp is the help text of --store.
const storeFlagHelp = "where nines keeps its data: a `directory` (or sqlite:DIR) for the embedded SQLite store, " +
	"or a PostgreSQL URL (postgres://user@host:5432/db?sslmode=verify-full; docs/postgres.md); default: SQLite under --data"

// storeKind says which backend a --store value names.
type storeKind int

const (
	storeSQLite storeKind = iota
	storePostgres
)

// parseStore reads a --store value: a PostgreSQL URL (postgres:// or
// postgresql://), sqlite:DIR, or a plain directory. An empty value is
// SQLite under dataDir (--data). A URL of another scheme is refused
// rather than taken for a directory named "mysql:".
func parseStore(value, dataDir string) (storeKind, string, error) {
	lower := strings.ToLower(value)
	switch {
	case value == "":
		return storeSQLite, dataDir, nil
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return storePostgres, value, nil
	case strings.HasPrefix(lower, "sqlite:"):
		dir := strings.TrimPrefix(value[len("sqlite:"):], "//")
		if dir == "" {
			return 0, "", fmt.Errorf("--store %s: no directory; use sqlite:DIR", value)
		}
		return storeSQLite, dir, nil
	}
	if i := strings.Index(value, "://"); i > 0 && !strings.ContainsAny(value[:i], `/\.`) {
		return 0, "", fmt.Errorf("--store %s: nines stores in SQLite (a directory, or sqlite:DIR) or PostgreSQL (postgres://…), not %s", postgres.Redact(value), value[:i])
	}
	return storeSQLite, value, nil
}

// openStore opens the store a --store value names (see parseStore) and
// returns it with a description for the start-up line. A PostgreSQL
// schema is migrated first; a server that cannot be reached fails here,
// so nines serve exits with the reason instead of starting without its
// data.
func openStore(ctx context.Context, value, dataDir string) (servingStore, string, error) {
	kind, where, err := parseStore(value, dataDir)
	if err != nil {
		return nil, "", err
	}
	if kind == storePostgres {
		db, err := postgres.Open(ctx, where, postgres.Options{})
		if err != nil {
			return nil, "", err
		}
		return db, "store " + db.Name(), nil
	}
	db, err := sqlite.Open(ctx, where, sqlite.Options{})
	if err != nil {
		return nil, "", err
	}
	return db, "data " + where, nil
}

package main

import (
	"context"
	"fmt"

	"github.com/nines-sre/nines/store/postgres"
)

const migrateAbout = `Show or apply the schema migrations of a PostgreSQL store.

nines serve applies missing migrations itself at start (several replicas
starting at once migrate once, under an advisory lock); this command is
for doing it ahead of a rollout, or for checking what a new version would
change. A database written by a newer nines is refused, naming both
schema versions.

  status   print the database's schema version and the migrations pending
  up       apply the pending migrations

--store takes the URL nines serve takes (also NINES_STORE). SQLite stores
are migrated when nines serve opens them.

Examples:
  nines migrate status --store postgres://nines@db.example:5432/nines
  NINES_STORE=postgres://nines@db.example/nines nines migrate up`

func runMigrate(ctx context.Context, e *env, args []string) error {
	var storeURL string
	fs := newFlagSet(e, "migrate", "status|up [flags]", migrateAbout)
	fs.StringVar(&storeURL, "store", "", "PostgreSQL `URL` of the store (postgres://…; docs/postgres.md)")
	if err := applyEnv(fs); err != nil {
		return usageError("migrate: %v", err)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "-help" {
		if help, err := parseFlags(fs, e, args); help || err != nil {
			return err
		}
		return usageError("migrate: say status or up (see nines migrate --help)")
	}
	sub := args[0]
	if help, err := parseFlags(fs, e, args[1:]); help || err != nil {
		return err
	}
	if sub != "status" && sub != "up" {
		return usageError("migrate: unknown subcommand %q: say status or up", sub)
	}
	kind, url, err := parseStore(storeURL, "")
	switch {
	case err != nil:
		return usageError("migrate: %v", err)
	case storeURL == "":
		return usageError("migrate: no store: give --store postgres://… or set NINES_STORE")
	case kind != storePostgres:
		return usageError("migrate: --store %s is a SQLite store, which nines serve migrates when it opens it; migrate is for PostgreSQL", storeURL)
	}
	name := postgres.Redact(url)
	if sub == "up" {
		from, to, err := postgres.Migrate(ctx, url)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("migrate: %w", err)}
		}
		if from == to {
			fmt.Fprintf(e.stdout, "%s: schema version %d, the latest; nothing to do\n", name, to)
		} else {
			fmt.Fprintf(e.stdout, "%s: schema version %d → %d\n", name, from, to)
		}
		return nil
	}
	st, err := postgres.ReadStatus(ctx, url)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("migrate: %w", err)}
	}
	fmt.Fprintf(e.stdout, "%s: schema version %d; this nines writes %d\n", name, st.Current, st.Latest)
	if len(st.Pending) == 0 {
		fmt.Fprintln(e.stdout, "no migrations pending")
		return nil
	}
	fmt.Fprintf(e.stdout, "%s pending (nines migrate up, or nines serve at start, applies them):\n", plural(len(st.Pending), "migration"))
	for _, m := range st.Pending {
		fmt.Fprintf(e.stdout, "  %d  %s\n", m.Version, m.What)
	}
	return nil
}

package postgres

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/incident/incidenttest"
	"github.com/nines-sre/nines/internal/pgtest"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t *testing.T, url string) *DB {
	t.Helper()
	db, err := Open(context.Background(), url, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, pgtest.URL(t)) })
}

// Compaction in batches of a few rows: hours split across batches, appends
// landing between batches.
func TestContractSmallBatches(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db := open(t, pgtest.URL(t))
		db.batch = 7
		return db
	})
}

func TestIncidentContract(t *testing.T) {
	incidenttest.Run(t, func(t *testing.T) incident.Store { return open(t, pgtest.URL(t)) })
}

// A database created by the first schema, with data in it, is brought to
// the latest by Open and keeps its data.
func TestUpgradeFromFirstSchema(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	db, err := connect(ctx, url, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.migrate(ctx, 1); err != nil {
		t.Fatalf("migrate to 1: %v", err)
	}
	if v, err := db.version(ctx); err != nil || v != 1 {
		t.Fatalf("version = %d, %v; want 1", v, err)
	}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	r := &slo.Rollup{Start: start, Attempted: 10, Good: 9, Errors: 1, Measured: true}
	if err := r.Latency.InsertN(0.25, 10); err != nil {
		t.Fatal(err)
	}
	app := db.Appender(ctx)
	if err := app.Append("checkout", time.Minute, r); err != nil {
		t.Fatal(err)
	}
	if err := app.SetState("cursor", []byte("42")); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatalf("Commit at schema 1: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := ReadStatus(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if st.Current != 1 || st.Latest != Latest() || len(st.Pending) != Latest()-1 {
		t.Errorf("status = %+v, want current 1, latest %d, %d pending", st, Latest(), Latest()-1)
	}

	db = open(t, url)
	if v, err := db.version(ctx); err != nil || v != Latest() {
		t.Fatalf("version after Open = %d, %v; want %d", v, err, Latest())
	}
	got, err := store.LoadSeries(ctx, db, "checkout", time.Minute, start, start+int64(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rollups) != 1 || got.Rollups[0].Good != 9 || got.Rollups[0].Latency.Count() != 10 {
		t.Errorf("rollups after the upgrade = %+v", got.Rollups)
	}
	if v, err := db.GetState(ctx, "cursor"); err != nil || string(v) != "42" {
		t.Errorf("state after the upgrade = %q, %v", v, err)
	}
	inc := &incident.Incident{Title: "after the upgrade", Services: []string{"checkout"}, Severity: 2, Status: incident.Open,
		DetectedBy: incident.ByMonitoring, Detected: time.Unix(0, start), Created: time.Unix(0, start), Updated: time.Unix(0, start)}
	if err := db.CreateIncident(ctx, inc); err != nil {
		t.Errorf("CreateIncident after the upgrade: %v", err)
	}
}

// Several processes opening one new database at once migrate it once.
func TestConcurrentOpen(t *testing.T) {
	url := pgtest.URL(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := Open(context.Background(), url, Options{})
			if err == nil {
				err = db.Close()
			}
			errs <- err
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A database written by a newer nines is refused, naming both versions.
func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	db := open(t, url)
	if _, err := db.pool.Exec(ctx, `UPDATE schema_version SET version = $1`, Latest()+1); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, url, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open = %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{"schema version " + strconv.Itoa(Latest()+1), "knows up to " + strconv.Itoa(Latest())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, _, err := Migrate(ctx, url); !errors.Is(err, ErrNewerSchema) {
		t.Errorf("Migrate = %v, want ErrNewerSchema", err)
	}
}

// A server that cannot be reached fails Open with ErrUnavailable, and the
// message does not repeat the password.
func TestUnreachable(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, err := Open(ctx, "postgres://nines:s3cret@/nines?host="+dir+"&connect_timeout=2", Options{})
	if !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("Open = %v, want ErrUnavailable", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the password", err)
	}
}

// A connection lost during operation fails writes with ErrUnavailable and
// stores nothing; the store recovers once the server is back.
func TestConnectionLost(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	db := open(t, url)
	admin := open(t, url)
	if err := db.PutState(ctx, "a", []byte("1")); err != nil {
		t.Fatal(err)
	}
	// End every session of the store's pool, as a server restart would.
	if _, err := admin.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	err := db.PutState(ctx, "b", []byte("2"))
	if err != nil && !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("PutState on a lost connection = %v, want nil (a fresh connection) or ErrUnavailable", err)
	}
	// The pool replaces the dead connections: later writes succeed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := db.PutState(ctx, "c", []byte("3")); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("PutState never recovered: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Once the owner migrated the schema (nines migrate up), nines serve may
// run as a role that can only read and write the tables.
func TestLeastPrivilegeRole(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	if _, _, err := Migrate(ctx, url); err != nil {
		t.Fatal(err)
	}
	owner := open(t, url)
	role := "writer_" + strconv.Itoa(os.Getpid())
	for _, q := range []string{
		`CREATE ROLE ` + role + ` LOGIN`,
		`REVOKE CREATE ON SCHEMA public FROM PUBLIC`,
		`GRANT USAGE ON SCHEMA public TO ` + role,
		`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO ` + role,
		`GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ` + role,
	} {
		if _, err := owner.pool.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		_, _ = owner.pool.Exec(ctx, `DROP OWNED BY `+role)
		_, _ = owner.pool.Exec(ctx, `DROP ROLE `+role)
	})
	db := open(t, strings.Replace(url, "user=nines", "user="+role, 1))
	if err := db.PutState(ctx, "k", []byte("v")); err != nil {
		t.Errorf("PutState as %s: %v", role, err)
	}
	inc := &incident.Incident{Title: "as a writer", Services: []string{"checkout"}, Severity: 2, Status: incident.Open,
		DetectedBy: incident.ByMonitoring, Detected: time.Now(), Created: time.Now(), Updated: time.Now()}
	if err := db.CreateIncident(ctx, inc); err != nil {
		t.Errorf("CreateIncident as %s: %v", role, err)
	}
	if n, err := db.Size(ctx); err != nil || n <= 0 {
		t.Errorf("Size as %s = %d, %v", role, n, err)
	}
}

// Two processes on one database appending to the same quanta at once
// lose no count: the read-merge-write of a quantum holds the rollups lock
// whichever process commits it.
func TestTwoStoresMergeExactly(t *testing.T) {
	ctx := context.Background()
	url := pgtest.URL(t)
	stores := []*DB{open(t, url), open(t, url)}
	start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	const rounds, quanta = 40, 5
	errs := make(chan error, len(stores))
	for _, db := range stores {
		go func() {
			for range rounds {
				app := db.Appender(ctx)
				for q := range quanta {
					r := &slo.Rollup{Start: start + int64(q)*int64(time.Minute), Attempted: 2, Good: 1, Errors: 1, Measured: true}
					if err := r.Latency.InsertN(0.01*float64(q+1), 2); err != nil {
						errs <- err
						return
					}
					if err := app.Append("checkout", time.Minute, r); err != nil {
						errs <- err
						return
					}
				}
				if err := app.Commit(); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range stores {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.LoadSeries(ctx, stores[0], "checkout", time.Minute, start, start+quanta*int64(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	want := uint64(2 * rounds * len(stores))
	if len(got.Rollups) != quanta {
		t.Fatalf("%d quanta, want %d", len(got.Rollups), quanta)
	}
	for _, r := range got.Rollups {
		if r.Attempted != want || r.Good != want/2 || r.Latency.Count() != want {
			t.Errorf("quantum %d: attempted %d, good %d, %d latencies; want %d, %d, %d", r.Start, r.Attempted, r.Good, r.Latency.Count(), want, want/2, want)
		}
	}
}

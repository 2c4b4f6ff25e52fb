package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store"
)

var update = flag.Bool("update", false, "rewrite testdata/upgrade.golden from a fresh database")

// fixtureT0 is the first hour of the fixture's data.
var fixtureT0 = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// fixtureSeries are the series the fixture writes, with the span it reads
// them back over.
var fixtureSeries = []struct {
	sli     string
	quantum time.Duration
}{
	{"checkout-availability", time.Minute},
	{"search-latency", time.Minute},
	{"search-latency", 5 * time.Minute}, // one name, two series
	{"login-availability", 2 * time.Hour},
}

// writeFixture fills db with a bit of everything the store keeps, through
// its API only, as nines serve would over a few hours: minutes with
// histograms and per-status counts, minutes without latencies, a series
// compacted partly, late samples into compacted and into kept quanta,
// re-judged counts on both sides of the cut, rollups past the counts
// horizon deleted, SLOs, state, ingest counters, idempotency keys and
// annotations. testdata/v6.db is what it wrote at schema version 6; the
// upgrade test reads that file with this build and compares it with what
// this build writes itself.
func writeFixture(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	slos, _, err := spec.Load("demo.yaml", []byte(demo.Specs))
	if err != nil {
		t.Fatal(err)
	}
	bySLI := map[string]*slo.SLO{}
	for _, s := range slos {
		bySLI[s.Name] = s
	}
	rollup := func(sli string, start time.Time) *slo.Rollup {
		r, ok := demo.Rollup(bySLI[sli], start, 7)
		if !ok {
			t.Fatalf("%s is not a demo SLO", sli)
		}
		return &r
	}
	commit := func(app store.Appender) {
		t.Helper()
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// Six hours, an hour a batch.
	for h := range 6 {
		app := db.Appender(ctx)
		hour := fixtureT0.Add(time.Duration(h) * time.Hour)
		for _, s := range fixtureSeries {
			for at := hour; at.Before(hour.Add(time.Hour)); at = at.Add(time.Minute) {
				if at.UnixNano()%int64(s.quantum) != 0 {
					continue
				}
				r := rollup(s.sli, at)
				if s.quantum == 5*time.Minute && at.Minute()%15 == 0 {
					// Counts without latencies: no histogram stored.
					r.Latency.Reset()
					r.Statuses = nil
				}
				if err := app.Append(s.sli, s.quantum, r); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := app.AddIngestStats("events", fmt.Sprintf("hour-%d", h%2), int64(h+1)); err != nil {
			t.Fatal(err)
		}
		if err := app.SetState(fmt.Sprintf("tracker/%d", h), []byte{byte(h), 0xff, 0}); err != nil {
			t.Fatal(err)
		}
		if err := app.Idempotent(store.Idempotency{Key: fmt.Sprintf("batch-%d", h), Request: []byte("req"), Reply: []byte{byte(h)}, At: hour}); err != nil {
			t.Fatal(err)
		}
		commit(app)
	}
	// Histograms of the first three hours go to hourly rows; the first
	// half hour of counts is past its horizon.
	now := fixtureT0.Add(3*time.Hour + 10*time.Minute)
	if _, err := db.Compact(ctx, now, store.Retention{Full: 10 * time.Minute, Counts: now.Sub(fixtureT0.Add(30 * time.Minute)), IdempotencyKeys: time.Hour}); err != nil {
		t.Fatal(err)
	}
	// Late samples into a compacted quantum and into a kept one, and
	// verdicts set again on both sides of the cut.
	app := db.Appender(ctx)
	for _, at := range []time.Time{fixtureT0.Add(90 * time.Minute), fixtureT0.Add(250 * time.Minute)} {
		r := rollup("checkout-availability", at.Add(24*time.Hour))
		r.Start = at.UnixNano()
		if err := app.Append("checkout-availability", time.Minute, r); err != nil {
			t.Fatal(err)
		}
	}
	commit(app)
	app = db.Appender(ctx)
	for _, at := range []time.Time{fixtureT0.Add(100 * time.Minute), fixtureT0.Add(260 * time.Minute)} {
		it := db.Rollups(ctx, "search-latency", time.Minute, at.UnixNano(), at.UnixNano()+1)
		if !it.Next() {
			t.Fatalf("no rollup at %v: %v", at, it.Err())
		}
		r := store.CountsOf(it.At())
		_ = it.Close()
		r.Good, r.Errors, r.Slow, r.OverThreshold = r.Attempted, 0, 0, 0
		if err := app.SetCounts("search-latency", time.Minute, r); err != nil {
			t.Fatal(err)
		}
	}
	commit(app)
	for i, name := range []string{"checkout-availability", "search-latency"} {
		if err := db.PutSLO(ctx, name, []byte("def of "+name), fixtureT0.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	for i, a := range []store.Annotation{
		{At: fixtureT0.Add(time.Hour), Kind: "deploy", Title: "checkout v2", Service: "checkout", Labels: map[string]string{"version": "2"}},
		{At: fixtureT0.Add(2 * time.Hour), Kind: "change", Title: "flag on", SLO: "search-latency", URL: "https://example.com/1"},
	} {
		if _, err := db.AddAnnotation(ctx, a); err != nil {
			t.Fatalf("annotation %d: %v", i, err)
		}
	}
}

// dump writes everything the store API reads back from a fixture
// database, in a stable text form.
func dump(t *testing.T, db *DB, w io.Writer) {
	t.Helper()
	ctx := context.Background()
	from, to := fixtureT0.Add(-time.Hour).UnixNano(), fixtureT0.Add(8*time.Hour).UnixNano()
	for _, s := range fixtureSeries {
		fmt.Fprintf(w, "series %s %v\n", s.sli, s.quantum)
		it := db.Rollups(ctx, s.sli, s.quantum, from, to)
		for it.Next() {
			r := it.At()
			fmt.Fprintf(w, "rollup %d a=%d g=%d e=%d s=%d o=%d m=%v h=%s\n", r.Start, r.Attempted, r.Good, r.Errors, r.Slow, r.OverThreshold, r.Measured,
				hex.EncodeToString(r.Latency.AppendBinary(nil)))
			for _, st := range r.Statuses {
				fmt.Fprintf(w, "  status %d n=%d timed=%d h=%s\n", st.Code, st.Count, st.Timed, hex.EncodeToString(st.Latency.AppendBinary(nil)))
			}
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		hit := db.HourlyHistograms(ctx, s.sli, s.quantum, from, to)
		for hit.Next() {
			start, h := hit.At()
			fmt.Fprintf(w, "hour %d h=%s\n", start, hex.EncodeToString(h.AppendBinary(nil)))
		}
		if err := hit.Err(); err != nil {
			t.Fatal(err)
		}
	}
	defs, err := db.ListSLOs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		fmt.Fprintf(w, "slo %s %q %d\n", d.Name, d.Def, d.Updated.UnixNano())
	}
	if err := db.RangeState(ctx, "", func(k string, v []byte) error {
		fmt.Fprintf(w, "state %s %x\n", k, v)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stats, err := db.IngestStats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []store.IngestKey{{Source: "events", Reason: "hour-0"}, {Source: "events", Reason: "hour-1"}} {
		fmt.Fprintf(w, "stats %s/%s %d\n", k.Source, k.Reason, stats[k])
	}
	anns, err := db.Annotations(ctx, store.AnnotationQuery{From: fixtureT0.Add(-time.Hour), To: fixtureT0.Add(8 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range anns {
		fmt.Fprintf(w, "annotation %d %d %s %q %q %q %q %v\n", a.ID, a.At.UnixNano(), a.Kind, a.Title, a.SLO, a.Service, a.URL, a.Labels)
	}
	// The keys kept are still recognised, those forgotten count again.
	for h := range 6 {
		app := db.Appender(ctx)
		if err := app.Idempotent(store.Idempotency{Key: fmt.Sprintf("batch-%d", h), Request: []byte("req"), At: fixtureT0}); err != nil {
			t.Fatal(err)
		}
		err := app.Commit()
		fmt.Fprintf(w, "key batch-%d duplicate=%v\n", h, err != nil)
		if err != nil {
			_ = app.Rollback()
		}
	}
}

// TestWriteFixture writes the fixture database, at this build's schema,
// and its dump into NINES_FIXTURE_DIR; skipped without it. testdata/v6.db
// and testdata/upgrade.golden are what it wrote at schema version 6
// (before schema 7 existed); the next schema change adds a file the same way,
// before it changes anything.
func TestWriteFixture(t *testing.T) {
	dir := os.Getenv("NINES_FIXTURE_DIR")
	if dir == "" {
		t.Skip("set NINES_FIXTURE_DIR to write a fixture database")
	}
	db, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	writeFixture(t, db)
	if _, err := db.w.ExecContext(context.Background(), `VACUUM`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// The dump writes (it tries the idempotency keys): it reads a copy.
	cp := openCopy(t, filepath.Join(dir, FileName))
	var b strings.Builder
	dump(t, cp, &b)
	if err := os.WriteFile(filepath.Join(dir, "dump.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// openCopy opens a copy of the database file src in a new directory.
func openCopy(t *testing.T, src string) *DB {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return open(t, dir)
}

// openVersion creates a database in dir at schema version v, as an older
// nines would have, and returns its connection.
func openVersion(t *testing.T, dir string, v int) *sql.DB {
	t.Helper()
	path := filepath.Join(dir, FileName)
	w, err := sql.Open("sqlite", dsn(path, "immediate", "auto_vacuum(INCREMENTAL)", "journal_mode(WAL)"))
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	if err := migrateTo(context.Background(), w, path, v); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestUpgradeFromSchema6 opens testdata/v6.db, written by nines at schema
// version 6 (rollups keyed by the SLI's name, compacted quanta as rows of
// their own), with this build, which migrates it, and reads back
// everything that nines wrote then, as it read it then
// (testdata/upgrade.golden). The same data written by this build into a
// new file reads back the same.
func TestUpgradeFromSchema6(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "upgrade.golden"))
	if err != nil {
		t.Fatal(err)
	}
	check := func(t *testing.T, db *DB) {
		t.Helper()
		var b strings.Builder
		dump(t, db, &b)
		if b.String() != string(golden) {
			got, want := strings.Split(b.String(), "\n"), strings.Split(string(golden), "\n")
			for i := range min(len(got), len(want)) {
				if got[i] != want[i] {
					t.Fatalf("line %d:\ngot  %.200s\nwant %.200s", i+1, got[i], want[i])
				}
			}
			t.Fatalf("%d lines, want %d", len(got), len(want))
		}
	}
	t.Run("The file written at schema 6 reads back as it did.", func(t *testing.T) {
		db := openCopy(t, filepath.Join("testdata", "v6.db"))
		var v int
		if err := db.w.QueryRowContext(context.Background(), `SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations) {
			t.Fatalf("schema version %d (%v), want %d", v, err, len(migrations))
		}
		check(t, db)
	})
	t.Run("The same data written now reads back the same.", func(t *testing.T) {
		db := open(t, t.TempDir())
		writeFixture(t, db)
		if *update {
			var b strings.Builder
			dump(t, db, &b)
			if err := os.WriteFile(filepath.Join("testdata", "upgrade.golden"), []byte(b.String()), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		check(t, db)
	})
	t.Run("A migrated file compacts, takes appends and reads back like a new one.", func(t *testing.T) {
		old := openCopy(t, filepath.Join("testdata", "v6.db"))
		fresh := open(t, t.TempDir())
		writeFixture(t, fresh)
		ctx := context.Background()
		for _, db := range []*DB{old, fresh} {
			app := db.Appender(ctx)
			for m := range 300 {
				r := benchRollup(fixtureT0.Add(time.Duration(m)*time.Minute).UnixNano(), uint64(m), 5)
				if err := app.Append("checkout-availability", time.Minute, r); err != nil {
					t.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Compact(ctx, fixtureT0.Add(5*time.Hour), store.Retention{Full: time.Hour, Counts: 4*time.Hour + 30*time.Minute}); err != nil {
				t.Fatal(err)
			}
		}
		var a, b strings.Builder
		dump(t, old, &a)
		dump(t, fresh, &b)
		if a.String() != b.String() {
			t.Error("the migrated file and the new one read back differently")
		}
	})
}

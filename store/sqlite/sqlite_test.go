package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/storetest"
)

func open(t *testing.T, dir string) *DB {
	t.Helper()
	db, err := Open(context.Background(), dir, Options{})
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return open(t, t.TempDir()) })
}

// Compaction in batches of a few rows: hours split across batches, series
// sharing batches, appends landing between batches.
func TestContractSmallBatches(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		db := open(t, t.TempDir())
		db.batch = 7
		return db
	})
}

// A data directory with characters that mean something in a URI.
func TestOddPath(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd&chars=%20", "nested")
	db := open(t, dir)
	if _, err := os.Stat(filepath.Join(dir, FileName)); err != nil {
		t.Fatalf("database not where expected: %v", err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&^0o750 != 0 {
		t.Errorf("data directory mode %o, want at most 0750", perm)
	}
	if db.Path() != filepath.Join(dir, FileName) {
		t.Errorf("Path = %q", db.Path())
	}
}

func TestPragmas(t *testing.T) {
	db := open(t, t.TempDir())
	ctx := context.Background()
	f := func(c *sql.DB, pragma string, want string) {
		t.Helper()
		var got string
		if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", pragma, err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	f(db.w, "journal_mode", "wal")
	f(db.w, "synchronous", "2") // FULL
	f(db.w, "auto_vacuum", "2") // INCREMENTAL
	f(db.w, "busy_timeout", "5000")
	f(db.r, "journal_mode", "wal")
	f(db.r, "query_only", "1")
	f(db.r, "busy_timeout", "5000")
	if _, err := db.r.ExecContext(ctx, `DELETE FROM state`); err == nil {
		t.Error("a write through the read pool succeeded")
	}

	dbn, err := Open(ctx, t.TempDir(), Options{Sync: SyncNormal, BusyTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer dbn.Close()
	f(dbn.w, "synchronous", "1") // NORMAL
	f(dbn.w, "busy_timeout", "1000")
}

// Everything written survives Close and Open.
func TestReopenPersists(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	var want []*slo.Rollup
	app := db.Appender(ctx)
	for i := range int64(120) {
		r := &slo.Rollup{Start: t0 + i*int64(time.Minute), Attempted: uint64(i + 1), Good: uint64(i), Measured: true}
		for j := range 50 {
			_ = r.Latency.InsertN(0.001*float64(1+j+int(i)), uint64(j+1))
		}
		want = append(want, r)
		if err := app.Append("checkout", time.Minute, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.SetState("counter/x", []byte("17")); err != nil {
		t.Fatal(err)
	}
	if err := app.AddIngestStats("rw", "late", 3); err != nil {
		t.Fatal(err)
	}
	compacted := time.Unix(0, t0+int64(store.DefaultFull)+int64(time.Hour)).UTC()
	if err := app.Idempotent(store.Idempotency{Key: "batch-7", Reply: []byte("120 rollups"), At: compacted}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	updated := time.Unix(0, t0).UTC()
	if err := db.PutSLO(ctx, "checkout", []byte("objective: 99.9"), updated); err != nil {
		t.Fatal(err)
	}
	// Compact the first hour so that hourly rows and marks persist too.
	if _, err := db.Compact(ctx, time.Unix(0, t0+int64(store.DefaultFull)+int64(time.Hour)), store.Retention{}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(db.Path() + "-wal"); err == nil {
		t.Error("the write-ahead log is still there after Close")
	}

	db = open(t, dir)
	got, err := store.LoadSeries(ctx, db, "checkout", time.Minute, t0, t0+int64(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Rollups) != len(want) {
		t.Fatalf("%d rollups after reopen, want %d", len(got.Rollups), len(want))
	}
	for i, r := range got.Rollups {
		w := want[i]
		if r.Start != w.Start || r.Attempted != w.Attempted || r.Good != w.Good || !r.Measured {
			t.Errorf("rollup %d: %+v", i, r)
		}
		if i < 60 && r.Latency.Count() != 0 || i >= 60 && !r.Latency.Equal(&w.Latency) {
			t.Errorf("rollup %d: histogram of %d samples", i, r.Latency.Count())
		}
	}
	hs, err := store.LoadHourly(ctx, db, "checkout", time.Minute, t0, t0+int64(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 {
		t.Fatalf("%d hours after reopen, want 2", len(hs))
	}
	var h0 slo.Rollup
	for _, r := range want[:60] {
		h0.Latency.Merge(&r.Latency)
	}
	if !hs[0].Latency.Equal(&h0.Latency) {
		t.Error("hourly histogram changed across reopen")
	}
	if v, err := db.GetState(ctx, "counter/x"); err != nil || string(v) != "17" {
		t.Errorf("state after reopen = %q, %v", v, err)
	}
	if st, err := db.IngestStats(ctx); err != nil || st[store.IngestKey{Source: "rw", Reason: "late"}] != 3 {
		t.Errorf("ingest stats after reopen = %v, %v", st, err)
	}
	if d, err := db.GetSLO(ctx, "checkout"); err != nil || string(d.Def) != "objective: 99.9" || !d.Updated.Equal(updated) {
		t.Errorf("SLO after reopen = %+v, %v", d, err)
	}
	app = db.Appender(ctx)
	if err := app.Idempotent(store.Idempotency{Key: "batch-7", At: compacted}); err != nil {
		t.Fatal(err)
	}
	var dup *store.DuplicateError
	if err := app.Commit(); !errors.As(err, &dup) || string(dup.Reply) != "120 rollups" || !dup.At.Equal(compacted) {
		t.Errorf("the key of a batch committed before reopen: %v, want a duplicate with the first reply", err)
	}
	// A second compaction after reopen has nothing to move.
	st, err := db.Compact(ctx, time.Unix(0, t0+int64(store.DefaultFull)+int64(time.Hour)), store.Retention{})
	if err != nil || st.Moved != 0 {
		t.Errorf("compaction after reopen: %+v, %v", st, err)
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := open(t, dir)
	if _, err := db.w.ExecContext(ctx, `UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := Open(ctx, dir, Options{})
	if !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("Open of a newer schema: %v, want ErrNewerSchema", err)
	}
	for _, want := range []string{"schema version 99", fmt.Sprintf("up to %d", len(migrations)), FileName} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestMigrationsAreIdempotentOnReopen(t *testing.T) {
	dir := t.TempDir()
	for range 3 {
		db, err := Open(context.Background(), dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var v, n int
		if err := db.w.QueryRow(`SELECT version, (SELECT count(*) FROM schema_version) FROM schema_version`).Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		if v != len(migrations) || n != 1 {
			t.Errorf("schema_version = %d in %d rows, want %d in 1", v, n, len(migrations))
		}
		db.Close()
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Open(ctx, "", Options{}); !errors.Is(err, store.ErrInvalid) {
		t.Errorf("Open(\"\"): %v, want ErrInvalid", err)
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, file, Options{}); err == nil {
		t.Error("Open of a regular file as directory succeeded")
	}
	// Not a database.
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(strings.Repeat("not sqlite ", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, dir, Options{}); err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("Open of a corrupt file: %v, want an error naming it", err)
	}
}

// A corrupt histogram or statuses column is reported with where it is,
// not a panic, when read and when merged into.
func TestCorruptColumns(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name, update, wantRead string
	}{
		{"histogram", `UPDATE rollups SET hist = x'0005ff'`, "histogram"},
		{"statuses", `UPDATE rollups SET statuses = x'0105'`, "statuses of quantum 0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db := open(t, t.TempDir())
			r := &slo.Rollup{Start: 0, Attempted: 1, Measured: true, Statuses: []slo.StatusCount{{Code: 200, Count: 1, Timed: 1}}}
			_ = r.Latency.Insert(0.1)
			_ = r.Statuses[0].Latency.Insert(0.1)
			commitOne := func() error {
				app := db.Appender(ctx)
				if err := app.Append("a", time.Minute, r); err != nil {
					t.Fatal(err)
				}
				return app.Commit()
			}
			if err := commitOne(); err != nil {
				t.Fatal(err)
			}
			if _, err := db.w.ExecContext(ctx, tc.update); err != nil {
				t.Fatal(err)
			}
			_, err := store.LoadSeries(ctx, db, "a", time.Minute, 0, int64(time.Hour))
			if err == nil || !strings.Contains(err.Error(), tc.wantRead) {
				t.Errorf("LoadSeries over a corrupt %s: %v", tc.name, err)
			}
			if err := commitOne(); err == nil || !strings.Contains(err.Error(), "a@0") {
				t.Errorf("merge into a corrupt %s: %v", tc.name, err)
			}
		})
	}
}

const crashEnv = "NINES_STORE_CRASH_DIR"

// crashSLI names the SLI of batch b: one per batch, so a torn batch would
// show as an SLI with fewer quanta than the others.
func crashSLI(b int) string { return fmt.Sprintf("batch-%04d", b) }

const crashQuanta = 100

func crashRollup(b, i int) *slo.Rollup {
	r := &slo.Rollup{Start: int64(i) * int64(time.Minute), Attempted: uint64(b + i + 1), Good: uint64(i), Measured: true}
	for j := range 40 {
		_ = r.Latency.InsertN(0.0001*float64(1+j*j+b), uint64(j+1))
	}
	return r
}

// TestCrashChild is the process TestCrash kills: it commits batches as
// fast as it can, printing "committed N" after each Commit returns.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("run by TestCrash")
	}
	ctx := context.Background()
	db, err := Open(ctx, dir, Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	for b := 0; ; b++ {
		app := db.Appender(ctx)
		for i := range crashQuanta {
			if err := app.Append(crashSLI(b), time.Minute, crashRollup(b, i)); err != nil {
				fmt.Println("append:", err)
				os.Exit(2)
			}
		}
		if err := app.SetState("last-batch", []byte(crashSLI(b))); err != nil {
			fmt.Println("state:", err)
			os.Exit(2)
		}
		if err := app.Commit(); err != nil {
			fmt.Println("commit:", err)
			os.Exit(2)
		}
		fmt.Printf("committed %d\n", b)
	}
}

// TestCrash kills a writer with SIGKILL right after it reported a commit
// and checks that every reported batch is there, whole, and no batch is
// there in part.
func TestCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Kill after the fifth commit: the child is then in the middle of its
	// sixth batch, maybe of its commit.
	const killAfter = 5
	sc := bufio.NewScanner(out)
	last := -1
	var lines []string
	for sc.Scan() {
		line := sc.Text()
		lines = append(lines, line)
		var b int
		if _, err := fmt.Sscanf(line, "committed %d", &b); err == nil {
			last = b
			if b+1 == killAfter {
				if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
				break
			}
		}
	}
	_ = cmd.Wait()
	if last+1 != killAfter {
		t.Fatalf("child stopped after batch %d; its output:\n%s", last, strings.Join(lines, "\n"))
	}

	db := open(t, dir)
	var rerr error
	if err := db.w.QueryRowContext(context.Background(), `PRAGMA integrity_check`).Scan(new(string)); err != nil {
		rerr = err
	}
	if rerr != nil {
		t.Fatalf("integrity check: %v", rerr)
	}
	var found int
	for b := 0; ; b++ {
		s, err := store.LoadSeries(context.Background(), db, crashSLI(b), time.Minute, 0, int64(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Rollups) == 0 {
			break
		}
		found++
		if len(s.Rollups) != crashQuanta {
			t.Fatalf("batch %d is torn: %d of %d quanta", b, len(s.Rollups), crashQuanta)
		}
		for i, r := range s.Rollups {
			w := crashRollup(b, i)
			if r.Start != w.Start || r.Attempted != w.Attempted || !r.Latency.Equal(&w.Latency) {
				t.Fatalf("batch %d quantum %d differs after the crash", b, i)
			}
		}
	}
	if found < killAfter {
		t.Fatalf("%d batches after the crash, but %d were committed", found, killAfter)
	}
	v, err := db.GetState(context.Background(), "last-batch")
	if err != nil || string(v) != crashSLI(found-1) {
		t.Errorf("state last-batch = %q, %v; want %q, committed with the last batch found", v, err, crashSLI(found-1))
	}
	t.Logf("%d batches committed and reported, %d found after SIGKILL", killAfter, found)
}

// Compact must give the space of the histograms back to the file system,
// not leave pages of small rows 90% empty.
func TestCompactShrinksFile(t *testing.T) {
	ctx := context.Background()
	db := open(t, t.TempDir())
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	const day = int64(24 * time.Hour)
	for _, sli := range []string{"a", "b"} {
		app := db.Appender(ctx)
		for m := t0; m < t0+day; m += int64(time.Minute) {
			r := &slo.Rollup{Start: m, Attempted: 1000, Good: 999, Measured: true}
			for j := range 100 {
				_ = r.Latency.InsertN(0.001*(1+float64(j)/10), 10)
			}
			if err := app.Append(sli, time.Minute, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	size := func() int64 {
		t.Helper()
		if err := db.Checkpoint(ctx); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(db.Path())
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	if _, err := db.Compact(ctx, time.Unix(0, t0+day+int64(store.DefaultFull)+int64(time.Hour)), store.Retention{}); err != nil {
		t.Fatal(err)
	}
	after := size()
	t.Logf("file %d bytes before Compact, %d after", before, after)
	if after > before/3 {
		t.Errorf("file %d bytes before Compact, %d after: want under a third", before, after)
	}
	var free int
	if err := db.w.QueryRowContext(ctx, `PRAGMA freelist_count`).Scan(&free); err != nil || free != 0 {
		t.Errorf("freelist_count = %d, %v after Compact, want 0", free, err)
	}
}

func TestPrefixEnd(t *testing.T) {
	f := func(prefix, want string, wantOK bool) {
		t.Helper()
		got, ok := prefixEnd(prefix)
		if got != want || ok != wantOK {
			t.Errorf("prefixEnd(%q) = %q, %v; want %q, %v", prefix, got, ok, want, wantOK)
		}
	}
	f("", "", false)
	f("a", "b", true)
	f("counter/", "counter0", true)
	f("a\xff", "b", true)
	f("a\xff\xff", "b", true)
	f("\xff", "", false)
	f("\xff\xff", "", false)
	f("ü", "ü"[:1]+"\xbd", true)
}

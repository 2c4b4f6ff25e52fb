package sqlite

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store"
)

// maxStatusGrowth is how much per-status counts may grow the store on the
// demo's traffic: re-judging an edited SLI must not cost more than that.
const maxStatusGrowth = 0.15

// TestStatusesStoreGrowth stores a day of the demo's traffic (three SLOs,
// 1,440 minutes each) twice, with per-status counts and without, and
// compares the files' bytes per SLI-minute, after a checkpoint and after a
// VACUUM (the size without free pages). The figures are in
// docs/performance.md; run with -v to see them.
func TestStatusesStoreGrowth(t *testing.T) {
	if testing.Short() {
		t.Skip("stores a day of demo traffic twice")
	}
	slos, _, err := spec.Load("demo.yaml", []byte(demo.Specs))
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	const minutes = 24 * 60
	var rollups []*slo.Rollup
	var names []string
	for _, s := range slos {
		for m := range minutes {
			r, ok := demo.Rollup(s, day.Add(time.Duration(m)*time.Minute), 1)
			if !ok {
				t.Fatalf("%s is not a demo SLO", s.Name)
			}
			rollups = append(rollups, &r)
			names = append(names, s.Name)
		}
	}
	size := func(keep bool) (full, vacuumed, compacted float64) {
		ctx := context.Background()
		db, err := Open(ctx, t.TempDir(), Options{Sync: SyncNormal})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		// An hour a batch, in time order, as nines serve writes them.
		for h := range 24 {
			app := db.Appender(ctx)
			for i, r := range rollups {
				if r.Start/int64(time.Hour) != day.Add(time.Duration(h)*time.Hour).UnixNano()/int64(time.Hour) {
					continue
				}
				c := *r
				if !keep {
					c.Statuses = nil
				}
				if err := app.Append(names[i], time.Minute, &c); err != nil {
					t.Fatal(err)
				}
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		perSLIMinute := func() float64 { return float64(fileSize(t, db)) / float64(len(rollups)) }
		full = perSLIMinute()
		if _, err := db.w.ExecContext(ctx, `VACUUM`); err != nil {
			t.Fatal(err)
		}
		vacuumed = perSLIMinute()
		// Then compacted an hour at a time, as nines serve does.
		for h := 1; h <= 24; h++ {
			if _, err := db.Compact(ctx, day.Add(time.Duration(h)*time.Hour+time.Nanosecond), store.Retention{Full: time.Nanosecond}); err != nil {
				t.Fatal(err)
			}
		}
		return full, vacuumed, perSLIMinute()
	}
	plainFull, plainVac, plainComp := size(false)
	statusFull, statusVac, statusComp := size(true)
	var histBytes, statusBytes int
	var c statusCodec
	for _, r := range rollups {
		histBytes += len(r.Latency.AppendBinary(nil))
		statusBytes += len(c.encode(nil, r))
	}
	n := float64(len(rollups))
	t.Logf("demo day, bytes per SLI-minute: histogram %.0f, statuses %.1f", float64(histBytes)/n, float64(statusBytes)/n)
	t.Logf("file without statuses %.0f, with %.0f (%+.1f %%); vacuumed %.0f and %.0f (%+.1f %%)",
		plainFull, statusFull, 100*(statusFull/plainFull-1), plainVac, statusVac, 100*(statusVac/plainVac-1))
	t.Logf("compacted without statuses %.1f, with %.1f", plainComp, statusComp)
	if statusVac > plainVac*(1+maxStatusGrowth) || statusFull > plainFull*(1+maxStatusGrowth) {
		t.Errorf("per-status counts grow the store by more than %.0f %%", 100*maxStatusGrowth)
	}
}

// maxSLIYear is the most disk an SLI-year may take (issue 13).
const maxSLIYear = 50e6

// TestSLIYearFitsGoal holds an SLI-year of quiet and busy SLIs under
// maxSLIYear, measured as BenchmarkDiskBytes does on fewer days.
func TestSLIYearFitsGoal(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a day of minutes for 10 SLIs, twice")
	}
	for _, bins := range []int{20, 100} {
		t.Run(fmt.Sprintf("An SLI-year of %d-bin minutes fits.", bins), func(t *testing.T) {
			d := measureDisk(t, 10, 1, bins)
			if y := sliYear(d.full, d.compacted); y > maxSLIYear {
				t.Errorf("%.1f MB per SLI-year (%.0f B per SLI-minute with histograms, %.1f compacted), want at most %.0f MB",
					y/1e6, d.full, d.compacted, maxSLIYear/1e6)
			}
		})
	}
}

// fileSize is the database file's size after a checkpoint that empties the
// log into it.
func fileSize(tb testing.TB, db *DB) int64 {
	tb.Helper()
	if err := db.Checkpoint(context.Background()); err != nil {
		tb.Fatal(err)
	}
	fi, err := os.Stat(db.Path())
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

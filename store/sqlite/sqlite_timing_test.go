package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// Benchmarks of the SQLite store; figures and the command that produced
// them are in docs/performance.md, section "store".

var benchT0 = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC).UnixNano()

// benchRollup is a busy minute: about bins occupied latency bins (log-
// normal around 20 ms, so a few decades), a few thousand requests.
func benchRollup(start int64, seed uint64, bins int) *slo.Rollup {
	rng := rand.New(rand.NewPCG(seed, uint64(start)))
	r := &slo.Rollup{Start: start, Measured: true}
	for r.Latency.NumBins() < bins {
		v := 0.02 * math.Exp(1.2*rng.NormFloat64())
		n := 1 + rng.Uint64N(40)
		if r.Latency.InsertN(v, n) != nil {
			continue
		}
		r.Attempted += n
		if v > 0.25 {
			r.Slow += n
			r.OverThreshold += n
		} else {
			r.Good += n
		}
	}
	return r
}

func benchOpen(b testing.TB, sync Sync) *DB {
	b.Helper()
	db, err := Open(context.Background(), b.TempDir(), Options{Sync: sync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

var syncs = []struct {
	name string
	sync Sync
}{{"sync=full", SyncFull}, {"sync=normal", SyncNormal}}

// BenchmarkAppend commits one minute of 1,000 SLIs per operation, each
// rollup with a ~100-bin histogram, as nines serve does once a minute, in
// three ways, interleaved within each operation so that all three see the
// same machine (the VM's disk is shared, and separate benchmarks of
// fsync-bound work a minute apart differ by more than the effect):
//
//   - new: the minute is new, so each rollup is one INSERT (the usual case);
//   - merge: the minute is stored already (late samples, a second source),
//     so each is read, decoded, merged, encoded and updated;
//   - replace: the baseline, a plain INSERT OR REPLACE of the same encoded
//     rows in one transaction, without the batching map, the merge or the
//     series check: the least any store of these rows could do.
//
// Each arm writes its own database; ns/op is the sum of the three.
func BenchmarkAppend(b *testing.B) {
	const slis = 1000
	names := make([]string, slis)
	rs := make([]*slo.Rollup, slis)
	for i := range slis {
		names[i] = fmt.Sprintf("service-%03d/availability", i)
		rs[i] = benchRollup(benchT0, uint64(i), 100)
	}
	ctx := context.Background()
	appendMinute := func(b *testing.B, db *DB, start int64) {
		app := db.Appender(ctx)
		for i, r := range rs {
			r.Start = start
			if err := app.Append(names[i], time.Minute, r); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	replaceMinute := func(b *testing.B, db *DB, st *sql.Stmt, start int64, buf []byte) []byte {
		tx, err := db.w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		txst := tx.StmtContext(ctx, st)
		for i, r := range rs {
			buf = r.Latency.AppendBinary(buf[:0])
			if _, err := txst.ExecContext(ctx, int64(i+1), start,
				int64(r.Attempted), int64(r.Good), int64(r.Errors), int64(r.Slow), int64(r.OverThreshold), r.Measured, buf, nil); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		return buf
	}
	for _, s := range syncs {
		b.Run(s.name, func(b *testing.B) {
			dbNew, dbMerge, dbReplace := benchOpen(b, s.sync), benchOpen(b, s.sync), benchOpen(b, s.sync)
			st, err := dbReplace.w.PrepareContext(ctx, `INSERT OR REPLACE INTO rollups (series, start_ns, `+rollupCols+`)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			appendMinute(b, dbMerge, benchT0)
			var buf []byte
			var tNew, tMerge, tReplace time.Duration
			m := int64(0)
			for b.Loop() {
				start := benchT0 + m*int64(time.Minute)
				m++
				t := time.Now()
				appendMinute(b, dbNew, start)
				tNew += time.Since(t)
				t = time.Now()
				appendMinute(b, dbMerge, benchT0)
				tMerge += time.Since(t)
				t = time.Now()
				buf = replaceMinute(b, dbReplace, st, start, buf)
				tReplace += time.Since(t)
			}
			per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(b.N*slis) }
			b.ReportMetric(per(tNew), "new-ns/rollup")
			b.ReportMetric(per(tMerge), "merge-ns/rollup")
			b.ReportMetric(per(tReplace), "replace-ns/rollup")
			b.ReportMetric(float64(tNew)/float64(tReplace), "new/replace")
			b.ReportMetric(float64(tMerge)/float64(tReplace), "merge/replace")
		})
	}
}

// BenchmarkCommitOne commits a single rollup per operation: the fixed cost
// of a transaction, which with sync=full includes the fsync of the log.
func BenchmarkCommitOne(b *testing.B) {
	ctx := context.Background()
	r := benchRollup(benchT0, 1, 100)
	for _, s := range syncs {
		b.Run(s.name, func(b *testing.B) {
			db := benchOpen(b, s.sync)
			m := int64(0)
			for b.Loop() {
				r.Start = benchT0 + m*int64(time.Minute)
				m++
				app := db.Appender(ctx)
				if err := app.Append("checkout", time.Minute, r); err != nil {
					b.Fatal(err)
				}
				if err := app.Commit(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// fill commits one rollup per minute of [from, to) for each SLI, a minute
// (all SLIs) per transaction as nines serve writes them, and returns the
// bytes of histogram encoding written.
func fill(b testing.TB, db *DB, slis []string, from, to int64, bins int) (histBytes int64) {
	b.Helper()
	ctx := context.Background()
	var buf []byte
	for m := from; m < to; m += int64(time.Minute) {
		app := db.Appender(ctx)
		for i, sli := range slis {
			r := benchRollup(m, uint64(i), bins)
			buf = r.Latency.AppendBinary(buf[:0])
			histBytes += int64(len(buf))
			if err := app.Append(sli, time.Minute, r); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
	}
	return histBytes
}

// BenchmarkQuery30Days reads 30 days of one SLI (43,200 one-minute
// rollups with ~100-bin histograms).
func BenchmarkQuery30Days(b *testing.B) {
	const days = 30
	const n = days * 24 * 60
	from, to := benchT0, benchT0+days*24*int64(time.Hour)
	ctx := context.Background()
	setup := func(b *testing.B) *DB {
		db := benchOpen(b, SyncNormal)
		app := db.Appender(ctx)
		for m := from; m < to; m += int64(time.Minute) {
			if err := app.Append("checkout", time.Minute, benchRollup(m, 1, 100)); err != nil {
				b.Fatal(err)
			}
		}
		if err := app.Commit(); err != nil {
			b.Fatal(err)
		}
		if err := db.Checkpoint(ctx); err != nil {
			b.Fatal(err)
		}
		return db
	}
	perRollup := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/rollup")
	}
	b.Run("iterate", func(b *testing.B) {
		db := setup(b)
		b.ReportAllocs()
		var sink uint64
		for b.Loop() {
			it := db.Rollups(ctx, "checkout", time.Minute, from, to)
			k := 0
			for it.Next() {
				sink += it.At().Latency.Count()
				k++
			}
			if err := it.Err(); err != nil || k != n {
				b.Fatalf("%d rollups, %v", k, err)
			}
		}
		perRollup(b)
		_ = sink
	})
	b.Run("LoadSeries", func(b *testing.B) {
		db := setup(b)
		b.ReportAllocs()
		for b.Loop() {
			s, err := store.LoadSeries(ctx, db, "checkout", time.Minute, from, to)
			if err != nil || len(s.Rollups) != n {
				b.Fatalf("%v", err)
			}
		}
		perRollup(b)
	})
	// Latency over the 30 days, merged per hour: from the minutes, and from
	// the hourly rows once compacted.
	b.Run("hourly/uncompacted", func(b *testing.B) {
		db := setup(b)
		b.ReportAllocs()
		for b.Loop() {
			var all hist.Histogram
			it := db.HourlyHistograms(ctx, "checkout", time.Minute, from, to)
			for it.Next() {
				_, h := it.At()
				all.Merge(h)
			}
			if err := it.Err(); err != nil {
				b.Fatal(err)
			}
		}
		perRollup(b)
	})
	b.Run("hourly/compacted", func(b *testing.B) {
		db := setup(b)
		if _, err := db.Compact(ctx, time.Unix(0, to+int64(store.DefaultFull)), store.Retention{}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		for b.Loop() {
			var all hist.Histogram
			it := db.HourlyHistograms(ctx, "checkout", time.Minute, from, to)
			k := 0
			for it.Next() {
				_, h := it.At()
				all.Merge(h)
				k++
			}
			if err := it.Err(); err != nil || k != days*24 {
				b.Fatalf("%d hours, %v", k, err)
			}
		}
		perRollup(b)
	})
}

// BenchmarkDiskBytes reports the file size per SLI-minute after 7 days of
// one-minute rollups for 10 SLIs, with busy (~100-bin) and quiet (~20-bin)
// histograms, then after Compact has moved every histogram to hourly
// ones, an hour at a time as nines serve does, then after a VACUUM (the
// size a defragmented file would have). Sizes are taken after a
// checkpoint that truncates the log. From those it reports the bytes of
// an SLI-year with the default retention: 35 days of minutes with
// histograms, the other 330 compacted. The timed loop is empty: the
// metrics are the result.
func BenchmarkDiskBytes(b *testing.B) {
	for _, bins := range []int{20, 100} {
		b.Run(fmt.Sprintf("bins=%d", bins), func(b *testing.B) {
			d := measureDisk(b, 10, 7, bins)
			for b.Loop() {
			}
			b.ReportMetric(d.hist, "hist-B/SLI-min")
			b.ReportMetric(d.full, "full-B/SLI-min")
			b.ReportMetric(d.compacted, "compacted-B/SLI-min")
			b.ReportMetric(d.vacuumed, "vacuumed-B/SLI-min")
			b.ReportMetric(sliYear(d.full, d.compacted)/1e6, "MB/SLI-year")
			b.ReportMetric(sliYear(d.full, d.vacuumed)/1e6, "vacuumed-MB/SLI-year")
			b.ReportMetric(d.compactTime.Seconds()*1e3, "compact-ms")
			b.ReportMetric(float64(d.batches), "compact-batches")
		})
	}
}

// sliYear is the bytes of an SLI-year from bytes per SLI-minute with
// histograms (full) and compacted.
func sliYear(full, compacted float64) float64 {
	const fullDays = int64(store.DefaultFull / (24 * time.Hour))
	return float64(fullDays*24*60)*full + float64((365-fullDays)*24*60)*compacted
}

// diskFigures are bytes per SLI-minute, and what compaction took.
type diskFigures struct {
	hist, full, compacted, vacuumed float64
	compactTime                     time.Duration
	batches                         int
}

// measureDisk writes days of one-minute rollups of bins occupied bins for
// slis SLIs, a minute per commit, compacts them an hour at a time and
// measures the file.
func measureDisk(tb testing.TB, slis, days, bins int) diskFigures {
	minutes := float64(slis * days * 24 * 60)
	ctx := context.Background()
	db := benchOpen(tb, SyncNormal)
	names := make([]string, slis)
	for i := range names {
		names[i] = fmt.Sprintf("service-%02d/latency", i)
	}
	end := benchT0 + int64(days)*24*int64(time.Hour)
	var d diskFigures
	d.hist = float64(fill(tb, db, names, benchT0, end, bins)) / minutes
	size := func() float64 { return float64(fileSize(tb, db)) / minutes }
	d.full = size()

	// Hour by hour, as nines serve compacts.
	t := time.Now()
	var moved int64
	for h := benchT0 + int64(time.Hour); h <= end; h += int64(time.Hour) {
		st, err := db.Compact(ctx, time.Unix(0, h+int64(store.DefaultFull)), store.Retention{})
		if err != nil {
			tb.Fatal(err)
		}
		moved += st.Moved
		d.batches += st.Batches
	}
	d.compactTime = time.Since(t)
	if moved != int64(minutes) {
		tb.Fatalf("moved %d histograms, want %.0f", moved, minutes)
	}
	d.compacted = size()
	if _, err := db.w.ExecContext(ctx, `VACUUM`); err != nil {
		tb.Fatal(err)
	}
	d.vacuumed = size()
	return d
}

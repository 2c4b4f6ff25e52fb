package sqlite

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

func TestBlockRoundTrip(t *testing.T) {
	hour := int64(490_000) * hourNs
	sts := []byte{1, 2, 3}
	for _, c := range []struct {
		name    string
		quantum time.Duration
		es      []blockEntry
	}{
		{"An hour of minutes, every one there, reads back.", time.Minute, minutes(hour, 0, 60, nil)},
		{"Minutes with gaps and statuses read back.", time.Minute, []blockEntry{
			{start: hour + 3*int64(time.Minute), c: [5]uint64{10, 9, 1, 0, 0}, measured: true, statuses: sts},
			{start: hour + 4*int64(time.Minute), c: [5]uint64{0, 0, 0, 0, 0}, measured: true},
			{start: hour + 59*int64(time.Minute), c: [5]uint64{math.MaxUint64, math.MaxUint64 - 1, 1, 0, math.MaxUint64}},
		}},
		{"Seven-minute quanta, which do not divide the hour, read back.", 7 * time.Minute, []blockEntry{
			{start: slo.QuantumStart(hour+hourNs-1, 7*time.Minute), c: [5]uint64{1, 1, 0, 0, 0}, measured: true},
		}},
		{"A two-hour quantum starting in the hour reads back.", 2 * time.Hour, []blockEntry{
			{start: slo.QuantumStart(hour, 2*time.Hour) + 2*int64(time.Hour), c: [5]uint64{5, 5, 0, 0, 0}},
		}},
		{"An empty block is empty.", time.Second, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := store.HourOf(hour)
			if len(c.es) > 0 {
				h = store.HourOf(c.es[0].start)
			}
			blob := encodeBlock(nil, h, int64(c.quantum), c.es)
			got, err := decodeBlock(nil, blob, h, int64(c.quantum))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, c.es, func(a, b blockEntry) bool {
				return a.start == b.start && a.c == b.c && a.measured == b.measured && string(a.statuses) == string(b.statuses) &&
					(a.statuses == nil) == (b.statuses == nil)
			}) {
				t.Fatalf("read back %+v, want %+v", got, c.es)
			}
		})
	}
}

// minutes returns n minutes from minute first of the hour, with counts.
func minutes(hour int64, first, n int, statuses []byte) []blockEntry {
	var es []blockEntry
	for m := first; m < first+n; m++ {
		es = append(es, blockEntry{start: hour + int64(m)*int64(time.Minute), c: [5]uint64{uint64(1000 + m), 990, 10, uint64(m), 3},
			measured: m%2 == 0, statuses: statuses})
	}
	return es
}

func TestBlockCorrupt(t *testing.T) {
	hour := int64(490_000) * hourNs
	q := int64(time.Minute)
	good := encodeBlock(nil, hour, q, minutes(hour, 0, 3, []byte{7, 7}))
	for _, c := range []struct {
		name string
		blob []byte
	}{
		{"A block cut inside a quantum's counts is refused.", good[:3]},
		{"A block cut inside its statuses is refused.", good[:len(good)-1]},
		{"A quantum past the hour is refused.", encodeBlock(nil, hour, q, []blockEntry{{start: hour + 60*q}})},
		{"A gap too large to add is refused.", []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0, 0, 0}},
		{"An overlong varint is refused.", []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}},
		{"A statuses length past the end is refused.", []byte{2, 1, 1, 0, 0, 0, 9, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := decodeBlock(nil, c.blob, hour, q); !errors.Is(err, errBlock) {
				t.Fatalf("decode = %v, want errBlock", err)
			}
		})
	}
}

func FuzzBlockDecode(f *testing.F) {
	hour := int64(490_000) * hourNs
	f.Add(encodeBlock(nil, hour, int64(time.Minute), minutes(hour, 0, 60, []byte{1, 2})), int64(time.Minute))
	f.Add([]byte{0x80}, int64(7*time.Minute))
	f.Fuzz(func(t *testing.T, blob []byte, quantum int64) {
		if quantum <= 0 {
			return
		}
		es, err := decodeBlock(nil, blob, hour, quantum)
		if err != nil {
			return
		}
		// What decodes encodes to a block that decodes the same.
		again, err := decodeBlock(nil, encodeBlock(nil, hour, quantum, es), hour, quantum)
		if err != nil || len(again) != len(es) {
			t.Fatalf("re-encoded block: %d entries, %v; want %d", len(again), err, len(es))
		}
		for i := range es {
			if es[i].start < hour || es[i].start >= hour+hourNs || (i > 0 && es[i].start <= es[i-1].start) {
				t.Fatalf("entry %d starts at %d, outside the hour or out of order", i, es[i].start)
			}
			if again[i].start != es[i].start || again[i].c != es[i].c || string(again[i].statuses) != string(es[i].statuses) {
				t.Fatalf("entry %d: %+v, then %+v", i, es[i], again[i])
			}
		}
	})
}

// TestCompactedQuantaAgree runs the same random appends and re-judgings
// against a store that compacts as it goes (in batches of a few rows) and
// one that never does, and holds every read of the first to the second:
// the counts and statuses of each quantum, compacted or not, and the
// latencies of each hour.
func TestCompactedQuantaAgree(t *testing.T) {
	ctx := context.Background()
	comp, plain := open(t, t.TempDir()), open(t, t.TempDir())
	comp.batch = 7
	t0 := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	const hours = 6
	rng := rand.New(rand.NewPCG(13, 6))
	series := []struct {
		sli     string
		quantum time.Duration
	}{{"a", time.Minute}, {"a", 7 * time.Minute}, {"b", time.Minute}}
	randomRollup := func(start int64) *slo.Rollup {
		rule, _ := slo.ParseLatencyRule("<=20ms")
		agg := slo.NewAggregator(&slo.SLI{Latency: &rule}, time.Minute)
		if rng.IntN(4) > 0 {
			agg.KeepStatuses()
		}
		for range 1 + rng.IntN(6) {
			codes := []int{200, 200, 200, 404, 500, slo.NoStatus}
			lat := 0.001 * math.Exp(3*rng.Float64())
			if rng.IntN(5) == 0 {
				lat = math.NaN()
			}
			agg.Add(&slo.Event{Time: start, Status: codes[rng.IntN(len(codes))], Latency: lat, Count: uint64(rng.IntN(50))})
		}
		s := agg.Series()
		if len(s.Rollups) != 1 {
			t.Fatalf("%d rollups", len(s.Rollups))
		}
		r := s.Rollups[0]
		r.Start = start
		return &r
	}
	both := func(what string, fn func(db *DB) error) {
		t.Helper()
		errC, errP := fn(comp), fn(plain)
		if (errC == nil) != (errP == nil) {
			t.Fatalf("%s: compacting store %v, plain store %v", what, errC, errP)
		}
	}
	now := t0
	for step := range 400 {
		s := series[rng.IntN(len(series))]
		start := slo.QuantumStart(t0+rng.Int64N(hours*hourNs), s.quantum)
		switch op := rng.IntN(10); {
		case op < 7:
			r := randomRollup(start)
			both(fmt.Sprintf("step %d: append %s/%v@%d", step, s.sli, s.quantum, start), func(db *DB) error {
				app := db.Appender(ctx)
				c := *r
				c.Latency = *r.Latency.Clone()
				c.Statuses = slices.Clone(r.Statuses)
				for i := range c.Statuses {
					c.Statuses[i].Latency = *r.Statuses[i].Latency.Clone()
				}
				if err := app.Append(s.sli, s.quantum, &c); err != nil {
					return err
				}
				return app.Commit()
			})
		case op < 9:
			// Every verdict good, as a re-judging under a looser rule, of
			// a stored quantum (or, one time in four, of any).
			got := readAll(t, plain, s.sli, s.quantum, t0-hourNs, t0+hours*hourNs)
			if len(got) > 0 && rng.IntN(4) > 0 {
				got = got[rng.IntN(len(got)):]
				start = got[0].Start
			} else {
				got = readAll(t, plain, s.sli, s.quantum, start, start+1)
			}
			if len(got) == 0 {
				both("set counts of a missing quantum", func(db *DB) error {
					app := db.Appender(ctx)
					if err := app.SetCounts(s.sli, s.quantum, &slo.Rollup{Start: start}); err != nil {
						return err
					}
					err := app.Commit()
					if !errors.Is(err, store.ErrNotFound) {
						t.Fatalf("set counts of a missing quantum: %v, want ErrNotFound", err)
					}
					return err
				})
				continue
			}
			r := store.CountsOf(&got[0])
			if r.Good == r.Attempted {
				// Or all bad, when all are good already.
				r.Good, r.Errors = 0, r.Attempted
			} else {
				r.Good, r.Errors = r.Attempted, 0
			}
			r.Slow, r.OverThreshold = 0, 0
			for i := range r.Statuses {
				r.Statuses[i].Over = 0
			}
			both(fmt.Sprintf("step %d: set counts %s/%v@%d", step, s.sli, s.quantum, start), func(db *DB) error {
				app := db.Appender(ctx)
				if err := app.SetCounts(s.sli, s.quantum, r); err != nil {
					return err
				}
				return app.Commit()
			})
		default:
			now = min(now+hourNs, t0+(hours+1)*hourNs)
			if _, err := comp.Compact(ctx, time.Unix(0, now), store.Retention{Full: time.Nanosecond, Counts: 1000 * time.Hour}); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range series {
			c := readAll(t, comp, s.sli, s.quantum, t0-hourNs, t0+hours*hourNs)
			p := readAll(t, plain, s.sli, s.quantum, t0-hourNs, t0+hours*hourNs)
			if len(c) != len(p) {
				t.Fatalf("step %d: %s/%v: %d quanta, want %d", step, s.sli, s.quantum, len(c), len(p))
			}
			for i := range c {
				if !sameCounts(&c[i], &p[i]) {
					t.Fatalf("step %d: %s/%v: quantum %d: %+v, want %+v", step, s.sli, s.quantum, i, store.CountsOf(&c[i]), store.CountsOf(&p[i]))
				}
			}
			ch, ph := hourlyAll(t, comp, s.sli, s.quantum, t0-hourNs), hourlyAll(t, plain, s.sli, s.quantum, t0-hourNs)
			if len(ch) != len(ph) {
				t.Fatalf("step %d: %s/%v: %d hours of latencies, want %d", step, s.sli, s.quantum, len(ch), len(ph))
			}
			for i := range ch {
				if !ch[i].Equal(&ph[i]) {
					t.Fatalf("step %d: %s/%v: hour %d: latencies differ", step, s.sli, s.quantum, i)
				}
			}
		}
	}
	// A range that starts and ends inside compacted hours reads only its
	// quanta.
	now = t0 + (hours+1)*hourNs
	if _, err := comp.Compact(ctx, time.Unix(0, now), store.Retention{Full: time.Nanosecond, Counts: 1000 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	from, to := t0+hourNs+17*int64(time.Minute), t0+3*hourNs+5*int64(time.Minute)
	c, p := readAll(t, comp, "a", time.Minute, from, to), readAll(t, plain, "a", time.Minute, from, to)
	if len(c) != len(p) || len(c) == 0 || c[0].Start < from || c[len(c)-1].Start >= to {
		t.Fatalf("partial range: %d quanta, want %d, all in [%d, %d)", len(c), len(p), from, to)
	}
	// The counts horizon inside an hour deletes the quanta before it, and
	// the latencies of the hours before its hour.
	cut := t0 + 2*hourNs + 13*int64(time.Minute)
	st, err := comp.Compact(ctx, time.Unix(0, now), store.Retention{Full: time.Nanosecond, Counts: time.Duration(now - cut)})
	if err != nil {
		t.Fatal(err)
	}
	var deleted int64
	for _, s := range series {
		// 7-minute quanta start before t0 too.
		c := readAll(t, comp, s.sli, s.quantum, t0-hourNs, now)
		p := readAll(t, plain, s.sli, s.quantum, t0-hourNs, now)
		kept := slices.IndexFunc(p, func(r slo.Rollup) bool { return r.Start >= cut })
		if kept < 0 {
			kept = len(p)
		}
		deleted += int64(kept)
		if !slices.EqualFunc(c, p[kept:], func(x, y slo.Rollup) bool { return sameCounts(&x, &y) }) {
			t.Errorf("%s/%v after the counts horizon: %d quanta, want the %d from %d", s.sli, s.quantum, len(c), len(p)-kept, cut)
		}
		if hs, want := hourlyAll(t, comp, s.sli, s.quantum, t0-hourNs), hourlyAll(t, plain, s.sli, s.quantum, t0+2*hourNs); len(hs) != len(want) {
			t.Errorf("%s/%v after the counts horizon: %d hours of latencies, want %d", s.sli, s.quantum, len(hs), len(want))
		}
	}
	if st.DeletedRollups != deleted {
		t.Errorf("DeletedRollups = %d, want %d", st.DeletedRollups, deleted)
	}
}

// sameCounts reports whether a and b agree on everything but latencies.
func sameCounts(a, b *slo.Rollup) bool {
	ca, cb := store.CountsOf(a), store.CountsOf(b)
	return ca.Start == cb.Start && ca.Attempted == cb.Attempted && ca.Good == cb.Good && ca.Errors == cb.Errors &&
		ca.Slow == cb.Slow && ca.OverThreshold == cb.OverThreshold && ca.Measured == cb.Measured &&
		slices.EqualFunc(ca.Statuses, cb.Statuses, func(x, y slo.StatusCount) bool {
			return x.Code == y.Code && x.Count == y.Count && x.Timed == y.Timed && x.Over == y.Over
		})
}

func readAll(t *testing.T, db *DB, sli string, q time.Duration, from, to int64) []slo.Rollup {
	t.Helper()
	s, err := store.LoadSeries(context.Background(), db, sli, q, from, to)
	if err != nil {
		t.Fatal(err)
	}
	return s.Rollups
}

func hourlyAll(t *testing.T, db *DB, sli string, q time.Duration, t0 int64) []hist.Histogram {
	t.Helper()
	var hs []hist.Histogram
	it := db.HourlyHistograms(context.Background(), sli, q, t0, t0+24*hourNs)
	for it.Next() {
		_, h := it.At()
		hs = append(hs, *h.Clone())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return hs
}

package sqlite

import (
	"bytes"
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// statusRollup folds events of the given (code, latency, count) into a
// rollup with statuses, as ingestion does.
func statusRollup(t testing.TB, events ...slo.Event) *slo.Rollup {
	t.Helper()
	rule, _ := slo.ParseLatencyRule("<=5ms")
	agg := slo.NewAggregator(&slo.SLI{Latency: &rule}, time.Minute)
	agg.KeepStatuses()
	for i := range events {
		agg.Add(&events[i])
	}
	s := agg.Series()
	if len(s.Rollups) != 1 {
		t.Fatalf("%d rollups", len(s.Rollups))
	}
	return &s.Rollups[0]
}

func sev(code int, ok slo.Flag, lat float64, n uint64) slo.Event {
	return slo.Event{Status: code, OK: ok, Latency: lat, Count: n}
}

func roundTrip(t *testing.T, r *slo.Rollup) (blob []byte, got *slo.Rollup) {
	t.Helper()
	var c statusCodec
	blob = bytes.Clone(c.encode(nil, r))
	got = &slo.Rollup{}
	r.Latency.CopyTo(&got.Latency) // the row's own histogram, read first
	if err := c.decode(got, blob); err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(got.Statuses) != len(r.Statuses) {
		t.Fatalf("%d statuses back, want %d", len(got.Statuses), len(r.Statuses))
	}
	for i := range r.Statuses {
		g, w := &got.Statuses[i], &r.Statuses[i]
		if g.Code != w.Code || g.Count != w.Count || g.Timed != w.Timed || g.Over != w.Over || !g.Latency.Equal(&w.Latency) {
			t.Fatalf("status %d: %+v back, want %+v", i, g, w)
		}
	}
	return blob, got
}

func TestStatusesRoundTrip(t *testing.T) {
	nan := math.NaN()
	cases := []struct {
		name    string
		r       *slo.Rollup
		derived int // which status the encoding derives, 0 for none
	}{
		{"One status derives its histogram from the rollup's.",
			statusRollup(t, sev(200, slo.FlagUnset, 0.003, 100)), 1},
		{"The status with the most latencies is derived.",
			statusRollup(t, sev(503, slo.FlagUnset, 0.3, 90), sev(200, slo.FlagUnset, 0.003, 9), sev(200, slo.FlagUnset, 0.004, 5),
				sev(404, slo.FlagUnset, 0.001, 3), sev(200, slo.FlagUnset, nan, 400)), 3},
		{"Every kind of status key survives.",
			statusRollup(t, sev(slo.NoStatus, slo.FlagUnset, 0.001, 1), sev(0, slo.FlagUnset, 0.001, 1), sev(999, slo.FlagUnset, 0.001, 1),
				sev(500, slo.FlagTrue, 0.001, 1), sev(200, slo.FlagFalse, 0.007, 9)), 1},
		{"Statuses without any latency write no histogram.",
			statusRollup(t, sev(200, slo.FlagUnset, nan, 7), sev(500, slo.FlagUnset, nan, 1)), 0},
		{"Huge counts survive.",
			&slo.Rollup{Attempted: math.MaxUint64, Statuses: []slo.StatusCount{{Code: 200, Count: math.MaxUint64, Timed: math.MaxUint64 - 1, Over: 3}}}, 0},
	}
	// A rollup merged with a source that keeps no statuses: its histogram
	// is more than the statuses', so nothing can be derived.
	mixed := statusRollup(t, sev(200, slo.FlagUnset, 0.003, 10), sev(404, slo.FlagUnset, 0.002, 1))
	plain := &slo.Rollup{Attempted: 4, Good: 4, Measured: true}
	_ = plain.Latency.InsertN(0.02, 4)
	mixed.Merge(plain)
	cases = append(cases, struct {
		name    string
		r       *slo.Rollup
		derived int
	}{"A rollup with latencies beyond its statuses' writes every histogram.", mixed, 0})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.r.CheckStatuses(); err != nil {
				t.Fatalf("the case itself: %v", err)
			}
			blob, _ := roundTrip(t, tc.r)
			var c statusCodec
			d, err := c.parse(blob)
			if err != nil || d != tc.derived {
				t.Fatalf("derived %d (%v), want %d", d, err, tc.derived)
			}
			// Compaction keeps the counts and drops every histogram.
			stripped, err := c.strip(nil, blob)
			if err != nil {
				t.Fatal(err)
			}
			got := &slo.Rollup{}
			if err := c.decode(got, stripped); err != nil {
				t.Fatalf("decode stripped: %v", err)
			}
			for i := range got.Statuses {
				g, w := &got.Statuses[i], &tc.r.Statuses[i]
				if g.Code != w.Code || g.Count != w.Count || g.Timed != w.Timed || g.Over != w.Over || g.Latency.Count() != 0 {
					t.Fatalf("stripped status %d: %+v, want %+v without latencies", i, g, w)
				}
			}
		})
	}
	var c statusCodec
	if b := c.encode(nil, &slo.Rollup{Attempted: 3}); b != nil {
		t.Errorf("a rollup without statuses encodes as %x, want NULL", b)
	}
}

// busyMinute is a minute of a thousand requests in whole milliseconds from
// 1 to 97 ms: 0.5 % 404, 0.2 % 503, the rest 200.
func busyMinute(tb testing.TB) *slo.Rollup {
	var evs []slo.Event
	for i := range 1000 {
		code := 200
		switch {
		case i%200 == 0:
			code = 404
		case i%500 == 1:
			code = 503
		}
		evs = append(evs, sev(code, slo.FlagUnset, float64(1+i%97)/1000, 1))
	}
	return statusRollup(tb, evs...)
}

// TestStatusesSize: the statuses of a typical minute (a thousand requests,
// nearly all 200) cost a few dozen bytes beside its histogram, because the
// 200s' histogram is derived, not written: the minor statuses' bins are
// most of it.
func TestStatusesSize(t *testing.T) {
	r := busyMinute(t)
	blob, _ := roundTrip(t, r)
	h := r.Latency.AppendBinary(nil)
	if len(blob) > len(h)/5 {
		t.Errorf("statuses take %d bytes beside a %d-byte histogram", len(blob), len(h))
	}
}

func TestStatusesCorrupt(t *testing.T) {
	r := statusRollup(t, sev(200, slo.FlagUnset, 0.003, 10), sev(404, slo.FlagUnset, 0.002, 1))
	var c statusCodec
	good := bytes.Clone(c.encode(nil, r))
	cases := map[string][]byte{
		"empty":                   {},
		"unknown version":         append([]byte{2}, good[1:]...),
		"truncated":               good[:len(good)-1],
		"trailing bytes":          append(bytes.Clone(good), 0),
		"no statuses":             {1, 0, 0},
		"derived out of range":    {1, 1, 2, 203, 1, 0, 0, 0},
		"code out of range":       {1, 1, 0, 0xf0, 0x07, 1, 0, 0, 0},
		"more untimed than count": {1, 1, 0, 203, 1, 2, 0, 0},
		"more over than timed":    {1, 1, 0, 203, 2, 1, 2, 0},
		"codes out of order":      {1, 2, 0, 203, 1, 0, 0, 0, 203, 1, 0, 0, 0},
		"histogram too long":      {1, 1, 0, 203, 1, 0, 0, 9, 0},
		"corrupt histogram":       {1, 1, 0, 203, 1, 0, 0, 3, 0, 5, 0xff},
	}
	for name, blob := range cases {
		t.Run(name, func(t *testing.T) {
			got := &slo.Rollup{}
			r.Latency.CopyTo(&got.Latency)
			if err := c.decode(got, blob); err == nil {
				t.Fatalf("decode of %x: no error", blob)
			}
		})
	}
	t.Run("a derived histogram the rollup's does not contain", func(t *testing.T) {
		got := &slo.Rollup{}
		_ = got.Latency.InsertN(0.5, 1)
		if err := c.decode(got, good); err == nil || !strings.Contains(err.Error(), "status 200") {
			t.Fatalf("decode: %v", err)
		}
	})
}

func FuzzStatusesDecode(f *testing.F) {
	var c statusCodec
	r := statusRollup(f, sev(200, slo.FlagUnset, 0.003, 10), sev(404, slo.FlagUnset, 0.002, 1), sev(503, slo.FlagTrue, math.NaN(), 2))
	f.Add(bytes.Clone(c.encode(nil, r)))
	f.Add([]byte{1, 1, 0, 203, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, blob []byte) {
		var c statusCodec
		got := &slo.Rollup{}
		r.Latency.CopyTo(&got.Latency)
		if c.decode(got, blob) != nil {
			return
		}
		// Whatever decodes is a valid set of statuses and encodes again.
		got.Attempted = math.MaxUint64
		got.Latency.Merge(&got.Latency) // room for any status's latencies
		for i := range got.Statuses {
			if s := &got.Statuses[i]; s.Timed > s.Count || s.Over > s.Timed || s.Latency.Count() > s.Timed {
				t.Fatalf("decoded impossible status %+v", s)
			}
		}
		again := &slo.Rollup{}
		got.Latency.CopyTo(&again.Latency)
		if err := c.decode(again, c.encode(nil, got)); err != nil {
			t.Fatalf("re-encoding %x: %v", blob, err)
		}
	})
}

// A database written before statuses existed opens, its rollups read back
// without statuses, and new appends to them keep theirs.
func TestRollupsFromBeforeStatuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// A file at schema 4, a rollup written as then.
	w := openVersion(t, dir, 4)
	for _, q := range []string{
		`INSERT INTO series (sli, quantum_ns, hist_before_ns) VALUES ('a', 60000000000, -9223372036854775808)`,
		`INSERT INTO rollups (sli, quantum_ns, start_ns, attempted, good, errors, slow, over_threshold, measured, hist)
			VALUES ('a', 60000000000, 0, 5, 5, 0, 0, 0, 1, NULL)`,
	} {
		if _, err := w.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	db := open(t, dir)
	got, err := store.LoadSeries(ctx, db, "a", time.Minute, 0, int64(time.Hour))
	if err != nil || len(got.Rollups) != 1 || got.Rollups[0].Attempted != 5 || got.Rollups[0].Statuses != nil {
		t.Fatalf("old rollup after migration: %+v, %v", got, err)
	}
	r := statusRollup(t, sev(200, slo.FlagUnset, 0.003, 2))
	app := db.Appender(ctx)
	if err := app.Append("a", time.Minute, r); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	got, err = store.LoadSeriesStatuses(ctx, db, "a", time.Minute, 0, int64(time.Hour))
	if err != nil || got.Rollups[0].Attempted != 7 || len(got.Rollups[0].Statuses) != 1 || got.Rollups[0].Statuses[0].Count != 2 {
		t.Fatalf("merged into an old rollup: %+v, %v", got.Rollups, err)
	}
}

// BenchmarkStatusesCodec encodes and decodes the statuses of a busy
// minute: the cost the statuses add to each append and each rollup read.
func BenchmarkStatusesCodec(b *testing.B) {
	r := busyMinute(b)
	var c statusCodec
	blob := bytes.Clone(c.encode(nil, r))
	b.Run("encode", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = c.encode(buf, r)
		}
		b.ReportMetric(float64(len(blob)), "bytes")
	})
	b.Run("decode", func(b *testing.B) {
		got := &slo.Rollup{}
		r.Latency.CopyTo(&got.Latency)
		for b.Loop() {
			if err := c.decode(got, blob); err != nil {
				b.Fatal(err)
			}
		}
	})
}

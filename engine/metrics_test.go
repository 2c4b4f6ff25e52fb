package engine

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
)

const counterSpec = `name: api
service: api
sli:
  good:
    status: "<500"
  source:
    bad: 'requests_total{code="500"}'
    total: 'requests_total'
objective: 99
method: transactions
window:
  rolling: 1h
noData: good
`

func counters(t time.Time, ok, bad float64) []metrics.Series {
	s := func(code string, v float64) metrics.Series {
		return metrics.Series{
			Labels:  metrics.Labels{{Name: "__name__", Value: "requests_total"}, {Name: "code", Value: code}},
			Samples: []metrics.Sample{{T: t.UnixMilli(), V: v}},
		}
	}
	return []metrics.Series{s("200", ok), s("500", bad)}
}

// TestCounterBaselinesAcrossRestarts: after a clean shutdown and after a
// crash alike, the next sample's increase counts: every request's
// baselines were stored before it was answered.
func TestCounterBaselinesAcrossRestarts(t *testing.T) {
	for _, clean := range []bool{true, false} {
		name := "crash"
		if clean {
			name = "clean shutdown"
		}
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
			open := func() (*Engine, *sqlite.DB) {
				return openEngine(t, dir, func() time.Time { return now }, nil, counterSpec)
			}
			e, db := open()
			t0 := now.Add(-3 * time.Minute)
			for i, v := range []float64{100, 200, 300} { // baseline, then +100 twice; 1 % errors
				if _, err := e.IngestMetrics(ctx, "remote-write", counters(t0.Add(time.Duration(i)*20*time.Second), v*0.99, v*0.01)); err != nil {
					t.Fatal(err)
				}
				now = now.Add(time.Second)
			}
			if clean {
				if err := e.SaveState(ctx); err != nil {
					t.Fatal(err)
				}
			}
			db.Close()

			e, db = open()
			defer db.Close()
			if _, err := e.IngestMetrics(ctx, "remote-write", counters(t0.Add(time.Minute), 400*0.99, 400*0.01)); err != nil {
				t.Fatal(err)
			}
			now = now.Add(3 * time.Minute)
			e.Tick(now)
			res, err := e.Status(ctx, "api")
			if err != nil {
				t.Fatal(err)
			}
			if want := uint64(300); res.Events.Total != want { // three increases of 100
				t.Fatalf("events %+v, want %d attempted", res.Events, want)
			}
		})
	}
}

// TestStateOfAnEarlierNines: the collector state an earlier nines saved
// (one value, with a mark saying whether rollups were stored after it)
// carries over when it was current, and is dropped, with a warning, when
// it was not; the first save in the new layout empties it.
func TestStateOfAnEarlierNines(t *testing.T) {
	for _, stale := range []string{"0", "1"} {
		t.Run("stale "+stale, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
			t0 := now.Add(-3 * time.Minute)
			db, err := sqlite.Open(ctx, dir, sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			bad, total := metrics.MustParseSelector(`requests_total{code="500"}`), metrics.MustParseSelector(`requests_total`)
			old, err := metrics.NewCollector(metrics.Config{Sources: []metrics.SLISource{{Name: "api", Bad: &bad, Total: &total}}})
			if err != nil {
				t.Fatal(err)
			}
			old.Add(counters(t0, 99, 1))
			old.Flush(math.MaxInt64)
			state, err := old.MarshalState()
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range map[string]string{"collector/remote-write": string(state), "collector/remote-write-stale": stale} {
				if err := db.PutState(ctx, k, []byte(v)); err != nil {
					t.Fatal(err)
				}
			}
			var logs strings.Builder
			e, err := New(ctx, Config{Store: db, Now: func() time.Time { return now }, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(counterSpec)}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.IngestMetrics(ctx, "remote-write", counters(t0.Add(20*time.Second), 198, 2)); err != nil {
				t.Fatal(err)
			}
			if err := e.SaveState(ctx); err != nil {
				t.Fatal(err)
			}
			_, s, err := e.Series(ctx, "api", t0.Add(-time.Minute), now)
			if err != nil {
				t.Fatal(err)
			}
			var stored uint64
			for _, r := range s.Rollups {
				stored += r.Attempted
			}
			want, warned := uint64(100), false
			if stale == "1" {
				want, warned = 0, true
			}
			if stored != want || strings.Contains(logs.String(), "earlier nines") != warned {
				t.Fatalf("stored %d, want %d; warned %v, want %v:\n%s", stored, want, !warned, warned, logs.String())
			}
			if v, err := db.GetState(ctx, "collector/remote-write"); err != nil || len(v) != 0 {
				t.Errorf("the earlier state after the first save: %d bytes, %v; want it emptied", len(v), err)
			}
			if _, err := db.GetState(ctx, "collector/remote-write-stale"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("the earlier mark: %v, want it deleted", err)
			}
		})
	}
}

// TestReloadChangingTheQuantumSavesTheState: a reload that changes the
// quantum the collector reads in (its held quanta cannot carry over)
// saves the new state after the next request, so that a restart finds no
// records of the old quantum to replay.
func TestReloadChangingTheQuantumSavesTheState(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	var logs strings.Builder
	open := func(spec string) (*Engine, *sqlite.DB) {
		return openEngine(t, dir, func() time.Time { return now }, &logs, spec)
	}
	tenSeconds := strings.Replace(counterSpec, "method: transactions", "method: transactions\nquantum: 10s", 1)
	e, db := open(counterSpec)
	t0 := now.Add(-3 * time.Minute)
	for i := range 3 {
		if _, err := e.IngestMetrics(ctx, "remote-write", counters(t0.Add(time.Duration(i)*10*time.Second), float64(100*i), 1)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(tenSeconds)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.IngestMetrics(ctx, "remote-write", counters(t0.Add(time.Minute), 500, 2)); err != nil {
		t.Fatal(err)
	}
	db.Close() // a crash
	logs.Reset()
	_, db = open(tenSeconds)
	defer db.Close()
	if strings.Contains(logs.String(), "unreadable") {
		t.Fatalf("the restart replayed records of the old quantum:\n%s", logs.String())
	}
}

// TestQuantaTheStoreRefusesDoNotJamMetrics: a quantum the store will
// never take (its counts with those stored would pass 2^64−1) is refused
// and counted once; the protocol's later requests are stored as usual
// instead of failing forever on the same held quantum.
func TestQuantaTheStoreRefusesDoNotJamMetrics(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	e, db := openEngine(t, t.TempDir(), func() time.Time { return now }, nil, counterSpec)
	defer db.Close()
	full := now.Truncate(time.Minute).Add(-2 * time.Minute)
	if _, err := e.Append(ctx, "api", minute(full, math.MaxUint64-10, math.MaxUint64-10), "test"); err != nil {
		t.Fatal(err)
	}
	// A baseline, then +100 in the full minute: that quantum overflows.
	for i, v := range []float64{1000, 1100} {
		if _, err := e.IngestMetrics(ctx, "remote-write", counters(full.Add(time.Duration(i)*20*time.Second), v, 0)); err != nil {
			t.Fatalf("sample %d: %v", i, err)
		}
	}
	// The next minute's quantum is handed out when the one after starts:
	// the refused quantum must not come back with it.
	next := full.Add(time.Minute)
	for i, v := range []float64{1200, 1300} {
		now = now.Add(40 * time.Second)
		if _, err := e.IngestMetrics(ctx, "remote-write", counters(next.Add(time.Duration(i)*20*time.Second), v, 0)); err != nil {
			t.Fatalf("a later request failed on the refused quantum: %v", err)
		}
	}
	now = now.Add(3 * time.Minute)
	if _, err := e.IngestMetrics(ctx, "remote-write", counters(now.Add(-time.Minute), 1400, 0)); err != nil {
		t.Fatal(err)
	}
	if got := e.Counters().Rejected()["metrics: refused by the store"]; got != 1 {
		t.Errorf("refused quanta counted %d, want 1", got)
	}
	_, series, err := e.Series(ctx, "api", next, next.Add(time.Minute))
	if err != nil || len(series.Rollups) != 1 || series.Rollups[0].Attempted != 200 {
		t.Fatalf("the next minute: %+v %v, want its 200 requests stored", series, err)
	}
}

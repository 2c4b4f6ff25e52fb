package engine

import (
	"context"
	"testing"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
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
			clock := func() time.Time { return now }
			open := func() (*Engine, *sqlite.DB) {
				db, err := sqlite.Open(ctx, dir, sqlite.Options{})
				if err != nil {
					t.Fatal(err)
				}
				e, err := New(ctx, Config{Store: db, Now: clock})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(counterSpec)}); err != nil {
					t.Fatal(err)
				}
				return e, db
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

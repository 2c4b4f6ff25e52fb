package demo_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

// TestDemoAfterStart is what a newcomer sees after nines serve --demo has
// filled in its month: every alert in the history was caused by the
// made-up traffic (its impact started at a quantum the traffic made bad,
// never at silence or before the history began), no no-data alert fired,
// and each burn-down starts at the whole budget on the first day of
// history.
func TestDemoAfterStart(t *testing.T) {
	if testing.Short() {
		t.Skip("a month of demo traffic")
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Date(2026, 12, 7, 9, 30, 10, 0, time.UTC)
	e, err := engine.New(ctx, engine.Config{Store: db, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(ctx, map[string][]byte{"demo.yaml": []byte(demo.Specs)}); err != nil {
		t.Fatal(err)
	}
	demo.Backfill(ctx, e, slog.New(slog.DiscardHandler), now)
	now = now.Add(time.Minute) // the backfill has been quiet: the alerts are replayed
	e.Tick(now)
	for _, s := range e.SLOs() {
		since, ok, err := e.Since(s.Name)
		if err != nil || !ok {
			t.Fatalf("%s: no start after the backfill: %v", s.Name, err)
		}
		_, history, err := e.Alerts(s.Name)
		if err != nil {
			t.Fatal(err)
		}
		for _, tr := range history {
			if tr.Kind != alert.Fire {
				continue
			}
			if tr.Alert == alert.NoDataAlert {
				t.Errorf("%s: a no-data alert at %v: the demo sends every minute", s.Name, tr.At)
				continue
			}
			r, ok := demo.Rollup(s, tr.ImpactStart, 1)
			if verdict, _ := s.Judge(&r); !ok || tr.ImpactStart.Before(since) || verdict != "bad" {
				t.Errorf("%s: %s fired at %v with its impact from %v, a quantum the demo traffic did not make bad (%s)", s.Name, tr.Alert, tr.At, tr.ImpactStart, verdict)
			}
			if !tr.Replayed {
				t.Errorf("%s: %s at %v was not marked replayed", s.Name, tr.Alert, tr.At)
			}
		}
		_, series, err := e.Series(ctx, s.Name, s.Window.Containing(since).Start, since.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		points, err := slo.BudgetHistory(s, series, since, since.Add(time.Hour), s.Quantum)
		if err != nil {
			t.Fatal(err)
		}
		if b := points[0].Budget; b.Spent != 0 || b.RemainingShare() != 1 {
			t.Errorf("%s: the burn-down starts at %+v, want the whole budget", s.Name, b)
		}
		t.Logf("%s: %d transitions since %v", s.Name, len(history), since)
	}
}

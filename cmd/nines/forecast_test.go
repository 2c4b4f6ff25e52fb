package main

import (
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
)

const forecastSpecs = `name: checkout-availability
service: checkout
sli:
  good:
    status: "<500"
objective: 99.9
window:
  rolling: 7d
---
name: search-errors
service: search
sli:
  good:
    status: "<500"
objective: 99
method: transactions
window:
  rolling: 7d
`

// forecastAt is the fixed clock of the forecast tests: a Monday noon.
var forecastAt = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

// forecastTestStore is a store with 43 days of per-minute rollups of two
// SLOs whose traffic grows 3 % a week and repeats a weekly pattern (busier
// by day, quieter at the weekend). checkout has had every 50th minute bad for the last 6 hours;
// search fails 0.4 % of its requests, and 10 % for 30 minutes three hours
// before forecastAt.
func forecastTestStore(t *testing.T) (data, services string) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "data"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(forecastSpecs, "---\n") {
		name := strings.TrimPrefix(strings.SplitN(doc, "\n", 2)[0], "name: ")
		if err := db.PutSLO(ctx, name, []byte(doc), time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
	}
	app := db.Appender(ctx)
	start := forecastAt.Add(-43 * 24 * time.Hour)
	spike := forecastAt.Add(-3 * time.Hour)
	for m := range 43 * 1440 {
		at := start.Add(time.Duration(m) * time.Minute)
		grow := 1 + 0.03*float64(m)/(7*1440) // 3 % a week
		load := uint64(float64(400+40*(12-abs(at.Hour()-14))) * grow)
		if wd := at.Weekday(); wd == time.Saturday || wd == time.Sunday {
			load /= 2
		}
		bad := uint64(0)
		if left := forecastAt.Sub(at); left <= 6*time.Hour && m%50 == 0 {
			bad = 5
		}
		failed := load / 250
		if !at.Before(spike) && at.Before(spike.Add(30*time.Minute)) {
			failed = load / 10
		}
		for name, f := range map[string]uint64{"checkout-availability": bad, "search-errors": failed} {
			r := &slo.Rollup{Start: at.UnixNano(), Attempted: load, Good: load - f, Errors: f, Measured: true}
			if err := app.Append(name, time.Minute, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	services = filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(services, []byte(`services:
  - name: checkout
    capacity: {forecastPeakRPS: 15, testedRPS: 40}
    dependencies: [{service: payments}, {service: search}]
  - name: payments
    capacity: {forecastPeakRPS: 15, testedRPS: 14}
  - name: search
    capacity: {forecastPeakRPS: 15, testedRPS: 30}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "data"), services
}

func abs(v int) int { return max(v, -v) }

func TestForecastCommand(t *testing.T) {
	data, services := forecastTestStore(t)
	at := forecastAt.Format(time.RFC3339)
	t.Run("The text shows each SLO's budget forecast and each service's peak against its bottleneck.", func(t *testing.T) {
		out, stderr, err := runNines(t, "forecast", "--data", data, "--services", services, "--at", at)
		if err != nil {
			t.Fatalf("%v: %s", err, stderr)
		}
		checkGolden(t, "forecast", out)
	})
	t.Run("One SLO's forecast as JSON carries its backtest and its anomaly.", func(t *testing.T) {
		out, _, err := runNines(t, "forecast", "--data", data, "--slo", "search-errors", "--at", at, "--json")
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			SLOs []struct {
				SLO       string
				Backtest  struct{ Origins int }
				Anomalies []struct{ Start, End time.Time }
			}
			Capacity []any
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil {
			t.Fatal(err)
		}
		if len(doc.SLOs) != 1 || doc.SLOs[0].Backtest.Origins != 7 || len(doc.SLOs[0].Anomalies) != 1 || len(doc.Capacity) != 0 {
			t.Fatalf("%s", out)
		}
		if a := doc.SLOs[0].Anomalies[0]; !a.Start.Equal(forecastAt.Add(-3*time.Hour)) || a.End.Sub(a.Start) != 30*time.Minute {
			t.Errorf("anomaly %v–%v, want the 30 minutes from 09:00", a.Start, a.End)
		}
	})
	t.Run("--annotate stores the anomaly once however often it runs.", func(t *testing.T) {
		for range 2 {
			if _, stderr, err := runNines(t, "forecast", "--data", data, "--slo", "search-errors", "--at", at, "--annotate"); err != nil {
				t.Fatalf("%v: %s", err, stderr)
			}
		}
		db, err := sqlite.Open(context.Background(), data, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		notes, err := db.Annotations(context.Background(), store.AnnotationQuery{SLO: "search-errors", To: forecastAt.AddDate(1, 0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if len(notes) != 1 || notes[0].Kind != "anomaly" {
			t.Errorf("annotations %+v, want one anomaly", notes)
		}
	})
	t.Run("An unknown SLO is a usage error.", func(t *testing.T) {
		_, _, err := runNines(t, "forecast", "--data", data, "--slo", "nope", "--at", at)
		if code := exitCode2(err); code != exitUsage {
			t.Errorf("exit %d (%v), want %d", code, err, exitUsage)
		}
	})
}

// nines serve keeps a report for five minutes: pages within them share it,
// and the next five minutes get a new one.
func TestForecasterKeepsAReport(t *testing.T) {
	data, _ := forecastTestStore(t)
	ctx := context.Background()
	db, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	slos, err := loadSLOs(ctx, &env{stderr: io.Discard}, "", db)
	if err != nil {
		t.Fatal(err)
	}
	fc := &forecaster{store: db, slos: func() []*slo.SLO { return slices.Collect(maps.Values(slos)) }, every: 5 * time.Minute}
	first, err := fc.Forecasts(ctx, forecastAt)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := fc.Forecasts(ctx, forecastAt.Add(4*time.Minute))
	next, _ := fc.Forecasts(ctx, forecastAt.Add(5*time.Minute))
	if same != first || next == first || !next.At.Equal(forecastAt.Add(5*time.Minute)) {
		t.Errorf("reports at 12:00 %p, 12:04 %p, 12:05 %p (at %s): want the first two alike and a new one at 12:05", first, same, next, next.At)
	}
	if len(first.SLOs) != 2 || len(first.Capacity) != 2 {
		t.Errorf("%d SLOs and %d services forecast, want 2 and 2: %v", len(first.SLOs), len(first.Capacity), first.Problems)
	}
}

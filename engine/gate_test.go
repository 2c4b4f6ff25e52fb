package engine

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
)

// TestGateFollowsTheSLOsBudgetPolicy spends a sixth of an hour's budget in
// one minute and asks the gate under several policies.
func TestGateFollowsTheSLOsBudgetPolicy(t *testing.T) {
	const base = `name: api
service: api
sli:
  good:
    status: "<500"
objective: 90
window:
  rolling: 1h
noData: good
`
	for _, tc := range []struct {
		name, policy string
		allow        bool
		reason       string
	}{
		{"default policy", "", true, "allow: 83.3 % of the rolling 1h budget left, burning 0.17× over 1h"},
		{"freeze line above what is left", "budgetPolicy:\n  freeze:\n    - remainingBelow: 90%\n", false,
			"deny: 83.3 % of the rolling 1h budget left, below the 90 % freeze line"},
		{"burning fast over 5m", "budgetPolicy:\n  freeze:\n    - remainingBelow: 90%\n      burnRateAbove: 1\n      over: 5m\n", false,
			"deny: 83.3 % of the rolling 1h budget left (below 90 %) and burning 2.00× over 5m (above 1×)"},
		{"slow over the hour", "budgetPolicy:\n  freeze:\n    - remainingBelow: 90%\n      burnRateAbove: 1\n      over: 1h\n", true,
			"allow: 83.3 %"},
		{"never freeze", "budgetPolicy:\n  freeze: []\n", true, "allow: 83.3 %"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
			e := startEngine(t, testStore(t), func() time.Time { return now }, base+tc.policy)
			if _, err := e.Append(ctx, "api", minute(now.Truncate(time.Minute).Add(-2*time.Minute), 100, 0), "test"); err != nil {
				t.Fatal(err)
			}
			d, err := e.Gate("api")
			if err != nil {
				t.Fatal(err)
			}
			if d.Allow != tc.allow || !strings.HasPrefix(d.Reason, tc.reason) {
				t.Errorf("Gate = %v %q, want %v %q", d.Allow, d.Reason, tc.allow, tc.reason)
			}
		})
	}
}

// TestBurnRatesLookAcrossMidnightAfterARestart checks that an engine
// started at 00:30 on a calendar-day SLO sees, over the last hour, the
// outage that ended the day before: the page a live engine would have.
func TestBurnRatesLookAcrossMidnightAfterARestart(t *testing.T) {
	const spec = `name: api
service: api
sli:
  good:
    status: "<500"
objective: 99
window:
  calendar: day
noData: good
`
	ctx := context.Background()
	db := testStore(t)
	midnight := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	now := midnight.Add(-5 * time.Minute)
	clock := func() time.Time { return now }
	e := startEngine(t, db, clock, spec)
	for m := midnight.Add(-10 * time.Minute); m.Before(midnight.Add(-5 * time.Minute)); m = m.Add(time.Minute) {
		if _, err := e.Append(ctx, "api", minute(m, 100, 0), "test"); err != nil {
			t.Fatal(err)
		}
	}
	now = midnight.Add(30 * time.Minute)
	e2 := startEngine(t, db, clock, spec)
	rates, err := e2.BurnRates("api", []time.Duration{time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	// Five bad minutes of the hour up to the last settled quantum, over a
	// 1 % budget.
	if want := 5.0 / 60 / 0.01; rates[0] < want-1e-9 || rates[0] > want+1e-9 {
		t.Errorf("burn over 1h at 00:30 = %g, want %g", rates[0], want)
	}
	st, err := e2.Status(ctx, "api")
	if err != nil {
		t.Fatal(err)
	}
	if st.Quanta.Bad != 0 {
		t.Errorf("the new day's status holds %d bad quanta of yesterday", st.Quanta.Bad)
	}
}

// TestAlertHistorySurvivesARestart: the fire and resolve of a page are in
// the SLO's alert history after a restart, numbers and reasons included.
func TestAlertHistorySurvivesARestart(t *testing.T) {
	ctx := context.Background()
	db := testStore(t)
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	clock := func() time.Time { return now }
	e := startEngine(t, db, clock, apiSpec)
	bad := now.Truncate(time.Minute).Add(-2 * time.Minute)
	if _, err := e.Append(ctx, "api", minute(bad, 100, 0), "test"); err != nil {
		t.Fatal(err)
	}
	for ; now.Before(bad.Add(90 * time.Minute)); now = now.Add(time.Minute) {
		e.Tick(now)
	}
	_, before, err := e.Alerts("api")
	if err != nil || len(before) < 2 {
		t.Fatalf("history before the restart: %+v, %v", before, err)
	}
	e2 := startEngine(t, db, clock, apiSpec)
	_, after, err := e2.Alerts("api")
	if err != nil {
		t.Fatal(err)
	}
	if len(after) < len(before) {
		t.Fatalf("after the restart %d transitions, before %d", len(after), len(before))
	}
	for i, tr := range before {
		got := after[i]
		if got.Alert != tr.Alert || got.Kind != tr.Kind || !got.At.Equal(tr.At) || got.Reason != tr.Reason ||
			!sameFloat(got.BurnLong, tr.BurnLong) || !sameFloat(got.BudgetRemaining, tr.BudgetRemaining) || got.TimeToExhaustion != tr.TimeToExhaustion {
			t.Errorf("transition %d: %+v, want %+v", i, got, tr)
		}
	}
}

// TestRemovedSLOLeavesNoHistory: an SLO dropped from the specs takes its
// stored alert history with it, and only its own (api, not api-2).
func TestRemovedSLOLeavesNoHistory(t *testing.T) {
	ctx := context.Background()
	db := testStore(t)
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	two := apiSpec + "---\n" + strings.Replace(apiSpec, "name: api", "name: api-2", 1)
	e := startEngine(t, db, func() time.Time { return now }, two)
	for _, name := range []string{"api", "api-2"} {
		if err := db.PutState(ctx, historyKey(name), []byte("[]")); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(strings.Replace(apiSpec, "name: api", "name: api-2", 1))}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.GetState(ctx, historyKey("api")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("history of the removed SLO: %v", err)
	}
	if _, err := db.GetState(ctx, historyKey("api-2")); err != nil {
		t.Errorf("history of the kept SLO: %v", err)
	}
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

// testStore is a store in a temporary directory, closed at the test's end.
func testStore(t *testing.T) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// startEngine starts an engine on db with the clock and loads spec as
// api.yaml: a start, or a restart on the same store.
func startEngine(t *testing.T, db *sqlite.DB, clock func() time.Time, spec string) *Engine {
	t.Helper()
	ctx := context.Background()
	e, err := New(ctx, Config{Store: db, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(spec)}); err != nil {
		t.Fatal(err)
	}
	return e
}

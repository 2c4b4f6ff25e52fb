package engine

import (
	"context"
	"strings"
	"testing"
	"time"

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
			db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
			e, err := New(ctx, Config{Store: db, Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(base + tc.policy)}); err != nil {
				t.Fatal(err)
			}
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

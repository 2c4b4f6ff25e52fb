package alert

import (
	"math"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nines-sre/nines/slo"
)

const day = 24 * time.Hour

func TestDefaultTableIsTheWorkbooks(t *testing.T) {
	table, err := DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	if table.Window != 30*day {
		t.Errorf("window %s, want 30d", table.Window)
	}
	want := []Tier{
		{Name: "page-fast", Severity: Page, BudgetShare: 0.02, Long: time.Hour, Short: 5 * time.Minute},
		{Name: "page-slow", Severity: Page, BudgetShare: 0.05, Long: 6 * time.Hour, Short: 30 * time.Minute},
		{Name: "ticket-fast", Severity: Ticket, BudgetShare: 0.10, Long: day, Short: 2 * time.Hour},
		{Name: "ticket-slow", Severity: Ticket, BudgetShare: 0.10, Long: 3 * day, Short: 6 * time.Hour},
	}
	if len(table.Tiers) != len(want) {
		t.Fatalf("%d tiers, want %d", len(table.Tiers), len(want))
	}
	for i, w := range want {
		if got := table.Tiers[i]; got != w {
			t.Errorf("tier %d = %+v, want %+v", i, got, w)
		}
	}
	// DefaultTable hands out copies: changing one leaves the next alone.
	table.Tiers[0].Long = time.Minute
	if again, _ := DefaultTable(); again.Tiers[0].Long != time.Hour {
		t.Error("DefaultTable returned the shared tiers")
	}
}

// TestFactorsFollowFromBudgetShares checks docs/reference.md §3 through the derivation:
// 14.4, 6, 3 and 1 for 30 days come out of 2 % in 1 h, 5 % in 6 h, 10 % in
// 1 d and 10 % in 3 d, and the same shares give each other window its own.
func TestFactorsFollowFromBudgetShares(t *testing.T) {
	table, err := DefaultTable()
	if err != nil {
		t.Fatal(err)
	}
	f := func(window time.Duration, derived, used [4]float64) {
		t.Helper()
		for i, tier := range table.Tiers {
			if got := Factor(tier.BudgetShare, window, tier.Long); math.Abs(got-derived[i]) > 1e-3 {
				t.Errorf("%s over %s: derived factor %.6g, want %g", tier.Name, slo.FormatDuration(window), got, derived[i])
			}
			if got := tier.FactorFor(window); math.Abs(got-used[i]) > 1e-3 {
				t.Errorf("%s over %s: factor in use %.6g, want %g", tier.Name, slo.FormatDuration(window), got, used[i])
			}
		}
	}
	f(30*day, [4]float64{14.4, 6, 3, 1}, [4]float64{14.4, 6, 3, 1})
	// 28 days: the 3-day ticket derives 0.933 and is raised to 1.
	f(28*day, [4]float64{13.44, 5.6, 2.8, 0.933}, [4]float64{13.44, 5.6, 2.8, 1})
	// 7 days: both tickets would fire under budget-neutral burn.
	f(7*day, [4]float64{3.36, 1.4, 0.7, 0.233}, [4]float64{3.36, 1.4, 1, 1})
	f(90*day, [4]float64{43.2, 18, 9, 3}, [4]float64{43.2, 18, 9, 3})
	f(365*day, [4]float64{175.2, 73, 36.5, 12.167}, [4]float64{175.2, 73, 36.5, 12.167})

	// The reference figures (docs/reference.md §3) exactly, not only to 1e-3.
	for i, want := range []float64{14.4, 6, 3, 1} {
		if got := table.Tiers[i].FactorFor(30 * day); got != want {
			t.Errorf("%s at 30d: %.17g, want exactly %g", table.Tiers[i].Name, got, want)
		}
	}
}

func TestNominalWindow(t *testing.T) {
	berlin := time.FixedZone("CET", 3600)
	cases := []struct {
		name string
		spec slo.WindowSpec
		want time.Duration
	}{
		{"a rolling window is its own length", slo.WindowSpec{Rolling: 28 * day}, 28 * day},
		{"a calendar day is 24 hours even across a DST change", slo.WindowSpec{Calendar: slo.Day, Location: berlin}, day},
		{"a calendar week is 7 days", slo.WindowSpec{Calendar: slo.Week}, 7 * day},
		{"a calendar month is 30 days, February or not", slo.WindowSpec{Calendar: slo.Month}, 30 * day},
		{"a calendar quarter is 90 days", slo.WindowSpec{Calendar: slo.Quarter}, 90 * day},
		{"a calendar year is 365 days", slo.WindowSpec{Calendar: slo.Year}, 365 * day},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := NominalWindow(c.spec); got != c.want {
				t.Errorf("NominalWindow = %s, want %s", slo.FormatDuration(got), slo.FormatDuration(c.want))
			}
		})
	}
}

func TestLoadTableFromAnotherFS(t *testing.T) {
	fsys := fstest.MapFS{"two.yaml": {Data: []byte(`version: nines/alert-windows/v1
window: 28d
tiers:
  - {name: fast, severity: page, budgetPercent: 2, long: 1h, short: 5m, factor: 13.44}
  - {name: slow, severity: ticket, budgetPercent: 10, long: 3d, short: 6h}
`)}}
	table, err := LoadTable(fsys, "two.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if table.Window != 28*day || len(table.Tiers) != 2 || table.Tiers[1].Long != 3*day || table.Tiers[0].Factor != 0 {
		t.Errorf("table = %+v", table)
	}
}

func TestLoadTableRejects(t *testing.T) {
	const head = "version: nines/alert-windows/v1\nwindow: 30d\ntiers:\n"
	cases := []struct {
		name, yaml, want string
	}{
		{"a table without a version", "window: 30d\n", `version "": want nines/alert-windows/v1`},
		{"a table without a window", "version: nines/alert-windows/v1\ntiers: []\n", `window "": want a positive duration`},
		{"a table without tiers", "version: nines/alert-windows/v1\nwindow: 30d\n", "no tiers"},
		{"a field nobody reads", head + "  - {name: a, severity: page, budgetPercent: 2, long: 1h, short: 5m, for: 1m}\n", "field for not found"},
		{"a factor that does not follow from the share", head + "  - {name: a, severity: page, budgetPercent: 2, long: 1h, short: 5m, factor: 14}\n",
			`tier "a": factor 14 does not follow from 2 % of the budget in 1h: that is 14.4 at 30d`},
		{"a duration that does not parse", head + "  - {name: a, severity: page, budgetPercent: 2, long: 1hour, short: 5m}\n", `tier "a": long: duration "1hour"`},
		{"a short window as long as the long one", head + "  - {name: a, severity: page, budgetPercent: 2, long: 1h, short: 60m}\n",
			`tier "a": short window 1h must be shorter than the long window 1h`},
		{"a tier without severity", head + "  - {name: a, budgetPercent: 2, long: 1h, short: 5m}\n", `tier "a": severity "": want page or ticket`},
		{"a tier without a share", head + "  - {name: a, severity: page, long: 1h, short: 5m}\n", `tier "a": needs a budgetShare or a factor`},
		{"a share above the whole budget", head + "  - {name: a, severity: page, budgetPercent: 120, long: 1h, short: 5m}\n", `tier "a": budgetShare 1.2: want a share above 0 and at most 1`},
		{"two tiers of one name", head + "  - {name: a, severity: page, budgetPercent: 2, long: 1h, short: 5m}\n  - {name: a, severity: page, budgetPercent: 5, long: 6h, short: 30m}\n",
			`tier "a": defined twice`},
		{"a tier without a name", head + "  - {severity: page, budgetPercent: 2, long: 1h, short: 5m}\n", "tier 1: name is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := LoadTable(fstest.MapFS{"t.yaml": {Data: []byte(c.yaml)}}, "t.yaml")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "alert table t.yaml: ") {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	if _, err := LoadTable(fstest.MapFS{}, "missing.yaml"); err == nil {
		t.Error("a missing file loaded")
	}
}

package alert

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"sync"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/slo"
)

// windowsFS holds the alert tables nines ships. Like Sloth's windows
// catalogue they are data, not code: an SRE reads and reviews the YAML,
// and tests load other tables from an fstest.MapFS.
//
//go:embed windows/*.yaml
var windowsFS embed.FS

// DefaultTableFile is the embedded table of the default tiers.
const DefaultTableFile = "windows/sre-workbook.yaml"

// tableVersion is the version line every table must carry.
const tableVersion = "nines/alert-windows/v1"

// Table is a multiwindow, multi-burn-rate alert table as published for one
// SLO window. Its tiers carry budget shares, not factors, so that each SLO
// gets the factors of its own window (see Factor).
type Table struct {
	// Window is the SLO window the table was written for: 30 days for the
	// workbook's.
	Window time.Duration
	Tiers  []Tier
}

// tableFile is the YAML form of a Table.
type tableFile struct {
	Version string `yaml:"version"`
	Window  string `yaml:"window"`
	Tiers   []struct {
		Name          string  `yaml:"name"`
		Severity      string  `yaml:"severity"`
		BudgetPercent float64 `yaml:"budgetPercent"`
		Long          string  `yaml:"long"`
		Short         string  `yaml:"short"`
		// Factor is the factor at the table's window, as the source
		// quotes it; checked against the share, never used directly.
		Factor float64 `yaml:"factor"`
	} `yaml:"tiers"`
}

// LoadTable reads the table called name from fsys. Every tier needs a
// name, a severity, a budget share and two windows; a quoted factor must
// follow from the share (share × window / long, to 1e-9).
func LoadTable(fsys fs.FS, name string) (Table, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return Table{}, fmt.Errorf("alert table: %w", err)
	}
	t, err := parseTable(data)
	if err != nil {
		return Table{}, fmt.Errorf("alert table %s: %w", name, err)
	}
	return t, nil
}

func parseTable(data []byte) (Table, error) {
	var f tableFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return Table{}, err
	}
	if f.Version != tableVersion {
		return Table{}, fmt.Errorf("version %q: want %s", f.Version, tableVersion)
	}
	window, err := slo.ParseDuration(f.Window)
	if err != nil || window <= 0 {
		return Table{}, fmt.Errorf("window %q: want a positive duration such as 30d", f.Window)
	}
	t := Table{Window: window}
	var errs []error
	for i, ft := range f.Tiers {
		tier := Tier{Name: ft.Name, Severity: Severity(ft.Severity), BudgetShare: ft.BudgetPercent / 100}
		label := tierLabel(i, ft.Name)
		if tier.Long, err = slo.ParseDuration(ft.Long); err != nil {
			errs = append(errs, fmt.Errorf("%s: long: %w", label, err))
			continue
		}
		if tier.Short, err = slo.ParseDuration(ft.Short); err != nil {
			errs = append(errs, fmt.Errorf("%s: short: %w", label, err))
			continue
		}
		if err := tier.check(i, 0); err != nil {
			errs = append(errs, err)
			continue
		}
		if ft.Factor != 0 {
			got := Factor(tier.BudgetShare, window, tier.Long)
			if math.Abs(got-ft.Factor) > 1e-9*ft.Factor {
				errs = append(errs, fmt.Errorf("%s: factor %g does not follow from %g %% of the budget in %s: that is %g at %s",
					label, ft.Factor, ft.BudgetPercent, slo.FormatDuration(tier.Long), got, slo.FormatDuration(window)))
				continue
			}
		}
		t.Tiers = append(t.Tiers, tier)
	}
	if len(f.Tiers) == 0 {
		errs = append(errs, errors.New("no tiers"))
	}
	if err := errors.Join(errs...); err != nil {
		return Table{}, err
	}
	if err := checkNames(t.Tiers); err != nil {
		return Table{}, err
	}
	return t, nil
}

// embeddedTable parses the default table once. It is read-only after
// that: DefaultTable hands out copies.
var embeddedTable = sync.OnceValues(func() (Table, error) {
	return LoadTable(windowsFS, DefaultTableFile)
})

// DefaultTable returns the default tiers: the Site Reliability Workbook's
// four for a 30-day window (docs/reference.md §3), from the embedded YAML.
func DefaultTable() (Table, error) {
	t, err := embeddedTable()
	t.Tiers = slices.Clone(t.Tiers)
	return t, err
}

// Factor is the burn rate that spends share of a window's error budget in
// long: share × window / long. Burn rate 1 spends the whole budget over the
// whole window, so spending share of it in long takes share × window / long
// times that speed. 2 % of a 30-day budget in an hour: 0.02 × 720 h / 1 h
// = 14.4; over 28 days it is 13.44, over 7 days 3.36.
func Factor(share float64, window, long time.Duration) float64 {
	// Hours rather than nanoseconds keep the product small and the
	// published figures exact: 0.02 × 720 is 14.4 to the last bit.
	return share * window.Hours() / long.Hours()
}

// MinDerivedFactor is the floor of a factor derived from a budget share. A
// burn rate of 1 spends the budget exactly as fast as the window allows;
// an alert below it would fire on a service that keeps its objective. A
// share-derived factor can fall under 1 for windows shorter than the
// table's: the workbook's 3-day ticket (10 % in 3 days) is 0.933 at 28
// days and 0.233 at 7, and its 1-hour page (2 % in an hour) is 0.48 for a
// 1-day window. Raised to 1, such a tier still means what the 30-day
// ticket-slow tier means: "at this rate the budget does not last the
// window". A factor written explicitly in a policy is used as written.
const MinDerivedFactor = 1

// NominalWindow is the length factors are derived from for a window spec:
// a rolling window's own length, and for calendar windows a fixed
// nominal length: a day 24 h, a week 7 days, a month 30 days, a quarter 90
// days, a year 365 days. Calendar units vary (a month has 28 to 31 days, a
// day across a daylight-saving change 23 or 25 hours), but thresholds that
// moved with the calendar would page in February on burns that do not page
// in March; the difference (−7 % to +3 % for months) is far smaller than
// the gap between two tiers. Burn rates themselves do not depend on the
// window's length, only on the objective.
func NominalWindow(w slo.WindowSpec) time.Duration {
	const day = 24 * time.Hour
	switch w.Calendar {
	case slo.NotCalendar:
		return w.Rolling
	case slo.Day:
		return day
	case slo.Week:
		return 7 * day
	case slo.Month:
		return 30 * day
	case slo.Quarter:
		return 90 * day
	case slo.Year:
		return 365 * day
	}
	return 0
}

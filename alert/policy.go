package alert

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/nines-sre/nines/slo"
)

// Severity is who an alert is for: page wakes someone up, ticket waits
// for working hours. Routing (a later step) maps them to notifiers.
type Severity string

// The severities. User-visible outages page; lesser issues open tickets
// (docs/reference.md §3).
const (
	Page   Severity = "page"
	Ticket Severity = "ticket"
)

// Title names an alert of an SLO for people: "checkout-availability:
// page-fast", with the severity added where the alert's name does not
// already start with it ("checkout-availability: no-data (ticket)").
func Title(slo, alert string, sev Severity) string {
	if sev == "" || strings.HasPrefix(alert, string(sev)+"-") || alert == string(sev) {
		return slo + ": " + alert
	}
	return slo + ": " + alert + " (" + string(sev) + ")"
}

// Tier is one multiwindow, multi-burn-rate alert: it fires when the burn
// rate is above Factor over both the Long and the Short window.
type Tier struct {
	Name     string
	Severity Severity
	// BudgetShare is the share of the window's error budget (0.02 for
	// 2 %) that burning at the threshold for Long spends; the factor is
	// derived from it for each SLO window (see Factor and
	// MinDerivedFactor). Set it or Factor, not both.
	BudgetShare float64
	// Factor is a burn-rate threshold used as written, whatever the
	// window.
	Factor float64
	// Long is the window that says the burn is significant; Short, which
	// must be shorter, says it is still going on. Both stay as the table
	// has them whatever the SLO window: detection time is an operational
	// promise (a sharp outage pages within minutes), not a fraction of
	// the budget period, so a 7-day SLO still pages on an hour.
	Long, Short time.Duration
	Disabled    bool
}

// FactorFor is the burn-rate threshold of t for an SLO window of nominal
// length window: Factor when set, else the share-derived factor, raised to
// MinDerivedFactor.
func (t Tier) FactorFor(window time.Duration) float64 {
	if t.Factor != 0 {
		return t.Factor
	}
	return max(Factor(t.BudgetShare, window, t.Long), MinDerivedFactor)
}

// check reports what makes t unusable, each error prefixed with the
// tier's label (built only then: Evaluate checks every call); window > 0
// also checks that an enabled tier's long window fits in the SLO window.
func (t Tier) check(i int, window time.Duration) error {
	var errs []error
	if t.Name == NoDataAlert {
		errs = append(errs, fmt.Errorf("name %q is the no-data alert's", NoDataAlert))
	}
	if t.Severity != Page && t.Severity != Ticket {
		errs = append(errs, fmt.Errorf("severity %q: want page or ticket", t.Severity))
	}
	switch {
	case t.BudgetShare != 0 && t.Factor != 0:
		errs = append(errs, fmt.Errorf("budgetShare %g and factor %g are both set: set one", t.BudgetShare, t.Factor))
	case t.BudgetShare == 0 && t.Factor == 0:
		errs = append(errs, errors.New("needs a budgetShare or a factor"))
	case t.BudgetShare != 0 && !(t.BudgetShare > 0 && t.BudgetShare <= 1):
		errs = append(errs, fmt.Errorf("budgetShare %g: want a share above 0 and at most 1", t.BudgetShare))
	case t.Factor != 0 && !(t.Factor > 0 && !math.IsInf(t.Factor, 1)):
		errs = append(errs, fmt.Errorf("factor %g: want a positive number", t.Factor))
	}
	switch {
	case t.Long <= 0:
		errs = append(errs, fmt.Errorf("long window %s: want a positive duration", t.Long))
	case t.Short <= 0:
		errs = append(errs, fmt.Errorf("short window %s: want a positive duration", t.Short))
	case t.Short >= t.Long:
		errs = append(errs, fmt.Errorf("short window %s must be shorter than the long window %s", slo.FormatDuration(t.Short), slo.FormatDuration(t.Long)))
	case window > 0 && !t.Disabled && t.Long > window:
		// A tracker keeps no more than its window, so the span would be
		// cut short without anyone noticing; and a share of one window's
		// budget spent over a longer span says little about this window.
		errs = append(errs, fmt.Errorf("long window %s is longer than the SLO window %s", slo.FormatDuration(t.Long), slo.FormatDuration(window)))
	}
	if len(errs) == 0 {
		return nil
	}
	label := tierLabel(i, t.Name)
	for j, err := range errs {
		errs[j] = fmt.Errorf("%s: %w", label, err)
	}
	return errors.Join(errs...)
}

func tierLabel(i int, name string) string {
	if name == "" {
		return fmt.Sprintf("tier %d", i+1)
	}
	return fmt.Sprintf("tier %q", name)
}

func checkNames(tiers []Tier) error {
	var errs []error
	for i, t := range tiers {
		if t.Name == "" {
			errs = append(errs, fmt.Errorf("%s: name is empty", tierLabel(i, "")))
			continue
		}
		for _, u := range tiers[:i] {
			if u.Name == t.Name {
				errs = append(errs, fmt.Errorf("%s: defined twice", tierLabel(i, t.Name)))
				break
			}
		}
	}
	return errors.Join(errs...)
}

// NoDataAlert is the name of the alert that fires when nothing measured
// the SLI for a while.
const NoDataAlert = "no-data"

// NoDataRule is the no-data alert: it fires when every quantum of the last
// After was unmeasured, whatever the SLO's noData policy says about how
// such quanta count towards the budget. A dead measuring path is a problem
// of its own, and under noData: good or skip the burn tiers cannot see it.
type NoDataRule struct {
	// After is how long nothing may be measured before the alert fires:
	// zero means DefaultNoDataAfter, negative turns the alert off.
	After time.Duration
	// Severity is ticket unless set: the burn tiers page for a busy
	// service whose silence counts as bad, and a silent quiet service
	// is rarely an emergency.
	Severity Severity
}

// Policy is how one SLO alerts. Its zero value (with Window set) is the
// default: the four tiers of the embedded table, the low-traffic guard,
// the no-data alert and a resolve hold, each with its default. Zero means
// "the default" throughout; negative durations and counts turn a feature
// off.
type Policy struct {
	// Window is the SLO's window; the tiers' factors are derived from its
	// nominal length (NominalWindow).
	Window slo.WindowSpec
	// Tiers change the default table by name: a tier named like a default
	// one overrides the fields it sets (and Disabled), so
	// {Name: "ticket-slow", Disabled: true} turns that tier off and keeps
	// the rest; setting BudgetShare or Factor replaces both. Other names
	// add tiers after the defaults, and must be complete. Default tiers
	// whose long window is longer than the SLO window (the 3-day tier of a
	// 1-day SLO) are turned off.
	Tiers []Tier
	// MinEvents is the low-traffic guard: a page tier fires only when its
	// short window holds at least this many attempted events, so that one
	// failed request at 3 a.m. on a quiet service does not wake anyone.
	// Ticket tiers are not guarded, so a burn the guard holds back can
	// still open a ticket. Zero means DefaultMinEvents, negative turns the
	// guard off (SLIs with one probe a minute want that, or a smaller
	// number).
	MinEvents int
	// ResolveAfter is how long an alert's condition must stay false
	// before it resolves; zero means DefaultResolveAfter, negative
	// resolves at the first evaluation that finds it false.
	ResolveAfter time.Duration
	NoData       NoDataRule
}

// Defaults of a Policy.
const (
	DefaultMinEvents    = 10
	DefaultResolveAfter = 5 * time.Minute
	DefaultNoDataAfter  = 10 * time.Minute
)

// PolicyFor is the policy of s: the defaults, changed as its spec's
// alerting section says.
func PolicyFor(s *slo.SLO) Policy {
	p := Policy{Window: s.Window}
	o := s.Alerting
	if o == nil {
		return p
	}
	p.MinEvents, p.ResolveAfter = o.MinEvents, o.ResolveAfter
	p.NoData = NoDataRule{After: o.NoDataAfter, Severity: Severity(o.NoDataSeverity)}
	for _, t := range o.Tiers {
		p.Tiers = append(p.Tiers, Tier{Name: t.Name, Severity: Severity(t.Severity), BudgetShare: t.BudgetShare, Factor: t.Factor,
			Long: t.Long, Short: t.Short, Disabled: t.Disabled})
	}
	return p
}

// compiled is a Policy with every default applied, as Evaluate uses it.
type compiled struct {
	tiers        []Tier
	window       time.Duration
	spec         slo.WindowSpec
	minEvents    uint64 // 0: no guard
	resolveAfter time.Duration
	noDataAfter  time.Duration // ≤ 0: no alert
	noDataSev    Severity
}

// compile fills the defaults and validates. With Tiers nil it shares the
// embedded table's slice, which nothing may write to.
func (p Policy) compile() (compiled, error) {
	table, err := embeddedTable()
	if err != nil {
		return compiled{}, err
	}
	c := compiled{spec: p.Window, window: NominalWindow(p.Window), resolveAfter: p.ResolveAfter, noDataAfter: p.NoData.After, noDataSev: p.NoData.Severity}
	var errs []error
	if err := p.Window.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("window: %w", err))
	}
	if err := checkNames(p.Tiers); err != nil {
		errs = append(errs, err)
	}
	c.tiers = mergeTiers(table.Tiers, p.Tiers, c.window)
	for i, t := range c.tiers {
		if t.Name == "" {
			continue // reported by checkNames, by its place in p.Tiers
		}
		if err := t.check(i, c.window); err != nil {
			errs = append(errs, err)
		}
	}
	switch {
	case p.MinEvents == 0:
		c.minEvents = DefaultMinEvents
	case p.MinEvents > 0:
		c.minEvents = uint64(p.MinEvents)
	}
	if c.resolveAfter == 0 {
		c.resolveAfter = DefaultResolveAfter
	}
	if c.noDataAfter == 0 {
		c.noDataAfter = DefaultNoDataAfter
	}
	if c.noDataSev == "" {
		c.noDataSev = Ticket
	}
	if c.noDataSev != Page && c.noDataSev != Ticket {
		errs = append(errs, fmt.Errorf("noData: severity %q: want page or ticket", c.noDataSev))
	}
	if err := errors.Join(errs...); err != nil {
		return compiled{}, fmt.Errorf("alert policy: %w", err)
	}
	return c, nil
}

// mergeTiers applies the overrides to the defaults by name, as Policy.Tiers
// describes. It returns defaults itself, not a copy, when nothing changes.
func mergeTiers(defaults, overrides []Tier, window time.Duration) []Tier {
	if overrides == nil {
		fits := true
		for _, d := range defaults {
			fits = fits && d.Long <= window
		}
		if fits {
			return defaults
		}
	}
	out := make([]Tier, 0, len(defaults)+len(overrides))
	used := make([]bool, len(overrides))
	for _, d := range defaults {
		m := d
		for i, o := range overrides {
			if o.Name != d.Name {
				continue
			}
			used[i] = true
			if o.Severity != "" {
				m.Severity = o.Severity
			}
			if o.BudgetShare != 0 || o.Factor != 0 {
				m.BudgetShare, m.Factor = o.BudgetShare, o.Factor
			}
			if o.Long != 0 {
				m.Long = o.Long
			}
			if o.Short != 0 {
				m.Short = o.Short
			}
			m.Disabled = o.Disabled
			break
		}
		if m.Long > window {
			m.Disabled = true
		}
		out = append(out, m)
	}
	for i, o := range overrides {
		if !used[i] {
			out = append(out, o)
		}
	}
	return out
}

// Validate reports everything that keeps p from being used, each error
// naming the tier and the field: `alert policy: tier "page-fast": short
// window 2h must be shorter than the long window 1h`.
func (p Policy) Validate() error {
	_, err := p.compile()
	return err
}

// Complete returns p with every default filled in: the full list of tiers
// with their factors for p's window, MinEvents, ResolveAfter and NoData.
// Evaluate gives the same results for p and for p.Complete().
func (p Policy) Complete() (Policy, error) {
	c, err := p.compile()
	if err != nil {
		return p, err
	}
	q := Policy{Window: p.Window, Tiers: make([]Tier, len(c.tiers)), MinEvents: int(c.minEvents), ResolveAfter: c.resolveAfter,
		NoData: NoDataRule{After: c.noDataAfter, Severity: c.noDataSev}}
	for i, t := range c.tiers {
		t.Factor, t.BudgetShare = t.FactorFor(c.window), 0
		q.Tiers[i] = t
	}
	if c.minEvents == 0 {
		q.MinEvents = -1
	}
	return q, nil
}

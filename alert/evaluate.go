package alert

import (
	"fmt"
	"math"
	"time"
)

// Source is what Evaluate reads about one SLO: the recent past, up to the
// source's own evaluation time (for nines serve, the end of the last
// quantum the tracker judged). Spans are whole quanta; a span that is not
// covers every quantum it touches. Implementations need not be safe for
// concurrent use; Evaluate calls one Source from one goroutine.
type Source interface {
	// Burn is the burn rate over the last span (1 spends exactly the
	// budget over the window), the events attempted in the span, and ok
	// false when nothing in it could be counted (the rate is then NaN).
	Burn(span time.Duration) (rate float64, attempted uint64, ok bool)
	// Unmeasured reports whether every quantum of the last span was
	// unmeasured: nothing reported for it, so the measuring path may be
	// down. It is false for a span of no quanta.
	Unmeasured(span time.Duration) bool
	// Budget is the remaining share of the current window's error budget:
	// 1 untouched, 0 spent, negative overspent; ok false when unknown.
	// Evaluate asks only when an alert fires, so it may cost more.
	Budget() (remaining float64, ok bool)
}

// ImpactSource is a Source that can also tell when the damage behind an
// alert began: the start of the run of quanta, ending within the span,
// that each burned the budget faster than the window allows. Evaluate
// asks it when a burn-rate tier fires, with the tier's long window.
type ImpactSource interface {
	Source
	ImpactStart(span time.Duration) (time.Time, bool)
}

// Status is what the last evaluation found for one alert.
type Status uint8

// The statuses of a Check.
const (
	// StatusOK: the burn is not above the factor in both windows.
	StatusOK Status = iota
	// StatusFiring: the alert fired and its condition still holds.
	StatusFiring
	// StatusResolving: the alert is firing, its condition has been false
	// for less than the resolve hold.
	StatusResolving
	// StatusSuppressed: a page tier's condition holds but its short
	// window has fewer than MinEvents attempted events.
	StatusSuppressed
	// StatusUnknown: a window had nothing to count (burn rate NaN).
	StatusUnknown
	// StatusDisabled: the policy turned the tier off.
	StatusDisabled
)

var statusNames = [...]string{"ok", "firing", "resolving", "suppressed: low traffic", "unknown: nothing to count", "disabled"}

func (s Status) String() string {
	if int(s) < len(statusNames) {
		return statusNames[s]
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// Kind is what a Transition does.
type Kind uint8

// The kinds of Transition.
const (
	Fire Kind = iota + 1
	Resolve
)

func (k Kind) String() string {
	switch k {
	case Fire:
		return "fire"
	case Resolve:
		return "resolve"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// NoExhaustion is the TimeToExhaustion of a transition for which it is
// unknown: no budget figure, or no burn.
const NoExhaustion time.Duration = -1

// Transition is an alert firing or resolving, with the numbers that made
// it.
type Transition struct {
	// Alert is the tier's name, or NoDataAlert.
	Alert    string
	Severity Severity
	Kind     Kind
	// At is the evaluation time that decided; Since is when the alert
	// fired (At itself for a Fire).
	At, Since time.Time
	// Factor is the burn-rate threshold over both windows (zero for the
	// no-data alert), Long and Short the windows (for the no-data alert
	// Long is its After and Short zero).
	Factor      float64
	Long, Short time.Duration
	// BurnLong and BurnShort are the burn rates over the windows at At,
	// NaN when unknown; Attempted counts the events of the short window.
	BurnLong, BurnShort float64
	Attempted           uint64
	// BudgetRemaining is the share of the window's budget left when the
	// alert fired (Source.Budget), NaN when unknown and for resolves.
	BudgetRemaining float64
	// TimeToExhaustion is how long the remaining budget lasts at the long
	// window's burn rate: see TimeToExhaustion. Zero when the budget is
	// already spent, NoExhaustion when unknown.
	TimeToExhaustion time.Duration
	// Reason says the same in a sentence for the person the alert
	// reaches.
	Reason string
	// ImpactStart is, for a Fire, the start of the run of quanta that
	// burned the budget faster than the window allows (each one's own burn
	// rate above 1) and led to the alert: when users first felt it. Zero
	// when unknown (the Source cannot tell, or the alert is no-data).
	ImpactStart time.Time
	// Replayed marks a transition computed for time that had already
	// passed when its data arrived (a backfill, nines replay): it belongs
	// in the history, and is never sent to a notifier as news.
	Replayed bool
}

// TimeToExhaustion is how long the remaining share of a budget lasts at a
// burn rate: burn rate b spends b/window of the budget per unit of time
// (b = 1 spends all of it over the window), so the share remaining lasts
// remaining × window / b. window is the nominal window (NominalWindow).
// It is 0 when nothing remains and NoExhaustion when remaining or burn is
// NaN or the burn is not positive. For a rolling window the figure is an
// upper bound on how urgent things are, not a forecast: old failures also
// leave the window as time passes.
func TimeToExhaustion(remaining float64, window time.Duration, burn float64) time.Duration {
	switch {
	case math.IsNaN(remaining) || math.IsNaN(burn):
		return NoExhaustion
	case remaining <= 0:
		return 0
	case !(burn > 0):
		return NoExhaustion
	}
	d := remaining * float64(window) / burn
	if d >= math.MaxInt64 {
		return NoExhaustion
	}
	return time.Duration(d)
}

// Alert is one firing alert.
type Alert struct {
	Name     string
	Severity Severity
	// Since is when it fired.
	Since time.Time
	// ClearSince is the first evaluation since which its condition has
	// been false, zero while the condition holds. The alert resolves once
	// ClearSince is ResolveAfter in the past.
	ClearSince time.Time
	// Fired is the transition that fired it, numbers and reason.
	Fired Transition
}

// Check is what the last evaluation found for one alert of the policy,
// firing or not: the figures a status page shows.
type Check struct {
	Alert    string
	Severity Severity
	Status   Status
	// Factor is the threshold; Long and Short the windows (for the
	// no-data alert, Long is its After).
	Factor      float64
	Long, Short time.Duration
	// BurnLong and BurnShort are NaN when unknown or not evaluated
	// (disabled tiers, the no-data alert).
	BurnLong, BurnShort float64
	// Attempted counts the events of the short window.
	Attempted uint64
}

// State is the alerting state of one SLO after an evaluation. Evaluate
// never modifies the State it is given.
type State struct {
	// At is the evaluation time.
	At time.Time
	// Alerts are the firing alerts, in the order of the policy's tiers,
	// the no-data alert last.
	Alerts []Alert
	// Checks has one entry per tier of the policy, in order, then one for
	// the no-data alert unless it is off.
	Checks []Check
}

// Alert returns the firing alert called name.
func (s State) Alert(name string) (Alert, bool) {
	if a := s.find(name); a != nil {
		return *a, true
	}
	return Alert{}, false
}

// Check returns the check of the alert called name.
func (s State) Check(name string) (Check, bool) {
	for _, c := range s.Checks {
		if c.Alert == name {
			return c, true
		}
	}
	return Check{}, false
}

func (s *State) find(name string) *Alert {
	for i := range s.Alerts {
		if s.Alerts[i].Name == name {
			return &s.Alerts[i]
		}
	}
	return nil
}

// Evaluate decides which of p's alerts fire at now from what src says,
// given the state the previous evaluation returned (the zero State at
// first), and returns the new state and the alerts that fired or resolved,
// in policy order. The only error is an invalid policy; then prev comes
// back unchanged.
//
// A tier fires when the burn rate is above its factor over both its long
// and its short window; a page tier also needs MinEvents attempted events
// in the short window, else its check says StatusSuppressed. The no-data
// alert fires when every quantum of its After was unmeasured.
//
// Resolving: an alert resolves when its condition has been false for
// ResolveAfter (5 minutes by default), measured from the first evaluation
// that found it false; if it comes true again meanwhile the alert just goes
// on firing. The Site Reliability Workbook adds the short window to the
// multiwindow alert precisely so that the alert stops firing soon after
// the burn stops, instead of for as long as the long window still holds
// the spent budget (an hour, a day). That makes the reset quick, and with
// quanta-based SLIs it makes it abrupt: one good quantum in a 5-minute
// window can flip the condition, so a service that fails one minute in
// six would page, resolve and page again every six minutes. A hold in
// time (as Prometheus's keep_firing_for) damps that without touching the
// thresholds, and costs only the hold on a real recovery: the 1-hour page
// of a 20-minute outage resolves 10 minutes after it ends (5 for the short
// window, 5 held). A threshold band (resolve under 0.9 × factor) would not
// help: burn rates of a few quanta jump in steps far larger than 10 %.
//
// Once firing, an alert is judged on its burn condition alone: traffic
// falling under MinEvents does not resolve a page (an outage often drives
// clients away), and a window with nothing to count (NaN) counts as the
// condition being false, so an alert cannot stay stuck when data stops;
// the no-data alert speaks for that case.
func Evaluate(p Policy, src Source, prev State, now time.Time) (State, []Transition, error) {
	c, err := p.compile()
	if err != nil {
		return prev, nil, err
	}
	e := evaluation{c: &c, src: src, prev: &prev, now: now}
	e.next = State{At: now, Checks: make([]Check, 0, len(c.tiers)+1)}
	for i := range c.tiers {
		e.tier(&c.tiers[i])
	}
	e.noData()
	e.orphans()
	return e.next, e.out, nil
}

// evaluation is one call of Evaluate.
type evaluation struct {
	c    *compiled
	src  Source
	prev *State
	now  time.Time
	next State
	out  []Transition
	// memo keeps the burn of each span asked for: tiers share spans (6 h
	// is page-slow's long and ticket-slow's short window).
	memo struct {
		n     int
		spans [12]time.Duration
		res   [12]burn
	}
}

type burn struct {
	rate      float64
	attempted uint64
	ok        bool
}

func (e *evaluation) burn(span time.Duration) burn {
	m := &e.memo
	for i := range m.n {
		if m.spans[i] == span {
			return m.res[i]
		}
	}
	rate, attempted, ok := e.src.Burn(span)
	if !ok || math.IsNaN(rate) {
		rate, ok = math.NaN(), false
	}
	b := burn{rate: rate, attempted: attempted, ok: ok}
	if m.n < len(m.spans) {
		m.spans[m.n], m.res[m.n] = span, b
		m.n++
	}
	return b
}

func (e *evaluation) tier(t *Tier) {
	ck := Check{Alert: t.Name, Severity: t.Severity, Factor: t.FactorFor(e.c.window), Long: t.Long, Short: t.Short,
		BurnLong: math.NaN(), BurnShort: math.NaN()}
	old := e.prev.find(t.Name)
	if t.Disabled {
		ck.Status = StatusDisabled
		if old != nil {
			e.emit(old, Resolve, &ck, "the tier was turned off; "+firedAgo(old, e.now))
		}
		e.next.Checks = append(e.next.Checks, ck)
		return
	}
	long, short := e.burn(t.Long), e.burn(t.Short)
	ck.BurnLong, ck.BurnShort, ck.Attempted = long.rate, short.rate, short.attempted
	hot := long.ok && short.ok && long.rate > ck.Factor && short.rate > ck.Factor
	idle := StatusOK
	if !long.ok || !short.ok {
		idle = StatusUnknown
	}
	switch {
	case old != nil:
		e.hold(old, &ck, hot, idle, func(held time.Duration) string { return tierResolveReason(&ck, held, old, e.now) })
	case !hot:
		ck.Status = idle
	case t.Severity == Page && short.attempted < e.c.minEvents:
		ck.Status = StatusSuppressed
	default:
		ck.Status = StatusFiring
		e.fire(&ck, func(tr *Transition) string {
			if is, ok := e.src.(ImpactSource); ok {
				if start, ok := is.ImpactStart(t.Long); ok {
					tr.ImpactStart = start
				}
			}
			return tierFireReason(tr, e.c.spec)
		})
	}
	e.next.Checks = append(e.next.Checks, ck)
}

func (e *evaluation) noData() {
	old := e.prev.find(NoDataAlert)
	if e.c.noDataAfter <= 0 {
		if old != nil {
			ck := Check{Alert: NoDataAlert, Severity: old.Severity, BurnLong: math.NaN(), BurnShort: math.NaN()}
			e.emit(old, Resolve, &ck, "the no-data alert was turned off; "+firedAgo(old, e.now))
		}
		return
	}
	ck := Check{Alert: NoDataAlert, Severity: e.c.noDataSev, Long: e.c.noDataAfter, BurnLong: math.NaN(), BurnShort: math.NaN()}
	silent := e.src.Unmeasured(e.c.noDataAfter)
	switch {
	case old != nil:
		e.hold(old, &ck, silent, StatusOK, func(held time.Duration) string { return noDataResolveReason(held, old, e.now) })
	case silent:
		ck.Status = StatusFiring
		e.fire(&ck, func(tr *Transition) string { return noDataFireReason(tr, e.c.spec) })
	}
	e.next.Checks = append(e.next.Checks, ck)
}

// orphans resolves alerts of prev that the policy no longer has.
func (e *evaluation) orphans() {
	for i := range e.prev.Alerts {
		a := &e.prev.Alerts[i]
		if e.known(a.Name) {
			continue
		}
		ck := Check{Alert: a.Name, Severity: a.Severity, BurnLong: math.NaN(), BurnShort: math.NaN()}
		e.emit(a, Resolve, &ck, "the alert is no longer in the policy; "+firedAgo(a, e.now))
	}
}

// known reports whether the policy has an alert called name, on or off.
func (e *evaluation) known(name string) bool {
	if name == NoDataAlert {
		return true
	}
	for i := range e.c.tiers {
		if e.c.tiers[i].Name == name {
			return true
		}
	}
	return false
}

// hold carries a firing alert over: it goes on firing while cond holds and
// resolves once cond has been false for the resolve hold.
func (e *evaluation) hold(old *Alert, ck *Check, cond bool, idle Status, reason func(held time.Duration) string) {
	a := *old
	a.Severity = ck.Severity
	if cond {
		a.ClearSince = time.Time{}
		ck.Status = StatusFiring
		e.next.Alerts = append(e.next.Alerts, a)
		return
	}
	if a.ClearSince.IsZero() {
		a.ClearSince = e.now
	}
	held := e.now.Sub(a.ClearSince)
	if e.c.resolveAfter >= 0 && held < e.c.resolveAfter {
		ck.Status = StatusResolving
		e.next.Alerts = append(e.next.Alerts, a)
		return
	}
	ck.Status = idle
	e.emit(&a, Resolve, ck, reason(held))
}

// fire starts the alert of ck, asking the source for the budget.
func (e *evaluation) fire(ck *Check, reason func(*Transition) string) {
	tr := e.transition(ck, Fire, e.now)
	if rem, ok := e.src.Budget(); ok && !math.IsNaN(rem) {
		tr.BudgetRemaining = rem
		tr.TimeToExhaustion = TimeToExhaustion(rem, e.c.window, tr.BurnLong)
	}
	tr.Reason = reason(&tr)
	e.next.Alerts = append(e.next.Alerts, Alert{Name: ck.Alert, Severity: ck.Severity, Since: e.now, Fired: tr})
	e.out = append(e.out, tr)
}

func (e *evaluation) emit(a *Alert, k Kind, ck *Check, reason string) {
	tr := e.transition(ck, k, a.Since)
	tr.Reason = reason
	e.out = append(e.out, tr)
}

func (e *evaluation) transition(ck *Check, k Kind, since time.Time) Transition {
	return Transition{
		Alert: ck.Alert, Severity: ck.Severity, Kind: k, At: e.now, Since: since,
		Factor: ck.Factor, Long: ck.Long, Short: ck.Short,
		BurnLong: ck.BurnLong, BurnShort: ck.BurnShort, Attempted: ck.Attempted,
		BudgetRemaining: math.NaN(), TimeToExhaustion: NoExhaustion,
	}
}

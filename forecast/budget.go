package forecast

import (
	"fmt"
	"math"
	"time"

	"github.com/nines-sre/nines/slo"
)

// BurnSpans are the recent spans whose burn rates a budget forecast
// reads: the point estimate burns at the rate of PointSpan, and the
// interval runs from the fastest to the slowest of them. They are the
// long windows of the multi-window alerts (1 h, 6 h, 1 d, 3 d), so the
// forecast and the alerts see the same burns.
var BurnSpans = [...]time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}

// PointSpan is the span of the point estimate's burn rate: long enough
// that one bad minute does not swing it, short enough to follow an
// ongoing incident.
const PointSpan = 6 * time.Hour

// ProfileWeeks is how many past weeks the traffic profile averages.
const ProfileWeeks = 5

// BacktestDays is how many past days the budget forecast is checked on:
// a day-ahead forecast made 1 to 7 days back, each against the budget
// that remained a day later.
const BacktestDays = 7

// Outcome is what a budget does at a given burn rate.
type Outcome string

// Outcomes of a budget forecast.
const (
	// Exhausted: the budget has already run out.
	Exhausted Outcome = "exhausted"
	// RunsOut: it runs out at Estimate.At.
	RunsOut Outcome = "runs-out"
	// Never: at this burn the rolling window gives back at least what it
	// spends, so the budget never runs out.
	Never Outcome = "never"
	// NotBeforeReset: a calendar window ends before the budget runs out.
	NotBeforeReset Outcome = "not-before-reset"
	// Unknown: nothing in the recent spans could be counted.
	Unknown Outcome = "unknown"
)

// Estimate is when the budget runs out at one burn rate.
type Estimate struct {
	Burn    float64 `json:"burn_rate"`
	Outcome Outcome `json:"outcome"`
	// At is when the budget runs out (RunsOut) or the forecast time
	// (Exhausted); nil otherwise.
	At *time.Time `json:"at,omitempty"`
}

// Text says the estimate in words: when (UTC), "already out", "never at
// this burn", "not before the window resets" or "unknown".
func (e Estimate) Text() string {
	switch e.Outcome {
	case RunsOut:
		return e.At.UTC().Format("2006-01-02 15:04 UTC")
	case Exhausted:
		return "already out"
	case Never:
		return "never at this burn"
	case NotBeforeReset:
		return "not before the window resets"
	}
	return "unknown: nothing counted lately"
}

// SpanBurn is the burn rate over one recent span.
type SpanBurn struct {
	Seconds int64   `json:"span_seconds"`
	Burn    float64 `json:"burn_rate"`
}

// Backtest is how far the forecast's budget was from the budget that
// then remained, on past days.
type Backtest struct {
	// Origins is how many past forecasts were checked (0: too little
	// history; MAE is then 0 and means nothing).
	Origins int `json:"origins"`
	// HorizonSeconds is how far ahead each forecast looked.
	HorizonSeconds int64 `json:"horizon_seconds"`
	// MAE is the mean absolute error of the forecast remaining budget,
	// as a share of the window's budget (0.02 is 2 % of the budget).
	MAE float64 `json:"mae"`
}

// Budget is the budget forecast of one SLO.
type Budget struct {
	SLO     string    `json:"slo"`
	Service string    `json:"service,omitempty"`
	At      time.Time `json:"at"`
	Window  string    `json:"window"`
	// WindowStart and WindowEnd are the window containing At.
	WindowStart time.Time `json:"window_start"`
	WindowEnd   time.Time `json:"window_end"`
	Unit        string    `json:"unit"`
	// Total and Remaining are the budget now, as slo.Evaluate counts it.
	Total     float64 `json:"total"`
	Remaining float64 `json:"remaining"`
	// Spans are the burn rates of the BurnSpans that held anything to
	// count.
	Spans []SpanBurn `json:"spans"`
	// Point burns at the rate of PointSpan; Earliest and Latest at the
	// fastest and the slowest rate of the Spans.
	Point    Estimate `json:"point"`
	Earliest Estimate `json:"earliest"`
	Latest   Estimate `json:"latest"`
	// Traffic says what the expected traffic of future quanta follows.
	Traffic  string   `json:"traffic"`
	Backtest Backtest `json:"backtest"`
}

// budgetModel projects one SLO's budget quantum by quantum.
type budgetModel struct {
	s       *slo.SLO
	h       *History
	share   float64 // budget share: 1 − objective
	unit    float64 // budget units of a counted quantum (quanta methods)
	events  bool    // transactions: the budget is a share of the events
	rolling int     // window length in quanta; 0 for calendar windows
	profile *profile
	// weekCredit is, for the transactions method, the budget the profile
	// expects of each quantum of the week, at index i mod its length.
	weekCredit []float64
	// blocks[b] sums the quanta before b × sumBlock: a window's budget
	// then costs two look-ups and at most 2 × sumBlock quanta, without a
	// prefix sum per quantum (a megabyte an SLO).
	blocks []sums
}

// ForecastBudget forecasts when the budget of s runs out, from h, as
// known at the quantum boundary at. h must cover the window containing
// at and end at or after at; quanta of h after at are not read. The
// history before the window feeds the traffic profile and the backtest
// (ProfileWeeks weeks and BacktestDays days before it are enough).
func ForecastBudget(s *slo.SLO, h *History, at time.Time) (*Budget, error) {
	if err := checkSLO(s); err != nil {
		return nil, err
	}
	if h.Quantum != s.Quantum {
		return nil, fmt.Errorf("%w: SLO %s: the history quantum %s differs from the SLO's %s", ErrInvalid, s.Name, h.Quantum, s.Quantum)
	}
	n, ok := h.index(at)
	if !ok || n < 0 || n > len(h.Quanta) {
		return nil, fmt.Errorf("%w: SLO %s: forecast time %s is not a quantum boundary in the history %s–%s", ErrInvalid, s.Name,
			at.UTC().Format(time.RFC3339), h.Start.Format(time.RFC3339), h.End().Format(time.RFC3339))
	}
	w := s.Window.Containing(at)
	lo, _ := h.index(w.Start)
	if lo < 0 {
		return nil, fmt.Errorf("%w: SLO %s: the history starts at %s, after the window starts at %s; read it from the window's start", ErrInvalid, s.Name,
			h.Start.Format(time.RFC3339), w.Start.UTC().Format(time.RFC3339))
	}
	m, err := newBudgetModel(s, h, n)
	if err != nil {
		return nil, fmt.Errorf("SLO %s: %w", s.Name, err)
	}
	out := &Budget{SLO: s.Name, Service: s.Service, At: at.UTC(), Window: s.Window.String(), WindowStart: w.Start.UTC(), WindowEnd: w.End.UTC(),
		Unit: s.Method.BudgetUnit(), Spans: []SpanBurn{}, Traffic: "every quantum costs the same budget whatever its traffic"}
	if m.events {
		m.useProfile(newProfile(h, n))
		out.Traffic = m.profile.describe()
	}
	out.Total, out.Remaining = m.state(n)

	point := math.NaN()
	lowest, highest := math.Inf(1), math.Inf(-1)
	for _, span := range BurnSpans {
		b := m.burn(n, int(span/s.Quantum))
		if math.IsNaN(b) {
			continue
		}
		out.Spans = append(out.Spans, SpanBurn{Seconds: int64(span / time.Second), Burn: b})
		lowest, highest = min(lowest, b), max(highest, b)
		if span == PointSpan {
			point = b
		}
	}
	if math.IsNaN(point) && len(out.Spans) > 0 {
		point = out.Spans[len(out.Spans)-1].Burn
	}
	// Spans often burn alike: project each distinct rate once.
	seen := map[float64]Estimate{}
	estimate := func(burn float64) Estimate {
		if e, ok := seen[burn]; ok {
			return e
		}
		e := m.estimate(n, out.Remaining, burn)
		seen[burn] = e
		return e
	}
	out.Point, out.Earliest, out.Latest = estimate(point), estimate(highest), estimate(lowest)
	if len(out.Spans) == 0 {
		out.Earliest, out.Latest = out.Point, out.Point
	}
	out.Backtest = m.backtest(n)
	return out, nil
}

// newBudgetModel prepares the projection of s from the quantum boundary
// n of h, and refuses a history whose quanta before n no rollup could
// hold (History.check, in the pass that sums them).
func newBudgetModel(s *slo.SLO, h *History, n int) (*budgetModel, error) {
	m := &budgetModel{s: s, h: h, share: s.Objective.Complement(), unit: 1, events: s.Method == slo.Transactions}
	if s.Method == slo.DowntimeMinutes {
		m.unit = s.Quantum.Minutes()
	}
	if s.Window.Calendar == slo.NotCalendar {
		m.rolling = int(s.Window.Rolling / s.Quantum)
	}
	if err := m.sums(n); err != nil {
		return nil, err
	}
	return m, nil
}

// credit is the budget quantum q adds to its window.
func (m *budgetModel) credit(q *Quantum) float64 {
	if m.events {
		return m.share * q.Attempted
	}
	if q.Skipped {
		return 0
	}
	return m.share * m.unit
}

// window returns the quanta [lo, hi) of the window containing the quantum
// boundary n.
func (m *budgetModel) window(n int) (lo, hi int) {
	at := m.h.Start.Add(time.Duration(n) * m.h.Quantum)
	w := m.s.Window.Containing(at)
	lo, _ = m.h.index(w.Start)
	hi, _ = m.h.index(w.End)
	return lo, hi
}

// state is the budget of the window containing n as slo.Evaluate counts
// it at n: the whole window's budget (for the transactions method, of
// the events seen so far) and what remains of it.
func (m *budgetModel) state(n int) (total, remaining float64) {
	lo, hi := m.window(n)
	lo = max(lo, 0)
	a, b := m.before(lo), m.before(n)
	spent := b.spent - a.spent
	if m.events {
		total = b.credit - a.credit
	} else {
		// The whole window counts, future quanta too, unless skipped.
		total = m.share * m.unit * (float64(hi-lo) - (b.credit - a.credit))
	}
	return total, total - spent
}

// sums are the budget spent and the budget earned (transactions: the
// events' share) or the quanta skipped (the other methods) of a span.
type sums struct{ spent, credit float64 }

// sumBlock is the quanta of one block of budgetModel.blocks.
const sumBlock = 64

// add adds quantum q to s.
func (m *budgetModel) add(s *sums, q *Quantum) {
	s.spent += q.Spent
	switch {
	case m.events:
		s.credit += m.share * q.Attempted
	case q.Skipped:
		s.credit++
	}
}

// sums fills blocks up to the quantum boundary n, checking each quantum
// before n as History.check does: this pass reads them all anyway.
func (m *budgetModel) sums(n int) error {
	m.blocks = make([]sums, n/sumBlock+1)
	var acc sums
	var total float64
	for b := 1; b < len(m.blocks); b++ {
		qs := m.h.Quanta[(b-1)*sumBlock : b*sumBlock]
		for i := range qs {
			q := &qs[i]
			if !(q.Attempted >= 0) || !(q.Failed >= 0) || !(q.Spent >= 0) {
				return m.h.checkRange((b-1)*sumBlock, b*sumBlock)
			}
			acc.spent += q.Spent
			total += q.Attempted + q.Failed
			switch {
			case m.events:
				acc.credit += m.share * q.Attempted
			case q.Skipped:
				acc.credit++
			}
		}
		m.blocks[b] = acc
	}
	if math.IsInf(total+acc.spent, 0) {
		return m.h.checkRange(0, n)
	}
	return m.h.checkRange(n/sumBlock*sumBlock, n)
}

// before sums the quanta before i (at most the n sums was given).
func (m *budgetModel) before(i int) sums {
	s := m.blocks[i/sumBlock]
	for j := i / sumBlock * sumBlock; j < i; j++ {
		m.add(&s, &m.h.Quanta[j])
	}
	return s
}

// burn is the burn rate of the k quanta before n, as slo.BurnRate
// measures it; NaN when nothing in them counts.
func (m *budgetModel) burn(n, k int) float64 {
	var spent, counted float64
	for i := max(n-k, 0); i < n; i++ {
		q := &m.h.Quanta[i]
		spent += q.Spent
		switch {
		case m.events:
			counted += q.Attempted
		case !q.Skipped:
			counted += m.unit
		}
	}
	if counted == 0 {
		return math.NaN()
	}
	return spent / counted / m.share
}

// useProfile makes p the traffic future quanta expect.
func (m *budgetModel) useProfile(p *profile) {
	// The hours of the week repeat every week / gcd(week, quantum) quanta
	// (a week of minutes; 168 quanta of 5 hours).
	g, q := week, m.h.Quantum
	for q != 0 {
		g, q = q, g%q
	}
	m.profile = p
	m.weekCredit = make([]float64, week/g)
	for i := range m.weekCredit {
		m.weekCredit[i] = m.share * p.perHour[p.slot(m.h, i)]
	}
}

// project walks the budget forward from the quantum boundary n with
// remaining rem, each future quantum spending burn × its credit, for at
// most steps quanta, and returns the number of quanta after which the
// budget is out (found) and the budget left at the end.
func (m *budgetModel) project(n int, rem, burn float64, steps int, stopAtZero bool) (int, float64, bool) {
	_, hi := m.window(n)
	// What a float sum of a window's quanta can be off by is not budget.
	total, _ := m.state(n)
	eps := 1e-9 * total
	// The hot loop of a forecast: a month of quanta for each burn rate.
	// The week's credits are walked with indices rather than a modulo a
	// quantum, and a quantum's credit is the same for the other methods.
	flat, wc := m.share*m.unit, m.weekCredit
	wi, wo := 0, 0
	if m.events {
		wi, wo = n%len(wc), (n-m.rolling)%len(wc)
	}
	for k := range steps {
		j := n + k
		if m.rolling == 0 && j >= hi {
			return k, rem, false // the calendar window ends first
		}
		in := flat
		if m.events {
			in = wc[wi]
			if wi++; wi == len(wc) {
				wi = 0
			}
		}
		switch {
		case m.rolling > 0:
			rem += in * (1 - burn)
			// The quantum leaving the window gives back what it spent and
			// takes its budget with it. (The window starts inside the
			// history: ForecastBudget checks.)
			out := j - m.rolling
			if out < n {
				q := &m.h.Quanta[out]
				rem += q.Spent - m.credit(q)
			} else {
				outCredit := flat
				if m.events {
					outCredit = wc[wo]
				}
				rem -= outCredit * (1 - burn)
			}
			if m.events {
				if wo++; wo == len(wc) {
					wo = 0
				}
			}
		case m.events:
			rem += in * (1 - burn)
		default:
			rem -= in * burn // the window's budget already counts its future quanta
		}
		if stopAtZero && rem <= eps {
			return k + 1, rem, true
		}
	}
	return steps, rem, false
}

// estimate is when the budget runs out at burn, from the boundary n.
func (m *budgetModel) estimate(n int, rem, burn float64) Estimate {
	at := m.h.Start.Add(time.Duration(n) * m.h.Quantum).UTC()
	e := Estimate{Burn: burn}
	switch {
	case math.IsNaN(burn) || math.IsInf(burn, 0):
		e.Burn, e.Outcome = 0, Unknown
		return e
	case rem <= 0:
		e.Outcome, e.At = Exhausted, &at
		return e
	}
	week := int(7 * 24 * time.Hour / m.h.Quantum)
	steps := m.rolling + week
	if m.rolling == 0 {
		_, hi := m.window(n)
		steps = hi - n
	}
	k, _, found := m.project(n, rem, burn, steps, true)
	switch {
	case found:
		t := at.Add(time.Duration(k) * m.h.Quantum)
		e.Outcome, e.At = RunsOut, &t
	case m.rolling == 0:
		e.Outcome = NotBeforeReset
	default:
		// After a whole window of projected quanta and a week of them,
		// the window repeats the profile's week: it never runs out.
		e.Outcome = Never
	}
	return e
}

// backtest makes the day-ahead forecast at each of the BacktestDays
// past days' boundaries and compares its remaining budget with what
// remained a day later.
func (m *budgetModel) backtest(n int) Backtest {
	day := int(24 * time.Hour / m.h.Quantum)
	bt := Backtest{HorizonSeconds: int64(24 * time.Hour / time.Second)}
	if m.events {
		// One profile from before the first origin: no origin sees the
		// traffic it is checked against.
		saved := m.profile
		m.useProfile(newProfile(m.h, max(0, n-BacktestDays*day)))
		defer m.useProfile(saved)
	}
	var sum float64
	for d := BacktestDays; d >= 1; d-- {
		o := n - d*day
		lo, hi := m.window(o)
		if lo < 0 || o-int(PointSpan/m.h.Quantum) < 0 {
			continue
		}
		if m.rolling == 0 && o+day > hi {
			continue // the calendar window resets within the day
		}
		burn := m.burn(o, int(PointSpan/m.h.Quantum))
		if math.IsNaN(burn) {
			continue
		}
		_, rem := m.state(o)
		_, pred, _ := m.project(o, rem, burn, day, false)
		total, actual := m.state(o + day)
		if total <= 0 {
			continue
		}
		sum += math.Abs(pred-actual) / total
		bt.Origins++
	}
	if bt.Origins > 0 {
		bt.MAE = sum / float64(bt.Origins)
	}
	return bt
}

package slo

import (
	"fmt"
	"math"
	"time"
)

// Tracker keeps the status of one SLO's current window up to date as
// rollups arrive, so that a long-running server answers "where are we in
// the 30-day window?" without rescanning 43,200 quanta each time. It holds
// one compact contribution per quantum of the window and running sums over
// them; a late rollup replaces its quantum's contribution (old one out, new
// one in). Latency histograms are not tracked: they are merged on demand
// from the store.
//
// The result equals Evaluate's on the same rollups, without the latency
// part (TestTrackerMatchesEvaluate). A Tracker is not safe for concurrent
// use.
type Tracker struct {
	slo *SLO
	q   int64
	// ring holds the contributions of the window's quanta, indexed by
	// quantum number modulo its length.
	ring []contribution
	// window is the window the ring describes; at is the evaluation time
	// the ring has been advanced to (exclusive end of the last quantum in).
	window Window
	at     int64
	sum    contribution
	counts QuantumCounts
	// lookback is how far before a calendar window's start the ring keeps
	// quanta (out of the sums) for Span; history is the start of the
	// oldest quantum known there (the window's start when none is).
	lookback, history int64
	// since is the start of the SLO's life (Series.Since): quanta before
	// it are outside, in no sum or count but BeforeStart.
	since int64
	// blocks sum the ring's slots blockSlots at a time, so that Span adds
	// up a 3-day span from 72 block sums and two ragged edges instead of
	// 4,320 slots: the alerts ask for six spans at every quantum.
	blocks []spanSum
}

// blockSlots is how many ring slots one of Span's block sums covers.
const blockSlots = 60

// spanSum is what Span adds up of a run of slots.
type spanSum struct {
	quanta, unmeasured, good, bad int
	attempted, goodEvents         uint64
	down                          downtime
}

// add adds (sign 1) or takes away (sign -1) one slot's contribution.
func (s *spanSum) add(c *contribution, sign int) {
	if !c.set || c.verdict == quantumOutside {
		return
	}
	s.quanta += sign
	if c.unmeasured {
		s.unmeasured += sign
	}
	switch c.verdict {
	case quantumGood:
		s.good += sign
	case quantumBad:
		s.bad += sign
	}
	if sign > 0 {
		s.attempted += c.attempted
		s.goodEvents += c.good
		s.down += c.down
		return
	}
	s.attempted -= c.attempted
	s.goodEvents -= c.good
	s.down -= c.down
}

func (s *spanSum) merge(o *spanSum) {
	s.quanta += o.quanta
	s.unmeasured += o.unmeasured
	s.good += o.good
	s.bad += o.bad
	s.attempted += o.attempted
	s.goodEvents += o.goodEvents
	s.down += o.down
}

// contribution is what one quantum adds to a window's sums.
type contribution struct {
	attempted, good, errors, slow uint64
	// latencies counts the events with a latency, over those above the
	// threshold: the exact inverse quantile of the window.
	latencies, over uint64
	down            downtime
	verdict         verdict
	unmeasured, set bool
}

func (c *contribution) add(o *contribution, sign int) {
	if sign > 0 {
		c.attempted += o.attempted
		c.good += o.good
		c.errors += o.errors
		c.slow += o.slow
		c.latencies += o.latencies
		c.over += o.over
		c.down += o.down
		return
	}
	c.attempted -= o.attempted
	c.good -= o.good
	c.errors -= o.errors
	c.slow -= o.slow
	c.latencies -= o.latencies
	c.over -= o.over
	c.down -= o.down
}

// maxTrackedQuanta bounds the ring: a leap year of one-minute quanta.
const maxTrackedQuanta = 366 * 24 * 60

// NewTracker returns a Tracker for s whose window contains (or, rolling,
// ends at) at. The window starts out with every elapsed quantum unmeasured.
func NewTracker(s *SLO, at time.Time) (*Tracker, error) {
	return NewTrackerLookback(s, at, 0)
}

// NewTrackerLookback is NewTracker for a tracker whose spans look back up
// to lookback across the start of a calendar window, as burn-rate alerts
// must: an outage that began at 23:50 on the last day of a month still
// burns over the hour at 00:30 on the 1st. The quanta before the window
// stay out of its budget and status; only Span sees them. They are kept
// from a window that ends while tracked, and after OpenHistory. Rolling
// windows look back within themselves and ignore lookback.
func NewTrackerLookback(s *SLO, at time.Time, lookback time.Duration) (*Tracker, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	longest := s.Window.Rolling
	if s.Window.Calendar != NotCalendar {
		lookback = ceilDuration(max(lookback, 0), s.Quantum)
		longest = s.Window.longestCalendar() + lookback
	} else {
		lookback = 0
	}
	n := int64(longest / s.Quantum)
	if n > maxTrackedQuanta {
		return nil, fmt.Errorf("tracker: window of %d quanta is more than the %d it keeps in memory; use a larger quantum", n, maxTrackedQuanta)
	}
	t := &Tracker{slo: s, q: int64(s.Quantum), ring: make([]contribution, n), lookback: int64(lookback), since: math.MinInt64,
		blocks: make([]spanSum, (n+blockSlots-1)/blockSlots)}
	if err := t.reset(at); err != nil {
		return nil, err
	}
	return t, nil
}

func ceilDuration(d, q time.Duration) time.Duration { return (d + q - 1) / q * q }

// longestCalendar is the longest the calendar unit can be: DST adds an hour.
func (s WindowSpec) longestCalendar() time.Duration {
	const day = 24 * time.Hour
	switch s.Calendar {
	case Week:
		return 7*day + time.Hour
	case Month:
		return 31*day + time.Hour
	case Quarter:
		return 92*day + time.Hour
	case Year:
		return 366*day + time.Hour
	}
	return day + time.Hour
}

// reset points the tracker at the window containing at with nothing in it.
func (t *Tracker) reset(at time.Time) error {
	var w Window
	if t.slo.Window.Calendar == NotCalendar {
		// A rolling window ends with the quantum that holds at.
		w = t.slo.Window.Containing(ceilTime(at, t.slo.Quantum))
	} else {
		w = t.slo.Window.Containing(at)
	}
	for _, edge := range [...]time.Time{w.Start, w.End} {
		if edge.UnixNano()%t.q != 0 {
			return fmt.Errorf("tracker: window edge %s is not on a %s quantum boundary", edge.UTC().Format(time.RFC3339), FormatDuration(t.slo.Quantum))
		}
	}
	if t.lookback > 0 && w.Start.Equal(t.window.End) {
		// The next calendar window: what the ring holds of the one that
		// ended is the history Span looks back on. Quanta of it not
		// reached yet elapsed unmeasured.
		t.advance(t.window.End.UnixNano())
	} else {
		clear(t.ring)
		clear(t.blocks)
		t.history = w.Start.UnixNano()
	}
	t.window, t.at = w, w.Start.UnixNano()
	t.sum, t.counts = contribution{}, QuantumCounts{}
	t.advance(ceilTime(at, t.slo.Quantum).UnixNano())
	return nil
}

// Window is the window the tracker currently describes.
func (t *Tracker) Window() Window { return t.window }

// Elapsed is the time the tracker was advanced to: quanta starting at or
// after it are not judged yet.
func (t *Tracker) Elapsed() time.Time { return time.Unix(0, t.at).UTC() }

func (t *Tracker) slot(start int64) *contribution { return &t.ring[t.index(start)] }

// index is the ring slot of the quantum starting at start.
func (t *Tracker) index(start int64) int {
	n := int64(len(t.ring))
	i := (start / t.q) % n
	if i < 0 {
		i += n
	}
	return int(i)
}

// setSlot replaces the contribution of the quantum starting at start,
// keeping the block sums. Every write to the ring goes through it.
func (t *Tracker) setSlot(start int64, c contribution) {
	i := t.index(start)
	b := &t.blocks[i/blockSlots]
	b.add(&t.ring[i], -1)
	t.ring[i] = c
	b.add(&t.ring[i], 1)
}

// AdvanceTo moves the evaluation time forward to at. Quanta that enter the
// window without a rollup count as unmeasured; for a rolling window the
// quanta that leave it are dropped, and a calendar window that ends starts
// the next one empty. Moving backwards is ignored.
func (t *Tracker) AdvanceTo(at time.Time) error {
	if t.slo.Window.Calendar != NotCalendar && !at.Before(t.window.End) {
		return t.reset(at)
	}
	end := ceilTime(at, t.slo.Quantum).UnixNano()
	if t.slo.Window.Calendar == NotCalendar {
		if end-t.at >= int64(len(t.ring))*t.q {
			return t.reset(at)
		}
		for t.at < end {
			t.drop(t.at - int64(len(t.ring))*t.q)
			t.window = Window{Start: t.window.Start.Add(t.slo.Quantum), End: t.window.End.Add(t.slo.Quantum)}
			t.advance(t.at + t.q)
		}
		return nil
	}
	t.advance(min(end, t.window.End.UnixNano()))
	return nil
}

// advance brings the quanta in [t.at, end) into the window as unmeasured.
// The slot a new quantum takes held one out of the sums (dropped from a
// rolling window, or history before a calendar window), so it is
// overwritten, not dropped.
func (t *Tracker) advance(end int64) {
	for ; t.at < end; t.at += t.q {
		t.setSlot(t.at, contribution{})
		t.put(t.at, nil, 0)
	}
}

// drop takes the quantum starting at start out of the sums.
func (t *Tracker) drop(start int64) {
	c := t.slot(start)
	if !c.set {
		return
	}
	t.sum.add(c, -1)
	t.count(c, -1)
	t.setSlot(start, contribution{})
}

// put judges the quantum starting at start from r (nil: unmeasured) and
// replaces its contribution. latencies is the number of events of r that
// carried a latency (r.Latency.Count() unless the caller knows better).
func (t *Tracker) put(start int64, r *Rollup, latencies uint64) {
	t.drop(start)
	c := t.judged(start, r, latencies)
	t.setSlot(start, c)
	t.sum.add(&c, 1)
	t.count(&c, 1)
}

// judged is the contribution of the quantum at start with rollup r (nil:
// unmeasured). A quantum before the SLO's life contributes nothing.
func (t *Tracker) judged(start int64, r *Rollup, latencies uint64) contribution {
	if start < t.since {
		return contribution{verdict: quantumOutside, set: true}
	}
	v, down := t.slo.judge(r)
	c := contribution{verdict: v, down: down, unmeasured: r == nil || !r.Measured, set: true}
	if r != nil {
		c.attempted, c.good, c.errors, c.slow = r.Attempted, r.Good, r.Errors, r.Slow
		c.latencies, c.over = latencies, r.OverThreshold
	}
	return c
}

func (t *Tracker) count(c *contribution, sign int) {
	if c.verdict == quantumOutside {
		t.counts.BeforeStart += sign
		return
	}
	t.counts.Elapsed += sign
	if c.unmeasured {
		t.counts.Unmeasured += sign
	}
	switch c.verdict {
	case quantumGood:
		t.counts.Good += sign
	case quantumBad:
		t.counts.Bad += sign
	case quantumSkipped:
		t.counts.Skipped += sign
	}
}

// Update records the rollup of one quantum, replacing what the tracker had
// for it. A rollup for a quantum before the window goes to the history a
// lookback keeps (see NewTrackerLookback). One outside the elapsed part of
// the window and its known history is ignored and reported false: too old
// to matter, or not yet reached (call AdvanceTo first).
func (t *Tracker) Update(r *Rollup) bool {
	start := QuantumStart(r.Start, t.slo.Quantum)
	switch {
	case start >= t.at:
		return false
	case start < t.window.Start.UnixNano():
		return t.remember(start, r, true)
	}
	t.put(start, r, r.Latency.Count())
	return true
}

// Add merges a rollup into what the tracker has for its quantum, as a store
// merges a late or second-source rollup into the stored one. It reports
// false for a quantum outside the elapsed part of the window and its known
// history.
func (t *Tracker) Add(r *Rollup) bool {
	start := QuantumStart(r.Start, t.slo.Quantum)
	switch {
	case start >= t.at:
		return false
	case start < t.window.Start.UnixNano():
		return t.remember(start, r, false)
	}
	merged, latencies := t.slot(start).merge(start, r)
	t.put(start, &merged, latencies)
	return true
}

// merge returns r merged into what c holds for the quantum at start, and
// the merged count of events with a latency.
func (c *contribution) merge(start int64, r *Rollup) (Rollup, uint64) {
	merged := Rollup{Start: start, Measured: r.Measured || (c.set && !c.unmeasured)}
	latencies := r.Latency.Count()
	if c.set {
		merged.Attempted, merged.Good, merged.Errors, merged.Slow = c.attempted, c.good, c.errors, c.slow
		merged.OverThreshold, latencies = c.over, latencies+c.latencies
	}
	merged.Attempted += r.Attempted
	merged.Good += r.Good
	merged.Errors += r.Errors
	merged.Slow += r.Slow
	merged.OverThreshold += r.OverThreshold
	return merged, latencies
}

// OpenHistory declares the quanta from from up to the window's start
// known, as unmeasured until Add or Update says otherwise: a tracker built
// from stored rollups after a restart learns its lookback this way. It is
// bounded by the tracker's lookback and does nothing for a rolling window.
func (t *Tracker) OpenHistory(from time.Time) {
	start := t.window.Start.UnixNano()
	from64 := max(QuantumStart(from.UnixNano(), t.slo.Quantum), start-t.lookback)
	for q := from64; q < start; q += t.q {
		t.setSlot(q, t.judged(q, nil, 0))
	}
	t.history = min(t.history, from64)
}

// remember records the rollup of a quantum before the window in the
// history Span looks back on, replacing or merging, out of the sums. It
// reports false for a quantum outside the known history.
func (t *Tracker) remember(start int64, r *Rollup, replace bool) bool {
	if start < t.history || start < t.at-int64(len(t.ring))*t.q {
		return false
	}
	if replace {
		t.setSlot(start, t.judged(start, r, r.Latency.Count()))
		return true
	}
	merged, latencies := t.slot(start).merge(start, r)
	t.setSlot(start, t.judged(start, &merged, latencies))
	return true
}

// Violations returns the runs of consecutive bad quanta in the elapsed
// part of the window, from the tracked verdicts.
func (t *Tracker) Violations() []Window {
	var runs []Window
	runStart := int64(-1)
	for start := t.window.Start.UnixNano(); start <= t.at; start += t.q {
		bad := false
		if start < t.at {
			c := t.slot(start)
			bad = c.set && c.verdict == quantumBad
		}
		switch {
		case bad && runStart < 0:
			runStart = start
		case !bad && runStart >= 0:
			runs = append(runs, Window{Start: time.Unix(0, runStart).UTC(), End: time.Unix(0, start).UTC()})
			runStart = -1
		}
	}
	return runs
}

// Result is the status of the window at the time the tracker was advanced
// to, with the same numbers Evaluate gives except the latency histogram and
// its quantiles, which need the rollups themselves, and Violations (see
// the method of that name). The inverse quantile is exact.
func (t *Tracker) Result() *Result {
	tl := tally{quanta: t.counts, downtime: t.sum.down}
	tl.events = EventCounts{
		Total: t.sum.attempted, Good: t.sum.good, Failed: t.sum.attempted - t.sum.good,
		Errors: t.sum.errors, Slow: t.sum.slow,
	}
	at := time.Unix(0, t.at).UTC()
	res := &Result{
		Window:   t.window,
		At:       at,
		Complete: !at.Before(t.window.End),
		Quanta:   t.counts,
		Events:   tl.events,
		Downtime: tl.downtime.duration(t.slo.Quantum),
		Latency:  Latency{Rule: t.slo.SLI.Latency, Measured: t.sum.latencies, InverseQuantile: math.NaN(), Headroom: math.NaN()},
	}
	if l := &res.Latency; l.Rule != nil && l.Measured > 0 {
		l.AtOrUnder = l.Measured - min(t.sum.over, l.Measured)
		l.InverseQuantile = float64(l.AtOrUnder) / float64(l.Measured)
		l.Headroom = headroom(l.AtOrUnder, l.Measured, t.slo.Objective)
	}
	res.Quanta.Total = int(t.window.Duration() / t.slo.Quantum)
	res.Availability = t.slo.availability(&tl)
	res.Budget, res.Met = t.slo.budget(&tl, res.Quanta.Total)
	return res
}

// SpanStats is what the tracker knows of the last span of its window.
type SpanStats struct {
	// Burn is the burn rate over the span; NaN when nothing in it counted.
	Burn float64
	// Attempted counts the span's events.
	Attempted uint64
	// Quanta counts the span's lived quanta the tracker knows, Unmeasured
	// those nothing reported for, BeforeStart those before the SLO's life
	// began (see SetSince).
	Quanta, Unmeasured, BeforeStart int
}

// Span returns the burn rate and counts of the last span. Quanta of the
// span before the SLO's life began spent nothing (see BurnRate). A span
// longer than the elapsed window reaches into the history before it (see
// NewTrackerLookback) as far as that is known, and is clipped there: a
// calendar window's first hour without lookback has only an hour to look
// back on.
func (t *Tracker) Span(span time.Duration) SpanStats {
	var st SpanStats
	spanFrom := QuantumStart(t.at-int64(span), t.slo.Quantum)
	if t.since > spanFrom {
		st.BeforeStart = int((min(t.since, t.at) - spanFrom) / t.q)
	}
	from := max(spanFrom, t.since, t.history, QuantumStart(t.at-int64(len(t.ring))*t.q, t.slo.Quantum))
	var sum spanSum
	if from < t.at {
		t.sumSlots(&sum, t.index(from), int((t.at-from)/t.q))
	}
	var tl tally
	tl.events = EventCounts{Total: sum.attempted, Good: sum.goodEvents, Failed: sum.attempted - sum.goodEvents}
	tl.quanta = QuantumCounts{Good: sum.good, Bad: sum.bad, BeforeStart: st.BeforeStart}
	tl.downtime = sum.down
	st.Quanta, st.Unmeasured = sum.quanta, sum.unmeasured
	st.Burn = t.slo.burn(&tl)
	st.Attempted = sum.attempted
	return st
}

// sumSlots adds n slots of the ring from index i on (wrapping) to sum,
// whole blocks from their sums.
func (t *Tracker) sumSlots(sum *spanSum, i, n int) {
	size := len(t.ring)
	for n > 0 {
		if i%blockSlots == 0 {
			end := min(i+blockSlots, size)
			if n >= end-i {
				sum.merge(&t.blocks[i/blockSlots])
				n -= end - i
				i = end % size
				continue
			}
		}
		sum.add(&t.ring[i], 1)
		n--
		i = (i + 1) % size
	}
}

// BurnRate is the burn rate over the last span of the window (see Span).
func (t *Tracker) BurnRate(span time.Duration) float64 { return t.Span(span).Burn }

// Since is the start of the SLO's life the tracker counts from.
func (t *Tracker) Since() int64 { return t.since }

// SetSince moves the start of the SLO's life (Series.Since; math.MinInt64,
// the default, counts every quantum). Quanta that leave the life drop what
// they held; quanta that enter it come in unmeasured. So move the start
// earlier only over quanta that hold no data, as when it follows the
// first data to arrive, and rebuild the tracker otherwise.
func (t *Tracker) SetSince(since int64) {
	if since != math.MinInt64 && since != NotStarted {
		since = QuantumStart(since, t.slo.Quantum)
	}
	old := t.since
	if since == old {
		return
	}
	t.since = since
	lo := max(min(old, since), t.history, t.at-int64(len(t.ring))*t.q)
	hi := min(max(old, since), t.at)
	windowStart := t.window.Start.UnixNano()
	for q := QuantumStart(lo, t.slo.Quantum); q < hi; q += t.q {
		if q < windowStart {
			t.setSlot(q, t.judged(q, nil, 0)) // history: out of the sums
			continue
		}
		t.put(q, nil, 0)
	}
}

// ImpactStart is when the damage behind an alert over the last span
// began: the start of the run of consecutive burning quanta that ends
// with the last burning quantum of the span. A quantum burns when it
// spends its share of the budget faster than the window allows: a bad
// quantum for the quanta-based methods, a quantum whose own failure (or
// downtime) share is above the budget's share for the transactions and
// downtime-minutes methods. The run may reach back before the span, as
// far as the tracker knows. ok is false when no quantum of the span burned.
func (t *Tracker) ImpactStart(span time.Duration) (time.Time, bool) {
	low := max(t.since, t.history, t.at-int64(len(t.ring))*t.q)
	last := int64(math.MinInt64)
	for start := t.at - t.q; start >= max(low, t.at-int64(span)); start -= t.q {
		if t.burning(t.slot(start)) {
			last = start
			break
		}
	}
	if last == math.MinInt64 {
		return time.Time{}, false
	}
	first := last
	for start := last - t.q; start >= low && t.burning(t.slot(start)); start -= t.q {
		first = start
	}
	return time.Unix(0, first).UTC(), true
}

// burning reports whether a quantum spent budget faster than the window
// allows (see ImpactStart).
func (t *Tracker) burning(c *contribution) bool {
	if !c.set || c.verdict == quantumOutside || c.verdict == quantumSkipped {
		return false
	}
	o := t.slo.Objective
	switch t.slo.Method {
	case Transactions:
		return c.attempted > 0 && !o.WithinBudget(c.attempted-c.good, c.attempted)
	case DowntimeMinutes:
		return c.down.quanta() > o.Complement()
	}
	return c.verdict == quantumBad
}

// Retargeted returns a copy of t that judges by s: every quantum it holds
// is judged again from the counts it keeps, so a change of objective,
// quantum objective, method, noData policy or anything else that does not
// change what an event is (the SLI) nor how the window is cut needs no
// read of the stored rollups. ok is false when s has another quantum or
// window than t's SLO, or lookback (NewTrackerLookback's) differs: then
// build a new tracker.
func (t *Tracker) Retargeted(s *SLO, lookback time.Duration) (*Tracker, bool) {
	old := t.slo
	if s.Quantum != old.Quantum || s.Window.Rolling != old.Window.Rolling || s.Window.Calendar != old.Window.Calendar ||
		s.Window.location().String() != old.Window.location().String() {
		return nil, false
	}
	if s.Window.Calendar != NotCalendar && int64(ceilDuration(max(lookback, 0), s.Quantum)) != t.lookback {
		return nil, false
	}
	c := *t
	c.slo = s
	c.ring = make([]contribution, len(t.ring))
	c.blocks = make([]spanSum, len(t.blocks))
	c.sum, c.counts = contribution{}, QuantumCounts{}
	windowStart := t.window.Start.UnixNano()
	// Quanta nothing reported for are judged alike: judge the first once.
	var silent contribution
	silentJudged := false
	n := len(t.ring)
	start := t.at - int64(n)*t.q
	for k, i := 0, t.index(start); k < n; k, i, start = k+1, i+1, start+t.q {
		if i == n {
			i = 0
		}
		o := &t.ring[i]
		if !o.set {
			continue
		}
		nc := *o
		switch {
		case o.verdict == quantumOutside || start < c.since:
			nc = c.judged(start, nil, 0)
		case o.unmeasured && o.attempted == 0:
			if !silentJudged {
				silent, silentJudged = c.judged(start, nil, 0), true
			}
			nc = silent
		default:
			r := Rollup{Start: start, Attempted: o.attempted, Good: o.good, Errors: o.errors, Slow: o.slow,
				OverThreshold: o.over, Measured: !o.unmeasured}
			nc = c.judged(start, &r, o.latencies)
		}
		c.ring[i] = nc
		c.blocks[i/blockSlots].add(&nc, 1)
		if start >= windowStart {
			c.sum.add(&nc, 1)
			c.count(&nc, 1)
		}
	}
	return &c, true
}

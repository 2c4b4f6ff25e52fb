package slo

import (
	"fmt"
	"math"
	"time"
)

// Tracker keeps the status of one SLO's current window up to date as
// rollups arrive, so that a long-running server answers "where are we in
// the 30-day window?" without rescanning 43,200 quanta each time. It holds
// the contribution of every quantum of the window, encoded as runs of equal
// ones (trackstore.go: about 30 KB for a 30-day window with a day of
// traffic), and running sums over them; a late rollup replaces its
// quantum's contribution (old one out, new one in). Latency histograms are
// not tracked: they are merged on demand from the store.
//
// The result equals Evaluate's on the same rollups, without the latency
// part (TestTrackerMatchesEvaluate, TestTrackerMatchesRescanAtRandom). A
// Tracker is not safe for concurrent use.
type Tracker struct {
	slo *SLO
	q   int64
	// n is the ring's length: it holds the contributions of the window's
	// quanta (and a calendar window's lookback), indexed by quantum number
	// modulo n, in blocks (see trackstore.go).
	n      int
	blocks []string
	// hot is the block decoded into hotSlots, with its sums; -1 for none.
	hot      int
	hotSlots []contribution
	hotSum   spanSum
	// lastEnc is the last block encoded, to share its string.
	lastEnc string
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

func (c *contribution) add(o *contribution, sign int) { c.addN(o, int64(sign)) }

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
	t := &Tracker{slo: s, q: int64(s.Quantum), n: int(n), blocks: make([]string, (n+blockSlots-1)/blockSlots), hot: -1,
		lookback: int64(lookback), since: math.MinInt64}
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
		clear(t.blocks)
		t.hot = -1
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

// index is the ring slot of the quantum starting at start.
func (t *Tracker) index(start int64) int {
	n := int64(t.n)
	i := (start / t.q) % n
	if i < 0 {
		i += n
	}
	return int(i)
}

// setSlot replaces the contribution of the quantum starting at start,
// keeping the block sums.
func (t *Tracker) setSlot(start int64, c contribution) { t.setIndex(t.index(start), c) }

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
		if end-t.at >= int64(t.n)*t.q {
			return t.reset(at)
		}
		for t.at < end {
			t.drop(t.at - int64(t.n)*t.q)
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
	if end > t.at {
		t.fillSilent(t.at, end, true)
		t.at = end
	}
}

// fillSilent writes the quanta of [from, to) as quanta nothing reported
// for, a run at a time (the life's start cuts it in two); inSums adds
// them to the window's sums. What the slots held is overwritten.
func (t *Tracker) fillSilent(from, to int64, inSums bool) {
	for from < to {
		n := (to - from) / t.q
		if from < t.since {
			n = min(n, (t.since-from-1)/t.q+1)
		}
		c := t.judged(from, nil, 0)
		t.fill(from, n, c)
		if inSums {
			t.sum.addN(&c, n)
			t.count(&c, int(n))
		}
		from += n * t.q
	}
}

// dropRange takes the quanta of [from, to) out of the sums, leaving their
// slots as they are for the caller to overwrite.
func (t *Tracker) dropRange(from, to int64) {
	t.eachRun(from, to, func(_ int64, n int, c *contribution) bool {
		if c.set {
			t.sum.addN(c, -int64(n))
			t.count(c, -n)
		}
		return true
	})
}

// drop takes the quantum starting at start out of the sums.
func (t *Tracker) drop(start int64) {
	c := t.slotAt(start)
	if !c.set {
		return
	}
	t.sum.add(&c, -1)
	t.count(&c, -1)
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

// count adds (n < 0: takes away) n quanta holding c to the counts.
func (t *Tracker) count(c *contribution, n int) {
	if c.verdict == quantumOutside {
		t.counts.BeforeStart += n
		return
	}
	t.counts.Elapsed += n
	if c.unmeasured {
		t.counts.Unmeasured += n
	}
	switch c.verdict {
	case quantumGood:
		t.counts.Good += n
	case quantumBad:
		t.counts.Bad += n
	case quantumSkipped:
		t.counts.Skipped += n
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
	c := t.slotAt(start)
	merged, latencies := c.merge(start, r)
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
	t.fillSilent(from64, start, false)
	t.history = min(t.history, from64)
}

// remember records the rollup of a quantum before the window in the
// history Span looks back on, replacing or merging, out of the sums. It
// reports false for a quantum outside the known history.
func (t *Tracker) remember(start int64, r *Rollup, replace bool) bool {
	if start < t.history || start < t.at-int64(t.n)*t.q {
		return false
	}
	if replace {
		t.setSlot(start, t.judged(start, r, r.Latency.Count()))
		return true
	}
	c := t.slotAt(start)
	merged, latencies := c.merge(start, r)
	t.setSlot(start, t.judged(start, &merged, latencies))
	return true
}

// Violations returns the runs of consecutive bad quanta in the elapsed
// part of the window, from the tracked verdicts.
func (t *Tracker) Violations() []Window {
	var runs []Window
	runStart := int64(-1)
	closeRun := func(end int64) {
		if runStart >= 0 {
			runs = append(runs, Window{Start: time.Unix(0, runStart).UTC(), End: time.Unix(0, end).UTC()})
			runStart = -1
		}
	}
	t.eachRun(t.window.Start.UnixNano(), t.at, func(start int64, _ int, c *contribution) bool {
		if c.set && c.verdict == quantumBad {
			if runStart < 0 {
				runStart = start
			}
		} else {
			closeRun(start)
		}
		return true
	})
	closeRun(t.at)
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
	from := max(spanFrom, t.since, t.history, QuantumStart(t.at-int64(t.n)*t.q, t.slo.Quantum))
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
	lo := QuantumStart(max(min(old, since), t.history, t.at-int64(t.n)*t.q), t.slo.Quantum)
	hi := min(max(old, since), t.at)
	windowStart := t.window.Start.UnixNano()
	// History before the window is out of the sums.
	t.fillSilent(lo, min(hi, windowStart), false)
	if from := max(lo, windowStart); from < hi {
		t.dropRange(from, hi)
		t.fillSilent(from, hi, true)
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
	low := max(t.since, t.history, t.at-int64(t.n)*t.q)
	// The last burning quantum must start at or after bound.
	bound := max(low, t.at-int64(span))
	last, first := int64(math.MinInt64), int64(0)
	t.eachRunBack(low, t.at, func(start int64, n int, c *contribution) bool {
		burning := t.burning(c)
		if last != math.MinInt64 {
			if burning {
				first = start
			}
			return burning
		}
		if !burning {
			return start > bound
		}
		if newest := start + int64(n-1)*t.q; newest >= bound {
			last, first = newest, start
			return true
		}
		return false
	})
	if last == math.MinInt64 {
		return time.Time{}, false
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
	c.blocks = make([]string, len(t.blocks))
	c.hot, c.hotSlots, c.lastEnc = -1, nil, ""
	c.sum, c.counts = contribution{}, QuantumCounts{}
	windowStart := t.window.Start.UnixNano()
	// Quanta nothing reported for are judged alike: judge the first once.
	// Runs of equal quanta are judged once, cut where the life or the
	// window starts.
	var silent contribution
	silentJudged := false
	t.eachRun(t.at-int64(t.n)*t.q, t.at, func(start int64, n int, o *contribution) bool {
		if !o.set {
			return true
		}
		for n > 0 {
			k := n
			for _, cut := range [...]int64{c.since, windowStart} {
				if start < cut && cut < start+int64(k)*t.q {
					k = int((cut - start + t.q - 1) / t.q)
				}
			}
			var nc contribution
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
			c.fill(start, int64(k), nc)
			if start >= windowStart {
				c.sum.addN(&nc, int64(k))
				c.count(&nc, k)
			}
			start += int64(k) * t.q
			n -= k
		}
		return true
	})
	return &c, true
}

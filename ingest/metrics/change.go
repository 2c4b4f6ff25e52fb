package metrics

import (
	"errors"
	"math"
	"slices"

	"github.com/nines-sre/nines/hist"
)

// Errors of changes.
var (
	// ErrChangeOpen is returned by Begin (and reported by the Collector's
	// Add and Flush) while another Change of the Collector is open.
	ErrChangeOpen = errors.New("metrics: a change of the collector is open; commit or roll it back first")
	// ErrFlushed is reported by a Change's Add or Flush after its Flush.
	ErrFlushed = errors.New("metrics: the change has handed out its quanta; begin another")
	// ErrChangeEnded is reported by a Change's Add or Flush after its
	// Commit or Rollback.
	ErrChangeEnded = errors.New("metrics: the change was committed or rolled back; begin another")
)

// Change is one atomic step of a Collector: the samples of one or more
// requests folded in (Add) and the quanta then handed out (Flush), which
// take effect at Commit or are undone by Rollback. A server stores the
// Results together with the change's record (AppendRecord) in one
// transaction and commits the Change only once that transaction did; when
// it failed, Rollback leaves the Collector as if the requests had never
// come, so the senders' retries count them once. Several requests in one
// Change share one transaction: a server commits what came in while the
// last transaction was being written.
//
// At most one Change is open at a time; the Collector is not to be used
// otherwise until it ends.
type Change struct {
	// Results are the rollups of the quanta the change hands out (see
	// Flush).
	Results []Result
	// Report says what became of every sample of every Add, and of the
	// quanta handed out.
	Report Report

	c       *Collector
	before  int64 // the flush horizon; math.MinInt64 flushes nothing
	flushed bool
	saved   []saved
	// created are the series the change met first, which Rollback forgets.
	created []*seriesState
	// What the change may move, as it was before.
	anySample bool
	newestMs  int64
	nextID    uint64
	done      bool
}

// saved is a series' fields as they were before the open change touched
// them.
type saved struct {
	st *seriesState
	f  fields
}

// fields are what a sample changes in a series.
type fields struct {
	seen, has, hasH bool
	lastT, touch    int64
	lastV           float64
	lastStart       int64
	lastH           *nativeHist // a copy, when hasH
}

func (st *seriesState) fields() fields {
	f := fields{seen: st.seen, has: st.has, hasH: st.hasH, lastT: st.lastT, touch: st.touch, lastV: st.lastV, lastStart: st.lastStart}
	if st.hasH {
		f.lastH = new(nativeHist)
		f.lastH.copyFrom(st.lastH)
	}
	return f
}

func (st *seriesState) setFields(f *fields) {
	st.seen, st.has, st.hasH, st.lastT, st.touch, st.lastV, st.lastStart = f.seen, f.has, f.hasH, f.lastT, f.touch, f.lastV, f.lastStart
	if f.hasH {
		st.lastH.copyFrom(f.lastH)
	}
}

// Begin opens a Change, to fold series into (Add), hand quanta out of
// (Flush), and commit or roll back. It fails only while another Change is
// open.
func (c *Collector) Begin() (*Change, error) {
	if c.open != nil {
		return nil, ErrChangeOpen
	}
	c.epoch++
	c.byID = nil // records are applied before the first change, not after
	ch := &Change{c: c, before: math.MinInt64, anySample: c.anySample, newestMs: c.newestMs, nextID: c.nextID,
		saved: c.savedBuf[:0]}
	c.open = ch
	return ch, nil
}

// Add folds series into the change, as Collector.Add does, and reports
// what became of their samples (that report is also merged into the
// change's). Series of several requests may be added, one Add each, in
// the order they came; not after Flush.
func (ch *Change) Add(series []Series) Report {
	var rep Report
	switch {
	case ch.done:
		rep.Problems = append(rep.Problems, ErrChangeEnded)
	case ch.flushed:
		rep.Problems = append(rep.Problems, ErrFlushed)
	default:
		for i := range series {
			ch.c.addSeries(&series[i], &rep)
		}
	}
	ch.Report.Merge(&rep)
	return rep
}

// Flush hands out the rollups of every quantum that ends at or before
// before, as Collector.Flush does, with the change's increases; they are
// forgotten at Commit. It is called once, after the last Add, and returns
// the Results and what resolving them reported (merged into the change's
// report too).
func (ch *Change) Flush(before int64) ([]Result, Report) {
	var rep Report
	switch {
	case ch.done:
		rep.Problems = append(rep.Problems, ErrChangeEnded)
		return nil, rep
	case ch.flushed:
		rep.Problems = append(rep.Problems, ErrFlushed)
		return nil, rep
	}
	ch.flushed, ch.before = true, before
	c := ch.c
	var starts []int64
	for i := range c.srcs {
		src := &c.srcs[i]
		src.last = nil
		starts = c.due(src, before, starts)
		for _, s := range starts {
			if r, ok := c.resolve(src, merged(src.partials[s], src.delta[s]), &rep); ok {
				ch.Results = append(ch.Results, r)
			}
		}
	}
	ch.Report.Merge(&rep)
	return ch.Results, rep
}

// save keeps st's fields for undo, once per change.
func (c *Collector) save(st *seriesState) {
	if st.epoch == c.epoch {
		return
	}
	st.epoch = c.epoch
	c.open.saved = append(c.open.saved, saved{st: st, f: st.fields()})
}

// Empty reports whether the change has nothing to keep: no series an SLI
// reads, no increase, no quantum handed out. A server may roll it back
// rather than store its record: that only forgets the series no SLI
// reads that it met first.
func (ch *Change) Empty() bool {
	if len(ch.saved) > 0 || len(ch.Results) > 0 {
		return false
	}
	for i := range ch.c.srcs {
		if len(ch.c.srcs[i].delta) > 0 {
			return false
		}
	}
	return true
}

// Commit makes the change part of the Collector's state: the samples'
// increases join the open quanta, the quanta handed out are forgotten,
// and idle series are looked for. It does nothing for a Change that has
// ended.
func (ch *Change) Commit() {
	if ch.done {
		return
	}
	ch.done = true
	c := ch.c
	c.open = nil
	for i := range c.srcs {
		src := &c.srcs[i]
		mergeDelta(src)
		c.forget(src, ch.before)
	}
	for i := range ch.saved {
		ch.saved[i].st.logged = true
	}
	c.keepSaved(ch)
	if ch.before != math.MinInt64 {
		c.flushed = max(c.flushed, ch.before)
		c.prune()
	}
}

// Rollback undoes the change: every series it touched gets its fields
// back, those it met for the first time are forgotten, and the quanta
// stay as they were. It does nothing for a Change that has ended.
func (ch *Change) Rollback() {
	if ch.done {
		return
	}
	ch.done = true
	c := ch.c
	c.open = nil
	for i := len(ch.saved) - 1; i >= 0; i-- {
		ch.saved[i].st.setFields(&ch.saved[i].f)
	}
	for _, st := range ch.created {
		c.unlink(st)
	}
	c.keepSaved(ch)
	for i := range c.srcs {
		c.srcs[i].delta, c.srcs[i].last = nil, nil
	}
	c.anySample, c.newestMs, c.nextID = ch.anySample, ch.newestMs, ch.nextID
}

// keepSaved keeps the ended change's saved slice for the next change, so
// that a server does not allocate one a request. AppendRecord of an
// ended change must not be called.
func (c *Collector) keepSaved(ch *Change) {
	clear(ch.saved)
	c.savedBuf = ch.saved[:0]
}

// unlink forgets a series.
func (c *Collector) unlink(st *seriesState) {
	c.drop(c.hash(st.labels), func(s *seriesState) bool { return s == st })
}

// mergeDelta folds the open change's increases into src's open quanta.
func mergeDelta(src *source) {
	for s, d := range src.delta {
		if p := src.partials[s]; p != nil {
			p.merge(d)
		} else {
			src.partials[s] = d
		}
	}
	src.delta, src.last = nil, nil
}

// forget drops the quanta of src that end at or before before: they were
// handed out.
func (c *Collector) forget(src *source, before int64) {
	if before < math.MinInt64+c.quantum {
		return
	}
	for s := range src.partials {
		if s <= before-c.quantum {
			delete(src.partials, s)
		}
	}
}

// merged returns the sum of an open quantum and the open change's
// increases to it, without changing either (one of them may be nil).
func merged(p, d *partial) *partial {
	switch {
	case d == nil:
		return p
	case p == nil:
		return d
	}
	m := *p
	m.latency = hist.Histogram{}
	p.latency.CopyTo(&m.latency)
	m.classic = nil
	if len(p.classic)+len(d.classic) > 0 {
		m.classic = make(map[*groupInfo]*classicAcc, len(p.classic)+len(d.classic))
		for g, a := range p.classic {
			m.classic[g] = a
		}
	}
	m.addCounts(d)
	for g, a := range d.classic {
		if prev := m.classic[g]; prev != nil {
			sum := &classicAcc{isError: prev.isError, les: slices.Clone(prev.les), cum: slices.Clone(prev.cum)}
			sum.addAll(a)
			a = sum
		}
		m.classic[g] = a
	}
	return &m
}

// merge adds the increases of d, of the same quantum, into p; p takes
// over d's classic accumulators where it has none.
func (p *partial) merge(d *partial) {
	p.addCounts(d)
	for g, a := range d.classic {
		if prev := p.classic[g]; prev != nil {
			prev.addAll(a)
			continue
		}
		if p.classic == nil {
			p.classic = make(map[*groupInfo]*classicAcc)
		}
		p.classic[g] = a
	}
}

// addCounts adds everything of d but its classic accumulators.
func (p *partial) addCounts(d *partial) {
	p.measured = p.measured || d.measured
	p.approx = p.approx || d.approx
	p.good += d.good
	p.bad += d.bad
	p.total += d.total
	p.attempted += d.attempted
	p.errors += d.errors
	p.slow += d.slow
	p.over += d.over
	p.latency.Merge(&d.latency)
}

func (a *classicAcc) addAll(o *classicAcc) {
	for i, le := range o.les {
		a.add(le, o.cum[i])
	}
}

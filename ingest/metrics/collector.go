package metrics

import (
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
)

// Config configures a Collector. Sources is required; the rest have
// defaults.
type Config struct {
	Sources []SLISource
	// Quantum is the rollup width; one minute by default, as in nines.
	Quantum time.Duration
	// MaxLag is how far behind the newest sample of its series a sample
	// may be and still count; older ones are Late. Five minutes by default.
	MaxLag time.Duration
	// IdleTimeout forgets a series (its baseline with it) that has sent
	// nothing for this long, measured against the newest sample the
	// Collector has seen, so memory follows the live series. One hour by
	// default; it is applied by Flush.
	IdleTimeout time.Duration
}

// Defaults applied by NewCollector.
const (
	DefaultQuantum     = time.Minute
	DefaultMaxLag      = 5 * time.Minute
	DefaultIdleTimeout = time.Hour
)

// Result is one SLI's rollup of one quantum.
type Result struct {
	// SLI is the SLISource's Name.
	SLI    string
	Rollup slo.Rollup
	// Approximate is set when part of OverThreshold was interpolated
	// inside a histogram bucket that straddles the threshold (native and
	// exponential histograms whose bounds miss it). The counts are then
	// estimates, and the SLI's latency figures should say so.
	Approximate bool
}

// Collector turns series of cumulative (or delta) counters and histograms
// into rollups per quantum for each configured SLI.
//
// Counters become increases the way Prometheus' rate() reads them: the
// increase of a series is its value minus its previous value; a decrease
// is a counter reset, after which the new value is the increase; the first
// sample of a series (or the first after a stale marker) only sets the
// baseline. An increase between two samples is counted in the quantum of
// the later sample, even when the samples straddle a quantum boundary: with
// scrapes every 15–60 s the error is at most one scrape interval at each
// edge, and it never loses or double-counts a request.
//
// Histograms are read per bucket the same way (see spread.go for where
// each bucket's requests land in the rollup histogram). For a latency
// threshold t, OverThreshold is count − bucket(le=t) for classic and custom
// buckets, exactly, and a bucket bound equal to t is required
// (NoThresholdBucket otherwise). Exponential buckets rarely have t as a
// bound; the bucket straddling t is split by interpolating in log(value),
// as Prometheus does for native histograms, and the Result is marked
// Approximate.
//
// Rollups are built as samples arrive and handed out by Flush for the
// quanta that end before a horizon; Watermark gives the horizon that
// leaves room for MaxLag. A sample for a quantum already flushed is still
// counted: its quantum is emitted again by the next Flush, as a
// contribution to merge (slo.Rollup.Merge) into what was stored.
//
// A Collector is not safe for concurrent use; a server shares one behind
// a mutex, or runs one per shard of series.
type Collector struct {
	quantum  int64 // ns
	quantumD time.Duration
	lagMs    int64
	idleMs   int64
	srcs     []source
	byName   map[string][]candidate
	wild     []candidate
	seed     maphash.Seed
	series   map[uint64]*seriesState
	nSeries  int
	groups   map[string]*groupInfo
	warnings []string

	anySample bool
	newestMs  int64 // newest accepted sample, Unix ms
	prunedMs  int64 // newestMs when idle series were last looked for
	flushed   int64 // horizon of the latest Flush, Unix ns

	// nextID numbers new series; a series keeps its id in states and
	// records (change.go), which name series by id once their labels
	// were written.
	nextID uint64
	// open is the Change under way, nil between changes; epoch numbers
	// changes, so a series knows whether the open one saved it yet.
	open  *Change
	epoch uint64
	// savedBuf is the saved slice of the last change, for the next.
	savedBuf []saved
	// stateSize is the size of the last MarshalState.
	stateSize int
	// byID finds series by id while records are applied (ApplyRecord);
	// nil otherwise.
	byID map[uint64]*seriesState

	// Scratch for native histograms, reused across samples.
	cur, inc nativeHist
	scratch  []bucketN
}

// source is a configured SLI with its open quanta.
type source struct {
	SLISource
	kind   sourceKind
	thr    float64 // latency threshold in seconds
	hasThr bool
	// partials are the open quanta as of the last committed change;
	// delta holds what the open change adds to them (last is its most
	// recently used quantum), merged in at Commit and dropped by Rollback.
	partials map[int64]*partial
	delta    map[int64]*partial
	last     *partial
}

type roleKind uint8

const (
	roleGood roleKind = iota
	roleBad
	roleTotal
	roleBucket // a classic _bucket series
	roleNative // a native, custom-bucket or exponential histogram
	roleUnused // _count, _sum: known, not needed
)

// candidate is a source that may claim series of a metric name.
type candidate struct {
	src  int
	kind roleKind
}

// role is what a series is to one source.
type role struct {
	src     int
	kind    roleKind
	isError bool    // histogram series counted as failed requests
	unitExp int     // value × 10^unitExp = seconds
	le      float64 // bucket bound in seconds (roleBucket)
	thrUnit float64 // threshold in the series' unit (roleNative)
	group   *groupInfo
	// Custom bounds as last seen and in seconds (roleNative), so the exact
	// decimal conversion runs only when the bounds change.
	customIn, customSec []float64
}

// groupInfo is one histogram (base name and labels without "le"), shared
// by its bucket series and its native series.
type groupInfo struct {
	key     string
	labels  string // for messages
	refs    int
	classic int // live bucket series
}

// seriesState is what the Collector remembers of one series.
type seriesState struct {
	labels Labels
	next   *seriesState // same hash
	typ    MetricType
	unit   string
	delta  bool
	roles  []role
	// verdict, when not zero, applies to every sample: the series is
	// unknown, unused or rejected (reject holds why).
	verdict    Reason
	reject     error
	hasVerdict bool
	// floats and hists say whether some role takes float samples or
	// histogram samples.
	floats, hists bool

	seen      bool  // some sample was processed
	has, hasH bool  // float / histogram baseline valid
	lastT     int64 // newest processed timestamp, Unix ms
	touch     int64 // newest timestamp of any sample, for IdleTimeout
	lastV     float64
	lastStart int64
	lastH     *nativeHist

	id uint64
	// logged: a record or state the store keeps has this series' labels,
	// so a record names it by id alone (see Change.AppendRecord).
	logged bool
	// epoch is that of the change that saved the fields above for undo.
	epoch uint64
}

// partial is one source's rollup of one quantum while it is open.
type partial struct {
	start    int64
	measured bool
	approx   bool
	// Counter sources.
	good, bad, total float64
	// Histogram sources.
	attempted, errors, slow, over float64
	latency                       hist.Histogram
	classic                       map[*groupInfo]*classicAcc
}

// classicAcc sums the increases of one classic histogram's bucket series
// in a quantum, by bound: cumulative counts, turned into buckets at Flush
// when all of the scrape's buckets have arrived.
type classicAcc struct {
	isError bool
	les     []float64 // ascending, seconds
	cum     []float64
	// ref is a bucket series of the histogram that added to it (in an
	// open change's increases), which names it in records.
	ref *seriesState
}

func (a *classicAcc) add(le, inc float64) {
	i, found := slices.BinarySearch(a.les, le)
	if !found {
		a.les = slices.Insert(a.les, i, le)
		a.cum = slices.Insert(a.cum, i, 0)
	}
	a.cum[i] += inc
}

// NewCollector checks cfg and returns a Collector for it.
func NewCollector(cfg Config) (*Collector, error) {
	if cfg.Quantum == 0 {
		cfg.Quantum = DefaultQuantum
	}
	if cfg.MaxLag == 0 {
		cfg.MaxLag = DefaultMaxLag
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	switch {
	case cfg.Quantum < 0:
		return nil, fmt.Errorf("metrics: quantum %v is negative", cfg.Quantum)
	case cfg.MaxLag < 0:
		return nil, fmt.Errorf("metrics: max lag %v is negative", cfg.MaxLag)
	case cfg.IdleTimeout < 0:
		return nil, fmt.Errorf("metrics: idle timeout %v is negative", cfg.IdleTimeout)
	case len(cfg.Sources) == 0:
		return nil, errors.New("metrics: no SLI sources")
	}
	c := &Collector{
		quantum:  int64(cfg.Quantum),
		quantumD: cfg.Quantum,
		lagMs:    cfg.MaxLag.Milliseconds(),
		idleMs:   max(cfg.IdleTimeout.Milliseconds(), 1),
		byName:   make(map[string][]candidate),
		seed:     maphash.MakeSeed(),
		series:   make(map[uint64]*seriesState),
		groups:   make(map[string]*groupInfo),
		flushed:  math.MinInt64,
	}
	seen := make(map[string]bool)
	for i, s := range cfg.Sources {
		kind, warn, err := s.check()
		if err != nil {
			return nil, fmt.Errorf("metrics: SLI source %d (%q): %w", i, s.Name, err)
		}
		if seen[s.Name] {
			return nil, fmt.Errorf("metrics: SLI source %d: name %q used twice", i, s.Name)
		}
		seen[s.Name] = true
		for _, w := range warn {
			c.warnings = append(c.warnings, fmt.Sprintf("SLI %q: %s", s.Name, w))
		}
		src := source{SLISource: s, kind: kind, partials: make(map[int64]*partial)}
		if l := s.SLI.Latency; l != nil && kind == kindHistogram {
			src.thr, src.hasThr = l.Threshold, true
		}
		c.srcs = append(c.srcs, src)
		add := func(sel *Selector, kind roleKind, name string) {
			if sel == nil {
				return
			}
			if name == "" {
				c.wild = append(c.wild, candidate{i, kind})
				return
			}
			c.byName[name] = append(c.byName[name], candidate{i, kind})
		}
		switch kind {
		case kindHistogram:
			base := s.Histogram.Name
			add(s.Histogram, roleNative, base)
			add(s.Histogram, roleBucket, base+"_bucket")
			add(s.Histogram, roleUnused, base+"_count")
			add(s.Histogram, roleUnused, base+"_sum")
		default:
			add(s.Good, roleGood, nameOf(s.Good))
			add(s.Bad, roleBad, nameOf(s.Bad))
			add(s.Total, roleTotal, nameOf(s.Total))
		}
	}
	return c, nil
}

func nameOf(s *Selector) string {
	if s == nil {
		return ""
	}
	return s.Name
}

// Warnings lists what the configuration cannot read exactly, such as a
// "<" latency rule on upper-inclusive buckets.
func (c *Collector) Warnings() []string { return slices.Clone(c.warnings) }

// NumSeries is the number of series the Collector remembers.
func (c *Collector) NumSeries() int { return c.nSeries }

// Watermark is the horizon to pass to Flush so that late samples within
// MaxLag of the newest accepted sample still land before their quantum is
// handed out: that sample's time minus MaxLag, in Unix nanoseconds, or
// math.MinInt64 before any sample.
func (c *Collector) Watermark() int64 {
	if !c.anySample {
		return math.MinInt64
	}
	ns, ok := msToNs(c.newestMs - c.lagMs)
	if !ok {
		return math.MinInt64
	}
	return ns
}

// Add folds series into the open rollups and reports what became of every
// sample. Series must carry valid Labels (the decoders guarantee it; a
// series with invalid labels is counted as BadValue).
//
// Add is a change of its own (see Begin), committed at once; while a
// Change is open it refuses the series with ErrChangeOpen in the report's
// problems.
func (c *Collector) Add(series []Series) Report {
	ch, err := c.Begin()
	if err != nil {
		return Report{Problems: []error{err}}
	}
	rep := ch.Add(series)
	ch.Commit()
	return rep
}

func (c *Collector) addSeries(s *Series, rep *Report) {
	n := uint64(len(s.Samples) + len(s.Histograms))
	if n == 0 {
		return
	}
	rep.Samples += n
	if len(c.wild) == 0 && len(c.byName[s.Labels.Name()]) == 0 {
		// The common case for a remote-write stream: a metric no SLI
		// names, rejected with one map lookup and no hashing.
		rep.Counts[UnknownSeries] += n
		return
	}
	st := c.lookup(s)
	if !st.hasVerdict {
		c.save(st)
	}
	for i := range s.Samples {
		st.touch = max(st.touch, s.Samples[i].T)
	}
	for i := range s.Histograms {
		st.touch = max(st.touch, s.Histograms[i].T)
	}
	if st.hasVerdict {
		rep.noteSeries(st, st.verdict, n, st.reject)
		return
	}
	for i := range s.Samples {
		c.addFloat(st, &s.Samples[i], rep)
	}
	for i := range s.Histograms {
		c.addHist(st, &s.Histograms[i], rep)
	}
}

func (c *Collector) hash(ls Labels) uint64 {
	var h maphash.Hash
	h.SetSeed(c.seed)
	for i := range ls {
		h.WriteString(ls[i].Name)
		h.WriteByte(0xff)
		h.WriteString(ls[i].Value)
		h.WriteByte(0xff)
	}
	return h.Sum64()
}

func (c *Collector) lookup(s *Series) *seriesState {
	h := c.hash(s.Labels)
	for st := c.series[h]; st != nil; st = st.next {
		if st.labels.Equal(s.Labels) {
			return st
		}
	}
	st := c.newState(s.Labels, s.Type, s.Unit, s.Temporality == Delta)
	st.next = c.series[h]
	c.series[h] = st
	c.nSeries++
	if c.open != nil {
		c.open.created = append(c.open.created, st)
	}
	return st
}

// newState works out what a new series is to each source.
func (c *Collector) newState(ls Labels, typ MetricType, unit string, delta bool) *seriesState {
	st := &seriesState{labels: ls.Clone(), typ: typ, unit: strings.Clone(unit), delta: delta, lastH: new(nativeHist), id: c.nextID}
	c.nextID++
	if err := ls.Validate(); err != nil {
		st.setVerdict(BadValue, err)
		return st
	}
	unused := false
	var rejected error
	var rejectReason Reason
	consider := func(cd candidate) {
		src := &c.srcs[cd.src]
		var sel *Selector
		switch cd.kind {
		case roleGood:
			sel = src.Good
		case roleBad:
			sel = src.Bad
		case roleTotal:
			sel = src.Total
		default:
			sel = src.Histogram
		}
		// The name was matched through byName (or the selector has none);
		// for histograms it is the base name, not the series' own.
		if !sel.MatchLabels(ls) {
			return
		}
		r, reason, err := c.makeRole(src, cd, ls, typ, unit)
		switch {
		case err != nil:
			if rejected == nil {
				rejected, rejectReason = err, reason
			}
		case cd.kind == roleUnused:
			unused = true
		default:
			st.roles = append(st.roles, r)
			if cd.kind == roleNative {
				st.hists = true
			} else {
				st.floats = true
			}
		}
	}
	for _, cd := range c.byName[ls.Name()] {
		consider(cd)
	}
	for _, cd := range c.wild {
		consider(cd)
	}
	switch {
	case len(st.roles) > 0:
		for i := range st.roles {
			if g := st.roles[i].group; g != nil {
				g.refs++
				if st.roles[i].kind == roleBucket {
					g.classic++
				}
			}
		}
	case rejected != nil:
		st.setVerdict(rejectReason, rejected)
	case unused:
		st.setVerdict(Unused, nil)
	default:
		st.setVerdict(UnknownSeries, nil)
	}
	return st
}

func (st *seriesState) setVerdict(r Reason, err error) {
	st.verdict, st.reject, st.hasVerdict = r, err, true
}

// makeRole checks that a series fits what a source wants of it.
func (c *Collector) makeRole(src *source, cd candidate, ls Labels, typ MetricType, unit string) (role, Reason, error) {
	r := role{src: cd.src, kind: cd.kind}
	switch cd.kind {
	case roleGood, roleBad, roleTotal:
		if typ != TypeUnknown && typ != TypeCounter {
			return r, WrongType, fmt.Errorf("SLI %q wants a counter, the series is a %s", src.Name, typ)
		}
		return r, 0, nil
	case roleUnused:
		return r, 0, nil
	}
	if cd.kind == roleBucket && typ != TypeUnknown && typ != TypeCounter && typ != TypeHistogram {
		return r, WrongType, fmt.Errorf("SLI %q wants histogram buckets, the series is a %s", src.Name, typ)
	}
	if cd.kind == roleNative && typ != TypeUnknown && typ != TypeHistogram {
		return r, WrongType, fmt.Errorf("SLI %q wants a histogram, the series is a %s", src.Name, typ)
	}
	u := src.Unit
	if u == "" {
		u = unit
	}
	exp, ok := unitExp(u)
	if !ok {
		return r, WrongType, fmt.Errorf("SLI %q: unit %q is not a time unit (s, ms, us, ns)", src.Name, u)
	}
	r.unitExp = exp
	r.thrUnit = slo.ShiftDecimal(src.thr, -exp)
	switch {
	case src.Errors != nil && src.Errors.MatchLabels(ls):
		r.isError = true
	case src.StatusLabel != "":
		code, err := strconv.Atoi(ls.Get(src.StatusLabel))
		if err != nil {
			code = slo.NoStatus
		}
		r.isError = !src.SLI.Status.Good(code)
	}
	if cd.kind == roleBucket {
		le, err := parseLe(ls.Get("le"), exp)
		if err != nil {
			return r, BadValue, err
		}
		r.le = le
	}
	r.group = c.group(src.Histogram.Name, ls)
	return r, 0, nil
}

// parseLe reads a bucket's "le" label and scales it to seconds on the
// decimal text, so le="5" in milliseconds is exactly the float64 nearest
// 0.005, the value a "<=5ms" threshold holds.
func parseLe(s string, exp int) (float64, error) {
	if s == "" {
		return 0, errors.New(`bucket series without an "le" label`)
	}
	switch s {
	case "+Inf", "Inf", "+inf", "inf":
		return math.Inf(1), nil
	}
	t := s
	if exp != 0 {
		if strings.ContainsAny(s, "xXpP_") {
			return 0, fmt.Errorf("le %q is not a decimal number", s)
		}
		t = s + "e" + strconv.Itoa(exp)
		if strings.ContainsAny(s, "eE") {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return 0, fmt.Errorf("le %q is not a number", s)
			}
			return slo.ShiftDecimal(v, exp), nil
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsNaN(v) {
		return 0, fmt.Errorf("le %q is not a number", s)
	}
	return v, nil
}

// group returns the histogram that a bucket or native series belongs to:
// its base name and labels other than __name__ and le.
func (c *Collector) group(base string, ls Labels) *groupInfo {
	var b strings.Builder
	b.WriteString(base)
	for _, l := range ls {
		if l.Name == MetricNameLabel || l.Name == "le" {
			continue
		}
		b.WriteByte(0xff)
		b.WriteString(l.Name)
		b.WriteByte(0xfe)
		b.WriteString(l.Value)
	}
	key := b.String()
	g := c.groups[key]
	if g == nil {
		g = &groupInfo{key: key}
		c.groups[key] = g
	}
	return g
}

// msToNs converts Unix milliseconds to nanoseconds, reporting overflow.
func msToNs(ms int64) (int64, bool) {
	const lim = math.MaxInt64 / int64(time.Millisecond)
	if ms > lim || ms < -lim {
		return 0, false
	}
	return ms * int64(time.Millisecond), true
}

// order classifies a sample at time t that is not newer than the series'
// newest: a duplicate, late, or out of order within MaxLag. Either way a
// cumulative value adds nothing: the increase across it was counted with
// the newer sample.
func (c *Collector) order(st *seriesState, t int64, rep *Report) {
	switch {
	case t == st.lastT:
		rep.note(Duplicate, 1, nil)
	case st.lastT-t > c.lagMs:
		rep.noteSeries(st, Late, 1, fmt.Errorf("sample at %s is %v behind the series' newest (max lag %v)",
			fmtMs(t), time.Duration(st.lastT-t)*time.Millisecond, time.Duration(c.lagMs)*time.Millisecond))
	default:
		rep.note(OutOfOrder, 1, nil)
		rep.Accepted++
	}
}

func fmtMs(t int64) string {
	return time.UnixMilli(t).UTC().Format("2006-01-02T15:04:05.000Z")
}

func fmtNs(t int64) string { return time.Unix(0, t).UTC().Format(time.RFC3339) }

func (c *Collector) addFloat(st *seriesState, s *Sample, rep *Report) {
	if !st.floats {
		rep.noteSeries(st, WrongType, 1, errors.New("float sample where a histogram is wanted"))
		return
	}
	tns, ok := msToNs(s.T)
	if !ok {
		rep.noteSeries(st, BadValue, 1, fmt.Errorf("timestamp %d ms out of range", s.T))
		return
	}
	stale := IsStaleNaN(s.V)
	if !stale && (math.IsNaN(s.V) || math.IsInf(s.V, 0) || s.V < 0) {
		rep.noteSeries(st, BadValue, 1, fmt.Errorf("counter value %v at %s", s.V, fmtMs(s.T)))
		return
	}
	if st.delta && !stale {
		// A delta is an increase on its own: no baseline, and order only
		// matters for lateness, and for a resend of the newest point (an
		// exporter retrying a request whose answer it lost), which would
		// count it twice.
		if st.seen && (st.lastT-s.T > c.lagMs || s.T == st.lastT) {
			c.order(st, s.T, rep)
			return
		}
		if st.seen && s.T < st.lastT {
			rep.note(OutOfOrder, 1, nil)
		}
		if !st.seen || s.T > st.lastT {
			st.lastT = s.T
		}
		st.seen = true
		c.accept(s.T, rep)
		c.addIncrease(st, tns, s.V, rep)
		return
	}
	if st.seen && s.T <= st.lastT {
		c.order(st, s.T, rep)
		return
	}
	st.seen, st.lastT = true, s.T
	if stale {
		st.has = false
		rep.note(Stale, 1, nil)
		return
	}
	c.accept(s.T, rep)
	if !st.has {
		st.has, st.lastV, st.lastStart = true, s.V, s.Start
		rep.note(FirstSample, 1, nil)
		return
	}
	inc := s.V - st.lastV
	if inc < 0 || s.Start != 0 && st.lastStart != 0 && s.Start != st.lastStart {
		inc = s.V
		rep.note(Reset, 1, nil)
	}
	st.lastV, st.lastStart = s.V, s.Start
	c.addIncrease(st, tns, inc, rep)
}

func (c *Collector) accept(t int64, rep *Report) {
	rep.Accepted++
	if !c.anySample || t > c.newestMs {
		c.anySample, c.newestMs = true, t
	}
}

// partial returns what the open change adds to src's rollup of the
// quantum starting at start.
func (c *Collector) partial(src *source, start int64, rep *Report) *partial {
	if p := src.last; p != nil && p.start == start {
		return p
	}
	p := src.delta[start]
	if p == nil {
		p = &partial{start: start}
		if src.delta == nil {
			src.delta = make(map[int64]*partial)
		}
		src.delta[start] = p
		if src.partials[start] == nil && c.closed(start) {
			rep.note(Reopened, 1, nil)
		}
	}
	src.last = p
	return p
}

// closed reports whether the quantum starting at start was flushed.
func (c *Collector) closed(start int64) bool {
	return c.flushed >= math.MinInt64+c.quantum && start <= c.flushed-c.quantum
}

func (c *Collector) addIncrease(st *seriesState, tns int64, inc float64, rep *Report) {
	start := slo.QuantumStart(tns, c.quantumD)
	for i := range st.roles {
		r := &st.roles[i]
		if r.kind == roleNative {
			continue
		}
		p := c.partial(&c.srcs[r.src], start, rep)
		switch r.kind {
		case roleGood:
			p.good += inc
			p.measured = true
		case roleBad:
			p.bad += inc
			p.measured = true
		case roleTotal:
			p.total += inc
			p.measured = true
		case roleBucket:
			if p.classic == nil {
				p.classic = make(map[*groupInfo]*classicAcc)
			}
			a := p.classic[r.group]
			if a == nil {
				a = &classicAcc{isError: r.isError, ref: st}
				p.classic[r.group] = a
			}
			a.add(r.le, inc)
		}
	}
}

func (c *Collector) addHist(st *seriesState, h *Histogram, rep *Report) {
	if !st.hists {
		rep.noteSeries(st, WrongType, 1, errors.New("histogram sample where a counter is wanted"))
		return
	}
	if h.ResetHint == ResetGauge {
		rep.noteSeries(st, WrongType, 1, errors.New("gauge histogram where a counter histogram is wanted"))
		return
	}
	tns, ok := msToNs(h.T)
	if !ok {
		rep.noteSeries(st, BadValue, 1, fmt.Errorf("timestamp %d ms out of range", h.T))
		return
	}
	stale := h.IsStale()
	if !stale {
		if err := h.Validate(); err != nil {
			rep.noteSeries(st, BadValue, 1, fmt.Errorf("histogram at %s: %w", fmtMs(h.T), err))
			return
		}
	}
	if st.delta && !stale {
		if st.seen && (st.lastT-h.T > c.lagMs || h.T == st.lastT) {
			c.order(st, h.T, rep)
			return
		}
		if st.seen && h.T < st.lastT {
			rep.note(OutOfOrder, 1, nil)
		}
		if !st.seen || h.T > st.lastT {
			st.lastT = h.T
		}
		st.seen = true
		c.accept(h.T, rep)
		c.inc.set(h)
		c.applyNative(st, tns, rep)
		return
	}
	if st.seen && h.T <= st.lastT {
		c.order(st, h.T, rep)
		return
	}
	st.seen, st.lastT = true, h.T
	if stale {
		st.hasH = false
		rep.note(Stale, 1, nil)
		return
	}
	c.accept(h.T, rep)
	if !st.hasH {
		st.lastH.set(h)
		st.hasH = true
		rep.note(FirstSample, 1, nil)
		return
	}
	c.cur.set(h)
	reset := diff(&c.inc, &c.cur, st.lastH, &c.scratch)
	if h.ResetHint == ResetYes && !reset {
		reset = true
		c.inc.copyFrom(&c.cur)
	}
	if reset {
		rep.note(Reset, 1, nil)
	}
	// The new value becomes the baseline; the old baseline's storage
	// becomes the next scratch.
	*st.lastH, c.cur = c.cur, *st.lastH
	c.applyNative(st, tns, rep)
}

// applyNative adds the increase in c.inc to every native role of st.
func (c *Collector) applyNative(st *seriesState, tns int64, rep *Report) {
	inc := &c.inc
	start := slo.QuantumStart(tns, c.quantumD)
	for i := range st.roles {
		r := &st.roles[i]
		if r.kind != roleNative {
			continue
		}
		src := &c.srcs[r.src]
		if r.group != nil && r.group.classic > 0 {
			// The same histogram also arrives as classic buckets
			// (Prometheus' always_scrape_classic_histograms): counting both
			// would double every request. The classic buckets win because
			// their threshold bucket is exact.
			rep.note(Duplicate, 1, nil)
			continue
		}
		custom := inc.schema == CustomBucketsSchema
		if custom && src.hasThr && !slices.Contains(inc.custom, r.thrUnit) {
			rep.noteSeries(st, NoThresholdBucket, 1, fmt.Errorf(
				"no bucket bound equals the threshold %s (bounds %v %s)", slo.FormatSeconds(src.thr), inc.custom, unitName(r.unitExp)))
			continue
		}
		if custom && !equalFloats(r.customIn, inc.custom) {
			r.customIn = append(r.customIn[:0], inc.custom...)
			r.customSec = r.customSec[:0]
			for _, v := range inc.custom {
				r.customSec = append(r.customSec, slo.ShiftDecimal(v, r.unitExp))
			}
		}
		p := c.partial(src, start, rep)
		p.measured = true
		scale := math.Pow10(r.unitExp)
		var total, over float64
		approx := false
		// The zero bucket and negative buckets hold latencies of zero (or
		// below, which is nonsense for a latency): good at any threshold.
		if n := roundCount(inc.zero); n > 0 {
			_ = p.latency.InsertN(0, n)
			total += float64(n)
			approx = approx || src.hasThr && inc.zt > r.thrUnit
		}
		for _, b := range inc.neg {
			if n := roundCount(b.n); n > 0 {
				_ = p.latency.InsertN(0, n)
				total += float64(n)
			}
		}
		for _, b := range inc.pos {
			n := roundCount(b.n)
			if n == 0 {
				continue
			}
			var lo, hi, loSec, hiSec float64
			how := exponential
			if custom {
				how = linear
				lo, hi, loSec, hiSec = math.Inf(-1), math.Inf(1), math.Inf(-1), math.Inf(1)
				if i := int(b.idx); i > 0 && i <= len(inc.custom) {
					lo, loSec = inc.custom[i-1], r.customSec[i-1]
				}
				if i := int(b.idx); i >= 0 && i < len(inc.custom) {
					hi, hiSec = inc.custom[i], r.customSec[i]
				}
			} else {
				lo, hi = expBound(int64(b.idx)-1, inc.schema), expBound(int64(b.idx), inc.schema)
				loSec, hiSec = lo*scale, hi*scale
			}
			nf := float64(n)
			total += nf
			if src.hasThr {
				switch t := r.thrUnit; {
				case lo >= t:
					over += nf
				case hi <= t:
				default:
					// The bucket straddles t: only exponential buckets get
					// here (custom ones were required to have t as a bound).
					frac := math.Log(t/lo) / math.Log(hi/lo)
					if lo <= 0 || math.IsNaN(frac) {
						frac = 0
					}
					over += nf * (1 - math.Max(0, math.Min(1, frac)))
					approx = true
				}
			}
			spread(&p.latency, loSec, hiSec, n, how)
		}
		p.attempted += total
		if r.isError {
			p.errors += total
		} else {
			p.slow += over
		}
		p.over += over
		if approx {
			p.approx = true
			rep.note(Approximate, 1, nil)
		}
	}
}

func unitName(exp int) string {
	switch exp {
	case -3:
		return "ms"
	case -6:
		return "us"
	case -9:
		return "ns"
	}
	return "s"
}

// Flush hands out the rollups of every quantum that ends at or before
// before (Unix nanoseconds), sorted by source then time, and forgets
// series idle for longer than IdleTimeout. Pass Watermark() to leave room
// for late samples, or math.MaxInt64 to drain everything (a file read to its end).
// Results for a quantum flushed earlier are contributions to merge.
//
// Flush is a change of its own (see Begin), committed at once; while a
// Change is open it hands out nothing and says so in the report.
func (c *Collector) Flush(before int64) ([]Result, Report) {
	ch, err := c.Begin()
	if err != nil {
		return nil, Report{Problems: []error{err}}
	}
	res, rep := ch.Flush(before)
	ch.Commit()
	return res, rep
}

// due lists the quanta of src that end at or before before, ascending,
// from the committed partials and the open change's.
func (c *Collector) due(src *source, before int64, starts []int64) []int64 {
	starts = starts[:0]
	if before < math.MinInt64+c.quantum {
		return starts
	}
	last := before - c.quantum
	for s := range src.partials {
		if s <= last {
			starts = append(starts, s)
		}
	}
	for s := range src.delta {
		if s <= last && src.partials[s] == nil {
			starts = append(starts, s)
		}
	}
	slices.Sort(starts)
	return starts
}

// resolve turns an open rollup into its final counts. It leaves p as it
// was: a change that is rolled back keeps its quanta open.
func (c *Collector) resolve(src *source, open *partial, rep *Report) (Result, bool) {
	// Classic buckets are added to the counts and the latency histogram
	// as they resolve: do that on a copy.
	p := *open
	p.latency = hist.Histogram{}
	open.latency.CopyTo(&p.latency)
	res := Result{SLI: src.Name, Approximate: p.approx}
	r := &res.Rollup
	r.Start = p.start
	inconsistent := func(format string, args ...any) {
		rep.note(Inconsistent, 1, fmt.Errorf("SLI %q, quantum %s: %s", src.Name, fmtNs(p.start), fmt.Sprintf(format, args...)))
	}
	switch src.kind {
	case kindGoodTotal:
		total, good := roundCount(p.total), roundCount(p.good)
		if good > total {
			inconsistent("good increased by %d, total by %d only", good, total)
			good = total
		}
		r.Attempted, r.Good = total, good
	case kindBadTotal:
		total, bad := roundCount(p.total), roundCount(p.bad)
		if bad > total {
			inconsistent("bad increased by %d, total by %d only", bad, total)
			bad = total
		}
		r.Attempted, r.Errors, r.Good = total, bad, total-bad
	case kindHistogram:
		for g, a := range p.classic {
			c.resolveClassic(src, &p, g, a, rep)
		}
		a, e, s := roundCount(p.attempted), roundCount(p.errors), roundCount(p.slow)
		e = min(e, a)
		s = min(s, a-e)
		r.Attempted, r.Errors, r.Slow, r.Good = a, e, s, a-e-s
		r.OverThreshold = min(roundCount(p.over), p.latency.Count())
		r.Latency = p.latency
	}
	r.Measured = p.measured
	return res, r.Measured || r.Attempted > 0
}

// resolveClassic turns one classic histogram's cumulative bucket increases
// into buckets, counts and latencies. OverThreshold is count − bucket(le=t):
// exact, which is why a bucket at t is required.
func (c *Collector) resolveClassic(src *source, p *partial, g *groupInfo, a *classicAcc, rep *Report) {
	iThr := -1
	if src.hasThr {
		iThr = slices.Index(a.les, src.thr)
		if iThr < 0 {
			rep.note(NoThresholdBucket, 1, &SeriesError{Series: groupName(g), Reason: NoThresholdBucket, Err: fmt.Errorf(
				"no le bucket equals the threshold %s (have le=%v): its requests in the quantum of %s are not counted",
				slo.FormatSeconds(src.thr), a.les, fmtNs(p.start))})
			return
		}
	}
	var prev uint64
	lo := math.Inf(-1)
	var atThr uint64
	bad := false
	for i, le := range a.les {
		cum := roundCount(a.cum[i])
		if cum < prev {
			bad, cum = true, prev
		}
		spread(&p.latency, lo, le, cum-prev, linear)
		if i == iThr {
			atThr = cum
		}
		prev, lo = cum, le
	}
	if bad || len(a.les) > 0 && !math.IsInf(a.les[len(a.les)-1], 1) {
		rep.note(Inconsistent, 1, &SeriesError{Series: groupName(g), Reason: Inconsistent, Err: fmt.Errorf(
			"in the quantum of %s bucket counts go down as le grows, or there is no le=\"+Inf\" bucket; clamped", fmtNs(p.start))})
	}
	total := prev
	p.attempted += float64(total)
	if src.hasThr {
		over := total - atThr
		p.over += float64(over)
		if !a.isError {
			p.slow += float64(over)
		}
	}
	if a.isError {
		p.errors += float64(total)
	}
	p.measured = true
}

// groupName writes a histogram group for messages: name_bucket{labels}.
func groupName(g *groupInfo) string {
	parts := strings.Split(g.key, "\xff")
	ls := Labels{{MetricNameLabel, parts[0] + "_bucket"}}
	for _, kv := range parts[1:] {
		n, v, _ := strings.Cut(kv, "\xfe")
		ls = append(ls, Label{n, v})
	}
	slices.SortFunc(ls, func(a, b Label) int { return strings.Compare(a.Name, b.Name) })
	return ls.String()
}

// prune forgets series that have been silent for IdleTimeout.
// pruneEveryMs is how often, in sample time, prune looks for idle series.
const pruneEveryMs = 60_000

func (c *Collector) prune() {
	// Walking every series costs as much as a whole request when a server
	// follows tens of thousands of them, so idle series are looked for once
	// a minute of sample time: one is forgotten up to a minute late.
	if !c.anySample || (c.prunedMs != 0 && c.newestMs-c.prunedMs < pruneEveryMs) {
		return
	}
	c.prunedMs = c.newestMs
	cut := c.newestMs - c.idleMs
	for h := range c.series {
		c.drop(h, func(st *seriesState) bool { return st.touch < cut })
	}
}

// drop forgets the series of hash h that gone picks.
func (c *Collector) drop(h uint64, gone func(*seriesState) bool) {
	var keep *seriesState
	for st := c.series[h]; st != nil; {
		next := st.next
		if gone(st) {
			c.release(st)
			c.nSeries--
		} else {
			st.next, keep = keep, st
		}
		st = next
	}
	if keep == nil {
		delete(c.series, h)
	} else {
		c.series[h] = keep
	}
}

func (c *Collector) release(st *seriesState) {
	if c.byID != nil {
		delete(c.byID, st.id)
	}
	for i := range st.roles {
		g := st.roles[i].group
		if g == nil {
			continue
		}
		g.refs--
		if st.roles[i].kind == roleBucket {
			g.classic--
		}
		if g.refs <= 0 {
			delete(c.groups, g.key)
		}
	}
}

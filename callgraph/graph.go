package callgraph

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/nines-sre/nines/hist"
)

// Options bound what a Graph holds. The zero value of a field takes its
// default.
type Options struct {
	// Spans is how many recent spans are kept as possible parents
	// (default 262,144, about 20 MiB): a child whose parent was pushed out
	// before it came waits in the pending buffer, and is lost if its
	// parent never comes again.
	Spans int
	// Pending is how many children may wait for a parent not seen yet
	// (default 65,536). Senders export a span when it ends, so a child
	// (which ends first) often comes before its parent.
	Pending int
	// Services bounds the distinct service names (default 10,000); spans
	// of further services are refused and counted.
	Services int
	// Edges bounds the edges (default 20,000); calls along further edges
	// are counted as dropped.
	Edges int
	// Window is how long per-minute figures are kept per edge (default
	// 1 h, at most 24 h).
	Window time.Duration
}

// Defaults of Options.
const (
	DefaultSpans    = 1 << 18
	DefaultPending  = 1 << 16
	DefaultServices = 10_000
	DefaultEdges    = 20_000
	DefaultWindow   = time.Hour
	// MaxWindow bounds Options.Window: the per-minute figures of every edge
	// are held in memory.
	MaxWindow = 24 * time.Hour
	// maxBuffer bounds Spans and Pending, whose slots are indexed by int32.
	maxBuffer = 1 << 30
)

// Check reports whether o, with its defaults, is in range.
func (o Options) Check() error { return o.defaults() }

func (o *Options) defaults() error {
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	set(&o.Spans, DefaultSpans)
	set(&o.Pending, DefaultPending)
	set(&o.Services, DefaultServices)
	set(&o.Edges, DefaultEdges)
	if o.Window == 0 {
		o.Window = DefaultWindow
	}
	for _, c := range []struct {
		name string
		v    int
	}{{"span buffer", o.Spans}, {"pending buffer", o.Pending}, {"service limit", o.Services}, {"edge limit", o.Edges}} {
		if c.v < 1 || c.v > maxBuffer {
			return fmt.Errorf("callgraph: the %s is %d; want 1 to %d", c.name, c.v, maxBuffer)
		}
	}
	if o.Window < time.Minute || o.Window > MaxWindow || o.Window%time.Minute != 0 {
		return fmt.Errorf("callgraph: the window is %v; want whole minutes from 1m to %v", o.Window, MaxWindow)
	}
	return nil
}

// Edge is a directed call from one service to another.
type Edge struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (e Edge) String() string { return e.From + " → " + e.To }

func compareEdges(a, b Edge) int {
	return cmp.Or(cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
}

// Graph is the observed call graph. It is safe for concurrent use.
type Graph struct {
	mu       sync.Mutex
	opts     Options
	seen     seenRing
	pending  pendingRing
	svcIndex map[string]uint32
	services []string
	edges    map[[2]uint32]*edgeStats
	stats    Stats
	scratch  []pendingSpan
}

// Stats counts what the graph took and what it could not keep.
type Stats struct {
	// Spans is the spans joined; Duplicates those seen before (a retried
	// request) and skipped.
	Spans      uint64 `json:"spans"`
	Duplicates uint64 `json:"duplicates"`
	// Calls is the calls counted on edges.
	Calls uint64 `json:"calls"`
	// SpansEvicted counts spans pushed out of the span buffer by newer
	// ones; PendingLost children pushed out of the pending buffer before
	// their parent came (their calls are not counted).
	SpansEvicted uint64 `json:"spans_evicted"`
	PendingLost  uint64 `json:"pending_lost"`
	// TooManyServices counts spans refused past Options.Services;
	// TooManyEdges calls dropped past Options.Edges.
	TooManyServices uint64 `json:"too_many_services"`
	TooManyEdges    uint64 `json:"too_many_edges"`
	// Pending is the children waiting now; Edges the edges now.
	Pending int `json:"pending"`
	Edges   int `json:"edges"`
}

// New returns an empty graph bounded by o.
func New(o Options) (*Graph, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	return &Graph{opts: o, seen: newSeenRing(o.Spans), pending: newPendingRing(o.Pending),
		svcIndex: map[string]uint32{}, edges: map[[2]uint32]*edgeStats{}}, nil
}

// Tx is the outcome of one Join: the calls it found, to be counted by
// Commit once whatever else the request stores is stored, or undone by
// Rollback so that the sender's retry is joined as if it came first.
type Tx struct {
	g     *Graph
	Calls []Call
	// Refused counts spans of services past the service limit.
	Refused int
	added   []addedSpan
	waiting []waitingSpan
	taken   []pendingSpan
	done    bool
}

type addedSpan struct {
	key  spanKey
	slot uint32
}

type waitingSpan struct {
	key  spanKey
	slot int32
}

// Join joins spans with those seen before and returns the calls found.
// Spans must have passed Span.Check.
func (g *Graph) Join(spans []Span) *Tx {
	g.mu.Lock()
	defer g.mu.Unlock()
	tx := &Tx{g: g}
	for i := range spans {
		g.join(tx, &spans[i])
	}
	return tx
}

func (g *Graph) join(tx *Tx, s *Span) {
	k := spanKey{s.Trace, s.ID}
	if _, dup := g.seen.get(k); dup {
		g.stats.Duplicates++
		return
	}
	svc, ok := g.intern(s.Service)
	if !ok {
		g.stats.TooManyServices++
		tx.Refused++
		return
	}
	g.stats.Spans++
	tx.added = append(tx.added, addedSpan{k, g.seen.put(seenSpan{key: k, svc: svc})})
	if !s.Root() {
		pk := spanKey{s.Trace, s.Parent}
		child := pendingSpan{parent: pk, self: k, svc: svc, start: s.Start, end: s.End,
			status: int16(s.Status), failed: s.Failed, server: s.Kind == KindServer}
		if p, ok := g.seen.get(pk); ok {
			if p.svc != svc {
				tx.Calls = append(tx.Calls, callOf(g.services[p.svc], &child, s.Service))
			}
		} else {
			tx.waiting = append(tx.waiting, waitingSpan{k, g.pending.next})
			g.pending.put(child)
		}
	}
	first := len(g.scratch)
	g.scratch = g.pending.take(k, g.scratch)
	for i := first; i < len(g.scratch); i++ {
		c := &g.scratch[i]
		tx.taken = append(tx.taken, *c)
		if c.svc != svc {
			tx.Calls = append(tx.Calls, callOf(s.Service, c, g.services[c.svc]))
		}
	}
	g.scratch = g.scratch[:first]
}

func (g *Graph) intern(name string) (uint32, bool) {
	if i, ok := g.svcIndex[name]; ok {
		return i, true
	}
	if len(g.services) >= g.opts.Services {
		return 0, false
	}
	i := uint32(len(g.services))
	g.services = append(g.services, name)
	g.svcIndex[name] = i
	return i, true
}

// finish marks tx done and locks its graph; ok is false, and nothing
// locked, when tx was finished before.
func (tx *Tx) finish() (g *Graph, ok bool) {
	if tx.done {
		return nil, false
	}
	tx.done = true
	tx.g.mu.Lock()
	return tx.g, true
}

// Commit counts the calls of tx on their edges. A Tx is committed or
// rolled back once.
func (tx *Tx) Commit() {
	g, ok := tx.finish()
	if !ok {
		return
	}
	defer g.mu.Unlock()
	for i := range tx.Calls {
		g.count(&tx.Calls[i])
	}
}

// Rollback undoes tx: its spans are forgotten, children it resolved wait
// again, children it left waiting are dropped, so a retry of the same
// request finds the graph as the first attempt did.
func (tx *Tx) Rollback() {
	g, ok := tx.finish()
	if !ok {
		return
	}
	defer g.mu.Unlock()
	// Children tx left waiting: those still waiting are dropped; those
	// its own parents took are forgotten with them; those another
	// request's parent took were counted there, so they stay seen and
	// the retry takes them for the duplicates they are.
	waited := make(map[spanKey]bool, len(tx.waiting))
	for _, w := range tx.waiting {
		waited[w.key] = true
	}
	keep := map[spanKey]bool{}
	for _, w := range tx.waiting {
		if s := &g.pending.slots[w.slot]; s.live && s.self == w.key {
			g.pending.unlink(w.slot)
		} else {
			keep[w.key] = true
		}
	}
	for _, c := range tx.taken {
		if waited[c.self] {
			delete(keep, c.self)
			continue
		}
		// A child of an earlier request: it waits again.
		g.pending.put(c)
	}
	for _, a := range tx.added {
		if !keep[a.key] {
			g.seen.remove(a.key, a.slot)
			g.stats.Spans--
		}
	}
}

func (g *Graph) count(c *Call) {
	from, ok1 := g.svcIndex[c.From]
	to, ok2 := g.svcIndex[c.To]
	if !ok1 || !ok2 {
		return
	}
	key := [2]uint32{from, to}
	e := g.edges[key]
	if e == nil {
		if len(g.edges) >= g.opts.Edges {
			g.stats.TooManyEdges++
			return
		}
		e = &edgeStats{minutes: make([]minute, g.opts.Window/time.Minute)}
		g.edges[key] = e
	}
	g.stats.Calls++
	e.add(c)
}

// Window is how far back the graph keeps per-minute figures.
func (g *Graph) Window() time.Duration { return g.opts.Window }

// Stats returns the graph's counters.
func (g *Graph) Stats() Stats {
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.stats
	s.SpansEvicted = g.seen.evicted
	s.PendingLost = g.pending.lost
	s.Pending = g.pending.waiting
	s.Edges = len(g.edges)
	return s
}

// edgeStats are one edge's figures: totals since the graph started and,
// per minute of the window, a ring indexed by minute number. Only the
// latest minute's latencies are a live histogram; earlier minutes keep
// theirs in hist's compact form, a few bytes a minute, so that an edge
// costs kilobytes rather than a histogram a minute.
type edgeStats struct {
	calls, failed uint64
	minutes       []minute
	cur           hist.Histogram
	curStart      int64
}

type minute struct {
	start         int64
	calls, failed uint64
	latency       []byte // compact form; the live one for curStart
}

const minuteNs = int64(time.Minute)

func (e *edgeStats) slot(start int64) *minute {
	return &e.minutes[(start/minuteNs)%int64(len(e.minutes))]
}

func (e *edgeStats) add(c *Call) {
	e.calls++
	if c.Failed {
		e.failed++
	}
	start := c.Time - c.Time%minuteNs
	m := e.slot(start)
	switch {
	case m.start > start:
		// Older than the window: in the totals only.
		return
	case m.start < start:
		m.start, m.calls, m.failed, m.latency = start, 0, 0, m.latency[:0]
	}
	m.calls++
	if c.Failed {
		m.failed++
	}
	if math.IsNaN(c.Latency) {
		return
	}
	switch {
	case start > e.curStart:
		e.pack()
		e.curStart = start
		insert(&e.cur, c.Latency)
	case start == e.curStart:
		insert(&e.cur, c.Latency)
	default:
		// A late call for an earlier minute: rare, so its compact form is
		// rewritten.
		var h hist.Histogram
		if h.MergeCompact(m.latency) == nil {
			insert(&h, c.Latency)
			m.latency = h.AppendCompact(m.latency[:0])
		}
	}
}

// pack moves the live histogram into its minute's compact form.
func (e *edgeStats) pack() {
	if e.cur.Count() == 0 {
		return
	}
	if m := e.slot(e.curStart); m.start == e.curStart {
		m.latency = e.cur.AppendCompact(m.latency[:0])
	}
	e.cur.Reset()
}

func insert(h *hist.Histogram, v float64) {
	// A checked span's duration is finite and not negative; the histogram
	// refuses what it cannot hold, and the call still counts.
	_ = h.Insert(v)
}

// latency merges the latencies of minute m into h.
func (e *edgeStats) latency(m *minute, h *hist.Histogram) {
	if m.start == e.curStart {
		h.Merge(&e.cur)
		return
	}
	// The compact form was written by AppendCompact; it cannot be corrupt.
	_ = h.MergeCompact(m.latency)
}

// EdgeFigures are an edge's calls over a span of time.
type EdgeFigures struct {
	Edge
	// Calls and Failed over the span; ErrorRate is Failed/Calls, NaN with
	// no call.
	Calls, Failed uint64
	ErrorRate     float64
	// Latency holds the durations of the child SERVER spans.
	Latency *hist.Histogram
	// TotalCalls and TotalFailed are since the graph started.
	TotalCalls, TotalFailed uint64
}

// Edges returns every edge's figures over the minutes (now−span, now],
// sorted by from and to. A span longer than the graph's window gives the
// window's figures.
func (g *Graph) Edges(now time.Time, span time.Duration) []EdgeFigures {
	g.mu.Lock()
	defer g.mu.Unlock()
	span = min(span, g.opts.Window)
	end := now.UnixNano() - now.UnixNano()%minuteNs
	from := end - int64(span) + minuteNs
	out := make([]EdgeFigures, 0, len(g.edges))
	for key, e := range g.edges {
		f := EdgeFigures{Edge: Edge{g.services[key[0]], g.services[key[1]]}, Latency: hist.New(),
			TotalCalls: e.calls, TotalFailed: e.failed}
		for i := range e.minutes {
			m := &e.minutes[i]
			if m.start < from || m.start > end || m.calls == 0 {
				continue
			}
			f.Calls += m.calls
			f.Failed += m.failed
			e.latency(m, f.Latency)
		}
		f.ErrorRate = math.NaN()
		if f.Calls > 0 {
			f.ErrorRate = float64(f.Failed) / float64(f.Calls)
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b EdgeFigures) int { return compareEdges(a.Edge, b.Edge) })
	return out
}

// Observed returns the edges seen since the graph started, sorted.
func (g *Graph) Observed() []Edge {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Edge, 0, len(g.edges))
	for key := range g.edges {
		out = append(out, Edge{g.services[key[0]], g.services[key[1]]})
	}
	slices.SortFunc(out, compareEdges)
	return out
}

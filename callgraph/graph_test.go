package callgraph

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// mk builds a span of service svc with id id and parent parent (0: root)
// in trace tr, ending at t0+end seconds after 100 ms.
func mk(tr byte, id, parent byte, svc string, kind Kind, end int, status int, failed bool) Span {
	s := Span{Service: svc, Kind: kind, Status: status, Failed: failed}
	s.Trace[0], s.ID[0] = tr, id
	if parent != 0 {
		s.Parent[0] = parent
	}
	s.End = t0.Add(time.Duration(end) * time.Second).UnixNano()
	s.Start = s.End - int64(100*time.Millisecond)
	return s
}

func newGraph(t testing.TB, o Options) *Graph {
	t.Helper()
	g, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func join(g *Graph, spans ...Span) []Call {
	tx := g.Join(spans)
	tx.Commit()
	return tx.Calls
}

func edgesOf(calls []Call) []Edge {
	var out []Edge
	for _, c := range calls {
		out = append(out, Edge{c.From, c.To})
	}
	return out
}

func TestJoin(t *testing.T) {
	client := mk(1, 1, 0, "checkout", KindClient, 1, slo.NoStatus, false)
	server := mk(1, 2, 1, "payments", KindServer, 1, 503, true)
	internal := mk(1, 3, 2, "payments", KindInternal, 1, slo.NoStatus, false)
	for _, tc := range []struct {
		name     string
		requests [][]Span
		want     []Edge
	}{
		{"A parent and its child of another service in one request make one call.", [][]Span{{client, server}}, []Edge{{"checkout", "payments"}}},
		{"A child that comes before its parent waits for it.", [][]Span{{server}, {client}}, []Edge{{"checkout", "payments"}}},
		{"A parent that comes before its child is remembered.", [][]Span{{client}, {server}}, []Edge{{"checkout", "payments"}}},
		{"A child of the same service is no edge.", [][]Span{{internal, server, client}}, []Edge{{"checkout", "payments"}}},
		{"A span received twice counts once.", [][]Span{{client, server}, {server}, {client, server}}, []Edge{{"checkout", "payments"}}},
		{"A root span alone is no call.", [][]Span{{client}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGraph(t, Options{})
			var got []Edge
			for _, r := range tc.requests {
				got = append(got, edgesOf(join(g, r...))...)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("calls %v, want %v", got, tc.want)
			}
		})
	}
}

func TestCallFigures(t *testing.T) {
	g := newGraph(t, Options{})
	calls := join(g, mk(1, 1, 0, "checkout", KindClient, 1, slo.NoStatus, false), mk(1, 2, 1, "payments", KindServer, 1, 503, true))
	if len(calls) != 1 {
		t.Fatalf("%d calls, want 1", len(calls))
	}
	c := calls[0]
	if c.Latency != 0.1 || c.Status != 503 || !c.Failed || c.Time != t0.Add(time.Second).UnixNano() {
		t.Errorf("call %+v: want latency 0.1 s, status 503, failed, at the child's end", c)
	}
	calls = join(g, mk(2, 1, 0, "checkout", KindProducer, 2, slo.NoStatus, false), mk(2, 2, 1, "mailer", KindConsumer, 2, slo.NoStatus, false))
	if len(calls) != 1 || !math.IsNaN(calls[0].Latency) {
		t.Errorf("calls %+v: a consumer's duration is not a response time, want NaN latency", calls)
	}
}

func TestEdges(t *testing.T) {
	g := newGraph(t, Options{Window: 5 * time.Minute})
	// Ten calls a minute for ten minutes, every fifth failed, each 100 ms.
	n := byte(0)
	for m := range 10 {
		for i := range 10 {
			n++
			join(g, mk(n, 1, 0, "a", KindClient, m*60+i, slo.NoStatus, false), mk(n, 2, 1, "b", KindServer, m*60+i, 200+300*(i%5/4), i%5 == 4))
		}
	}
	now := t0.Add(10*time.Minute - time.Second)
	figs := g.Edges(now, time.Hour)
	if len(figs) != 1 {
		t.Fatalf("%d edges, want 1", len(figs))
	}
	f := figs[0]
	if f.Edge != (Edge{"a", "b"}) || f.Calls != 50 || f.Failed != 10 || f.ErrorRate != 0.2 || f.TotalCalls != 100 || f.TotalFailed != 20 {
		t.Errorf("figures %+v: want a → b, 50 calls and 10 failed in the 5 minute window, 100 and 20 in all", f)
	}
	if got := f.Latency.Count(); got != 50 {
		t.Errorf("latency histogram holds %d calls, want 50", got)
	}
	if q := f.Latency.Quantile(0.99); q < 0.1 || q > 0.11 {
		t.Errorf("p99 %v, want 0.1 s within its bin", q)
	}
	if figs := g.Edges(now, 2*time.Minute); figs[0].Calls != 20 {
		t.Errorf("over 2 minutes %d calls, want 20", figs[0].Calls)
	}
}

func TestRollbackLetsARetryCountOnce(t *testing.T) {
	g := newGraph(t, Options{})
	parent := mk(1, 1, 0, "a", KindClient, 1, slo.NoStatus, false)
	child := mk(1, 2, 1, "b", KindServer, 1, 200, false)
	other := mk(1, 3, 9, "c", KindServer, 1, 200, false)
	join(g, child)
	tx := g.Join([]Span{parent, other})
	if len(tx.Calls) != 1 {
		t.Fatalf("%d calls, want 1", len(tx.Calls))
	}
	tx.Rollback()
	if st := g.Stats(); st.Calls != 0 || st.Pending != 1 || st.Spans != 1 {
		t.Errorf("after rollback %+v: want no call, the child waiting again, one span", st)
	}
	if calls := join(g, parent, other); len(calls) != 1 {
		t.Errorf("the retry found %d calls, want 1", len(calls))
	}
	if st := g.Stats(); st.Calls != 1 || st.Pending != 1 || st.Duplicates != 0 {
		t.Errorf("after the retry %+v: want one call, one child (of c) waiting, no duplicate", st)
	}
}

func TestBuffersAreBounded(t *testing.T) {
	g := newGraph(t, Options{Spans: 64, Pending: 16})
	// Children whose parents never come: the pending buffer keeps the last
	// 16 and counts the rest lost.
	var spans []Span
	for i := range 1000 {
		s := mk(byte(i), byte(i>>8)+1, 200, "b", KindServer, 1, 200, false)
		s.Trace[1] = byte(i >> 8)
		spans = append(spans, s)
	}
	join(g, spans...)
	st := g.Stats()
	if st.Pending != 16 || st.PendingLost != 1000-16 || st.SpansEvicted != 1000-64 {
		t.Errorf("stats %+v: want 16 pending, 984 lost, 936 spans evicted", st)
	}
	if len(g.seen.idx) > 64 || len(g.pending.heads) > 16 {
		t.Errorf("maps hold %d spans and %d parents, past their bounds", len(g.seen.idx), len(g.pending.heads))
	}
}

func TestLimits(t *testing.T) {
	g := newGraph(t, Options{Services: 2, Edges: 1})
	calls := join(g, mk(1, 1, 0, "a", KindClient, 1, slo.NoStatus, false), mk(1, 2, 1, "b", KindServer, 1, 200, false),
		mk(1, 3, 1, "c", KindServer, 1, 200, false))
	if st := g.Stats(); len(calls) != 1 || st.TooManyServices != 1 {
		t.Errorf("%d calls, stats %+v: want one call and c refused past two services", len(calls), st)
	}
	g = newGraph(t, Options{Edges: 1})
	join(g, mk(1, 1, 0, "a", KindClient, 1, slo.NoStatus, false), mk(1, 2, 1, "b", KindServer, 1, 200, false),
		mk(1, 3, 1, "c", KindServer, 1, 200, false))
	if st := g.Stats(); st.Edges != 1 || st.TooManyEdges != 1 {
		t.Errorf("stats %+v: want one edge and one call dropped", st)
	}
	for _, o := range []Options{{Spans: -1}, {Window: 30 * time.Second}, {Window: 48 * time.Hour}, {Window: 90 * time.Second}} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) took options out of range", o)
		}
	}
}

func TestCompare(t *testing.T) {
	declared := []Edge{{"a", "b"}, {"b", "c"}, {"c", "d"}, {"a", "b"}, {"x", "x"}}
	observed := []Edge{{"b", "c"}, {"a", "b"}, {"b", "a"}, {"e", "e"}}
	d := Compare(declared, observed)
	if !slices.Equal(d.Undeclared, []Edge{{"b", "a"}}) || !slices.Equal(d.Unobserved, []Edge{{"c", "d"}}) {
		t.Errorf("difference %+v: want b → a undeclared, c → d unobserved", d)
	}
	if d := Compare(nil, nil); d.Undeclared != nil || d.Unobserved != nil {
		t.Errorf("nothing against nothing gave %+v", d)
	}
}

func TestRollups(t *testing.T) {
	lat, err := slo.ParseLatencyRule("<=250ms")
	if err != nil {
		t.Fatal(err)
	}
	edge := &slo.SLO{Name: "pay", Quantum: time.Minute, SLI: slo.SLI{Latency: &lat, Edge: &slo.EdgeSource{From: "a", To: "b"}}}
	other := &slo.SLO{Name: "events", Quantum: time.Minute}
	at := t0.UnixNano()
	calls := []Call{
		{From: "a", To: "b", Time: at, Latency: 0.1, Status: 200},
		{From: "a", To: "b", Time: at + 1, Latency: 0.3, Status: 200},
		{From: "a", To: "b", Time: at + 2, Latency: 0.1, Status: 503, Failed: true},
		{From: "a", To: "b", Time: at + int64(time.Minute), Latency: math.NaN(), Status: slo.NoStatus},
		{From: "a", To: "c", Time: at, Latency: 0.1, Status: 200},
	}
	series, err := Rollups(calls, []*slo.SLO{edge, other})
	if err != nil {
		t.Fatal(err)
	}
	if len(series) != 1 || series["pay"] == nil || len(series["pay"].Rollups) != 2 {
		t.Fatalf("series %v: want two quanta for pay alone", series)
	}
	r := series["pay"].Rollups[0]
	if r.Attempted != 3 || r.Good != 1 || r.Errors != 1 || r.Slow != 1 || r.Latency.Count() != 3 || len(r.Statuses) == 0 {
		t.Errorf("first quantum %+v: want 3 attempted, 1 good, 1 error, 1 slow, 3 latencies, statuses kept", r)
	}
	if r := series["pay"].Rollups[1]; r.Attempted != 1 || r.Good != 1 || r.Latency.Count() != 0 {
		t.Errorf("second quantum %+v: an untimed call is good and adds no latency", r)
	}
}

// TestRollbackKeepsAChildAnotherRequestCounted: a request whose commit
// fails left a child waiting, and another request's parent took it before
// the rollback. That call is counted; the retry must not count it again.
func TestRollbackKeepsAChildAnotherRequestCounted(t *testing.T) {
	g := newGraph(t, Options{})
	child := mk(1, 2, 1, "b", KindServer, 1, 200, false)
	failed := g.Join([]Span{child})
	join(g, mk(1, 1, 0, "a", KindClient, 1, slo.NoStatus, false))
	failed.Rollback()
	if calls := join(g, child); len(calls) != 0 {
		t.Errorf("the retry counted %v again", calls)
	}
	if st := g.Stats(); st.Calls != 1 || st.Pending != 0 {
		t.Errorf("stats %+v: want the one call, nothing waiting", st)
	}
}

// BenchmarkJoin joins requests of 1,000 spans (500 calls from one service
// to another), children first as SDKs send them, with new trace ids each
// round.
func BenchmarkJoin(b *testing.B) {
	g := newGraph(b, Options{})
	parents := make([]Span, 500)
	children := make([]Span, 500)
	for i := range parents {
		parents[i] = mk(0, 1, 0, "a", KindClient, 1, slo.NoStatus, false)
		children[i] = mk(0, 2, 1, "b", KindServer, 1, 200, false)
	}
	b.ReportAllocs()
	round := uint32(0)
	for b.Loop() {
		round++
		for i := range parents {
			for _, s := range []*Span{&parents[i], &children[i]} {
				s.Trace[0], s.Trace[1], s.Trace[2], s.Trace[3] = byte(round), byte(round>>8), byte(round>>16), byte(i)
				s.Trace[4] = byte(i >> 8)
			}
		}
		join(g, children...)
		join(g, parents...)
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "spans/s")
}

// TestRollbackOfAWholeCall: a failed request held both the child and its
// parent; its retry counts the call once and the graph holds each span
// once.
func TestRollbackOfAWholeCall(t *testing.T) {
	g := newGraph(t, Options{})
	spans := []Span{mk(1, 2, 1, "b", KindServer, 1, 200, false), mk(1, 1, 0, "a", KindClient, 1, slo.NoStatus, false)}
	tx := g.Join(spans)
	if len(tx.Calls) != 1 {
		t.Fatalf("%d calls, want 1", len(tx.Calls))
	}
	tx.Rollback()
	if st := g.Stats(); st.Spans != 0 || st.Pending != 0 || st.Calls != 0 {
		t.Errorf("after rollback %+v: want nothing", st)
	}
	if calls := join(g, spans...); len(calls) != 1 {
		t.Errorf("the retry found %d calls, want 1", len(calls))
	}
	if st := g.Stats(); st.Spans != 2 || st.Pending != 0 || st.Calls != 1 || st.Duplicates != 0 {
		t.Errorf("after the retry %+v: want two spans, one call", st)
	}
}

// TestLateCallsKeepTheirMinute: a call for a minute before the latest
// one (its parent came late) is counted in its own minute, latency too.
func TestLateCallsKeepTheirMinute(t *testing.T) {
	g := newGraph(t, Options{})
	at := func(min int, latency float64) *Call {
		return &Call{From: "a", To: "b", Time: t0.Add(time.Duration(min) * time.Minute).UnixNano(), Latency: latency}
	}
	g.intern("a")
	g.intern("b")
	for _, c := range []*Call{at(0, 0.1), at(1, 0.2), at(2, 0.3), at(0, 0.4), at(1, 0.5)} {
		g.count(c)
	}
	for _, tc := range []struct {
		now        int
		span       time.Duration
		calls, lat uint64
		max        float64
	}{{0, time.Minute, 2, 2, 0.4}, {1, time.Minute, 2, 2, 0.5}, {2, time.Minute, 1, 1, 0.3}, {2, time.Hour, 5, 5, 0.5}} {
		f := g.Edges(t0.Add(time.Duration(tc.now)*time.Minute+time.Second), tc.span)[0]
		if f.Calls != tc.calls || f.Latency.Count() != tc.lat || f.Latency.Max() < tc.max || f.Latency.Max() > tc.max*1.04 {
			t.Errorf("minute %d over %v: %d calls, %d latencies, max %v; want %d, %d, %v", tc.now, tc.span, f.Calls, f.Latency.Count(), f.Latency.Max(), tc.calls, tc.lat, tc.max)
		}
	}
}

// TestEdgeMemoryIsKilobytes holds an hour of calls on 500 edges, with
// latencies over three decades every minute: each edge must cost a few
// kilobytes (past minutes are kept compact), not a histogram a minute.
func TestEdgeMemoryIsKilobytes(t *testing.T) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	g := newGraph(t, Options{Spans: 1, Pending: 1})
	g.intern("db")
	for e := range 500 {
		from := fmt.Sprintf("svc-%d", e)
		g.intern(from)
		for m := range 60 {
			for _, l := range []float64{0.002, 0.02, 0.2, 0.05, 0.5} {
				g.count(&Call{From: from, To: "db", Time: t0.Add(time.Duration(m) * time.Minute).UnixNano(), Latency: l})
			}
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	perEdge := float64(after.HeapAlloc-before.HeapAlloc) / float64(len(g.edges))
	if perEdge > 16<<10 {
		t.Errorf("%.1f KiB an edge, want under 16 KiB", perEdge/1024)
	}
	runtime.KeepAlive(g)
}

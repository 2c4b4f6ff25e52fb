package engine_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/store/sqlite"
)

// A differential test of the rule that the live answer equals the
// offline answer. Each scenario is an event stream, minute by minute. It
// is fed live to an engine on a fake clock, through the same parser the
// events API uses, a minute at a time just after the minute closes, with
// the engine ticking as nines serve does and restarting where the
// scenario says. After every quantum settles, the engine's status,
// budget, burn rates and alert transitions so far are compared with what
// the offline code paths say about the same events read as one file:
// slo.Evaluate and slo.BudgetHistory, slo.BurnRate, and engine.Replay over
// the file's series (nines replay --events) and over the engine's own
// store (nines replay --data). Equal means equal to the bit.

type scenario struct {
	name    string
	spec    string
	start   time.Time
	minutes int
	// traffic is the minute's requests: how many, and of them how many
	// fail and how many are slow; n < 0 sends nothing (a gap).
	traffic func(r *rand.Rand, i int, t time.Time) (n, failed, slow int)
	// restarts are the minutes (indexes) after which the engine stops and
	// starts again on the same store; odd ones crash, even ones stop
	// cleanly.
	restarts []int
	// editAt, when above zero, is the minute after which the spec becomes
	// edited: stored history is re-judged, and from then on the live
	// answer must equal the offline answer under the edited spec.
	editAt int
	edited string
}

func noisy(base int) func(r *rand.Rand, i int, t time.Time) (int, int, int) {
	return func(r *rand.Rand, i int, t time.Time) (int, int, int) {
		n := base + r.IntN(base)
		failed := 0
		if r.IntN(40) == 0 {
			failed = 1 + r.IntN(3)
		}
		return n, failed, r.IntN(2)
	}
}

func scenarios() []scenario {
	day := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	rolling := func(extra string) string {
		return "name: checkout\nservice: checkout\nsli:\n  good:\n    status: \"<500\"\n    latency: \"<=250ms\"\nobjective: 99.9\nquantumObjective: 99\nwindow:\n  rolling: 30d\n" + extra
	}
	return []scenario{
		{name: "fresh SLO, good then noisy", spec: rolling(""), start: day.Add(9 * time.Hour), minutes: 240, traffic: noisy(20)},
		{name: "outage in the first hour", spec: rolling(""), start: day.Add(9 * time.Hour), minutes: 180,
			traffic: func(r *rand.Rand, i int, t time.Time) (int, int, int) {
				n := 30 + r.IntN(10)
				if i >= 20 && i < 32 {
					return n, n / 2, 0
				}
				return n, 0, 0
			}},
		{name: "restarts mid-stream", spec: rolling(""), start: day.Add(9 * time.Hour), minutes: 200, restarts: []int{25, 70, 71, 140},
			traffic: func(r *rand.Rand, i int, t time.Time) (int, int, int) {
				n := 20 + r.IntN(10)
				if i >= 60 && i < 80 {
					return n, n, 0 // an outage across two restarts
				}
				return n, 0, 0
			}},
		{name: "edited threshold mid-stream", spec: strings.Replace(rolling(""), "<=250ms", "<=5ms", 1), start: day.Add(9 * time.Hour), minutes: 180,
			editAt: 90, edited: strings.Replace(rolling(""), "<=250ms", "<=10ms", 1), restarts: []int{120}, traffic: noisy(20)},
		{name: "transactions with a slow burn", spec: strings.Replace(rolling(""), "quantumObjective: 99\n", "method: transactions\n", 1),
			start: day.Add(9 * time.Hour), minutes: 240,
			traffic: func(r *rand.Rand, i int, t time.Time) (int, int, int) { return 50, r.IntN(3), r.IntN(2) }},
	}
}

// gaps adds silent stretches to a scenario's traffic.
func gaps(f func(r *rand.Rand, i int, t time.Time) (int, int, int)) func(r *rand.Rand, i int, t time.Time) (int, int, int) {
	return func(r *rand.Rand, i int, t time.Time) (int, int, int) {
		if (i >= 30 && i < 45) || (i >= 100 && i < 103) || i%17 == 5 {
			return -1, 0, 0
		}
		return f(r, i, t)
	}
}

func gapScenarios() []scenario {
	var out []scenario
	for _, policy := range []string{"bad", "good", "skip"} {
		for _, method := range []string{"quanta", "downtime-minutes"} {
			out = append(out, scenario{
				name: "gaps, noData " + policy + ", " + method,
				spec: "name: checkout\nservice: checkout\nsli:\n  good:\n    status: \"<500\"\nobjective: 99\nmethod: " + method +
					"\nwindow:\n  rolling: 1d\nnoData: " + policy + "\n",
				start: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC), minutes: 150, traffic: gaps(noisy(10)),
			})
		}
	}
	return out
}

// berlinDST is a calendar month in Berlin across the end of daylight
// saving time (25 October 2026: that day has 1,500 minutes), with a
// calendar day's lookback into September.
func berlinDST() scenario {
	return scenario{
		name: "Berlin calendar month across DST",
		spec: "name: login\nservice: login\nsli:\n  good:\n    status: \"<500\"\nobjective: 99.95\nmethod: time-quanta\nquantum: 5m\n" +
			"window:\n  calendar: month\n  timezone: Europe/Berlin\nnoData: bad\n",
		start: time.Date(2026, 9, 30, 12, 0, 0, 0, time.UTC), minutes: 33 * 24 * 12,
		restarts: []int{24 * 12 * 10, 24*12*25 + 5},
		traffic: func(r *rand.Rand, i int, t time.Time) (int, int, int) {
			n := 5 + r.IntN(5)
			if r.IntN(300) == 0 {
				return n, 1, 0
			}
			if r.IntN(2000) == 0 {
				return -1, 0, 0
			}
			return n, 0, 0
		},
	}
}

func TestLiveEqualsOffline(t *testing.T) {
	all := append(append(scenarios(), gapScenarios()...), berlinDST())
	for _, sc := range all {
		t.Run(sc.name, func(t *testing.T) {
			if testing.Short() && sc.minutes > 1000 {
				t.Skip("a month of quanta")
			}
			runDifferential(t, sc)
		})
	}
}

// events renders a minute's traffic as JSON lines, the format of the
// events API and of nines eval --events.
func events(t time.Time, n, failed, slow int) []byte {
	var b bytes.Buffer
	if n == 0 {
		fmt.Fprintf(&b, `{"time": %q, "status": 200, "count": 0}`+"\n", t.Format(time.RFC3339))
	}
	for i := range n {
		status, lat := 200, 4.0+float64(i%7)
		switch {
		case i < failed:
			status = 503
		case i < failed+slow:
			lat = 900
		}
		fmt.Fprintf(&b, `{"time": %q, "status": %d, "latency_ms": %g}`+"\n", t.Add(time.Duration(i)*time.Second/time.Duration(n)).Format(time.RFC3339Nano), status, lat)
	}
	return b.Bytes()
}

type liveEngine struct {
	t    *testing.T
	dir  string
	db   *sqlite.DB
	e    *engine.Engine
	mu   sync.Mutex
	now  time.Time
	told []alert.Transition
}

func (l *liveEngine) clock() time.Time { l.mu.Lock(); defer l.mu.Unlock(); return l.now }

func (l *liveEngine) start(ctx context.Context, specText string) {
	l.t.Helper()
	db, err := sqlite.Open(ctx, l.dir, sqlite.Options{Sync: sqlite.SyncNormal})
	if err != nil {
		l.t.Fatal(err)
	}
	e, err := engine.New(ctx, engine.Config{Store: db, Now: l.clock, OnTransition: func(_ *slo.SLO, tr alert.Transition) {
		l.told = append(l.told, tr)
	}})
	if err != nil {
		l.t.Fatal(err)
	}
	if _, err := e.Load(ctx, map[string][]byte{"slo.yaml": []byte(specText)}); err != nil {
		l.t.Fatal(err)
	}
	l.db, l.e = db, e
}

func runDifferential(t *testing.T, sc scenario) {
	ctx := context.Background()
	final := sc.spec
	if sc.editAt > 0 {
		final = sc.edited
	}
	slos, _, err := spec.Load("slo.yaml", []byte(final))
	if err != nil {
		t.Fatal(err)
	}
	// The events are parsed by the SLI in force when they arrive; the
	// offline answer judges them all by the final one.
	s := slos[0]
	live, _, err := spec.Load("slo.yaml", []byte(sc.spec))
	if err != nil {
		t.Fatal(err)
	}
	cur, curSpec := live[0], sc.spec
	l := &liveEngine{t: t, dir: t.TempDir(), now: sc.start}
	l.start(ctx, curSpec)
	defer func() { l.db.Close() }()

	r := rand.New(rand.NewPCG(7, uint64(len(sc.name))))
	var file bytes.Buffer
	var liveSteps []step
	q := s.Quantum
	for i := range sc.minutes {
		m := sc.start.Add(time.Duration(i) * q)
		// Just after the quantum closes its events arrive, as a client
		// flushing each quantum would send them; the engine then ticks.
		l.mu.Lock()
		l.now = m.Add(q + time.Second)
		l.mu.Unlock()
		if n, failed, slow := sc.traffic(r, i, m); n >= 0 {
			lines := events(m, n, failed, slow)
			file.Write(lines)
			series, _, err := ingest.Read(ctx, bytes.NewReader(lines), ingest.Options{Format: ingest.JSONL, SLI: &cur.SLI, Quantum: q, KeepStatuses: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := l.e.Commit(ctx, &engine.Batch{Source: "test", Series: map[string]*slo.Series{s.Name: series}}); err != nil {
				t.Fatal(err)
			}
		}
		l.e.Tick(l.clock())
		if i > sc.editAt {
			liveSteps = append(liveSteps, snapshot(t, l.e, s))
		}
		if sc.editAt > 0 && i == sc.editAt {
			cur, curSpec = s, sc.edited
			warnings, err := l.e.Load(ctx, map[string][]byte{"slo.yaml": []byte(curSpec)})
			if err != nil || len(warnings) == 0 || !strings.Contains(warnings[0].Message, "re-judged") {
				t.Fatalf("reload with the edited SLI: %v %v", warnings, err)
			}
		}
		if slices.Contains(sc.restarts, i) {
			if i%2 == 0 {
				if err := l.e.SaveState(ctx); err != nil {
					t.Fatal(err)
				}
			}
			l.db.Close()
			l.start(ctx, curSpec)
		}
	}
	l.mu.Lock()
	l.now = l.now.Add(q) // the last quantum settles
	l.mu.Unlock()
	l.e.Tick(l.clock())
	liveSteps = append(liveSteps, snapshot(t, l.e, s))
	_, liveHistory, err := l.e.Alerts(s.Name)
	if err != nil {
		t.Fatal(err)
	}

	// Offline: the same events as one file.
	series, _, err := ingest.Read(ctx, bytes.NewReader(file.Bytes()), ingest.Options{Format: ingest.JSONL, SLI: &s.SLI, Quantum: q})
	if err != nil {
		t.Fatal(err)
	}
	series.Since = slo.LifeStart(s, series)
	end := liveSteps[len(liveSteps)-1].at
	var offlineSteps []step
	fileTrs, _, err := engine.Replay(ctx, s, engine.SeriesSource(series), engine.ReplayOptions{Key: s.Name, Since: series.Since, To: end,
		Step: func(at time.Time, tr *slo.Tracker, st alert.State, _ []alert.Transition) {
			offlineSteps = append(offlineSteps, offlineStep(t, s, series, at))
		}})
	if err != nil {
		t.Fatal(err)
	}
	floor, err := engine.StoredFloor(ctx, l.db, s.Name)
	if err != nil {
		t.Fatal(err)
	}
	since, err := engine.StoredLifeStart(ctx, l.db, s.Name, s, floor)
	if err != nil || since != series.Since {
		t.Fatalf("the store's life starts at %v, the file's at %v (%v)", time.Unix(0, since).UTC(), time.Unix(0, series.Since).UTC(), err)
	}
	storeTrs, _, err := engine.Replay(ctx, s, l.db, engine.ReplayOptions{Key: s.Name, Since: since, To: end})
	if err != nil {
		t.Fatal(err)
	}

	// Every settled quantum: the live status equals the offline one.
	byAt := map[time.Time]step{}
	for _, st := range offlineSteps {
		byAt[st.at] = st
	}
	compared := 0
	for _, live := range liveSteps {
		off, ok := byAt[live.at]
		if !ok {
			continue // before the SLO's life began: the replay starts there
		}
		if d := live.diff(off); d != "" {
			t.Fatalf("at %s the live engine and the offline evaluation disagree:\n%s", live.at.Format(time.RFC3339), d)
		}
		compared++
	}
	if compared < (sc.minutes-sc.editAt)*9/10 {
		t.Fatalf("compared %d of %d quanta", compared, sc.minutes)
	}
	// Every alert transition, with its numbers, equals the replays'.
	want := describe(fileTrs)
	if got := describe(storeTrs); !slices.Equal(got, want) {
		t.Fatalf("replay of the store:\n%s\nreplay of the file:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got := describe(liveHistory); !slices.Equal(got, want) {
		t.Fatalf("live history:\n%s\nreplay of the file:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	t.Logf("%d quanta compared, %d transitions", compared, len(want))
	if sc.editAt > 0 {
		return // before the edit, notifiers heard what the old SLI said
	}
	// Notifiers heard each transition once; a restart's confirmations
	// repeat a firing alert with its first start, never a new one.
	var heard []alert.Transition
	for _, tr := range l.told {
		if !slices.ContainsFunc(heard, func(h alert.Transition) bool {
			return h.Alert == tr.Alert && h.Kind == tr.Kind && h.Since.Equal(tr.Since)
		}) {
			heard = append(heard, tr)
		}
	}
	if got := describe(heard); !slices.Equal(got, want) {
		t.Fatalf("notifiers heard:\n%s\nreplay of the file:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// step is what one evaluation time shows.
type step struct {
	at     time.Time
	res    *slo.Result
	burns  []float64
	window slo.Window
}

var spans = []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}

func snapshot(t *testing.T, e *engine.Engine, s *slo.SLO) step {
	t.Helper()
	res, err := e.Summary(s.Name)
	if err != nil {
		t.Fatal(err)
	}
	burns, err := e.BurnRates(s.Name, spans)
	if err != nil {
		t.Fatal(err)
	}
	return step{at: res.At, res: res, burns: burns, window: res.Window}
}

// offlineStep evaluates the file's series at at as nines eval does.
func offlineStep(t *testing.T, s *slo.SLO, series *slo.Series, at time.Time) step {
	w := s.Window.Containing(at)
	if s.Window.Calendar == slo.NotCalendar {
		w = s.Window.Containing(at)
	}
	res, err := slo.Evaluate(s, series, w, at)
	if err != nil {
		t.Fatal(err)
	}
	st := step{at: at, res: res, window: w}
	for _, span := range spans {
		b, err := slo.BurnRate(s, series, at.Add(-span), at)
		if err != nil {
			t.Fatal(err)
		}
		st.burns = append(st.burns, b)
	}
	return st
}

func same(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func (live step) diff(off step) string {
	var d []string
	a, b := live.res, off.res
	if !live.window.Start.Equal(off.window.Start) || !live.window.End.Equal(off.window.End) {
		d = append(d, fmt.Sprintf("window %v, offline %v", live.window, off.window))
	}
	if a.Quanta != b.Quanta {
		d = append(d, fmt.Sprintf("quanta %+v, offline %+v", a.Quanta, b.Quanta))
	}
	if a.Events != b.Events {
		d = append(d, fmt.Sprintf("events %+v, offline %+v", a.Events, b.Events))
	}
	if !same(a.Availability, b.Availability) || a.Met != b.Met || a.Downtime != b.Downtime {
		d = append(d, fmt.Sprintf("availability %v met %v downtime %v, offline %v %v %v", a.Availability, a.Met, a.Downtime, b.Availability, b.Met, b.Downtime))
	}
	if !same(a.Budget.Total, b.Budget.Total) || !same(a.Budget.Spent, b.Budget.Spent) || !same(a.Budget.Remaining, b.Budget.Remaining) {
		d = append(d, fmt.Sprintf("budget %+v, offline %+v", a.Budget, b.Budget))
	}
	if a.Latency.Measured != b.Latency.Measured || a.Latency.AtOrUnder != b.Latency.AtOrUnder || !same(a.Latency.Headroom, b.Latency.Headroom) {
		d = append(d, fmt.Sprintf("latency %d/%d, offline %d/%d", a.Latency.AtOrUnder, a.Latency.Measured, b.Latency.AtOrUnder, b.Latency.Measured))
	}
	for i := range spans {
		if !same(live.burns[i], off.burns[i]) {
			d = append(d, fmt.Sprintf("burn over %v %v, offline %v", spans[i], live.burns[i], off.burns[i]))
		}
	}
	return strings.Join(d, "\n")
}

// describe writes transitions with every number that decided them.
func describe(trs []alert.Transition) []string {
	var out []string
	for _, tr := range trs {
		out = append(out, fmt.Sprintf("%s %s %s since %s burn %v/%v attempted %d budget %v impact %s", tr.At.UTC().Format(time.RFC3339), tr.Kind, tr.Alert,
			tr.Since.UTC().Format(time.RFC3339), tr.BurnLong, tr.BurnShort, tr.Attempted, tr.BudgetRemaining, tr.ImpactStart.UTC().Format(time.RFC3339)))
	}
	return out
}

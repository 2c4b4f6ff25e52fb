package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store/sqlite"
)

// checkoutSpec is a 30-day SLO with every default that matters: the
// quanta method and noData: bad.
const checkoutSpec = `name: checkout
service: checkout
sli:
  good:
    status: "<500"
objective: 99.9
window:
  rolling: 30d
`

// lifeFixture is an engine on a fresh store with a settable clock and a
// record of what the notifiers were told.
type lifeFixture struct {
	t     *testing.T
	ctx   context.Context
	dir   string
	db    *sqlite.DB
	e     *Engine
	mu    sync.Mutex
	now   time.Time
	told  []alert.Transition
	specs map[string][]byte
}

func newLifeFixture(t *testing.T, spec string, now time.Time) *lifeFixture {
	f := &lifeFixture{t: t, ctx: context.Background(), dir: t.TempDir(), now: now, specs: map[string][]byte{"slo.yaml": []byte(spec)}}
	f.start()
	return f
}

// start opens (or reopens, after stop) the store and an engine on it.
func (f *lifeFixture) start() {
	f.t.Helper()
	db, err := sqlite.Open(f.ctx, f.dir, sqlite.Options{})
	if err != nil {
		f.t.Fatal(err)
	}
	f.db = db
	f.t.Cleanup(func() { db.Close() })
	e, err := New(f.ctx, Config{Store: db, Now: f.clock, OnTransition: func(_ *slo.SLO, tr alert.Transition) {
		f.mu.Lock()
		f.told = append(f.told, tr)
		f.mu.Unlock()
	}})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := e.Load(f.ctx, f.specs); err != nil {
		f.t.Fatal(err)
	}
	f.e = e
}

// stop shuts the engine down as nines serve does, or crashes it.
func (f *lifeFixture) stop(clean bool) {
	f.t.Helper()
	if clean {
		if err := f.e.SaveState(f.ctx); err != nil {
			f.t.Fatal(err)
		}
	}
	f.db.Close()
}

func (f *lifeFixture) clock() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// to moves the clock to t, ticking every 10 seconds on the way as nines
// serve does.
func (f *lifeFixture) to(t time.Time) {
	for {
		f.mu.Lock()
		next := f.now.Add(10 * time.Second)
		if next.After(t) {
			next = t
		}
		f.now = next
		f.mu.Unlock()
		f.e.Tick(next)
		if !next.Before(t) {
			return
		}
	}
}

// send appends one minute of traffic at t: n requests of which bad fail.
func (f *lifeFixture) send(name string, t time.Time, n, bad uint64) {
	f.t.Helper()
	if res, err := f.e.Append(f.ctx, name, minute(t, n, n-bad), "test"); err != nil || res.Accepted != 1 {
		f.t.Fatalf("append %s at %s: %+v %v", name, t.Format(time.TimeOnly), res, err)
	}
}

func (f *lifeFixture) firing(name string) []string {
	f.t.Helper()
	st, _, err := f.e.Alerts(name)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, a := range st.Alerts {
		out = append(out, a.Name)
	}
	return out
}

func (f *lifeFixture) toldOf() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, tr := range f.told {
		out = append(out, fmt.Sprintf("%s %s %s", tr.Kind, tr.Alert, tr.At.Format("15:04")))
	}
	return out
}

// TestFreshSLOIsWholeUntilItFails is the first thing a new user sees: an
// SLO created now, fed only good events, is 100 % available with its
// whole budget and nothing firing, although 30 days of its window passed
// before it existed, and noData is bad.
func TestFreshSLOIsWholeUntilItFails(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	f := newLifeFixture(t, checkoutSpec, start)
	res, err := f.e.Summary("checkout")
	if err != nil {
		t.Fatal(err)
	}
	if res.Budget.RemainingShare() != 1 || res.Quanta.Elapsed != 0 {
		t.Fatalf("before any data: %+v %+v", res.Budget, res.Quanta)
	}
	for m := range 30 {
		at := start.Add(time.Duration(m) * time.Minute)
		f.to(at.Add(30 * time.Second))
		f.send("checkout", at, 100, 0)
	}
	f.to(start.Add(31 * time.Minute)) // 10:29 has settled; 10:30 is open
	res, err = f.e.Summary("checkout")
	if err != nil {
		t.Fatal(err)
	}
	if res.Availability != 1 || res.Budget.RemainingShare() != 1 || res.Quanta.Good != 30 || res.Quanta.Bad != 0 ||
		res.Quanta.BeforeStart != 43200-30 {
		t.Fatalf("a fresh SLO fed good events: availability %v, budget %+v, quanta %+v", res.Availability, res.Budget, res.Quanta)
	}
	if got := f.firing("checkout"); len(got) != 0 {
		t.Fatalf("firing %v", got)
	}
	rates, err := f.e.BurnRates("checkout", []time.Duration{5 * time.Minute, time.Hour, 72 * time.Hour})
	if err != nil || !slices.Equal(rates, []float64{0, 0, 0}) {
		t.Fatalf("burn rates %v %v", rates, err)
	}
	if since, ok, err := f.e.Since("checkout"); err != nil || !ok || !since.Equal(start) {
		t.Fatalf("since %v %v %v, want the first data at %v", since, ok, err, start)
	}
	// Silence after the start does count: ten unmeasured minutes open the
	// no-data ticket, and under noData: bad they burn the budget too.
	f.to(start.Add(42 * time.Minute))
	if got := f.firing("checkout"); !slices.Contains(got, alert.NoDataAlert) || !slices.Contains(got, "page-fast") {
		t.Fatalf("after 10 silent minutes firing %v, want the no-data ticket and the page", got)
	}
}

// TestFreshSLOOutagePagesAsTheWorkbookSays: an SLO twenty minutes old
// fails every request from 10:20. Each tier fires when its share of the
// 30-day budget is spent over its long window, as with a clean history:
// the 1-hour page at the first bad minute (2 % of the budget is 0.864
// minutes), the 6-hour page at the third (5 % is 2.16), both tickets at
// the fifth (10 % of the budget over a day, and the whole of 3 days' share,
// are 4.32). Time before the SLO existed spent nothing.
func TestFreshSLOOutagePagesAsTheWorkbookSays(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	f := newLifeFixture(t, checkoutSpec, start)
	outage := start.Add(20 * time.Minute)
	for m := range 30 {
		at := start.Add(time.Duration(m) * time.Minute)
		f.to(at.Add(30 * time.Second))
		bad := uint64(0)
		if !at.Before(outage) {
			bad = 100
		}
		f.send("checkout", at, 100, bad)
	}
	f.to(start.Add(32 * time.Minute))
	_, history, err := f.e.Alerts("checkout")
	if err != nil {
		t.Fatal(err)
	}
	// A quantum is judged once it has closed and settled: the minute from
	// 10:20 is judged at 10:21 (the tracker's time), a minute later by the
	// clock.
	want := []string{"fire page-fast 10:21", "fire page-slow 10:23", "fire ticket-fast 10:25", "fire ticket-slow 10:25"}
	var got []string
	for _, tr := range history {
		got = append(got, fmt.Sprintf("%s %s %s", tr.Kind, tr.Alert, tr.At.Format("15:04")))
		if tr.Replayed {
			t.Errorf("live transition marked replayed: %+v", tr)
		}
		if tr.Kind == alert.Fire && !tr.ImpactStart.Equal(outage) {
			t.Errorf("%s: impact start %v, want the first bad minute %v", tr.Alert, tr.ImpactStart, outage)
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("transitions %q\nwant        %q", got, want)
	}
	if told := f.toldOf(); !slices.Equal(told, want) {
		t.Fatalf("notifiers were told %q, want %q", told, want)
	}
}

// TestRestartKeepsAlertsAsTheyWere: a ticket firing before a restart
// fires on after it with the same start, is not announced again as new,
// and its resolve hold goes on; a crash loses no more than a clean stop.
func TestRestartKeepsAlertsAsTheyWere(t *testing.T) {
	for _, clean := range []bool{true, false} {
		t.Run(fmt.Sprintf("clean stop %v", clean), func(t *testing.T) {
			start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
			f := newLifeFixture(t, checkoutSpec+"noData: skip\n", start)
			for m := range 5 {
				at := start.Add(time.Duration(m) * time.Minute)
				f.to(at.Add(30 * time.Second))
				f.send("checkout", at, 100, 0)
			}
			// Then silence: the no-data ticket fires at 10:15.
			f.to(start.Add(16 * time.Minute))
			st, _, _ := f.e.Alerts("checkout")
			if len(st.Alerts) != 1 || st.Alerts[0].Name != alert.NoDataAlert {
				t.Fatalf("before the restart: %+v", st.Alerts)
			}
			since := st.Alerts[0].Since
			f.stop(clean)
			f.mu.Lock()
			f.told = nil
			f.now = f.now.Add(3 * time.Minute) // down for three minutes
			f.mu.Unlock()
			f.start()
			f.to(f.clock().Add(10 * time.Second))
			st, history, err := f.e.Alerts("checkout")
			if err != nil {
				t.Fatal(err)
			}
			if len(st.Alerts) != 1 || !st.Alerts[0].Since.Equal(since) {
				t.Fatalf("after the restart: %+v, want the ticket firing since %v", st.Alerts, since)
			}
			if len(history) != 1 {
				t.Fatalf("history %+v, want the one fire", history)
			}
			for _, tr := range f.told {
				if !tr.Since.Equal(since) || tr.Kind != alert.Fire {
					t.Fatalf("notifiers told %+v after the restart; only a confirmation of the ticket since %v may go out", tr, since)
				}
			}
			// Data again: the ticket resolves after the 5-minute hold,
			// counted across nothing but quanta.
			now := f.clock()
			for m := range 8 {
				at := now.Truncate(time.Minute).Add(time.Duration(m) * time.Minute)
				f.send("checkout", at, 100, 0)
				f.to(at.Add(time.Minute + 30*time.Second))
			}
			if got := f.firing("checkout"); len(got) != 0 {
				t.Fatalf("still firing %v", got)
			}
		})
	}
}

// TestBackfillReplaysAlertsWithoutNews: history loaded after the fact
// gets the alert history it would have had live, marked replayed, and no
// alert fires for a past minute; what still holds now is told once.
func TestBackfillReplaysAlertsWithoutNews(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 30, 0, time.UTC)
	f := newLifeFixture(t, checkoutSpec, now)
	// Two hours of history: an outage 10:20–10:25 (over by now), and one
	// from 11:50 that still burns.
	series := &slo.Series{Quantum: time.Minute}
	for at := now.Truncate(time.Minute).Add(-2 * time.Hour); at.Before(now.Truncate(time.Minute)); at = at.Add(time.Minute) {
		good := uint64(100)
		if (!at.Before(time.Date(2026, 11, 25, 10, 20, 0, 0, time.UTC)) && at.Before(time.Date(2026, 11, 25, 10, 25, 0, 0, time.UTC))) ||
			!at.Before(time.Date(2026, 11, 25, 11, 50, 0, 0, time.UTC)) {
			good = 0
		}
		series.Rollups = append(series.Rollups, slo.Rollup{Start: at.UnixNano(), Attempted: 100, Good: good, Errors: 100 - good, Measured: true})
	}
	if _, err := f.e.Backfill(f.ctx, "checkout", series, "test"); err != nil {
		t.Fatal(err)
	}
	f.to(now.Add(5 * time.Second))
	if got := f.toldOf(); len(got) != 0 {
		t.Fatalf("told %q while the backfill may still go on", got)
	}
	f.to(now.Add(20 * time.Second)) // quiet for long enough: replayed
	_, history, err := f.e.Alerts("checkout")
	if err != nil {
		t.Fatal(err)
	}
	var replayed, live int
	for _, tr := range history {
		if tr.Replayed {
			replayed++
		} else {
			live++
		}
	}
	if replayed == 0 || live != 0 {
		t.Fatalf("history %d replayed, %d live: %+v", replayed, live, history)
	}
	if history[0].Alert != "page-fast" || history[0].At.Format("15:04") != "10:21" {
		t.Fatalf("the first outage should page at 10:21 in the replayed history: %+v", history[0])
	}
	f.to(now.Add(90 * time.Second)) // the next live step tells what holds now
	told := f.toldOf()
	if len(told) == 0 {
		t.Fatal("nothing told of the outage that still burns")
	}
	for _, s := range told {
		if s[:4] != "fire" || s[len(s)-5:] != "12:00" {
			t.Fatalf("told %q: only alerts firing now, announced at the first live step", told)
		}
	}
}

// TestObjectiveEditNeedsNoRead: a reload that changes an SLO's objective
// and noData policy judges its window again in memory, and says what an
// engine started afresh on the same store says.
func TestObjectiveEditNeedsNoRead(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	f := newLifeFixture(t, checkoutSpec, start)
	for m := range 40 {
		at := start.Add(time.Duration(m) * time.Minute)
		f.to(at.Add(30 * time.Second))
		if m%7 != 3 { // some minutes unmeasured
			f.send("checkout", at, 100, uint64(m%3))
		}
	}
	f.to(start.Add(41 * time.Minute))
	edited := strings.Replace(checkoutSpec, "objective: 99.9", "objective: 99.5\nquantumObjective: 99\nnoData: skip", 1)
	f.specs = map[string][]byte{"slo.yaml": []byte(edited)}
	if _, err := f.e.Load(f.ctx, f.specs); err != nil {
		t.Fatal(err)
	}
	got, err := f.e.Summary("checkout")
	if err != nil {
		t.Fatal(err)
	}
	f.stop(true)
	f.start()
	want, err := f.e.Summary("checkout")
	if err != nil {
		t.Fatal(err)
	}
	if got.Quanta != want.Quanta || got.Availability != want.Availability || got.Budget != want.Budget {
		t.Fatalf("retargeted: %+v %v %+v\nrebuilt:    %+v %v %+v", got.Quanta, got.Availability, got.Budget, want.Quanta, want.Availability, want.Budget)
	}
}

package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
	"github.com/nines-sre/nines/store/storetest"
)

// durableSpecs read a request counter and a classic latency histogram by
// remote write (held 30 s past their quantum), and events.
const durableSpecs = counterSpec + `---
name: latency
service: api
sli:
  good:
    status: "<500"
    latency: "<=250ms"
  source:
    histogram: 'latency_seconds'
    statusLabel: code
objective: 99
method: transactions
window:
  rolling: 1h
noData: good
---
name: events
service: api
sli:
  good:
    status: "<500"
objective: 99
method: transactions
window:
  rolling: 1h
noData: good
`

// rwRequest is one remote-write request of the stream: the time it is
// sent and its series.
type rwRequest struct {
	at     time.Time
	series []metrics.Series
}

// durableStream is a Prometheus scraping every 15 s for 6 minutes and
// sending each scrape in two requests, which split the histogram's
// buckets, so that quanta are held open across requests and restarts.
func durableStream(start time.Time) []rwRequest {
	les := []string{"0.1", "0.25", "1", "+Inf"}
	var out []rwRequest
	for i := range 24 {
		at := start.Add(time.Duration(i) * 15 * time.Second)
		k := float64(i*i + 7*i + 1000)
		ms := at.UnixMilli()
		s := func(v float64, kv ...string) metrics.Series {
			var ls metrics.Labels
			for j := 0; j < len(kv); j += 2 {
				ls = append(ls, metrics.Label{Name: kv[j], Value: kv[j+1]})
			}
			return metrics.Series{Labels: ls, Samples: []metrics.Sample{{T: ms, V: v}}}
		}
		var a, b []metrics.Series
		a = append(a, s(100*k, "__name__", "requests_total", "code", "200"), s(k, "__name__", "requests_total", "code", "500"))
		for j, le := range les {
			for _, code := range []string{"200", "500"} {
				v := k * float64(j+1)
				if code == "500" {
					v = k
				}
				series := s(v, "__name__", "latency_seconds_bucket", "code", code, "le", le)
				if j < 2 {
					a = append(a, series)
				} else {
					b = append(b, series)
				}
			}
		}
		out = append(out, rwRequest{at.Add(time.Second), a}, rwRequest{at.Add(3 * time.Second), b})
	}
	return out
}

// eventsMinute is n events of one quantum, failed of them 503s.
func eventsMinute(start time.Time, n, failed uint64) *slo.Series {
	r := slo.Rollup{Start: start.UnixNano(), Attempted: n, Good: n - failed, Errors: failed, Measured: true}
	return &slo.Series{Quantum: time.Minute, Rollups: []slo.Rollup{r}}
}

// openEngine opens the store in dir and an engine on it, with specs
// loaded, the clock now and logs to logs (when not nil).
func openEngine(t *testing.T, dir string, now func() time.Time, logs io.Writer, specs string) (*Engine, *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Store: db, Now: now}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	e, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(specs)}); err != nil {
		t.Fatal(err)
	}
	return e, db
}

// durableRun is one run of the stream against an engine over a store
// that can be made to fail and to crash.
type durableRun struct {
	t     *testing.T
	dir   string
	now   time.Time
	db    *sqlite.DB
	store *storetest.Faulty
	e     *Engine
	// minLog, when set, lowers the size of records that makes a
	// collector save its state, so that saves happen mid-stream; the
	// records a save holds are then left behind, as by a crash between
	// the save and their deletion.
	minLog int64
	// failed counts the store writes failed, over crashes.
	failed int
}

func (r *durableRun) open() {
	r.t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, r.dir, sqlite.Options{})
	if err != nil {
		r.t.Fatal(err)
	}
	if r.store != nil {
		r.failed += r.store.Failed()
	}
	r.db, r.store = db, storetest.NewFaulty(db)
	if r.minLog > 0 {
		r.store.FailDeletes(storetest.FaultIO)
	}
	e, err := New(ctx, Config{Store: r.store, Now: func() time.Time { return r.now }})
	if err != nil {
		r.t.Fatal(err)
	}
	if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(durableSpecs)}); err != nil {
		r.t.Fatal(err)
	}
	if r.minLog > 0 {
		for _, col := range e.collectors {
			col.minLog = r.minLog
		}
	}
	r.e = e
}

// crash drops the engine without saving anything, as kill -9 does; the
// store keeps what was committed. A clean stop saves the state first, as
// nines serve does at shutdown.
func (r *durableRun) crash(clean bool) {
	r.t.Helper()
	if clean {
		if err := r.e.SaveState(context.Background()); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := r.db.Close(); err != nil {
		r.t.Fatal(err)
	}
	r.open()
}

// finish stores every quantum still held and returns the stored quanta of
// each SLO, one line each.
func (r *durableRun) finish(from time.Time) map[string][]string {
	r.t.Helper()
	ctx := context.Background()
	r.now = r.now.Add(5 * time.Minute)
	r.e.Tick(r.now)
	if err := r.e.SaveState(ctx); err != nil {
		r.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, name := range []string{"api", "latency", "events"} {
		_, s, err := r.e.Series(ctx, name, from, r.now)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, q := range s.Rollups {
			out[name] = append(out[name], fmt.Sprintf("%s: attempted %d good %d errors %d slow %d",
				time.Unix(0, q.Start).UTC().Format("15:04"), q.Attempted, q.Good, q.Errors, q.Slow))
		}
	}
	r.db.Close()
	return out
}

func sameQuanta(t *testing.T, got, want map[string][]string) {
	t.Helper()
	for name, w := range want {
		if g := got[name]; !slices.Equal(g, w) {
			t.Errorf("SLO %s:\n got %q\nwant %q", name, g, w)
		}
	}
	if len(want["latency"]) < 5 || len(want["events"]) < 3 {
		t.Fatalf("the stream counted too little for the test to test anything: %q", want)
	}
}

// send sends request i of the stream at its time, and with every eighth
// a minute of events.
func (r *durableRun) send(i int, q rwRequest) {
	r.t.Helper()
	ctx := context.Background()
	r.now = q.at
	if _, err := r.e.IngestMetrics(ctx, "remote-write", q.series); err != nil {
		r.t.Fatal(err)
	}
	if i%8 == 0 {
		if _, err := r.e.Append(ctx, "events", eventsMinute(q.at.Truncate(time.Minute), 100, uint64(i%5)), "test"); err != nil {
			r.t.Fatal(err)
		}
	}
}

// reference runs the stream with nothing going wrong.
func reference(t *testing.T, start time.Time, reqs []rwRequest) map[string][]string {
	r := &durableRun{t: t, dir: t.TempDir(), now: start}
	r.open()
	for i, q := range reqs {
		r.send(i, q)
		r.e.Tick(r.now)
	}
	return r.finish(start.Add(-time.Hour))
}

// TestKillAnywhereLosesNothing crashes the engine after every few
// requests, at random, with quanta held open (a histogram's buckets
// split between two requests) and baselines fresh, and restarts it on
// the store: the stored quanta at the end are exactly those of a run that
// never crashed. With the collector's state saved often, crashes also
// fall between a save and the deletion of the records it holds. Clean
// restarts keep the quanta held open too, rather than store them with
// half their buckets.
func TestKillAnywhereLosesNothing(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 7, 0, time.UTC)
	reqs := durableStream(start)
	want := reference(t, start, reqs)
	for _, c := range []struct {
		name   string
		minLog int64
		clean  bool
	}{
		{"The state is saved at shutdown only.", 0, false},
		{"The state is saved every few requests and its records left behind.", 100, false},
		{"Clean restarts.", 0, true},
	} {
		minLog := c.minLog
		t.Run(c.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(minLog), 11))
			r := &durableRun{t: t, dir: t.TempDir(), now: start, minLog: minLog}
			r.open()
			crashes := 0
			for i, q := range reqs {
				r.send(i, q)
				if rng.IntN(3) == 0 {
					r.crash(c.clean)
					crashes++
				}
				r.e.Tick(r.now)
			}
			gen := r.e.collectors["remote-write"].gen
			if minLog > 0 && gen < 3 {
				t.Errorf("the state was saved %d times, want it saved often", gen)
			}
			t.Logf("%d crashes in %d requests, state saved %d times", crashes, len(reqs), gen)
			sameQuanta(t, r.finish(start.Add(-time.Hour)), want)
		})
	}
}

// TestFailedWritesLoseNothing fails every store write for a while, with
// each fault a disk can have: the requests in that time are refused with
// the store's error (which the server answers 503 or 507), the quanta
// held open before it are kept, not dropped, and once the fault clears
// the senders' retries make the stored quanta exactly those of a run
// where nothing failed. A crash during the fault loses nothing either.
func TestFailedWritesLoseNothing(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 7, 0, time.UTC)
	reqs := durableStream(start)
	want := reference(t, start, reqs)
	for _, c := range []struct {
		name  string
		fault error
		is    error
		crash bool
	}{
		{"An fsync failing with EIO.", storetest.FaultIO, store.ErrUnavailable, false},
		{"A full disk.", storetest.FaultFull, store.ErrFull, false},
		{"A lock held past the busy timeout.", storetest.FaultBusy, store.ErrUnavailable, false},
		{"An fsync failing, then a crash before it clears.", storetest.FaultIO, store.ErrUnavailable, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := &durableRun{t: t, dir: t.TempDir(), now: start}
			r.open()
			ctx := context.Background()
			// Refused requests are sent again, oldest first, before any
			// newer one, as a Prometheus shard does.
			var pending []rwRequest
			var events []int
			refused := 0
			for i, q := range reqs {
				r.now = q.at
				failing := i >= 7 && i < 19 // over a quantum's end and its hold
				switch {
				case i == 7:
					r.store.Fail(c.fault, 0)
				case i == 19:
					if c.crash {
						r.crash(false)
					}
					r.store.Fail(nil, 0)
				}
				pending = append(pending, q)
				for len(pending) > 0 {
					_, err := r.e.IngestMetrics(ctx, "remote-write", pending[0].series)
					switch {
					case err == nil && failing:
						t.Fatalf("request %d acknowledged while the store fails", i)
					case err != nil && !failing:
						t.Fatalf("request %d after the fault cleared: %v", i, err)
					case err != nil && !errors.Is(err, c.is):
						t.Fatalf("request %d: %v, want an error wrapping %v", i, err, c.is)
					}
					if err != nil {
						refused++
						break
					}
					pending = pending[1:]
				}
				if i%8 == 0 {
					events = append(events, i)
				}
				for len(events) > 0 {
					j := events[0]
					_, err := r.e.Append(ctx, "events", eventsMinute(reqs[j].at.Truncate(time.Minute), 100, uint64(j%5)), "test")
					if err != nil {
						if !errors.Is(err, c.is) {
							t.Fatalf("events while the store fails: %v, want an error wrapping %v", err, c.is)
						}
						break
					}
					events = events[1:]
				}
				r.e.Tick(r.now) // its flushes fail too while the store does
			}
			failed := r.failed + r.store.Failed()
			if refused == 0 || failed == 0 {
				t.Fatal("nothing was refused: the fault did not bite")
			}
			t.Logf("%d requests refused, %d store writes failed", refused, failed)
			sameQuanta(t, r.finish(start.Add(-time.Hour)), want)
		})
	}
}

// TestFailingStoreRefusesAtOnce: while the store fails, one write at a
// time waits on it to find out whether it recovered; the others are
// refused at once with its error rather than each waiting out a busy
// timeout. The first write after it recovers goes through, and so do all
// after it.
func TestFailingStoreRefusesAtOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := storetest.NewFaulty(db)
	e, err := New(ctx, Config{Store: f, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Load(ctx, map[string][]byte{"api.yaml": []byte(durableSpecs)}); err != nil {
		t.Fatal(err)
	}
	m := now.Truncate(time.Minute).Add(-time.Minute)
	appendOne := func() error {
		_, err := e.Append(ctx, "events", eventsMinute(m, 10, 1), "test")
		return err
	}
	f.Fail(storetest.FaultBusy, 0)
	if err := appendOne(); !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("first write on a failing store: %v", err)
	}
	// The next write probes the store, which holds it 300 ms as a busy
	// timeout would; meanwhile the others are refused at once.
	f.Fail(storetest.FaultBusy, 300*time.Millisecond)
	probe := make(chan error, 1)
	go func() { probe <- appendOne() }()
	time.Sleep(50 * time.Millisecond)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			t0 := time.Now()
			err := appendOne()
			if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "failing since") {
				t.Errorf("write while another probes: %v", err)
			}
			if d := time.Since(t0); d > 100*time.Millisecond {
				t.Errorf("write refused after %v, want at once", d)
			}
		})
	}
	wg.Wait()
	if err := <-probe; !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("the probing write: %v", err)
	}
	f.Fail(nil, 0)
	for i := range 3 {
		if err := appendOne(); err != nil {
			t.Fatalf("write %d after the store recovered: %v", i, err)
		}
	}
	_, s, err := e.Series(ctx, "events", m, m.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Rollups) != 1 || s.Rollups[0].Attempted != 30 {
		t.Fatalf("stored %+v, want the three acknowledged writes of 10 events", s.Rollups)
	}
}

// TestConcurrentRequestsShareCommits: requests from several senders at
// once (Prometheus' shards) are stored in shared transactions, and each
// is counted exactly once.
func TestConcurrentRequestsShareCommits(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	e, db := openEngine(t, t.TempDir(), func() time.Time { return now }, nil, counterSpec)
	defer db.Close()
	const shards, scrapes = 8, 40
	t0 := now.Add(-4 * time.Minute)
	var wg sync.WaitGroup
	for sh := range shards {
		wg.Go(func() {
			for i := range scrapes {
				at := t0.Add(time.Duration(i) * time.Second)
				s := func(code string, v float64) metrics.Series {
					return metrics.Series{
						Labels:  metrics.Labels{{Name: "__name__", Value: "requests_total"}, {Name: "code", Value: code}, {Name: "shard", Value: fmt.Sprint(sh)}},
						Samples: []metrics.Sample{{T: at.UnixMilli(), V: v}},
					}
				}
				if _, err := e.IngestMetrics(ctx, "remote-write", []metrics.Series{s("200", float64(100+10*i)), s("500", float64(i))}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	now = now.Add(5 * time.Minute)
	e.Tick(now)
	_, s, err := e.Series(ctx, "api", t0.Add(-time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	var attempted, errs uint64
	for _, r := range s.Rollups {
		attempted += r.Attempted
		errs += r.Errors
	}
	// Per shard and scrape after the first: 10 200s and one 500.
	if want := uint64(shards * (scrapes - 1) * 11); attempted != want || errs != shards*(scrapes-1) {
		t.Fatalf("stored %d requests, %d errors; want %d and %d", attempted, errs, want, shards*(scrapes-1))
	}
	t.Logf("%d requests in %d transactions", shards*scrapes, e.collectors["remote-write"].seq)
}

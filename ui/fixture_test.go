package ui

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
	"github.com/nines-sre/nines/ui/snapshot"
)

// evilSpec is an SLO whose every user-provided text tries to break out
// of the page.
const evilSpec = `name: evil.slo_1
service: "svc\"><img src=x onerror=alert(2)>"
owner: "team-'quote'"
description: "</p><script>alert(3)</script> & more"
labels:
  tier: "<b>1</b>"
sli:
  good:
    status: "<500"
objective: 99
method: quanta
window:
  rolling: 1d
noData: good
`

// testNow is the fixture's clock: mid-afternoon, so today has data.
var testNow = time.Date(2026, 11, 25, 15, 0, 30, 0, time.UTC)

// testClock is a settable clock for the engine under test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

type fixture struct {
	t     testing.TB
	clock *testClock
	eng   *engine.Engine
	db    *sqlite.DB
	ui    *UI
	srv   *httptest.Server
}

// newFixture loads the demo SLOs and the evil one into a fresh store and
// backfills days of demo traffic before testNow.
func newFixture(t testing.TB, days int) *fixture {
	t.Helper()
	return newFixtureAt(t, testNow, days)
}

// newFixtureAt is newFixture on a clock at testNow.
func newFixtureAt(t testing.TB, testNow time.Time, days int) *fixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := &testClock{t: testNow}
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: clock.Now, ReplayQuiet: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, map[string][]byte{"demo.yaml": []byte(demo.Specs), "evil.yaml": []byte(evilSpec)}); err != nil {
		t.Fatal(err)
	}
	end := testNow.Truncate(time.Minute)
	for _, s := range eng.SLOs() {
		if strings.HasPrefix(s.Name, "evil") {
			continue
		}
		for day := end.Add(-time.Duration(days) * 24 * time.Hour); day.Before(end); day = day.Add(24 * time.Hour) {
			series := &slo.Series{Quantum: s.Quantum}
			for q := day; q.Before(day.Add(24*time.Hour)) && q.Before(end); q = q.Add(s.Quantum) {
				r, _ := demo.Rollup(s, q, 1)
				series.Rollups = append(series.Rollups, r)
			}
			if _, err := eng.Backfill(ctx, s.Name, series, "demo"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := db.AddAnnotation(ctx, store.Annotation{At: testNow.Add(-26 * time.Hour), Service: "checkout", Kind: "deploy",
		Title: "checkout v2.3.1 <script>", URL: "javascript:alert(4)"}); err != nil {
		t.Fatal(err)
	}
	eng.Tick(testNow)
	u := newUI(t, eng, db, nil)
	// Cleanups run last first: the server stops, then the cache's
	// background reads end, then the store closes.
	t.Cleanup(u.Wait)
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	return &fixture{t: t, clock: clock, eng: eng, db: db, ui: u, srv: srv}
}

// newUI is the UI as nines serve wires it: eng's SLOs, the rollups,
// snapshots and incidents kept in st.
func newUI(t testing.TB, eng *engine.Engine, st interface {
	store.Store
	incident.Store
}, logger *slog.Logger) *UI {
	t.Helper()
	shelf, err := snapshot.New(st, snapshot.DefaultMax)
	if err != nil {
		t.Fatal(err)
	}
	incidents, err := incident.New(server.IncidentOptions(eng, st, nil))
	if err != nil {
		t.Fatal(err)
	}
	u, err := New(Config{SLOs: eng, Rollups: st, Incidents: incidents, Snapshots: shelf, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// get fetches path and checks its status.
func (f *fixture) get(path string, want int) string {
	f.t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		f.t.Fatalf("GET %s: status %d, want %d: %.600s", path, resp.StatusCode, want, b)
	}
	return string(b)
}

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/store/sqlite"
)

const testSpec = `name: checkout-availability
service: checkout
sli:
  good:
    status: "<500"
    latency: "<=5ms"
objective: 99
method: quanta
window:
  rolling: 1h
noData: good
---
name: checkout-transactions
service: checkout
sli:
  good:
    status: "<500"
objective: 99.9
method: transactions
window:
  calendar: day
`

// clock is a settable time for the engine under test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

type fixture struct {
	t     testing.TB
	srv   *httptest.Server
	clock *clock
	eng   *engine.Engine
	db    *sqlite.DB
	// spec is what POST /api/v1/-/reload loads.
	spec string
}

// newStore opens a fresh store, closed when the test ends, and a clock at
// 2026-11-25 10:00:30 UTC.
func newStore(t testing.TB) (*sqlite.DB, *clock) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, &clock{t: time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)}
}

// incidentsOn is the incident service nines serve gives the server: kept
// in db, with eng's SLOs, budget and clock, the default configuration.
func incidentsOn(t testing.TB, eng *engine.Engine, db incident.Store) *incident.Service {
	t.Helper()
	svc, err := incident.New(IncidentOptions(eng, db, nil))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func newFixture(t testing.TB, token string) *fixture { return newFixtureReload(t, token, false) }

// newFixtureReload is newFixture with POST /api/v1/-/reload loading
// f.spec when reload is set.
func newFixtureReload(t testing.TB, token string, reload bool) *fixture {
	t.Helper()
	ctx := context.Background()
	db, c := newStore(t)
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, map[string][]byte{"checkout.yaml": []byte(testSpec)}); err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, clock: c, eng: eng, db: db, spec: testSpec}
	cfg := Config{SLOs: eng, Writes: eng, Annotations: db, Size: db, Incidents: incidentsOn(t, eng, db), Token: token, MaxBody: 1 << 20, MaxSeries: 1000}
	if reload {
		cfg.Reload = func() ([]string, error) {
			ws, err := eng.Load(ctx, map[string][]byte{"checkout.yaml": []byte(f.spec)})
			var out []string
			for _, w := range ws {
				out = append(out, w.String())
			}
			return out, err
		}
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(s)
	t.Cleanup(f.srv.Close)
	return f
}

// roundTrip sends a request and returns the answer's status, header and
// body. A body goes as application/json unless header says otherwise (an
// empty Content-Type sends none); a "Host" in header is the request's
// Host.
func (f *fixture) roundTrip(method, path, body string, header map[string]string) (int, http.Header, []byte) {
	f.t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, strings.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	if body != "" {
		// As nines' clients send it; the cases that test Content-Type
		// set their own.
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		switch {
		case k == "Host":
			req.Host = v
		case k == "Content-Type" && v == "":
			req.Header.Del(k)
		default:
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// do sends a request and decodes a JSON answer into out (if not nil).
func (f *fixture) do(method, path, body string, header map[string]string, wantStatus int, out any) string {
	f.t.Helper()
	status, _, b := f.roundTrip(method, path, body, header)
	if status != wantStatus {
		f.t.Fatalf("%s %s: status %d, want %d: %s", method, path, status, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	return string(b)
}

// minuteOfEvents is n events in the minute starting at t, failed of them
// with a 503, slow of them at 7 ms, the rest at exactly 5 ms.
func minuteOfEvents(t time.Time, n, failed, slow int) string {
	var b strings.Builder
	for i := range n {
		status, lat := 200, 5.0
		switch {
		case i < failed:
			status = 503
		case i < failed+slow:
			lat = 7
		}
		fmt.Fprintf(&b, `{"time": %q, "status": %d, "latency_ms": %g}`+"\n", t.Add(time.Duration(i)*time.Second/time.Duration(n)).Format(time.RFC3339Nano), status, lat)
	}
	return b.String()
}

type statusDoc struct {
	SLO     string `json:"slo"`
	Window  string `json:"window"`
	Windows []struct {
		Start        time.Time `json:"start"`
		End          time.Time `json:"end"`
		Availability *float64  `json:"availability"`
		Met          bool      `json:"met"`
		Quanta       struct{ Total, Good, Bad, Unmeasured int }
		Events       struct{ Total, Good, Failed, Errors, Slow uint64 }
		Budget       struct {
			Unit                    string
			Total, Spent, Remaining float64
		}
		Violations []struct{ Start, End time.Time }
		Latency    *struct {
			InverseQuantile float64 `json:"inverse_quantile"`
			Measured        uint64
		}
	} `json:"windows"`
	BurnRates []struct {
		Span string
		Rate *float64
	} `json:"burn_rates"`
}

func TestEventsFlowIntoStatus(t *testing.T) {
	f := newFixture(t, "")
	start := time.Date(2026, 11, 25, 9, 58, 0, 0, time.UTC)
	// 09:58 is clean; 09:59 has 2 errors and 1 slow of 100: 97 % good, a
	// bad quantum at 99 %.
	body := minuteOfEvents(start, 100, 0, 0) + minuteOfEvents(start.Add(time.Minute), 100, 2, 1)
	var res struct {
		Events    int64
		Malformed int64
		SLOs      []struct {
			SLO      string
			Accepted int `json:"quanta_accepted"`
		}
	}
	f.do("POST", "/api/v1/events?service=checkout", body, nil, 200, &res)
	if res.Events != 200 || res.Malformed != 0 || len(res.SLOs) != 2 || res.SLOs[0].Accepted != 2 {
		t.Fatalf("events response %+v", res)
	}
	f.clock.Set(start.Add(3 * time.Minute)) // both quanta settled
	var st statusDoc
	f.do("GET", "/api/v1/slos/checkout-availability/status", "", nil, 200, &st)
	w := st.Windows[0]
	if w.Quanta.Total != 60 || w.Quanta.Bad != 1 || w.Events.Total != 200 || w.Events.Errors != 2 || w.Events.Slow != 1 {
		t.Fatalf("status %+v", w)
	}
	if len(w.Violations) != 1 || !w.Violations[0].Start.Equal(start.Add(time.Minute)) {
		t.Fatalf("violations %+v, want the 09:59 minute", w.Violations)
	}
	// 5 ms exactly meets "<=5ms": only the one 7 ms request is over.
	if w.Latency == nil || w.Latency.Measured != 200 || w.Latency.InverseQuantile != 199.0/200 {
		t.Fatalf("latency %+v", w.Latency)
	}
	// The same status from a rescan of the stored rollups.
	var again statusDoc
	f.do("GET", "/api/v1/slos/checkout-availability/status?window=1h", "", nil, 200, &again)
	if g := again.Windows[0]; g.Quanta != w.Quanta || g.Events != w.Events || g.Budget != w.Budget {
		t.Fatalf("rescan %+v\ntracker %+v", g, w)
	}
	// window= names the window it evaluated, not the SLO's own.
	var half statusDoc
	f.do("GET", "/api/v1/slos/checkout-availability/status?window=30m", "", nil, 200, &half)
	if half.Window != "rolling 30m" || again.Window != "rolling 1h" || st.Window != "rolling 1h" {
		t.Errorf("window: %q with window=30m, %q with window=1h, %q without; want rolling 30m, rolling 1h and the SLO's rolling 1h", half.Window, again.Window, st.Window)
	}
	var tx statusDoc
	f.do("GET", "/api/v1/slos/checkout-transactions/status", "", nil, 200, &tx)
	if tw := tx.Windows[0]; tw.Events.Failed != 2 || tw.Budget.Unit != "events" || tw.Met {
		t.Fatalf("transactions status %+v", tw)
	}
}

func TestEventsAsJSONArrayAndBadLines(t *testing.T) {
	f := newFixture(t, "")
	at := "2026-11-25T09:59:10Z"
	body := `[{"time": "` + at + `", "status": 200, "latency_ms": 1}, {"time": "` + at + `", "status": 503}]`
	var res struct{ Events, Malformed int64 }
	f.do("POST", "/api/v1/events?slo=checkout-availability", body, nil, 200, &res)
	if res.Events != 2 {
		t.Fatalf("array: %+v", res)
	}
	lines := `{"time": "` + at + `", "status": 200}` + "\nnot json\n" + `{"time": "` + at + `", "status": 200, "latency_ms": -1}` + "\n"
	var res2 struct {
		Events, Malformed int64
		Errors            []string
	}
	f.do("POST", "/api/v1/events?slo=checkout-availability", lines, nil, 200, &res2)
	if res2.Events != 1 || res2.Malformed != 2 || len(res2.Errors) != 2 || !strings.HasPrefix(res2.Errors[0], "line 2:") {
		t.Fatalf("bad lines must be counted and named, the good one kept: %+v", res2)
	}
	f.do("POST", "/api/v1/events?slo=checkout-availability", "garbage\n", nil, 400, nil)
	f.do("POST", "/api/v1/events?slo=checkout-availability", `[{"time": 1}, {`, nil, 400, nil)
}

func TestBadRequestsGetClearErrors(t *testing.T) {
	f := newFixture(t, "")
	cases := []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"GET", "/api/v1/slos/nope/status", "", 404, `unknown SLO \"nope\"`},
		{"GET", "/api/v1/slos/checkout-availability/status?window=90s", "", 400, "whole number of 1m quanta"},
		{"GET", "/api/v1/slos/checkout-availability/status?at=tomorrow", "", 400, "RFC 3339"},
		{"GET", "/api/v1/slos/checkout-availability/status?at=2030-01-01T00:00:00Z", "", 400, "in the future"},
		{"GET", "/api/v1/slos/checkout-availability/quanta?from=2026-11-25T10:00:00Z&to=2026-11-25T09:00:00Z", "", 400, "is not before"},
		{"GET", "/api/v1/slos/checkout-availability/quanta?range=2y", "", 400, "longer than"},
		{"GET", "/api/v1/slos/checkout-availability/quanta?range=60d", "", 400, "at most 50000"},
		{"GET", "/api/v1/slos/checkout-availability/histogram?threshold=fast", "", 400, "threshold"},
		{"GET", "/api/v1/slos/checkout-availability/budget?step=90s", "", 400, "whole number"},
		{"POST", "/api/v1/events", "{}", 400, "?slo=NAME"},
		{"POST", "/api/v1/events?service=nobody", "{}", 404, "no SLO has service"},
		{"POST", "/api/v1/events?slo=checkout-availability", strings.Repeat("x", 2<<20), 413, "larger than"},
		{"POST", "/api/v1/rollups", `{"slo": "checkout-availability", "rollups": [{"start": "2026-11-25T09:59:30Z", "attempted": 1}]}`, 400, "quantum boundary"},
		{"POST", "/api/v1/rollups", `{"slo": "checkout-availability", "rollups": [{"start": "2026-11-25T09:59:00Z", "attempted": 1, "good": 2}]}`, 400, "exceeds attempted"},
		{"POST", "/api/v1/rollups", `{"slo": "checkout-availability", "rollups": [{"start": "2026-11-25T09:59:00Z", "histogram": "AAEC"}]}`, 400, "histogram"},
		{"POST", "/api/v1/rollups", `{"slo": "checkout-availability", "bogus": 1}`, 400, "unknown field"},
		{"POST", "/api/v1/-/reload", "", 404, "not enabled"},
		{"GET", "/api/v1/nothing", "", 404, "no endpoint"},
		{"DELETE", "/api/v1/slos", "", 404, "no endpoint DELETE /api/v1/slos"},
	}
	for _, c := range cases {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			got := f.do(c.method, c.path, c.body, nil, c.status, nil)
			if !strings.Contains(got, c.msg) {
				t.Fatalf("answer %s does not say %q", got, c.msg)
			}
		})
	}
}

func TestRollupsLateAndFuture(t *testing.T) {
	f := newFixture(t, "")
	body := `{"slo": "checkout-availability", "rollups": [
	  {"start": "2026-11-25T09:59:00Z", "attempted": 10, "good": 9, "errors": 1},
	  {"start": "2026-11-25T09:40:00Z", "attempted": 10, "good": 10},
	  {"start": "2026-11-25T10:30:00Z", "attempted": 10, "good": 10}]}`
	var res struct {
		Accepted int `json:"quanta_accepted"`
		Late     int `json:"quanta_late"`
		Future   int `json:"quanta_future"`
	}
	f.do("POST", "/api/v1/rollups", body, nil, 200, &res)
	if res.Accepted != 1 || res.Late != 1 || res.Future != 1 {
		t.Fatalf("%+v: want one accepted, one late (older than 5 minutes), one from the future", res)
	}
	m := f.do("GET", "/metrics", "", nil, 200, nil)
	for _, want := range []string{
		`nines_ingest_rejected_total{reason="late"} 1`,
		`nines_ingest_rejected_total{reason="future"} 1`,
		`nines_slo_objective_ratio{slo="checkout-availability",service="checkout"} 0.99`,
		`nines_slo_burn_rate{slo="checkout-availability",service="checkout",span="1h"}`,
		"# TYPE nines_store_size_bytes gauge",
	} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, m)
		}
	}
}

func TestHistogramAndBudgetAndQuanta(t *testing.T) {
	f := newFixture(t, "")
	start := time.Date(2026, 11, 25, 9, 57, 0, 0, time.UTC)
	body := minuteOfEvents(start, 50, 0, 5) + minuteOfEvents(start.Add(time.Minute), 50, 0, 0)
	f.do("POST", "/api/v1/events?slo=checkout-availability", body, nil, 200, nil)
	f.clock.Set(start.Add(4 * time.Minute))
	var h struct {
		Count           uint64
		CountAtOrBelow  uint64  `json:"count_at_or_below"`
		CountBelow      uint64  `json:"count_below"`
		ThresholdMS     float64 `json:"threshold_ms"`
		FractionAtBelow float64 `json:"fraction_at_or_below"`
		Bins            []struct {
			LowerMS float64 `json:"lower_ms"`
			Count   uint64
		}
	}
	f.do("GET", "/api/v1/slos/checkout-availability/histogram?from=2026-11-25T09:57:00Z&to=2026-11-25T09:59:00Z", "", nil, 200, &h)
	if h.Count != 100 || h.ThresholdMS != 5 || h.CountBelow != 0 || h.CountAtOrBelow != 95 || len(h.Bins) != 2 || h.Bins[0].LowerMS != 5 {
		t.Fatalf("histogram %+v", h)
	}
	f.do("GET", "/api/v1/slos/checkout-availability/histogram?from=2026-11-25T09:57:00Z&to=2026-11-25T09:59:00Z&threshold=7ms", "", nil, 200, &h)
	if h.CountAtOrBelow != 100 || h.CountBelow != 95 {
		t.Fatalf("at 7 ms: %+v", h)
	}
	var q struct {
		Since  time.Time
		Quanta []struct {
			Start            time.Time
			State, Verdict   string
			Attempted        uint64
			LatencyAtOrUnder *uint64 `json:"latency_at_or_under"`
			LatencyOver      *uint64 `json:"latency_over"`
		}
	}
	// 09:56 is before the first data (the SLO's start); 09:57 to 09:59
	// are judged (09:59 had no data, which counts good here) but late
	// data may still change them; at 10:01 the minute from 10:00 has not
	// settled: it waits, and is not bad. From 10:01 on, another range
	// shows a final verdict once the 5-minute lag has passed.
	f.do("GET", "/api/v1/slos/checkout-availability/quanta?from=2026-11-25T09:56:00Z&to=2026-11-25T10:01:00Z", "", nil, 200, &q)
	want := []struct{ state, verdict string }{{"settled", "outside"}, {"settled", "bad"}, {"settled", "good"}, {"settled", "good"}, {"pending", "pending"}}
	if len(q.Quanta) != len(want) || !q.Since.Equal(time.Date(2026, 11, 25, 9, 57, 0, 0, time.UTC)) {
		t.Fatalf("quanta since %v: %+v", q.Since, q.Quanta)
	}
	for i, w := range want {
		if got := q.Quanta[i]; got.State != w.state || got.Verdict != w.verdict {
			t.Errorf("quantum %s: %s %s, want %s %s", got.Start.Format(time.TimeOnly), got.State, got.Verdict, w.state, w.verdict)
		}
	}
	if b := q.Quanta[1]; b.Attempted != 50 || b.LatencyAtOrUnder == nil || *b.LatencyAtOrUnder+*b.LatencyOver != 50 {
		t.Fatalf("the bad quantum: %+v", b)
	}
	f.clock.Set(start.Add(12 * time.Minute))
	f.do("GET", "/api/v1/slos/checkout-availability/quanta?from=2026-11-25T09:57:00Z&to=2026-11-25T09:58:00Z", "", nil, 200, &q)
	if len(q.Quanta) != 1 || q.Quanta[0].State != "final" {
		t.Fatalf("ten minutes on: %+v", q.Quanta)
	}
	f.clock.Set(start.Add(4 * time.Minute))
	var b struct {
		Unit   string
		Points []struct {
			At    time.Time
			Spent float64
			Total float64
		}
	}
	f.do("GET", "/api/v1/slos/checkout-availability/budget?from=2026-11-25T09:55:00Z&to=2026-11-25T10:00:00Z&step=1m", "", nil, 200, &b)
	if b.Unit != "quanta" || len(b.Points) != 6 || b.Points[2].Spent != 0 || b.Points[3].Spent != 1 || b.Points[5].Total != 0.6 {
		t.Fatalf("budget %+v", b)
	}
}

func TestBearerToken(t *testing.T) {
	f := newFixture(t, "s3cret")
	f.do("POST", "/api/v1/events?slo=checkout-availability", "{}", nil, 401, nil)
	f.do("POST", "/api/v1/events?slo=checkout-availability", "{}", map[string]string{"Authorization": "Bearer wrong"}, 401, nil)
	f.do("POST", "/api/v1/events?slo=checkout-availability", `{"time": "2026-11-25T10:00:00Z", "status": 200}`,
		map[string]string{"Authorization": "Bearer s3cret"}, 200, nil)
	f.do("GET", "/api/v1/slos", "", nil, 200, nil) // reads are open unless ProtectReads
}

// TestEventsFromAClockThatIsOff tells a sender whose events came too late
// what to check, and counts them.
func TestEventsFromAClockThatIsOff(t *testing.T) {
	f := newFixture(t, "")
	body := `{"time": "2026-11-25T09:40:00Z", "status": 200}` + "\n" + `{"time": "2026-11-25T09:59:10Z", "status": 200}` + "\n"
	var res struct {
		Warning string `json:"warning"`
		SLOs    []struct {
			Late int `json:"quanta_late"`
		} `json:"slos"`
	}
	f.do("POST", "/api/v1/events?slo=checkout-availability", body, nil, 200, &res)
	if len(res.SLOs) != 1 || res.SLOs[0].Late != 1 || !strings.Contains(res.Warning, "1 quanta were older than the lateness limit (5m)") || !strings.Contains(res.Warning, "This server's time is 2026-11-25T10:00:30Z") {
		t.Fatalf("%+v: want one late quantum and a warning naming the limit and the server's time", res)
	}
	var ok struct {
		Warning *string `json:"warning"`
	}
	f.do("POST", "/api/v1/events?slo=checkout-availability", `{"time": "2026-11-25T09:59:20Z", "status": 200}`, nil, 200, &ok)
	if ok.Warning != nil {
		t.Errorf("warning %q for events on time", *ok.Warning)
	}
}

package probe

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEventLinesAreTheEventsAPIsSchema(t *testing.T) {
	start := time.Date(2026, 12, 7, 10, 0, 0, 500_000_000, time.UTC)
	cases := []struct {
		name      string
		r         Result
		event, cs string
	}{
		{"A good HTTP check has its status and latency.", Result{Start: start, Latency: 12500 * time.Microsecond, OK: true, Status: 200},
			`{"time":"2026-12-07T10:00:00.5Z","latency_ms":12.5,"ok":true,"status":200}`, ""},
		{"A failed check without an answer has no status.", Result{Start: start, Latency: 2 * time.Second, Reason: "timeout in connect"},
			`{"time":"2026-12-07T10:00:00.5Z","latency_ms":2000,"ok":false}`, ""},
		{"A certificate with 20 days left is good at 14.", Result{Start: start, OK: true, Status: 200, CertExpiry: start.Add(20 * 24 * time.Hour), CertMinDays: 14},
			`{"time":"2026-12-07T10:00:00.5Z","latency_ms":0,"ok":true,"status":200}`, `{"time":"2026-12-07T10:00:00.5Z","ok":true}`},
		{"A certificate with 13 days and 23 hours left is bad at 14.", Result{Start: start, OK: true, Status: 200, CertExpiry: start.Add(14*24*time.Hour - time.Hour), CertMinDays: 14},
			`{"time":"2026-12-07T10:00:00.5Z","latency_ms":0,"ok":true,"status":200}`, `{"time":"2026-12-07T10:00:00.5Z","ok":false}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := string(c.r.EventLine(nil)); got != c.event {
				t.Errorf("event line\n got %s\nwant %s", got, c.event)
			}
			if got := string(c.r.CertLine(nil)); got != c.cs {
				t.Errorf("cert line\n got %s\nwant %s", got, c.cs)
			}
		})
	}
	if LocationSLO("home", "eu-west") != "home.eu-west" || CertSLO("home") != "home.cert" {
		t.Error("SLO names")
	}
}

// eventsServer is nines serve's events API as an agent meets it: keys
// stored once, a retry answered with the first answer. failFirst answers
// the first sends with 503 after storing them (an answer lost on the
// way back).
type eventsServer struct {
	mu        sync.Mutex
	stored    map[string]int // lines by key
	lines     int
	requests  int
	failFirst int
	status    int // answer every request with this, when set
	late      int
	date      time.Time
}

func (s *eventsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if !s.date.IsZero() {
		w.Header().Set("Date", s.date.UTC().Format(http.TimeFormat))
	}
	if s.status != 0 {
		w.WriteHeader(s.status)
		io.WriteString(w, `{"error":"no"}`)
		return
	}
	body, _ := io.ReadAll(r.Body)
	key := r.Header.Get("Idempotency-Key")
	if r.URL.Path != "/api/v1/events" || key == "" || r.Header.Get("Content-Type") != "application/x-ndjson" {
		w.WriteHeader(400)
		return
	}
	if _, dup := s.stored[key]; !dup {
		n := bytes.Count(body, []byte{'\n'})
		s.stored[key] = n
		s.lines += n
	}
	if s.requests <= s.failFirst {
		w.WriteHeader(503)
		return
	}
	fmt.Fprintf(w, `{"slos":[{"slo":%q,"quanta_accepted":1,"quanta_late":%d,"quanta_future":0}]}`, r.URL.Query().Get("slo"), s.late)
}

func results(n int) []Result {
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	var out []Result
	for i := range n {
		out = append(out, Result{Probe: "home", Location: "eu", Start: start.Add(time.Duration(i) * time.Second), OK: true, Status: 200, CertExpiry: start.Add(30 * 24 * time.Hour), CertMinDays: 14})
	}
	return out
}

func newTestAgent(t *testing.T, srv *httptest.Server, logs io.Writer, mutate func(*AgentConfig)) *Agent {
	t.Helper()
	cfg := AgentConfig{Server: srv.URL, Location: "eu", MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := NewAgent(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// runUntil runs the agent until cond holds or a few seconds passed.
func runUntil(t *testing.T, a *Agent, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestAgentRetriesWithTheSameKeyAndCountsOnce(t *testing.T) {
	es := &eventsServer{stored: map[string]int{}, failFirst: 3}
	srv := httptest.NewServer(es)
	defer srv.Close()
	a := newTestAgent(t, srv, nil, nil)
	a.Results(context.Background(), results(5))
	runUntil(t, a, func() bool { return a.Pending() == 0 })
	es.mu.Lock()
	defer es.mu.Unlock()
	// Two batches: home.eu and home.cert, five lines each.
	if len(es.stored) != 2 || es.lines != 10 {
		t.Errorf("stored %d keys, %d lines; want 2 keys, 10 lines", len(es.stored), es.lines)
	}
	if es.requests < 4 {
		t.Errorf("%d requests; want the failed ones sent again", es.requests)
	}
	if st := a.Stats(); st.Sent != 10 || st.Dropped != 0 || st.Pending != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestAgentTakesAConflictAsCountedAndARefusalAsFinal(t *testing.T) {
	for _, c := range []struct {
		name    string
		status  int
		sent    int64
		refused int64
		log     string
	}{
		{"A 409 means the batch was taken before: it is not sent again.", 409, 10, 0, ""},
		{"A 400 is refused for good: logged, dropped, not sent again.", 400, 0, 10, "nines serve refused the results"},
	} {
		t.Run(c.name, func(t *testing.T) {
			es := &eventsServer{stored: map[string]int{}, status: c.status}
			srv := httptest.NewServer(es)
			defer srv.Close()
			var logs bytes.Buffer
			a := newTestAgent(t, srv, &logs, nil)
			a.Results(context.Background(), results(5))
			runUntil(t, a, func() bool { return a.Pending() == 0 })
			time.Sleep(50 * time.Millisecond)
			es.mu.Lock()
			requests := es.requests
			es.mu.Unlock()
			st := a.Stats()
			if requests != 2 || st.Sent != c.sent || st.Refused != c.refused {
				t.Errorf("%d requests, stats %+v; want 2 requests, sent %d refused %d", requests, st, c.sent, c.refused)
			}
			if !strings.Contains(logs.String(), c.log) {
				t.Errorf("logs %q; want %q", logs.String(), c.log)
			}
		})
	}
}

func TestAgentSaysWhenItsClockMakesResultsLate(t *testing.T) {
	es := &eventsServer{stored: map[string]int{}, late: 1, date: time.Now().Add(10 * time.Minute)}
	srv := httptest.NewServer(es)
	defer srv.Close()
	var logs bytes.Buffer
	a := newTestAgent(t, srv, &logs, nil)
	a.Results(context.Background(), results(1))
	runUntil(t, a, func() bool { return a.Pending() == 0 })
	out := logs.String()
	if !regexp.MustCompile(`clock is (9m59s|10m0s|10m1s) behind nines serve's, more than the lateness limit 5m0s: its results are counted as late`).MatchString(out) {
		t.Errorf("logs %s; want the skew said", out)
	}
	if st := a.Stats(); st.Late != 2 {
		t.Errorf("late %d; want the 2 late quanta counted", st.Late)
	}
	if strings.Count(out, "level=ERROR") != 1 {
		t.Errorf("the skew was logged %d times; want once per 5 minutes", strings.Count(out, "level=ERROR"))
	}
}

func TestAgentBoundsItsBuffer(t *testing.T) {
	es := &eventsServer{stored: map[string]int{}, status: 503}
	srv := httptest.NewServer(es)
	defer srv.Close()
	a := newTestAgent(t, srv, nil, func(c *AgentConfig) { c.MaxPending = 12 })
	for range 4 {
		a.Results(context.Background(), results(3)) // 6 lines a time
	}
	if st := a.Stats(); st.Pending != 12 || st.Dropped != 12 {
		t.Errorf("stats %+v; want 12 pending, 12 dropped", st)
	}
}

type memSink struct {
	mu sync.Mutex
	rs []Result
	n  int
}

func (m *memSink) Results(_ context.Context, rs []Result) {
	m.mu.Lock()
	m.rs = append(m.rs, rs...)
	m.n++
	m.mu.Unlock()
}

func TestSchedulerRunsTheLocationsProbesAtTheirIntervals(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var ps []*Probe
	for i := range 20 {
		loc := "here"
		if i%4 == 0 {
			loc = "elsewhere"
		}
		ps = append(ps, mustProbe(t, fmt.Sprintf("name: p%d\ninterval: 1s\nlocations: [%s]\nhttp: {url: '%s/'}", i, loc, srv.URL)))
	}
	sink := &memSink{}
	s, err := NewScheduler(SchedulerConfig{Location: "here", Probes: ps, Sink: sink, Flush: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Probes()) != 15 {
		t.Fatalf("%d probes run here; want 15", len(s.Probes()))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	s.Run(ctx)
	sink.mu.Lock()
	defer sink.mu.Unlock()
	per := map[string]int{}
	for _, r := range sink.rs {
		if !r.OK || r.Location != "here" {
			t.Errorf("result %+v", r)
		}
		per[r.Probe]++
	}
	for _, p := range s.Probes() {
		if n := per[p.Name]; n < 2 || n > 3 {
			t.Errorf("%s ran %d times in 2.5 s at 1 s; want 2 or 3", p.Name, n)
		}
	}
	if sink.n < 5 {
		t.Errorf("%d batches; want results handed over as they come, every 100 ms", sink.n)
	}
}

func TestNextDueSpreadsProbesOverTheirInterval(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	buckets := make([]int, 10)
	for i := range 1000 {
		p := &Probe{Name: fmt.Sprintf("probe-%d", i), Interval: 10 * time.Second}
		d := NextDue(p, now)
		if d.Before(now) || !d.Before(now.Add(p.Interval)) {
			t.Fatalf("%s due at %s", p.Name, d)
		}
		if d2 := NextDue(p, now.Add(3*time.Hour)); d2.Sub(d)%p.Interval != 0 {
			t.Fatalf("%s moved within its interval: %s then %s", p.Name, d, d2)
		}
		buckets[d.Sub(now)/time.Second]++
	}
	for i, n := range buckets {
		if n < 60 || n > 140 {
			t.Errorf("second %d holds %d of 1,000 probes; want about 100", i, n)
		}
	}
}

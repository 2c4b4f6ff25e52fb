package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/store/sqlite"
)

// TestPagesOpenIncidents wires nines serve's parts as serve does, without
// --notify: a burn that pages reaches the server's own Alertmanager
// endpoint through the dispatcher's outbox and opens an incident detected
// by monitoring; the resolve marks it mitigated.
func TestPagesOpenIncidents(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var handler http.Handler = http.NotFoundHandler()
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { handler.ServeHTTP(w, r) }))
	defer hs.Close()
	nt, err := newNotifier("", strings.TrimPrefix(hs.URL, "http://"), "s3cret", db, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	clock := func() time.Time { return now }
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: clock, OnTransition: nt.Enqueue})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := os.ReadFile("../../examples/checkout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Silence after the outage counts good here, so that the page resolves.
	spec = []byte(strings.Replace(string(spec), "noData: bad", "noData: good", 1))
	if _, err := eng.Load(ctx, map[string][]byte{"checkout.yaml": spec}); err != nil {
		t.Fatal(err)
	}
	opts := server.IncidentOptions(eng, db, &incident.Config{})
	opts.Now = clock
	incidents, err := incident.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(server.Config{SLOs: eng, Writes: eng, Annotations: db, Size: db, Token: "s3cret", Incidents: incidents, Notify: nt.Dispatcher})
	if err != nil {
		t.Fatal(err)
	}
	handler = srv

	// Half of a minute's requests fail: 16.7× the budget over the hour.
	bad := time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)
	var events strings.Builder
	for i := range 100 {
		status := 200
		if i%2 == 0 {
			status = 503
		}
		fmt.Fprintf(&events, `{"time": %q, "status": %d, "latency_ms": 1}`+"\n", bad.Add(time.Duration(i)*500*time.Millisecond).Format(time.RFC3339Nano), status)
	}
	name := eng.SLOs()[0].Name
	req, _ := http.NewRequest("POST", hs.URL+"/api/v1/events?slo="+name, strings.NewReader(events.String()))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Content-Type", "application/x-ndjson")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("posting events: %v %v", resp, err)
	}
	resp.Body.Close()
	now = bad.Add(2*time.Minute + 30*time.Second)
	eng.Tick(now)
	nt.Step(ctx, now)

	list, err := incidents.List(ctx, incident.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 {
		t.Fatalf("%d incidents after a page, want 1 (outbox: %+v)", len(list), nt.Outbox())
	}
	inc := list[0]
	if inc.DetectedBy != incident.ByMonitoring || inc.Status != incident.Open || len(inc.Services) != 1 || inc.Services[0] != "checkout" {
		t.Errorf("incident %+v", inc)
	}
	// The page fired at the end of the bad minute, the evaluation time of
	// the judgement that found it (made once the minute had settled).
	if want := bad.Add(time.Minute); !inc.Detected.Equal(want) {
		t.Errorf("detected at %v, want %v", inc.Detected, want)
	}
	// Impact began with the bad minute itself: time to detect is the
	// minute it took to settle.
	if !inc.ImpactStart.Equal(bad) {
		t.Errorf("impact start %v, want the bad minute %v", inc.ImpactStart, bad)
	}

	// An hour and a half later the page has resolved: the incident is
	// mitigated, and resolving it stays a person's call.
	for t := now; !t.After(bad.Add(90 * time.Minute)); t = t.Add(time.Minute) {
		now = t
		eng.Tick(t)
		nt.Step(ctx, t)
	}
	got, err := incidents.Get(ctx, inc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != incident.Mitigated || got.Mitigated.IsZero() {
		t.Errorf("after the page resolved: status %s, mitigated %v; outbox %+v", got.Status, got.Mitigated, nt.Outbox())
	}
}

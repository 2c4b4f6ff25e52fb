package thirdparty

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// fakeReader answers each SLO's latest quantum from a map: "good", "bad",
// "stale" (good, but older than the stale bound), "err" (cannot be read),
// or "share:F/A" (F of A events failed, the quantum bad by its SLO when
// F > 0); an SLO absent from the map has no quantum.
type fakeReader map[string]string

func (f fakeReader) Latest(_ context.Context, name string, at time.Time) (Quantum, error) {
	s, ok := f[name]
	if !ok {
		return Quantum{}, nil
	}
	q := Quantum{Start: at.Add(-time.Minute), Measured: true, Attempted: 1}
	switch {
	case s == "good":
		q.Good = true
	case s == "bad":
		q.Failed = 1
	case s == "stale":
		q.Start, q.Good = at.Add(-time.Hour), true
	case s == "err":
		return Quantum{}, errors.New("the store is unavailable")
	case strings.HasPrefix(s, "share:"):
		var failed, attempted uint64
		if _, err := fmt.Sscanf(s, "share:%d/%d", &failed, &attempted); err != nil {
			return Quantum{}, err
		}
		q.Failed, q.Attempted, q.Good = failed, attempted, failed == 0
	}
	return q, nil
}

func testConfig(t *testing.T) *Config {
	t.Helper()
	cfg, err := LoadFile("testdata/thirdparties.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// allGood is every SLO of the example file good.
func allGood() fakeReader {
	return fakeReader{"edgecdn-fetch": "good", "edgecdn-fetch-eu": "good", "edgecdn-fetch-us": "good",
		"edgecdn-log-delivery": "good", "edgecdn-api": "good", "edgecdn-fetch-latency": "good",
		"edgecdn-requests": "share:0/1000", "paygate-charge": "good"}
}

func with(r fakeReader, kv ...string) fakeReader {
	out := fakeReader{}
	for k, v := range r {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			delete(out, kv[i])
			continue
		}
		out[kv[i]] = kv[i+1]
	}
	return out
}

func TestEvaluateStates(t *testing.T) {
	cfg := testConfig(t)
	cases := []struct {
		name       string
		in         fakeReader
		state      State
		where      []string
		conditions []State // of eu-west
	}{
		{"Every SLO good is operational.", allGood(), Operational, nil, []State{}},
		{"A slow data plane that still answers is degraded.", with(allGood(), "edgecdn-fetch-latency", "bad"), Degraded, nil, []State{Degraded}},
		{"An error share above the condition's in its region is degraded there only.", with(allGood(), "edgecdn-requests", "share:30/1000"), Degraded, []string{"eu-west"}, []State{Degraded}},
		{"An error share at the condition's is not degraded.", with(allGood(), "edgecdn-requests", "share:20/1000"), Operational, nil, []State{}},
		{"Log delivery down is limited visibility.", with(allGood(), "edgecdn-log-delivery", "bad"), LimitedVisibility, nil, []State{LimitedVisibility}},
		{"The configuration API down is api-down.", with(allGood(), "edgecdn-api", "bad"), APIDown, nil, []State{APIDown}},
		{"The vendor-wide data plane SLO failing is down everywhere.", with(allGood(), "edgecdn-fetch", "bad"), Down, nil, []State{Down}},
		{"One region's data plane failing is down in that region.", with(allGood(), "edgecdn-fetch-eu", "bad"), Down, []string{"eu-west"}, []State{Down}},
		{"Down wins over degraded, api-down and limited visibility, which stay listed.",
			with(allGood(), "edgecdn-fetch-eu", "bad", "edgecdn-api", "bad", "edgecdn-log-delivery", "bad"), Down, []string{"eu-west"}, []State{Down, APIDown, LimitedVisibility}},
		{"Degraded wins over api-down.", with(allGood(), "edgecdn-fetch-latency", "bad", "edgecdn-api", "bad"), Degraded, nil, []State{Degraded, APIDown}},
		{"Api-down wins over limited visibility.", with(allGood(), "edgecdn-api", "bad", "edgecdn-log-delivery", "bad"), APIDown, nil, []State{APIDown, LimitedVisibility}},
		{"A down region wins over a degraded one in the overall state.", with(allGood(), "edgecdn-fetch-us", "bad", "edgecdn-requests", "share:500/1000"), Down, []string{"us-east"}, []State{Degraded}},
		{"No recent data plane quantum is unknown, not operational.", with(allGood(), "edgecdn-fetch", "stale", "edgecdn-fetch-eu", "", "edgecdn-fetch-us", ""), Unknown, nil, []State{}},
		{"A region without data hides nothing a seen region shows.", with(allGood(), "edgecdn-fetch", "", "edgecdn-fetch-eu", "", "edgecdn-api", "bad"), APIDown, []string{"us-east"}, []State{APIDown}},
		{"An SLO that cannot be read counts as unmeasured.", with(allGood(), "edgecdn-fetch", "err", "edgecdn-fetch-eu", "bad"), Down, []string{"eu-west"}, []State{Down}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			states, _ := Evaluate(context.Background(), cfg, c.in, t0)
			if len(states) != 2 {
				t.Fatalf("%d vendor states; want 2", len(states))
			}
			got := states[0]
			if got.State != c.state || !reflect.DeepEqual(got.Where, c.where) {
				t.Errorf("state = %s in %v; want %s in %v (%+v)", got.State, got.Where, c.state, c.where, got.Regions)
			}
			if eu := got.Regions[0]; eu.Region != "eu-west" || !reflect.DeepEqual(eu.Conditions, c.conditions) {
				t.Errorf("eu-west conditions = %v; want %v (%v)", eu.Conditions, c.conditions, eu.Reasons)
			}
		})
	}
}

func TestEvaluateSaysWhy(t *testing.T) {
	states, err := Evaluate(context.Background(), testConfig(t), with(allGood(), "edgecdn-fetch-eu", "bad", "edgecdn-api", "err", "paygate-charge", ""), t0)
	if err == nil || !strings.Contains(err.Error(), "SLO edgecdn-api: the store is unavailable") {
		t.Errorf("error = %v; want the SLO that could not be read", err)
	}
	eu := states[0].Regions[0]
	if !slices.ContainsFunc(eu.Reasons, func(s string) bool {
		return strings.HasPrefix(s, "data plane: SLO edgecdn-fetch-eu failed its quantum at 2026-12-07T09:59:00Z")
	}) {
		t.Errorf("reasons = %q; want the failing data plane SLO named", eu.Reasons)
	}
	if !slices.Contains(eu.Unmeasured, "edgecdn-api") {
		t.Errorf("unmeasured = %v; want edgecdn-api", eu.Unmeasured)
	}
	if s := states[0].Summary(); s != "down in eu-west" {
		t.Errorf("summary = %q", s)
	}
	if pg := states[1]; pg.State != Unknown || pg.Summary() != "unknown" {
		t.Errorf("paygate without data = %+v; want unknown", pg)
	}
}

// TestTrackerOneChangePerChange drives every state in turn, each held
// for several evaluations, and expects one change per change of state.
func TestTrackerOneChangePerChange(t *testing.T) {
	cfg := &Config{Vendors: []*Vendor{testConfig(t).Vendor("paygate")}}
	cfg.Vendors[0].Telemetry = Component{SLOs: []string{"logs"}}
	cfg.Vendors[0].ConfigAPI = Component{SLOs: []string{"api"}}
	cfg.Vendors[0].Degraded = []Condition{{SLO: "latency"}}
	good := fakeReader{"paygate-charge": "good", "logs": "good", "api": "good", "latency": "good"}
	steps := []struct {
		in   fakeReader
		want State
	}{
		{good, Operational},
		{with(good, "latency", "bad"), Degraded},
		{with(good, "logs", "bad"), LimitedVisibility},
		{with(good, "api", "bad"), APIDown},
		{with(good, "paygate-charge", "bad"), Down},
		{with(good, "paygate-charge", ""), Unknown},
		{with(good, "paygate-charge", "bad"), Down},
		{good, Operational},
	}
	tr, err := NewTracker(1)
	if err != nil {
		t.Fatal(err)
	}
	var changes []Change
	at := t0
	for _, s := range steps {
		for range 5 {
			states, _ := Evaluate(context.Background(), cfg, s.in, at)
			if states[0].State != s.want {
				t.Fatalf("at %s: state %s; want %s", at, states[0].State, s.want)
			}
			changes = append(changes, tr.Observe(states)...)
			at = at.Add(time.Minute)
		}
	}
	var got []string
	for _, c := range changes {
		got = append(got, string(c.From)+">"+string(c.To))
	}
	want := []string{"operational>degraded", "degraded>limited-visibility", "limited-visibility>api-down", "api-down>down", "down>operational"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %v; want %v", got, want)
	}
	if c := changes[1]; !c.At.Equal(t0.Add(10*time.Minute)) || !c.FromSince.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("second change at %s, from %s; want at 10m, from 5m", c.At, c.FromSince)
	}
	hist := tr.History("paygate")
	if len(hist) != 6 || hist[0].State != Operational || !hist[5].To.IsZero() || !hist[4].To.Equal(t0.Add(35*time.Minute)) {
		t.Errorf("history = %+v", hist)
	}
	if s, since, ok := tr.Since("paygate", ""); !ok || s != Operational || !since.Equal(t0.Add(35*time.Minute)) {
		t.Errorf("Since = %s %s %v", s, since, ok)
	}
}

func TestTrackerPerRegionAndHold(t *testing.T) {
	cfg := testConfig(t)
	tr, err := NewTracker(2)
	if err != nil {
		t.Fatal(err)
	}
	observe := func(in fakeReader, at time.Duration) []Change {
		states, _ := Evaluate(context.Background(), cfg, in, t0.Add(at))
		return tr.Observe(states)
	}
	if got := observe(allGood(), 0); len(got) != 0 {
		t.Errorf("first sight of working vendors: %v; want no change", got)
	}
	down := with(allGood(), "edgecdn-fetch-eu", "bad")
	if got := observe(down, time.Minute); len(got) != 0 {
		t.Errorf("one evaluation of down under a hold of 2: %v; want none yet", got)
	}
	if got := observe(allGood(), 2*time.Minute); len(got) != 0 {
		t.Errorf("back to operational before the hold: %v; want none", got)
	}
	observe(down, 3*time.Minute)
	got := observe(down, 4*time.Minute)
	if len(got) != 1 || got[0].Region != "eu-west" || got[0].To != Down || !got[0].At.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("two evaluations of down in eu-west: %+v; want one change, dated from the first", got)
	}
	if got := observe(down, 5*time.Minute); len(got) != 0 {
		t.Errorf("down held: %v; want no change", got)
	}
	if _, err := NewTracker(0); err == nil {
		t.Error("NewTracker(0) taken")
	}
}

func TestChangeNotifications(t *testing.T) {
	c := Change{Vendor: "edgecdn", Region: "eu-west", From: Degraded, To: Down, FromSince: t0, At: t0.Add(time.Hour), Reasons: []string{"data plane: SLO x failed"}}
	wantLabels := map[string]string{"alert": "ThirdPartyState", "vendor": "edgecdn", "region": "eu-west", "state": "down", "severity": "page"}
	if got := c.Labels(); !reflect.DeepEqual(got, wantLabels) {
		t.Errorf("labels = %v; want %v", got, wantLabels)
	}
	if a := c.Annotations(); a["summary"] != "edgecdn is down in eu-west (was degraded)" || a["description"] != "data plane: SLO x failed" {
		t.Errorf("annotations = %v", a)
	}
	ns := c.Notifications()
	if len(ns) != 2 || ns[0].Labels["state"] != "degraded" || ns[0].Labels["severity"] != "ticket" || !ns[0].EndsAt.Equal(c.At) || !ns[0].StartsAt.Equal(t0) ||
		ns[1].Labels["state"] != "down" || !ns[1].EndsAt.IsZero() {
		t.Errorf("notifications = %+v; want degraded resolved, down firing", ns)
	}
	back := Change{Vendor: "edgecdn", From: Down, To: Operational, FromSince: t0, At: t0.Add(time.Hour)}
	if ns := back.Notifications(); len(ns) != 1 || !ns[0].EndsAt.Equal(back.At) || ns[0].Labels["state"] != "down" {
		t.Errorf("recovery notifications = %+v; want down resolved only", ns)
	}
}

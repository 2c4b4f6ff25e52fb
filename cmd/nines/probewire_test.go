package main

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/probe"
	"github.com/nines-sre/nines/probe/consensus"
	"github.com/nines-sre/nines/store/sqlite"
)

const wireProbes = `probes:
  - name: web-home
    locations: [a, b, c]
    interval: 20s
    consensus: {k: 2, window: 2m}
    http:
      url: http://127.0.0.1:1/
  - name: spare
    locations: [a]
    tcp: {address: "127.0.0.1:1"}
`

const wireSpec = "name: home\nservice: web\nsli:\n  probes: web-home\nobjective: 99\nwindow: {rolling: 1h}\nnoData: good\n"

// TestWithProbesRefusals names the SLO and the probe of each mistake.
func TestWithProbesRefusals(t *testing.T) {
	probes, err := probe.Parse("probes.yaml", []byte(wireProbes))
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Replace(wireSpec, "name: home", "name: home-again", 1)
	for _, c := range []struct {
		name   string
		files  map[string][]byte
		probes []*probe.Probe
		want   string
	}{
		{"a probe the file does not define", map[string][]byte{"a.yaml": []byte(strings.Replace(wireSpec, "web-home", "web-hom", 1))}, probes,
			`SLO home: sli.probes: no probe is named "web-hom" in the probes file; did you mean "web-home"?`},
		{"no probes file", map[string][]byte{"a.yaml": []byte(wireSpec)}, nil, "no probes file is loaded; start nines serve with --probes FILE"},
		{"one probe feeding two SLOs", map[string][]byte{"a.yaml": []byte(wireSpec), "b.yaml": []byte(other)}, probes, "feeds SLO home already"},
		{"a spec that takes a location SLO's name", map[string][]byte{"a.yaml": []byte(wireSpec), "b.yaml": []byte(strings.Replace(strings.Replace(wireSpec, "name: home", "name: web-home.a", 1), "sli:\n  probes: web-home", "sli:\n  good: {ok: true}", 1))}, probes,
			"measures its results as SLO web-home.a, which a spec defines"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := withProbes(c.files, c.probes)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestConsensusWriterEqualsOffline feeds three locations' results minute
// by minute on a fake clock, steps the writer as nines serve does, and
// holds the consensus SLO's stored quanta to the consensus computed
// offline from the stored location quanta, quantum for quantum: a
// single flapping location never makes a quantum bad, two failing do.
// A second writer over the same store (a restart, or a new leader)
// carries on from the cursor and never writes a quantum twice. At every
// minute the live status equals a rescan of the store.
func TestConsensusWriterEqualsOffline(t *testing.T) {
	ctx := context.Background()
	start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	now := start
	clock := func() time.Time { return now }
	db, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	probes, err := probe.Parse("probes.yaml", []byte(wireProbes))
	if err != nil {
		t.Fatal(err)
	}
	files, set, err := withProbes(map[string][]byte{"home.yaml": []byte(wireSpec)}, probes)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, files); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	leading := func() bool { return true }
	writer := newProbeRuntime(eng, db, leading, "", logger)
	writer.use(set)

	// failing[m] lists the locations whose checks fail in minute m: a
	// flaps alone at minutes 3, 5 and 7; b and c fail together at 12–13.
	failing := map[int]string{3: "a", 5: "a", 7: "a", 12: "bc", 13: "bc"}
	const minutes = 20
	for m := 0; m < minutes+8; m++ {
		for s := 0; s < 60; s += 10 {
			now = start.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
			if s == 0 && m < minutes {
				var rs []probe.Result
				for _, l := range []string{"a", "b", "c"} {
					for k := 0; k < 3; k++ { // every 20 s
						ok := !strings.Contains(failing[m], l)
						rs = append(rs, probe.Result{Probe: "web-home", Location: l, Start: now.Add(time.Duration(k) * 20 * time.Second), Latency: 30 * time.Millisecond, OK: ok, Status: 200})
					}
				}
				writer.Results(ctx, rs)
			}
			if m == 15 && s == 0 {
				// A new writer (a restart, a new leader) takes over here.
				writer = newProbeRuntime(eng, db, leading, "", logger)
				writer.use(set)
			}
			writer.step(ctx, now)
			if s == 30 {
				// Live equals offline at every minute: the tracker's
				// status of the consensus SLO is a rescan of the store.
				live, err := eng.Status(ctx, "home")
				if err != nil {
					t.Fatal(err)
				}
				offline, err := eng.Evaluate(ctx, "home", live.Window, live.At)
				if err != nil {
					t.Fatal(err)
				}
				if live.Quanta != offline.Quanta || live.Events != offline.Events {
					t.Fatalf("at %v: live %+v %+v, offline %+v %+v", now, live.Quanta, live.Events, offline.Quanta, offline.Events)
				}
			}
		}
	}

	_, stored, err := eng.Series(ctx, "home", start, start.Add(minutes*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	locs := consensus.Locations{}
	for _, l := range []string{"a", "b", "c"} {
		_, series, err := eng.Series(ctx, probe.LocationSLO("web-home", l), start.Add(-2*time.Minute), start.Add(minutes*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		locs[l] = series.Rollups
	}
	home, _ := eng.SLO("home")
	offline, _, err := consensus.Series(consensus.Rule{K: 2, N: 3, Window: 2 * time.Minute, Quantum: home.Quantum}, locs, start, start.Add(minutes*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	// The writer starts at the first quantum final when it first ran.
	first := stored.Rollups[0].Start
	for len(offline) > 0 && offline[0].Start < first {
		offline = offline[1:]
	}
	if len(stored.Rollups) != len(offline) || len(stored.Rollups) < minutes-6 {
		t.Fatalf("stored %d consensus quanta, offline %d; want the same, at least %d", len(stored.Rollups), len(offline), minutes-6)
	}
	var bad []string
	for i := range stored.Rollups {
		got, want := stored.Rollups[i], offline[i]
		if got.Start != want.Start || got.Attempted != 1 || got.Good != want.Good {
			t.Errorf("quantum %v: stored %d of %d good, offline %d of %d", time.Unix(0, got.Start).UTC(), got.Good, got.Attempted, want.Good, want.Attempted)
		}
		if got.Good == 0 {
			bad = append(bad, time.Unix(0, got.Start).UTC().Format("15:04"))
		}
	}
	// b and c failed at 12 and 13; the 2-minute window keeps them failing
	// through 14; a alone never counts.
	if want := "10:12 10:13 10:14"; strings.Join(bad, " ") != want {
		t.Errorf("bad consensus quanta %v, want %s", bad, want)
	}
	res, err := eng.Status(ctx, "home")
	if err != nil {
		t.Fatal(err)
	}
	if res.Quanta.Bad != 3 {
		t.Errorf("status of home: %+v; want the 3 bad quanta judged", res.Quanta)
	}
	views, err := writer.Probes(ctx, now)
	if err != nil || len(views) != 1 || views[0].Consensus.Latest == nil || len(views[0].Locations) != 3 {
		t.Fatalf("GET /api/v1/probes view %+v, %v", views, err)
	}
	if v := views[0]; v.Target != "GET http://127.0.0.1:1/" || v.Consensus.K != 2 || v.Consensus.N != 3 || v.Locations[0].LastCheck == nil {
		t.Errorf("view %+v", v)
	}
}

// TestProbesReloadRestartsTheSchedule: a load that changes the probes
// file, or which probes feed an SLO, restarts the schedule; one that
// changes nothing of them does not.
func TestProbesReloadRestartsTheSchedule(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/probes.yaml"
	write := func(text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	specs := map[string][]byte{"home.yaml": []byte(wireSpec)}
	r := newProbeRuntime(nil, nil, func() bool { return true }, "a", slog.New(slog.DiscardHandler))
	load := func() {
		t.Helper()
		_, set, err := withProbesFile(specs, path)
		if err != nil {
			t.Fatal(err)
		}
		r.use(set)
	}
	restarts := func() bool {
		select {
		case <-r.changed:
			return true
		default:
			return false
		}
	}
	write(wireProbes)
	load()
	restarts() // the first load, which run takes as its start
	if string(r.Text()) != wireProbes {
		t.Errorf("text for agents %q", r.Text())
	}
	load()
	if restarts() {
		t.Error("a load that changed nothing restarted the schedule")
	}
	write(strings.Replace(wireProbes, "interval: 20s", "interval: 30s", 1))
	load()
	if !restarts() {
		t.Error("a changed probes file did not restart the schedule")
	}
	if got := r.set.Load().running(); len(got) != 1 || got[0].Name != "web-home" || got[0].Interval != 30*time.Second {
		t.Errorf("running %v; want web-home every 30s, not spare (it feeds no SLO)", got)
	}
}

// TestInlineProbes: a spec may define its probe in place. It is read from
// the spec's text, so its problems are told at their line; its location
// SLOs are made as for a probe of the file, and agents that read their
// probes from nines serve get it too.
func TestInlineProbes(t *testing.T) {
	inline := "name: home\nservice: web\nsli:\n  probes:\n    locations: [a, b]\n    interval: 20s\n    http: {url: \"http://127.0.0.1:1/\"}\nobjective: 99\nwindow: {rolling: 1h}\n"
	files, set, err := withProbesFile(map[string][]byte{"home.yaml": []byte(inline)}, "")
	if err != nil {
		t.Fatal(err)
	}
	p := set.bySLO["home"]
	if p == nil || p.Name != "home" || len(p.Locations) != 2 || p.Interval != 20*time.Second || p.Consensus.K != 2 {
		t.Fatalf("probe %+v; want home from a and b every 20s, k a majority of 2", p)
	}
	for _, name := range []string{"probes/home.a.yaml", "probes/home.b.yaml"} {
		if files[name] == nil {
			t.Errorf("no location SLO %s among %v", name, slices.Sorted(maps.Keys(files)))
		}
	}
	agents, err := probe.Parse("served", set.text)
	if err != nil || len(agents) != 1 || agents[0].Name != "home" || agents[0].HTTP == nil {
		t.Errorf("the probes agents read: %v, %v from\n%s", agents, err, set.text)
	}

	bad := strings.Replace(inline, "locations: [a, b]", "locations: [a, b]\n    consensus: {k: 3}", 1)
	if _, _, err := withProbesFile(map[string][]byte{"home.yaml": []byte(bad)}, ""); err == nil || !strings.Contains(err.Error(), "home.yaml:6:20: sli.probes.consensus.k: 3 is more than the probe's 2 locations") {
		t.Errorf("a k above the locations, in place: %v", err)
	}
	dir := t.TempDir()
	os.WriteFile(dir+"/probes.yaml", []byte(strings.Replace(wireProbes, "name: web-home", "name: home", 1)), 0o644)
	if _, _, err := withProbesFile(map[string][]byte{"home.yaml": []byte(inline)}, dir+"/probes.yaml"); err == nil || !strings.Contains(err.Error(), "defines probe home in place, and the probes file defines one of that name at") {
		t.Errorf("a name given in place and in the file: %v", err)
	}
}

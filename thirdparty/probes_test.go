package thirdparty

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/nines-sre/nines/probe/consensus"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// TestStatesFromProbeResults drives a vendor through every state from
// constructed probe results: three locations probe its data plane, judged
// by a 2-of-3 consensus, beside SLOs of its latency, its log delivery and
// its API. A single flapping location never takes it down, and each
// change of state is notified once.
func TestStatesFromProbeResults(t *testing.T) {
	cfg, err := Parse("tp.yaml", []byte("thirdParties:\n  - vendor: edgecdn\n    dataPlane: [edge]\n    telemetry: [logs]\n    configAPI: [api]\n    degraded: [edge-latency]\n"))
	if err != nil {
		t.Fatal(err)
	}
	m := &memSLOs{slos: map[string]*slo.SLO{}, series: map[string][]slo.Rollup{}}
	for _, name := range []string{"edge", "edge-latency", "logs", "api"} {
		ss, _, err := spec.Load(name+".yaml", []byte(fmt.Sprintf("name: %s\nservice: shop\nsli:\n  good:\n    ok: true\nobjective: 99.9\nmethod: time-quanta\nquantum: 1m\nwindow:\n  rolling: 30d\nnoData: skip\n", name)))
		if err != nil {
			t.Fatal(err)
		}
		m.slos[name] = ss[0]
	}
	// Each step lasts five minutes: the locations' results ('.' good, 'x'
	// failed, alternating between the two for "~"), then whether the
	// latency, log delivery and API SLOs fail.
	steps := []struct {
		ams, fra, iad           byte
		slow, logsDown, apiDown bool
		want                    State
	}{
		{'.', '.', '.', false, false, false, Operational},
		{'~', '.', '.', false, false, false, Operational}, // one node flapping
		{'.', '.', '.', true, false, false, Degraded},
		{'.', '.', '.', false, true, false, LimitedVisibility},
		{'.', '.', '.', false, false, true, APIDown},
		{'x', 'x', '.', false, false, false, Down},
		{'.', '.', '.', false, false, false, Operational},
	}
	locs := consensus.Locations{}
	minute := func(i int) int64 { return t0.Add(time.Duration(i) * time.Minute).UnixNano() }
	rollup := func(i int, good bool) slo.Rollup {
		r := slo.Rollup{Start: minute(i), Attempted: 1, Good: 1, Measured: true}
		if !good {
			r.Good = 0
		}
		return r
	}
	n := 0
	for _, s := range steps {
		for range 5 {
			for loc, c := range map[string]byte{"ams": s.ams, "fra": s.fra, "iad": s.iad} {
				locs[loc] = append(locs[loc], rollup(n, c == '.' || (c == '~' && n%2 == 0)))
			}
			m.series["edge-latency"] = append(m.series["edge-latency"], rollup(n, !s.slow))
			m.series["logs"] = append(m.series["logs"], rollup(n, !s.logsDown))
			m.series["api"] = append(m.series["api"], rollup(n, !s.apiDown))
			n++
		}
	}
	rule := consensus.Rule{K: 2, N: 3, Window: 2 * time.Minute, Quantum: time.Minute}
	edge, _, err := consensus.Series(rule, locs, t0, t0.Add(time.Duration(n)*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	m.series["edge"] = edge
	tr, err := NewTracker(1)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range n {
		// Each minute is judged once it is over.
		at := t0.Add(time.Duration(i+1) * time.Minute)
		states, err := Evaluate(context.Background(), cfg, FromSLOs{Src: m}, at)
		if err != nil {
			t.Fatal(err)
		}
		// The consensus window holds a failure one minute longer than the
		// step that caused it.
		if want := steps[i/5].want; i%5 != 0 && states[0].State != want {
			t.Errorf("minute %d: %s; want %s (%v)", i, states[0].State, want, states[0].Regions[0].Reasons)
		}
		for _, c := range tr.Observe(states) {
			got = append(got, fmt.Sprintf("%s>%s", c.From, c.To))
		}
	}
	want := []string{"operational>degraded", "degraded>limited-visibility", "limited-visibility>api-down", "api-down>down", "down>operational"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes = %v; want %v", got, want)
	}
}

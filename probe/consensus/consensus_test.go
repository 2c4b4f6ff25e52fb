package consensus

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

const minute = time.Minute

// results builds a location's rollups from one character a quantum from
// t0: '.' a good result, 'x' a failed one, 'm' one of each, '-' none,
// '0' a measured rollup with no attempts.
func results(t *testing.T, s string) []slo.Rollup {
	t.Helper()
	var out []slo.Rollup
	for i, c := range s {
		r := slo.Rollup{Start: t0.Add(time.Duration(i) * minute).UnixNano(), Measured: true}
		switch c {
		case '.':
			r.Attempted, r.Good = 1, 1
		case 'x':
			r.Attempted = 1
		case 'm':
			r.Attempted, r.Good = 2, 1
		case '0':
		case '-':
			continue
		default:
			t.Fatalf("results %q: unknown character %q", s, c)
		}
		r.Latency.Insert(0.010 * float64(i+1))
		out = append(out, r)
	}
	return out
}

func locations(t *testing.T, m map[string]string) Locations {
	t.Helper()
	locs := Locations{}
	for name, s := range m {
		locs[name] = results(t, s)
	}
	return locs
}

// verdicts judges quanta 0..n−1 and writes each as 'B' bad, 'g' good,
// '?' unmeasured.
func verdicts(t *testing.T, rule Rule, locs Locations, n int) string {
	t.Helper()
	var b strings.Builder
	for i := range n {
		v, err := Judge(rule, locs, t0.Add(time.Duration(i)*minute))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case v.Bad:
			b.WriteByte('B')
		case v.Measured:
			b.WriteByte('g')
		default:
			b.WriteByte('?')
		}
	}
	return b.String()
}

func TestJudge(t *testing.T) {
	cases := []struct {
		name string
		rule Rule
		locs map[string]string
		want string
	}{
		{"Two of three failing together make the quantum bad, one alone does not.",
			Rule{K: 2, N: 3, Window: minute, Quantum: minute},
			map[string]string{"ams": "x.xx.", "fra": ".xx..", "iad": "....."},
			"ggBgg"},
		{"A single flapping node never makes a quantum bad, however often it fails.",
			Rule{K: 2, N: 3, Window: 3 * minute, Quantum: minute},
			map[string]string{"ams": "x.x.x.x.", "fra": "........", "iad": "........"},
			"gggggggg"},
		{"Failures of two nodes within the window count together though they never coincide.",
			Rule{K: 2, N: 3, Window: 2 * minute, Quantum: minute},
			map[string]string{"ams": "x.....", "fra": ".x....", "iad": "......"},
			"gBgggg"},
		{"A mixed quantum (one good, one failed result) counts as a failure of its location.",
			Rule{K: 2, N: 2, Window: minute, Quantum: minute},
			map[string]string{"ams": "m.", "fra": "x."},
			"Bg"},
		{"All of five must fail when k is five.",
			Rule{K: 5, N: 5, Window: minute, Quantum: minute},
			map[string]string{"a": "xx", "b": "xx", "c": "xx", "d": "xx", "e": "x."},
			"Bg"},
		{"A location that stops reporting leaves the quantum unmeasured once fewer than k remain.",
			Rule{K: 2, N: 3, Window: 2 * minute, Quantum: minute},
			map[string]string{"ams": "......", "fra": "..----", "iad": "------"},
			"ggg???"},
		{"Nobody reporting is unmeasured, not bad.",
			Rule{K: 1, N: 2, Window: minute, Quantum: minute},
			map[string]string{"ams": "--", "fra": "0-"},
			"??"},
		{"K above the locations reporting is unmeasured even when all that report fail.",
			Rule{K: 3, N: 4, Window: minute, Quantum: minute},
			map[string]string{"ams": "xx", "fra": "x.", "iad": "--"},
			"??"},
		{"Failing locations reaching k make the quantum bad though others are silent.",
			Rule{K: 2, N: 4, Window: minute, Quantum: minute},
			map[string]string{"ams": "x", "fra": "x"},
			"B"},
		{"A failure counts exactly Window/Quantum quanta, then leaves the window.",
			Rule{K: 2, N: 2, Window: 3 * minute, Quantum: minute},
			map[string]string{"ams": "x.....", "fra": "x....."},
			"BBBggg"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := verdicts(t, c.rule, locations(t, c.locs), len(c.want)); got != c.want {
				t.Errorf("verdicts = %s; want %s", got, c.want)
			}
		})
	}
}

func TestJudgeListsTheLocations(t *testing.T) {
	rule := Rule{K: 2, N: 4, Window: 2 * minute, Quantum: minute}
	locs := locations(t, map[string]string{"iad": "x.", "ams": ".x", "fra": "..", "syd": "--"})
	v, err := Judge(rule, locs, t0.Add(minute+30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	want := Verdict{Start: t0.Add(minute), Measured: true, Bad: true,
		Failing: []string{"ams", "iad"}, Reporting: []string{"ams", "fra", "iad"}, Silent: []string{"syd"},
		Reason: "consensus: 2 of 4 locations failed within 2m (ams, iad); 2 needed"}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("verdict = %+v\nwant %+v", v, want)
	}
}

func TestWindowEdges(t *testing.T) {
	// With a 5m window, quantum q sees the quanta starting in (q−5m, q]:
	// a failure at t0 counts for q = t0 … t0+4m and not at t0+5m; a
	// failure at t0+6m does not count for t0+5m.
	rule := Rule{K: 1, N: 1, Window: 5 * minute, Quantum: minute}
	locs := locations(t, map[string]string{"ams": "x.....x"})
	for _, c := range []struct {
		at   time.Duration
		want bool
	}{{0, true}, {4 * minute, true}, {5 * minute, false}, {6 * minute, true}, {-minute, false}} {
		v, err := Judge(rule, locs, t0.Add(c.at))
		if err != nil {
			t.Fatal(err)
		}
		if v.Bad != c.want {
			t.Errorf("at t0%+v: bad = %v; want %v (%s)", c.at, v.Bad, c.want, v.Reason)
		}
	}
	// Before any result the quantum is unmeasured; a result in the last
	// quantum of the window still counts as reporting.
	v, _ := Judge(rule, locs, t0.Add(-minute))
	if v.Measured {
		t.Errorf("before any result: measured (%s)", v.Reason)
	}
	late := Locations{"ams": results(t, ".")}
	if v, _ := Judge(rule, late, t0.Add(4*minute)); !v.Measured {
		t.Errorf("4m after a result in a 5m window: unmeasured (%s)", v.Reason)
	}
	if v, _ := Judge(rule, late, t0.Add(5*minute)); v.Measured {
		t.Errorf("5m after a result in a 5m window: measured (%s)", v.Reason)
	}
}

func TestSeries(t *testing.T) {
	rule := Rule{K: 2, N: 3, Window: minute, Quantum: minute}
	locs := locations(t, map[string]string{"ams": "xx.-", "fra": "x..-", "iad": "x.--"})
	rs, vs, err := Series(rule, locs, t0, t0.Add(4*minute))
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 4 {
		t.Fatalf("%d verdicts; want 4", len(vs))
	}
	if len(rs) != 3 {
		t.Fatalf("%d rollups; want 3 (the last quantum unmeasured): %+v", len(rs), rs)
	}
	for i, want := range []struct {
		good, errors uint64
		latencies    uint64
	}{{0, 1, 3}, {1, 0, 3}, {1, 0, 2}} {
		r := rs[i]
		if r.Start != t0.Add(time.Duration(i)*minute).UnixNano() || r.Attempted != 1 || r.Good != want.good || r.Errors != want.errors || !r.Measured {
			t.Errorf("rollup %d = start %d attempted %d good %d errors %d; want one attempt, %d good", i, r.Start, r.Attempted, r.Good, r.Errors, want.good)
		}
		if r.Latency.Count() != want.latencies {
			t.Errorf("rollup %d holds %d latencies; want %d, every location's results of the quantum", i, r.Latency.Count(), want.latencies)
		}
		if r.OverThreshold != 0 || r.Slow != 0 {
			t.Errorf("rollup %d counts %d over threshold, %d slow; want none", i, r.OverThreshold, r.Slow)
		}
	}
}

func TestSeriesIsDeterministic(t *testing.T) {
	rule := Rule{K: 2, N: 5, Window: 3 * minute, Quantum: minute}
	m := map[string]string{"a": "x.x..xx.-", "b": ".xx.-..x.", "c": "..x-x.x..", "d": "mm..x.-x.", "e": "---x..xx."}
	first, fv, err := Series(rule, locations(t, m), t0, t0.Add(9*minute))
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		// A new map each time: Go randomises the order of iteration.
		again, av, err := Series(rule, locations(t, m), t0, t0.Add(9*minute))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(first, again) || !reflect.DeepEqual(fv, av) {
			t.Fatal("the same locations gave different rollups or verdicts")
		}
	}
}

func TestRuleValidate(t *testing.T) {
	cases := []struct {
		name string
		rule Rule
		want string
	}{
		{"A majority of three over a window of two quanta is valid.", Rule{K: 2, N: 3, Window: 2 * minute, Quantum: minute}, ""},
		{"K larger than its locations is refused.", Rule{K: 4, N: 3, Window: minute, Quantum: minute}, "k cannot pass the 3 locations"},
		{"K of zero is refused with the majority named.", Rule{K: 0, N: 5, Window: minute, Quantum: minute}, "a majority is 3"},
		{"No locations is refused.", Rule{K: 1, N: 0, Window: minute, Quantum: minute}, "want 1 to 1000 locations"},
		{"A window shorter than a quantum is refused.", Rule{K: 1, N: 1, Window: 30 * time.Second, Quantum: minute}, "shorter than the quantum"},
		{"A window of a fraction of quanta is refused with the next multiple.", Rule{K: 1, N: 1, Window: 90 * time.Second, Quantum: minute}, "such as 2m0s"},
		{"A zero quantum is refused.", Rule{K: 1, N: 1, Window: minute}, "want a positive quantum"},
		{"A window of days is refused.", Rule{K: 1, N: 1, Window: 48 * time.Hour, Quantum: minute}, "at most 1440"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.rule.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("Validate() = %v; want an error saying %q", err, c.want)
			}
		})
	}
}

func TestBadLocations(t *testing.T) {
	rule := Rule{K: 1, N: 2, Window: minute, Quantum: minute}
	unsorted := results(t, "..")
	unsorted[0], unsorted[1] = unsorted[1], unsorted[0]
	off := results(t, ".")
	off[0].Start += int64(time.Second)
	over := results(t, ".")
	over[0].Good = 2
	cases := []struct {
		name string
		locs Locations
		want string
	}{
		{"More locations than n are refused.", locations(t, map[string]string{"a": ".", "b": ".", "c": "."}), "raise n"},
		{"Unsorted rollups are refused.", Locations{"a": unsorted}, "want rollups sorted"},
		{"A rollup off its quantum boundary is refused.", Locations{"a": off}, "not on a 1m0s quantum boundary"},
		{"More good than attempted is refused.", Locations{"a": over}, "2 good of 1 attempted"},
		{"A location without a name is refused.", Locations{"": nil}, "without a name"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Judge(rule, c.locs, t0)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Judge = %v; want an error saying %q", err, c.want)
			}
			if _, _, err := Series(rule, c.locs, t0, t0.Add(minute)); err == nil {
				t.Error("Series took what Judge refused")
			}
		})
	}
	if _, _, err := Series(rule, nil, t0, t0.Add(-minute)); err == nil || !strings.Contains(err.Error(), "before the start") {
		t.Errorf("Series backwards = %v; want refused", err)
	}
	if _, _, err := Series(rule, nil, t0, t0.Add(MaxQuanta*minute+minute)); err == nil || !strings.Contains(err.Error(), "at most") {
		t.Errorf("Series of too many quanta = %v; want refused", err)
	}
}

func TestCheckSLO(t *testing.T) {
	s := &slo.SLO{Name: "edge-fetch"}
	if err := CheckSLO(s); err != nil {
		t.Errorf("an SLO without a latency threshold: %v", err)
	}
	s.SLI.Latency = &slo.LatencyRule{Threshold: 0.25}
	if err := CheckSLO(s); err == nil || !strings.Contains(err.Error(), "put the threshold on the location SLIs") {
		t.Errorf("an SLO with a latency threshold: %v; want refused", err)
	}
}

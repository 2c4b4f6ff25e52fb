package demo

import (
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

func TestDemoSpecsLoadAndTrafficIsConsistent(t *testing.T) {
	slos, warnings, err := spec.Load("demo.yaml", []byte(Specs))
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 || len(slos) != len(services) {
		t.Fatalf("%d SLOs, warnings %v; want %d and none", len(slos), warnings, len(services))
	}
	start := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	for _, s := range slos {
		var attempted, failed uint64
		var modes int
		for m := range 24 * 60 {
			r, ok := Rollup(s, start.Add(time.Duration(m)*time.Minute), 1)
			if !ok {
				t.Fatalf("%s is not a demo SLO", s.Name)
			}
			if r.Good+r.Errors+r.Slow != r.Attempted || r.Latency.Count() != r.Attempted || r.OverThreshold < r.Slow {
				t.Fatalf("%s minute %d: inconsistent rollup %+v", s.Name, m, r)
			}
			again, _ := Rollup(s, start.Add(time.Duration(m)*time.Minute), 1)
			if again.Attempted != r.Attempted || !again.Latency.Equal(&r.Latency) {
				t.Fatalf("%s minute %d: the same minute must get the same traffic", s.Name, m)
			}
			attempted += r.Attempted
			failed += r.Attempted - r.Good
			if m == 12*60 {
				modes = r.Latency.Modes()
			}
		}
		if attempted == 0 || failed == 0 || failed*20 > attempted {
			t.Errorf("%s: %d failed of %d in a day; want some, but not a broken service", s.Name, failed, attempted)
		}
		if modes != 2 {
			t.Errorf("%s: %d latency modes at noon, want 2 (cache hits and misses)", s.Name, modes)
		}
	}
	if _, ok := Rollup(&slo.SLO{Name: "not-a-demo"}, start, 1); ok {
		t.Fatal("an SLO the demo does not know got traffic")
	}
}

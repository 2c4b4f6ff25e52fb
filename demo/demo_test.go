package demo

import (
	"slices"
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
		codes := map[int]uint64{}
		var errs uint64
		for m := range 24 * 60 {
			r, ok := Rollup(s, start.Add(time.Duration(m)*time.Minute), 1)
			if !ok {
				t.Fatalf("%s is not a demo SLO", s.Name)
			}
			if r.Good+r.Errors+r.Slow != r.Attempted || r.Latency.Count() != r.Attempted || r.OverThreshold < r.Slow {
				t.Fatalf("%s minute %d: inconsistent rollup %+v", s.Name, m, r)
			}
			// The statuses hold every request: judging them again under
			// the SLO's own SLI gives the rollup's counts, exactly with
			// the stored latency verdicts, and within the threshold bin's
			// requests from the histograms.
			judged := r
			judged.Statuses = slices.Clone(r.Statuses)
			if err := s.SLI.RejudgeStatus(&judged); err != nil {
				t.Fatalf("%s minute %d: %v", s.Name, m, err)
			}
			if judged.Good != r.Good || judged.Errors != r.Errors || judged.Slow != r.Slow || judged.OverThreshold != r.OverThreshold {
				t.Fatalf("%s minute %d: re-judged %d/%d/%d/%d, made up %d/%d/%d/%d", s.Name, m,
					judged.Good, judged.Errors, judged.Slow, judged.OverThreshold, r.Good, r.Errors, r.Slow, r.OverThreshold)
			}
			rj, err := s.SLI.Rejudge(&judged)
			if err != nil {
				t.Fatalf("%s minute %d: %v", s.Name, m, err)
			}
			if judged.Errors != r.Errors || judged.Good < r.Good || judged.Good-r.Good > rj.Ambiguous || judged.Good+judged.Slow != r.Good+r.Slow {
				t.Fatalf("%s minute %d: re-judged from histograms %d good, %d slow, made up %d and %d (%d in the threshold's bin)",
					s.Name, m, judged.Good, judged.Slow, r.Good, r.Slow, rj.Ambiguous)
			}
			for _, st := range r.Statuses {
				codes[st.Code] += st.Count
			}
			again, _ := Rollup(s, start.Add(time.Duration(m)*time.Minute), 1)
			if again.Attempted != r.Attempted || !again.Latency.Equal(&r.Latency) {
				t.Fatalf("%s minute %d: the same minute must get the same traffic", s.Name, m)
			}
			attempted += r.Attempted
			errs += r.Errors
			failed += r.Attempted - r.Good
			if m == 12*60 {
				modes = r.Latency.Modes()
			}
		}
		if attempted == 0 || failed == 0 || failed*20 > attempted {
			t.Errorf("%s: %d failed of %d in a day; want some, but not a broken service", s.Name, failed, attempted)
		}
		if codes[200] == 0 || codes[404] == 0 || codes[500]+codes[502]+codes[503] != errs {
			t.Errorf("%s: status counts %v of %d failed", s.Name, codes, failed)
		}
		if modes != 2 {
			t.Errorf("%s: %d latency modes at noon, want 2 (cache hits and misses)", s.Name, modes)
		}
	}
	if _, ok := Rollup(&slo.SLO{Name: "not-a-demo"}, start, 1); ok {
		t.Fatal("an SLO the demo does not know got traffic")
	}
}

package chaos

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

func TestParseTheExample(t *testing.T) {
	defs, err := LoadExperiments("../examples/experiment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(defs) != 1 {
		t.Fatalf("%d experiments, want 1", len(defs))
	}
	x := defs[0]
	f := x.Faults[0]
	switch {
	case x.Name != "checkout-slow-payments" || x.SLO != "checkout-availability" || x.Proxy != "checkout":
		t.Errorf("names %+v", x)
	case x.Cohort.Key.Header != "X-User-Id" || x.Cohort.Share != 0.01:
		t.Errorf("cohort %+v", x.Cohort)
	case f.Name != "slow-payments" || f.Delay.Fixed != 300*time.Millisecond || f.MaxActive != 50 || f.Percentage != 100 ||
		f.Match.Routes[0] != "/api/pay" || f.Match.Methods[0] != "POST":
		t.Errorf("fault %+v", f)
	case x.Plan.MinEffect != 0.01 || x.Plan.Alpha != 0.05 || x.Plan.Power != 0.8 || x.MaxDuration != 2*time.Hour:
		t.Errorf("plan %+v, max %s", x.Plan, x.MaxDuration)
	case x.Abort.ExperimentBadShare != 0.2 || x.Abort.BudgetRemaining != 0.25:
		t.Errorf("abort %+v", x.Abort)
	case x.Schedule == nil || x.Schedule.Every != 7*24*time.Hour || x.Schedule.Zone.String() != "Europe/Berlin" || len(x.Schedule.Days) != 3:
		t.Errorf("schedule %+v", x.Schedule)
	}
}

func TestExperimentFilesRefuseWhatCannotRunSafely(t *testing.T) {
	example, err := os.ReadFile("../examples/experiment.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"Cohorts over 50 % are refused.", "share: 1%", "share: 60%", "cohort.share: \"60%\" is out of range; want above 0 % and at most 50 %"},
		{"A share without its % sign is not guessed.", "share: 1%", "share: 0.01", "has no % sign"},
		{"A fault without a limit on the requests inside it is refused.", "    maxActive: 50\n", "", "faults[0].maxActive: missing"},
		{"A schedule with no SLO is refused.", "slo: checkout-availability\n", "", "a scheduled experiment runs unattended and must name the SLO"},
		{"A fault that does nothing is refused.", "    delay: {fixed: 300ms}\n", "", "it does nothing"},
		{"An unknown field is named, with the one meant.", "maxDuration: 2h", "maxDuraton: 2h", "maxDuraton: unknown field; did you mean maxDuration?"},
		{"Two keys are refused.", "key: {header: X-User-Id}", "key: {header: X-User-Id, cookie: uid}", "cohort.key: name exactly one of header, cookie or client"},
		{"A bad status is refused.", "delay: {fixed: 300ms}", "abort: {status: 99}", "faults[0].abort.status"},
		{"A zone that does not exist is refused.", "Europe/Berlin", "Europe/Narnia", "schedule.zone"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := strings.Replace(string(example), tc.from, tc.to, 1)
			if data == string(example) {
				t.Fatalf("%q is not in the example", tc.from)
			}
			_, err := ParseExperiment("x.yaml", []byte(data))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "x.yaml:") {
				t.Errorf("err %v, want x.yaml:LINE:COL … %s", err, tc.want)
			}
		})
	}
}

func FuzzParseExperiment(f *testing.F) {
	example, _ := os.ReadFile("../examples/experiment.yaml")
	f.Add(example)
	f.Add([]byte("name: a\nfaults: [{}]\n"))
	f.Add([]byte("cohort: {key: {client: true}, share: 50%}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		x, err := ParseExperiment("f.yaml", data)
		if err == nil && (x.Cohort.Share <= 0 || x.Cohort.Share > 0.5 || len(x.Faults) == 0) {
			t.Errorf("accepted %+v", x)
		}
	})
}

func TestCohortSpecsLoadAsSLOs(t *testing.T) {
	defs := []*Definition{testDefinition(t)}
	b, err := spec.LoadAllData(map[string][]byte{"checkout.yaml": []byte(`name: checkout-availability
service: checkout
sli: {good: {status: "<500", latency: "<=300ms"}}
objective: 99.5
window: {rolling: 7d}
`)})
	if err != nil {
		t.Fatal(err)
	}
	docs, err := CohortSpecs(defs, b.SLOs)
	if err != nil {
		t.Fatal(err)
	}
	docs["checkout.yaml"] = []byte("name: checkout-availability\nservice: checkout\nsli: {good: {status: \"<500\", latency: \"<=300ms\"}}\nobjective: 99.5\nwindow: {rolling: 7d}\n")
	all, err := spec.LoadAllData(docs)
	if err != nil {
		t.Fatalf("cohort specs do not load: %v", err)
	}
	names := map[string]*slo.SLO{}
	for _, s := range all.SLOs {
		names[s.Name] = s
	}
	for _, c := range []Cohort{Control, Experiment} {
		s := names[CohortSLO("checkout-slow-payments", c)]
		if s == nil {
			t.Fatalf("no %s SLO among %v", c, names)
		}
		if s.SLI.Latency == nil || s.Objective != names["checkout-availability"].Objective || s.Labels["chaos_cohort"] != c.String() {
			t.Errorf("%s SLO %+v", c, s)
		}
		for _, tier := range s.Alerting.Tiers {
			if !tier.Disabled {
				t.Errorf("%s SLO alerts on tier %s", c, tier.Name)
			}
		}
	}
	if _, err := CohortSpecs(defs, nil); err == nil || !strings.Contains(err.Error(), "no SLO is named") {
		t.Errorf("an experiment of a missing SLO: %v", err)
	}
	probed, err := spec.LoadAllData(map[string][]byte{"checkout.yaml": []byte("name: checkout-availability\nservice: checkout\nsli: {probes: checkout-home}\nobjective: 99.5\nwindow: {rolling: 7d}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CohortSpecs(defs, probed.SLOs); err == nil || !strings.Contains(err.Error(), "reads its SLI from metrics, traces or probes") {
		t.Errorf("an experiment of an SLO fed by a probe: %v", err)
	}
}

func TestScheduleDue(t *testing.T) {
	berlin, _ := time.LoadLocation("Europe/Berlin")
	weekly := &Schedule{Every: 7 * 24 * time.Hour, At: "10:00", Zone: berlin, Days: []time.Weekday{time.Tuesday, time.Wednesday}}
	daily := &Schedule{Every: 24 * time.Hour, At: "10:00", Zone: berlin}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, berlin)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name      string
		s         *Schedule
		last, now string
		want      bool
	}{
		{"Never run, on a day and past the time: due.", weekly, "", "2026-12-08 10:01", true},
		{"Before the time of day: not yet.", weekly, "", "2026-12-08 09:59", false},
		{"Not one of its days: not due.", weekly, "", "2026-12-07 11:00", false},
		{"Ran this morning: not again.", weekly, "2026-12-08 10:00", "2026-12-08 15:00", false},
		{"Ran last Tuesday: due this Tuesday, not Wednesday after.", weekly, "2026-12-01 10:00", "2026-12-08 10:00", true},
		{"Ran yesterday (Tuesday): a week has not passed on Wednesday.", weekly, "2026-12-08 10:00", "2026-12-09 10:30", false},
		{"Daily, across the change of clocks, keeps 10:00.", daily, "2026-10-24 10:00", "2026-10-25 10:00", true},
		{"Daily, a day that ran late still runs the next morning.", daily, "2026-12-07 10:40", "2026-12-08 10:00", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var last time.Time
			if tc.last != "" {
				last = at(tc.last)
			}
			if got := tc.s.Due(last, at(tc.now)); got != tc.want {
				t.Errorf("Due(%s, %s) = %v, want %v", tc.last, tc.now, got, tc.want)
			}
		})
	}
}

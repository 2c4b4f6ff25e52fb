package catalog_test

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// sloOf loads one SLO through the spec loader, as nines deps check does.
// latency is a threshold such as "<20ms", or "" for none.
func sloOf(t *testing.T, name, service, objective, latency string) *slo.SLO {
	t.Helper()
	good := `status: "<500"`
	if latency != "" {
		good += "\n    latency: \"" + latency + "\""
	}
	doc := fmt.Sprintf("name: %s\nservice: %s\nsli:\n  good:\n    %s\nobjective: %s\nwindow:\n  rolling: 30d\n", name, service, good, objective)
	slos, _, err := spec.Load(name+".yaml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return slos[0]
}

func load(t *testing.T, yaml string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Load("services.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	return c
}

func checks(r *catalog.Report, which catalog.Check) []catalog.Finding {
	var out []catalog.Finding
	for _, f := range r.Findings {
		if f.Check == which {
			out = append(out, f)
		}
	}
	return out
}

// The availability ceiling (FACTS: a service cannot promise more than the
// lowest of its direct hard dependencies unless it adds a way around them).
func TestCeiling(t *testing.T) {
	const deps = `
services:
  - name: checkout
    dependencies:
      - service: payments
        %s
      - service: inventory
        %s
  - name: payments
  - name: inventory
`
	cases := []struct {
		name                string
		payments, inventory string    // extra dependency fields
		checkout, pay, inv  string    // objectives
		want                []float64 // flagged: ceiling percent
	}{
		{name: "A service promising more than its one hard dependency is flagged.",
			payments: "strength: hard", inventory: "strength: soft",
			checkout: "99.99", pay: "99.9", inv: "99", want: []float64{99.9}},
		{name: "A service promising exactly what its hard dependency promises is not flagged.",
			payments: "strength: hard", inventory: "call: async",
			checkout: "99.9", pay: "99.9", inv: "90"},
		{name: "Serial hard dependencies multiply: 99.99 % × 99.95 % = 99.940005 %, below 99.95 %.",
			payments: "call: sync", inventory: "strength: hard",
			checkout: "99.95", pay: "99.99", inv: "99.95", want: []float64{99.940005}},
		{name: "The same product allows 99.94 %.",
			payments: "call: sync", inventory: "strength: hard",
			checkout: "99.94", pay: "99.99", inv: "99.95"},
		{name: "A dependency mitigated with a reason does not cap the service.",
			payments: "mitigated: {by: fallback, reason: card payments queue and settle later}", inventory: "strength: soft",
			checkout: "99.99", pay: "99.9", inv: "99"},
		{name: "Soft and asynchronous dependencies do not cap the service.",
			payments: "strength: soft", inventory: "call: async",
			checkout: "99.999", pay: "99", inv: "95"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := load(t, fmt.Sprintf(deps, tc.payments, tc.inventory))
			r := catalog.Run(c, catalog.Input{SLOs: []*slo.SLO{
				sloOf(t, "checkout-ok", "checkout", tc.checkout, ""),
				sloOf(t, "payments-ok", "payments", tc.pay, ""),
				sloOf(t, "inventory-ok", "inventory", tc.inv, ""),
			}})
			got := checks(r, catalog.CheckCeiling)
			if len(got) != len(tc.want) {
				t.Fatalf("findings %+v, want ceilings %v", got, tc.want)
			}
			for i, f := range got {
				if math.Abs(f.Ceiling-tc.want[i]) > 1e-9 || f.SLO != "checkout-ok" {
					t.Errorf("finding %+v, want ceiling %v on checkout-ok", f, tc.want[i])
				}
			}
		})
	}
}

func TestUnjudgedHardDependency(t *testing.T) {
	c := load(t, "services:\n  - name: a\n    dependencies: [{service: b}]\n  - name: b\n")
	r := catalog.Run(c, catalog.Input{SLOs: []*slo.SLO{sloOf(t, "a-ok", "a", "99.9", "")}})
	if got := checks(r, catalog.CheckUnjudged); len(got) != 1 || !slices.Equal(got[0].Path, []string{"a", "b"}) {
		t.Fatalf("findings %+v, want one unjudged a → b", r.Findings)
	}
}

// The latency budget (FACTS: a 50 ms budget with 25 ms of own work leaves
// 25 ms for dependencies; a dependency promising < 20 ms fits).
func TestLatencyBudget(t *testing.T) {
	const cat = `
services:
  - name: frontend
    ownWork: 25ms
    dependencies:
      - service: backend
        latency: %s
  - name: backend
`
	cases := []struct {
		name, backend, budget string
		want                  []catalog.Check
	}{
		{"A dependency promising under 20 ms fits a 50 ms budget with 25 ms of own work.", "<20ms", "25ms", nil},
		{"A dependency promising 30 ms does not fit.", "<30ms", "30ms", []catalog.Check{catalog.CheckLatency}},
		{"A dependency promising more than the budget it is given is flagged even when the sum fits.", "<20ms", "15ms", []catalog.Check{catalog.CheckOverBudget}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := load(t, fmt.Sprintf(cat, tc.budget))
			r := catalog.Run(c, catalog.Input{SLOs: []*slo.SLO{
				sloOf(t, "frontend-fast", "frontend", "99", "<50ms"),
				sloOf(t, "backend-fast", "backend", "99", tc.backend),
			}})
			var got []catalog.Check
			for _, f := range r.Findings {
				got = append(got, f.Check)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("findings %+v, want checks %v", r.Findings, tc.want)
			}
		})
	}
}

// A service with synchronous dependencies but no ownWork cannot be
// budgeted; one without dependencies needs no budget.
func TestLatencyWithoutOwnWorkIsANote(t *testing.T) {
	c := load(t, "services:\n  - name: a\n    dependencies: [{service: b, strength: soft, latency: 5ms}]\n  - name: b\n  - name: c\n")
	r := catalog.Run(c, catalog.Input{SLOs: []*slo.SLO{sloOf(t, "a-fast", "a", "99", "<50ms"), sloOf(t, "c-fast", "c", "99", "<50ms")}})
	if len(r.Findings) != 0 || len(r.Notes) != 1 || !strings.Contains(r.Notes[0], "no ownWork declared (a)") {
		t.Fatalf("findings %+v notes %q, want one note about ownWork", r.Findings, r.Notes)
	}
}

// The bottleneck (FACTS: peak 1,000 rps; receiver 1,300, transformer
// 1,250, distributor 1,100 → the distributor).
func TestBottleneck(t *testing.T) {
	c := load(t, `
services:
  - name: receiver
    capacity: {forecastPeakRPS: 1000, testedRPS: 1300}
    dependencies: [{service: transformer}]
  - name: transformer
    capacity: {forecastPeakRPS: 1000, testedRPS: 1250}
    dependencies: [{service: distributor}]
  - name: distributor
    capacity: {forecastPeakRPS: 1000, testedRPS: 1100}
  - name: idle
`)
	r := catalog.Run(c, catalog.Input{})
	if r.Bottleneck == nil || r.Bottleneck.Service != "distributor" || math.Abs(r.Bottleneck.Headroom-0.1) > 1e-12 {
		t.Fatalf("bottleneck %+v, want distributor with 10 %% headroom", r.Bottleneck)
	}
	for _, s := range []string{"receiver", "transformer", "distributor"} {
		if b, ok := r.ChainBottleneck(s); !ok || b.Service != "distributor" {
			t.Errorf("chain bottleneck of %s is %+v, want distributor", s, b)
		}
	}
	if _, ok := r.ChainBottleneck("idle"); ok {
		t.Error("a service with no capacity anywhere below it has a bottleneck")
	}
	if len(r.Findings) != 0 {
		t.Errorf("findings %+v, want none: every peak fits", r.Findings)
	}
}

// Redundancy (FACTS: 6 hosts of capacity that must survive the loss of
// one of 3 data centres need 9 hosts, 3 per DC).
func TestZoneLoss(t *testing.T) {
	if got := catalog.ZoneLossHosts(6, 3); got != 9 {
		t.Fatalf("ZoneLossHosts(6, 3) = %d, want 9", got)
	}
	f := func(need, zones, want int) {
		t.Helper()
		if got := catalog.ZoneLossHosts(need, zones); got != want {
			t.Errorf("ZoneLossHosts(%d, %d) = %d, want %d", need, zones, got, want)
		}
	}
	f(6, 2, 12)
	f(7, 3, 12)
	f(1, 3, 3)
	f(6, 1, 0)
	if got := catalog.HostsForPeak(600, 900, 9); got != 6 {
		t.Errorf("HostsForPeak(600, 900, 9) = %d, want 6", got)
	}
	cases := []struct {
		name     string
		capacity string
		want     int // hosts needed in the finding, 0 for none
	}{
		{"Six hosts' worth of peak over 3 zones is carried by 9 hosts.", "{forecastPeakRPS: 600, testedRPS: 900, hosts: 9, zones: 3}", 0},
		{"Six hosts that carry the peak exactly are 3 short of surviving a zone.", "{forecastPeakRPS: 600, testedRPS: 600, hosts: 6, zones: 3}", 9},
		{"One zone never survives its own loss.", "{forecastPeakRPS: 100, testedRPS: 900, hosts: 9, zones: 1}", 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := catalog.Run(load(t, "services:\n  - name: api\n    capacity: "+tc.capacity+"\n"), catalog.Input{})
			got := checks(r, catalog.CheckZoneLoss)
			switch {
			case tc.want == 0 && len(got) != 0:
				t.Fatalf("findings %+v, want none", got)
			case tc.want != 0 && (len(got) != 1 || got[0].HostsNeeded != tc.want):
				t.Fatalf("findings %+v, want hosts needed %d", got, tc.want)
			}
		})
	}
}

func TestCapacityBelowPeak(t *testing.T) {
	r := catalog.Run(load(t, "services:\n  - name: api\n    capacity: {forecastPeakRPS: 1000, testedRPS: 900}\n"), catalog.Input{})
	if got := checks(r, catalog.CheckCapacity); len(got) != 1 || r.Bottleneck.Headroom >= 0 {
		t.Fatalf("findings %+v bottleneck %+v, want one capacity finding and negative headroom", r.Findings, r.Bottleneck)
	}
}

func TestFindCycles(t *testing.T) {
	e := func(pairs ...string) []catalog.Edge {
		var out []catalog.Edge
		for _, p := range pairs {
			f, to, _ := strings.Cut(p, ">")
			out = append(out, catalog.Edge{From: f, To: to})
		}
		return out
	}
	cases := []struct {
		name  string
		edges []catalog.Edge
		want  [][]string
	}{
		{"A chain has no cycle.", e("a>b", "b>c"), nil},
		{"A loop of two is one cycle, whichever end it is entered from.", e("b>a", "a>b"), [][]string{{"a", "b", "a"}}},
		{"A service calling itself is a cycle.", e("a>a", "a>b"), [][]string{{"a", "a"}}},
		{"Two loops through one service are two cycles.", e("a>b", "b>a", "a>c", "c>a", "c>d"),
			[][]string{{"a", "b", "a"}, {"a", "c", "a"}}},
		{"A loop of three and its chord are two cycles.", e("a>b", "b>c", "c>a", "a>c"),
			[][]string{{"a", "b", "c", "a"}, {"a", "c", "a"}}},
		{"Repeated edges give one cycle.", e("a>b", "a>b", "b>a"), [][]string{{"a", "b", "a"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := catalog.FindCycles(tc.edges, catalog.CycleLimits{})
			if !slices.EqualFunc(got.Paths, tc.want, slices.Equal) || len(got.Tangles) != 0 {
				t.Fatalf("cycles %v tangles %v, want %v", got.Paths, got.Tangles, tc.want)
			}
		})
	}
	t.Run("A tangle with more cycles than the limit is reported as a tangle.", func(t *testing.T) {
		var edges []catalog.Edge
		for i := range 8 {
			for j := range 8 {
				if i != j {
					edges = append(edges, catalog.Edge{From: fmt.Sprint("s", i), To: fmt.Sprint("s", j)})
				}
			}
		}
		got := catalog.FindCycles(edges, catalog.CycleLimits{MaxCycles: 10, MaxSteps: 1e6})
		if len(got.Paths) != 10 || len(got.Tangles) != 1 || len(got.Tangles[0]) != 8 {
			t.Fatalf("%d cycles, tangles %v; want 10 and one tangle of 8", len(got.Paths), got.Tangles)
		}
	})
}

func TestEdgeFindings(t *testing.T) {
	c := load(t, `
services:
  - name: web
    dependencies: [{service: api}, {service: search}]
  - name: api
  - name: search
  - name: batch
    dependencies: [{service: api}]
`)
	got := catalog.EdgeFindings(c, []catalog.Edge{
		{From: "web", To: "api", Calls: 100, Errors: 1},
		{From: "api", To: "db", Calls: 5},
		{From: "api", To: "db", Calls: 5},
		{From: "web", To: "search"}, // no calls: not an observation
	})
	var sum []string
	for _, f := range got {
		sum = append(sum, string(f.Check)+" "+strings.Join(f.Path, ">"))
	}
	want := []string{"undeclared api>db", "unobserved web>search"}
	if !slices.Equal(sum, want) {
		t.Fatalf("findings %v, want %v (batch sends no traces and is not judged)", sum, want)
	}
}

func TestNewChecksLikeTheLoader(t *testing.T) {
	_, err := catalog.New([]*catalog.Service{
		{Name: "web", OnCall: "web-primary", Dependencies: []catalog.Dependency{{Service: "api"}}},
		{Name: "web", OnCall: "nobody"},
	}, "web-primary")
	want := []string{`dependencies[0].service: "api" is not a service in the catalog`, `name: "web" is already the name`, `services[1].oncall: rotation "nobody" is not declared`}
	for _, w := range want {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("err %v, want it to say %q", err, w)
		}
	}
	c, err := catalog.New([]*catalog.Service{{Name: "web", OnCall: "web-primary"}, {Name: "api"}}, "web-primary")
	if err != nil || c.Service("api") == nil || c.Services[0].Name != "api" {
		t.Fatalf("catalog %+v err %v", c, err)
	}
}

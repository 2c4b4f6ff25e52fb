package thirdparty

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/nines-sre/nines/slo"
)

func TestParseExample(t *testing.T) {
	cfg, err := LoadFile("testdata/thirdparties.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Vendors) != 2 {
		t.Fatalf("%d vendors; want 2", len(cfg.Vendors))
	}
	v := cfg.Vendor("edgecdn")
	if v == nil {
		t.Fatal("no vendor edgecdn")
	}
	if got := v.DataPlane.For("eu-west"); !reflect.DeepEqual(got, []string{"edgecdn-fetch", "edgecdn-fetch-eu"}) {
		t.Errorf("data plane in eu-west = %v", got)
	}
	if got := v.DataPlane.For("us-east"); !reflect.DeepEqual(got, []string{"edgecdn-fetch", "edgecdn-fetch-us"}) {
		t.Errorf("data plane in us-east = %v", got)
	}
	want := []Condition{{SLO: "edgecdn-fetch-latency"}, {SLO: "edgecdn-requests", Region: "eu-west", ErrorShareAbove: 0.02}}
	if !reflect.DeepEqual(v.Degraded, want) {
		t.Errorf("degraded = %+v; want %+v", v.Degraded, want)
	}
	s := v.SLA
	if s == nil || s.Objective != (slo.Ratio{Num: 999, Den: 1000}) || s.SLO != "edgecdn-fetch" || len(s.Credits) != 3 {
		t.Fatalf("sla = %+v", s)
	}
	if s.Credits[0].Percent != 10 || s.Credits[2].Percent != 100 || s.Credits[2].Below.Percent() != 95 {
		t.Errorf("credits = %+v", s.Credits)
	}
	if got := cfg.SLOs(); len(got) != 8 || got[0] != "edgecdn-api" {
		t.Errorf("SLOs() = %v", got)
	}
	if cfg.Vendor("paygate").Stale != defaultStale {
		t.Errorf("paygate's stale bound = %s; want the default %s", cfg.Vendor("paygate").Stale, defaultStale)
	}
}

func TestCheckSLOs(t *testing.T) {
	cfg, err := LoadFile("testdata/thirdparties.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.CheckSLOs(func(name string) bool { return name != "edgecdn-api" })
	want := "testdata/thirdparties.yaml:12:17: thirdParties[0].configAPI[0]: no SLO \"edgecdn-api\" is loaded"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("CheckSLOs = %v; want %s…", err, want)
	}
	if err := cfg.CheckSLOs(func(string) bool { return true }); err != nil {
		t.Errorf("CheckSLOs with every SLO known = %v", err)
	}
}

func TestParseErrors(t *testing.T) {
	cases := []struct {
		name, file, want string
	}{
		{"A file without thirdParties is refused.", "vendors: []\n",
			"f.yaml:1:1: vendors: unknown field; want one of thirdParties"},
		{"A vendor without a data plane is refused.", "thirdParties:\n  - vendor: x\n",
			"f.yaml:2:5: thirdParties[0].dataPlane: missing"},
		{"A vendor name that is no name is refused.", "thirdParties:\n  - vendor: a b\n    dataPlane: [s]\n",
			"f.yaml:2:13: thirdParties[0].vendor: \"a b\" is not a name"},
		{"A vendor given twice is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n  - vendor: x\n    dataPlane: [s]\n",
			"f.yaml:4:13: thirdParties[1].vendor: vendor x is given twice (first at line 2)"},
		{"A region of a component not among the vendor's is refused.", "thirdParties:\n  - vendor: x\n    regions: [eu]\n    dataPlane:\n      regions:\n        us: [s]\n",
			"f.yaml:6:9: thirdParties[0].dataPlane.regions.us: region \"us\" is not among the vendor's regions (eu)"},
		{"A data plane naming no SLO is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: {slos: []}\n",
			"f.yaml:3:16: thirdParties[0].dataPlane: names no SLO"},
		{"A region without a data plane SLO is refused.", "thirdParties:\n  - vendor: x\n    regions: [eu, us]\n    dataPlane:\n      regions: {eu: [s]}\n",
			"f.yaml:5:7: thirdParties[0].dataPlane: region us has no SLO"},
		{"A misspelt field is refused with the nearest.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    configApi: [a]\n",
			"f.yaml:4:5: thirdParties[0].configApi: unknown field; did you mean configAPI?"},
		{"An error share without a percent sign is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    degraded:\n      - slo: s\n        errorShareAbove: 0.02\n",
			"f.yaml:6:26: thirdParties[0].degraded[0].errorShareAbove: \"0.02\" has no % sign"},
		{"An objective of 100 % is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    sla: {objective: 100, slo: s}\n",
			"f.yaml:4:22: thirdParties[0].sla.objective: percentage \"100\": must be below 100"},
		{"An objective written as a ratio is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    sla: {objective: 0.999, slo: s}\n",
			"f.yaml:4:22: thirdParties[0].sla.objective: \"0.999\" looks like a ratio"},
		{"A credit tier above the objective is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    sla:\n      objective: 99\n      slo: s\n      credits:\n        - {below: 99.5, credit: 10%}\n",
			"f.yaml:8:19: thirdParties[0].sla.credits[0].below: 99.5 % is above the objective 99 %"},
		{"A worse month earning less credit is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    sla:\n      objective: 99.9\n      slo: s\n      credits:\n        - {below: 99.9, credit: 25%}\n        - {below: 99, credit: 10%}\n",
			"f.yaml:8:9: thirdParties[0].sla.credits: below 99 % credits 10 %, less than the 25 % below 99.9 %"},
		{"A credit tier given twice is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    sla:\n      objective: 99.9\n      slo: s\n      credits:\n        - {below: 99.9, credit: 10%}\n        - {below: '99.90', credit: 10%}\n",
			"f.yaml:9:11: thirdParties[0].sla.credits[1]: a tier below 99.9 % is given twice"},
		{"An unknown time zone is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    sla: {objective: 99, slo: s, timeZone: Mars/Olympus}\n",
			"f.yaml:4:44: thirdParties[0].sla.timeZone: \"Mars/Olympus\" is not a time zone"},
		{"A stale bound beyond a day is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    stale: 2d\n",
			"f.yaml:4:12: thirdParties[0].stale: \"2d\" is not a duration from 1s to 1d"},
		{"An SLO named twice in one list is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s, s]\n",
			"f.yaml:3:20: thirdParties[0].dataPlane[1]: SLO s is given twice"},
		{"A degraded condition in an unknown region is refused.", "thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    degraded:\n      - {slo: s, region: eu}\n",
			"f.yaml:5:26: thirdParties[0].degraded[0].region: region eu is not among the vendor's regions (none given)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := Parse("f.yaml", []byte(c.file))
			if err == nil {
				t.Fatalf("Parse took it: %+v", cfg)
			}
			if cfg != nil {
				t.Error("Parse returned a config beside its error")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("Parse error:\n%v\nwant it to hold:\n%s", err, c.want)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse("f.yaml", []byte("thirdParties:\n  - vendor: x\n    dataPlane: [s]\n    stale: 0s\n  - vendor: y\n"))
	if err == nil || strings.Count(err.Error(), "\n") != 1 {
		t.Errorf("Parse = %v; want two problems, one a line", err)
	}
}

func FuzzParse(f *testing.F) {
	seed, err := os.ReadFile("testdata/thirdparties.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte("thirdParties:\n  - vendor: x\n    dataPlane: {slos: [a], regions: {eu: [b]}}\n    regions: [eu]\n"))
	f.Add([]byte("thirdParties: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v: want exactly one", cfg != nil, err)
		}
		if cfg == nil {
			return
		}
		for _, v := range cfg.Vendors {
			if v.Name == "" || len(v.DataPlane.SLOs)+len(v.DataPlane.Regions) == 0 || v.Stale <= 0 {
				t.Fatalf("vendor %+v taken incomplete", v)
			}
			if v.SLA != nil {
				for i := 1; i < len(v.SLA.Credits); i++ {
					if less(v.SLA.Credits[i-1].Below, v.SLA.Credits[i].Below) || v.SLA.Credits[i].Percent < v.SLA.Credits[i-1].Percent {
						t.Fatalf("credit tiers out of order: %+v", v.SLA.Credits)
					}
				}
			}
		}
	})
}

// TestDocExample parses the example of docs/thirdparties.md, so that the
// file a reader copies is one nines takes.
func TestDocExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/thirdparties.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```yaml\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("docs/thirdparties.md has no yaml example")
	}
	cfg, err := Parse("docs/thirdparties.md", []byte(block))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Vendors) != 2 || cfg.Vendor("edgecdn").SLA == nil || len(cfg.Vendor("edgecdn").SLA.Credits) != 3 {
		t.Errorf("the example reads as %+v", cfg.Vendors)
	}
}

func TestParseChecksEachVendorAfterAProblem(t *testing.T) {
	// The first vendor's problem must not hide the second's.
	_, err := Parse("f.yaml", []byte("thirdParties:\n  - vendor: x\n    dataPlane: [a b]\n  - vendor: y\n    dataPlane: []\n"))
	if err == nil || !strings.Contains(err.Error(), "f.yaml:5:16: thirdParties[1].dataPlane: names no SLO") || strings.Contains(err.Error(), "thirdParties[0].dataPlane: names no SLO") {
		t.Errorf("Parse = %v; want the second vendor's empty data plane, and only the first's bad name", err)
	}
}

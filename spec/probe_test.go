package spec

import (
	"strings"
	"testing"
)

// TestProbeSourceRoundTrips reads an SLI fed by a probe's consensus,
// writes it back as a native spec that reads the same, and refuses to
// write it as OpenSLO.
func TestProbeSourceRoundTrips(t *testing.T) {
	for _, doc := range []string{
		"name: home\nservice: web\nsli:\n  probes: web-home\nobjective: 99.9\nwindow: {rolling: 28d}\n",
	} {
		slos, _, err := Load("probe.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		p := slos[0].SLI.Probe
		if p == nil || p.Name != "web-home" {
			t.Fatalf("SLI %+v: want the probe web-home", slos[0].SLI)
		}
		out, err := Convert(Native, slos...)
		if err != nil {
			t.Fatal(err)
		}
		again, _, err := Load("again.yaml", out)
		if err != nil {
			t.Fatalf("%v in\n%s", err, out)
		}
		if got := again[0].SLI; got.Probe == nil || *got.Probe != *p {
			t.Errorf("written back as\n%s\nread as %+v", out, got)
		}
		if _, err := Convert(OpenSLO, slos...); err == nil || !strings.Contains(err.Error(), "no OpenSLO form") {
			t.Errorf("OpenSLO: %v, want a refusal that says there is no OpenSLO form", err)
		}
	}
}

// TestInlineProbe reads a probe defined in place: named after the SLO
// unless it names itself.
func TestInlineProbe(t *testing.T) {
	for doc, want := range map[string]string{
		"name: home\nservice: web\nsli:\n  probes: {locations: [a], http: {url: \"http://x/\"}}\nobjective: 99\nwindow: {rolling: 1h}\n":                 "home",
		"name: home\nservice: web\nsli:\n  probes: {name: web-home, locations: [a], http: {url: \"http://x/\"}}\nobjective: 99\nwindow: {rolling: 1h}\n": "web-home",
	} {
		slos, _, err := Load("probe.yaml", []byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		if p := slos[0].SLI.Probe; p == nil || p.Name != want || !p.Inline {
			t.Errorf("%q: probe %+v, want %s defined in place", doc, p, want)
		}
	}
}

// TestProbeSourceRefusals names the field of each mistake.
func TestProbeSourceRefusals(t *testing.T) {
	for _, c := range []struct{ name, sli, want string }{
		{"a good rule beside a probe", "  probes: web-home\n  good: {ok: true, latency: \"<=500ms\"}\n", `probe.yaml:5:3: sli.good: is beside probes`},
		{"a log beside a probe", "  probes: web-home\n  log: {format: combined}\n", `probe.yaml:5:3: sli.log: is beside probes`},
		{"a name that is not one", "  probes: \"web home\"\n", `probe.yaml:4:11: sli.probes: "web home" is not a probe name`},
		{"a list where a name or a definition goes", "  probes: [a, b]\n", `sli.probes:`},
		{"an inline probe whose name is not one", "  probes: {name: \"a b\", http: {url: x}}\n", `probe.yaml:4:18: sli.probes.name: "a b" is not a probe name`},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc := "name: home\nservice: web\nsli:\n" + c.sli + "objective: 99.9\nwindow: {rolling: 28d}\n"
			_, _, err := Load("probe.yaml", []byte(doc))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

package catalog_test

import (
	"errors"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/spec"
)

func TestLoadReadsEveryField(t *testing.T) {
	c := load(t, `
rotations:
  - name: payments-primary
    members: [ana, bo]   # read by the on-call package, not here
services:
  - name: checkout
    description: Takes the order and the money.
    owner: team-shop
    tier: 1
    oncall: payments-primary
    playbook: https://wiki.example.com/playbooks/checkout
    lifecycle: production
    ownWork: 25ms
    capacity: {forecastPeakRPS: 1000, testedRPS: 1100.5, hosts: 9, zones: 3}
    dependencies:
      - service: payments
        strength: hard
        call: sync
        slos: [payments-ok]
        latency: 20ms
        mitigated: {by: fallback, reason: orders queue while payments is down}
      - service: mail
        strength: soft
        call: async
  - name: payments
  - name: mail
`)
	s := c.Service("checkout")
	if s == nil || s.Owner != "team-shop" || s.Tier != 1 || s.OnCall != "payments-primary" || s.OwnWork.Milliseconds() != 25 ||
		s.Capacity.TestedRPS != 1100.5 || s.Capacity.Zones != 3 || s.Lifecycle != "production" || s.Pos.Line != 6 {
		t.Fatalf("checkout read as %+v", s)
	}
	d := s.Dependencies[0]
	if d.Service != "payments" || d.Strength != catalog.Hard || d.Call != catalog.Sync || d.SLOs[0] != "payments-ok" ||
		d.Latency.Milliseconds() != 20 || d.Mitigated.By != "fallback" {
		t.Fatalf("dependency read as %+v", d)
	}
	if m := s.Dependencies[1]; m.Strength != catalog.Soft || m.Call != catalog.Async {
		t.Fatalf("mail read as %+v", m)
	}
	if len(c.Rotations) != 1 || c.Rotations[0].Node.Line != 3 || !c.RotationDeclared("payments-primary") {
		t.Fatalf("rotations %+v", c.Rotations)
	}
	if got := c.Callers("payments"); len(got) != 1 || got[0] != "checkout" {
		t.Fatalf("callers of payments %v", got)
	}
}

// Bad catalogs are refused with every problem at file:line:column.
func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       []string
	}{
		{"An unknown service in a dependency names the place and the nearest name.",
			"services:\n  - name: checkout\n    dependencies:\n      - service: paymnts\n  - name: payments\n",
			[]string{`services.yaml:4:18: services[0].dependencies[0].service: "paymnts" is not a service in the catalog; did you mean "payments"?`}},
		{"A duplicate service names both places.",
			"services:\n  - name: a\n  - name: b\n  - name: a\n",
			[]string{`services.yaml:4:11: services[2].name: "a" is already the name of the service at services.yaml:2:11; service names must be unique`}},
		{"An unknown field is named with what is allowed.",
			"services:\n  - name: a\n    ownr: x\n",
			[]string{"services.yaml:3:5: services[0].ownr: unknown field; did you mean owner?"}},
		{"A field one level off says where it belongs.",
			"services:\n  - name: a\n    testedRPS: 5\n",
			[]string{"services.yaml:3:5: services[0].testedRPS: unknown field; it belongs under capacity"}},
		{"A bad duration is refused.",
			"services:\n  - name: a\n    ownWork: soon\n",
			[]string{`services.yaml:3:14: services[0].ownWork: "soon" is not a duration`}},
		{"A duration without a unit is refused.",
			"services:\n  - name: a\n    ownWork: 25\n",
			[]string{`services.yaml:3:14: services[0].ownWork: "25" is not a duration`}},
		{"An on-call rotation that is not declared is refused.",
			"rotations:\n  - name: web\nservices:\n  - name: a\n    oncall: wbe\n",
			[]string{`services.yaml:5:13: services[0].oncall: rotation "wbe" is not declared`}},
		{"A mitigation without a reason is refused.",
			"services:\n  - name: a\n    dependencies:\n      - {service: b, mitigated: {by: cache}}\n  - name: b\n",
			[]string{"services.yaml:4:33: services[0].dependencies[0].mitigated.reason: missing"}},
		{"A tier out of range is refused.",
			"services:\n  - name: a\n    tier: 9\n",
			[]string{"services.yaml:3:11: services[0].tier: \"9\" is out of range"}},
		{"A strength that is neither hard nor soft is refused.",
			"services:\n  - name: a\n    dependencies: [{service: b, strength: firm}]\n  - name: b\n",
			[]string{`services.yaml:3:43: services[0].dependencies[0].strength: "firm" is not a strength`}},
		{"A dependency listed twice is refused at the second.",
			"services:\n  - name: a\n    dependencies: [{service: b}, {service: b}]\n  - name: b\n",
			[]string{`services.yaml:3:44: services[0].dependencies[1].service: "b" is already a dependency of a at services.yaml:3:30`}},
		{"More zones than hosts is refused.",
			"services:\n  - name: a\n    capacity: {forecastPeakRPS: 1, testedRPS: 2, hosts: 2, zones: 3}\n",
			[]string{"services.yaml:3:67: services[0].capacity.zones: 3 zones cannot hold 2 hosts"}},
		{"A playbook that is not a URL is refused.",
			"services:\n  - name: a\n    playbook: wiki/a\n",
			[]string{`services.yaml:3:15: services[0].playbook: "wiki/a" is not an http or https URL`}},
		{"YAML that does not parse is an error at its line.",
			"services:\n  - name: a\n   - name: b\n",
			[]string{"services.yaml:2: not valid YAML"}},
		{"A file without services is refused.",
			"name: a\n",
			[]string{"services.yaml:1:1: name: unknown field; it belongs under services: - name:", "services.yaml:1:1: services: missing"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := catalog.Load("services.yaml", []byte(tc.yaml))
			if err == nil || c != nil {
				t.Fatalf("loaded %+v, want an error", c)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tc.want) {
				t.Fatalf("errors:\n%v\nwant %d", err, len(tc.want))
			}
			for i, w := range tc.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("error %q\nwant prefix %q", lines[i], w)
				}
			}
			var se *spec.Error
			if !errors.As(err, &se) {
				t.Errorf("error %T is not a *spec.Error", err)
			}
		})
	}
}

func TestLoadFilesAcrossFiles(t *testing.T) {
	fsys := fstest.MapFS{
		"a.yaml": {Data: []byte("services:\n  - name: web\n    oncall: web-primary\n    dependencies: [{service: api}]\n")},
		"b.yaml": {Data: []byte("rotations:\n  - name: web-primary\nservices:\n  - name: api\n  - name: web\n")},
	}
	_, err := catalog.LoadFiles(fsys, "a.yaml", "b.yaml")
	if err == nil || !strings.HasPrefix(err.Error(), `b.yaml:5:11: services[1].name: "web" is already the name of the service at a.yaml:2:11`) {
		t.Fatalf("err %v, want the duplicate across files", err)
	}
	fsys["b.yaml"] = &fstest.MapFile{Data: []byte("rotations:\n  - name: web-primary\nservices:\n  - name: api\n")}
	c, err := catalog.LoadFiles(fsys, "a.yaml", "b.yaml")
	if err != nil || len(c.Services) != 2 || c.Services[0].Name != "api" {
		t.Fatalf("catalog %+v err %v, want api and web resolved across files", c, err)
	}
}

func TestBackstage(t *testing.T) {
	data, err := os.ReadFile("../examples/catalog-info.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Load("catalog-info.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	s := c.Service("checkout")
	if s == nil || s.Owner != "team-shop" || s.Lifecycle != "production" || len(s.Dependencies) != 2 ||
		s.Dependencies[0].Service != "payments" || s.Dependencies[0].Strength != catalog.Hard {
		t.Fatalf("checkout read as %+v", s)
	}
	if c.Ignored != 2 || c.IgnoredRefs != 1 {
		t.Fatalf("ignored %d entities and %d refs, want 2 and 1", c.Ignored, c.IgnoredRefs)
	}
	_, err = catalog.Load("x.yaml", []byte("apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: a}\nspec:\n  owner: t\n  dependsOn: [component:default/nope]\n"))
	if err == nil || !strings.HasPrefix(err.Error(), `x.yaml:6:15: spec.dependsOn[0]: "nope" is not a service`) {
		t.Fatalf("err %v, want the unknown component at its place", err)
	}
}

func TestExampleCatalogLoads(t *testing.T) {
	c, err := catalog.LoadPath("../examples/services.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Services) < 5 {
		t.Fatalf("%d services", len(c.Services))
	}
}

func TestGoalIsAPercentage(t *testing.T) {
	for _, tc := range []struct {
		name, goal string
		want       float64
		err        string
	}{
		{"A percentage as objectives are written.", "99.95", 0.9995, ""},
		{"With its sign.", `"99.9%"`, 0.999, ""},
		{"A ratio is refused with the percentage to write.", "0.999", 0, "write 99.9"},
		{"Above 100 is refused.", "101", 0, "at most 100"},
		{"Text is refused.", "high", 0, "not a goal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := catalog.Load("services.yaml", []byte("services:\n  - name: a\n    goal: "+tc.goal+"\n    slos: [a-ok]\n"))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "services.yaml:3:") {
					t.Fatalf("err %v, want one at services.yaml:3 saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := c.Services[0]; math.Abs(s.Goal-tc.want) > 1e-12 || !slices.Equal(s.SLOs, []string{"a-ok"}) {
				t.Errorf("goal %v slos %v, want %v [a-ok]", s.Goal, s.SLOs, tc.want)
			}
		})
	}
}

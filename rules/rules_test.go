package rules

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestGeneratedRulesMatchGoldenAndPassPromtool(t *testing.T) {
	slos, _, err := spec.LoadFiles(nil, "testdata/slos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// search-latency's 100 ms threshold falls inside a native bucket
	// (TestSLOsTheRulesCannotFollowAreRefused).
	native := slices.DeleteFunc(slices.Clone(slos), func(s *slo.SLO) bool { return s.Name == "search-latency" })
	for _, c := range []struct {
		name string
		h    Histograms
		slos []*slo.SLO
	}{{"classic", Classic, slos}, {"native", Native, native}} {
		t.Run(c.name, func(t *testing.T) {
			out, err := Generate(c.slos, c.h)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, filepath.Join("testdata", c.name+".rules.golden"), out)
			// The docs/reference.md §3 factors of a 30-day SLO: 14.4, 6, 3 and 1.
			for _, th := range []string{"} > 14.4\n", "} > 6\n", "} > 3\n", "} > 1\n"} {
				if !strings.Contains(string(out), th) {
					t.Errorf("no threshold %q in the rules", th)
				}
			}
			promtool := lookPromtool(t)
			file := filepath.Join(t.TempDir(), "rules.yaml")
			if err := os.WriteFile(file, out, 0o644); err != nil {
				t.Fatal(err)
			}
			if msg, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
				t.Fatalf("promtool check rules: %v\n%s", err, msg)
			}
		})
	}
}

func TestSLOsTheRulesCannotFollowAreRefused(t *testing.T) {
	demoSLOs, _, err := spec.Load("demo.yaml", []byte(demo.Specs))
	if err != nil {
		t.Fatal(err)
	}
	withStatus, _, err := spec.LoadFiles(nil, "../spec/testdata/valid/metric-sources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	slos, _, err := spec.LoadFiles(nil, "testdata/slos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	odd := *slos[1]
	src := *odd.SLI.Source
	src.Unit = "min"
	odd.SLI.Source = &src
	for _, c := range []struct {
		name string
		slos []*slo.SLO
		h    Histograms
		want string
	}{
		{"An SLO fed by events has no series to read.", demoSLOs, Classic, "SLO checkout-availability: its SLI names no series"},
		{"A histogram source that judges status is not written yet.", withStatus, Classic, "statusLabel"},
		{"A native histogram is refused a threshold between bucket bounds, with the nearest that works.", slos, Native,
			`SLO search-latency: latency threshold <=100ms is not a power of two (in ms), so it falls inside a native histogram bucket, where nines and Prometheus estimate the requests under it differently; use a power-of-two threshold such as <=128ms, or a classic histogram with a bucket le="100"`},
		{"A histogram unit nines does not know is refused.", []*slo.SLO{&odd}, Classic, `histogram unit "min": want s, ms, us or ns`},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, err := Generate(c.slos, c.h)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q; rules:\n%s", err, c.want, out)
			}
		})
	}
}

// TestAnExplicitStartIsRecorded: an SLO whose spec sets since: starts its
// life there in the rules too, not at the first sample Prometheus saw.
func TestAnExplicitStartIsRecorded(t *testing.T) {
	slos, _, err := spec.LoadFiles(nil, "testdata/slos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	s := *slos[0]
	s.Since = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	out, err := Generate([]*slo.SLO{&s}, Classic)
	if err != nil {
		t.Fatal(err)
	}
	if want := "expr: vector(1793491200)"; !strings.Contains(string(out), want) {
		t.Fatalf("the rules do not record the start as %q:\n%.2000s", want, out)
	}
}

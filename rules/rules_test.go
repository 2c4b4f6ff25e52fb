package rules

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestGeneratedRulesMatchGoldenAndPassPromtool(t *testing.T) {
	slos, _, err := spec.LoadFiles(nil, "testdata/slos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		h    Histograms
	}{{"classic", Classic}, {"native", Native}} {
		t.Run(c.name, func(t *testing.T) {
			out, err := Generate(slos, c.h)
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", c.name+".rules.golden")
			if *update {
				os.WriteFile(golden, out, 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != string(want) {
				t.Fatalf("rules differ from %s (go test ./rules -update):\n%s", golden, out)
			}
			// The FACTS §3 thresholds for the 30-day 99.9 % SLO: 14.4, 6, 3
			// and 1 times a 0.001 budget.
			for _, th := range []string{"> 0.0144", "> 0.006", "> 0.003", "> 0.001\n"} {
				if !strings.Contains(string(out), th) {
					t.Errorf("no threshold %q in the rules", th)
				}
			}
			promtool, err := exec.LookPath("promtool")
			if err != nil {
				if os.Getenv("CI") == "true" {
					t.Fatal("promtool is missing; .ci/run installs the prometheus package that ships it")
				}
				t.Skip("promtool not installed (Debian package prometheus)")
			}
			file := filepath.Join(t.TempDir(), "rules.yaml")
			os.WriteFile(file, out, 0o644)
			if msg, err := exec.Command(promtool, "check", "rules", file).CombinedOutput(); err != nil {
				t.Fatalf("promtool check rules: %v\n%s", err, msg)
			}
		})
	}
}

func TestSLOsTheRulesCannotExpressAreNamed(t *testing.T) {
	slos, _, err := spec.Load("demo.yaml", []byte(demo.Specs))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Generate(slos, Classic)
	if err == nil || !strings.Contains(err.Error(), "SLO checkout-availability: its SLI names no series") {
		t.Fatalf("event-fed SLOs must be named: %v", err)
	}
	withStatus, _, err := spec.LoadFiles(nil, "../spec/testdata/valid/metric-sources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(withStatus, Classic); err == nil || !strings.Contains(err.Error(), "statusLabel") {
		t.Fatalf("a histogram source judging status must be refused clearly: %v", err)
	}
}

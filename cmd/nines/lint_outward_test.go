package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLintOutward checks the probes, third parties' and verifiers files
// with nines lint, alone and against specs, as nines serve would at
// start: each problem with FILE:LINE:COL, exit 1.
func TestLintOutward(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	probes := write("probes.yaml", wireProbes)
	badProbes := write("bad-probes.yaml", "probes:\n  - name: home\n    locations: [a, b]\n    consensus: {k: 3}\n    http: {url: \"ht tp://x\"}\n")
	vendors := write("thirdparties.yaml", "thirdParties:\n  - vendor: edgecdn\n    dataPlane: [home, web-home.a]\n    configAPI: [edgecdn-api]\n")
	verifiers := write("verifiers.yaml", "verifiers:\n  - name: backups\n    writesPerMinute: 10\n")
	specs := filepath.Join(dir, "slos")
	os.Mkdir(specs, 0o755)
	os.WriteFile(filepath.Join(specs, "home.yaml"), []byte(wireSpec), 0o644)
	for _, c := range []struct {
		name string
		args []string
		out  string
		fail bool
	}{
		{"a valid probes file with the specs that name its probes", []string{"--probes", probes, specs}, "the probes file's 2 probes and with 1 SLO: valid", false},
		{"a consensus k above the locations and a URL that is not one", []string{"--probes", badProbes}, "bad-probes.yaml:4:20: probes[0].consensus.k: 3 is more than the probe's 2 locations", true},
		{"a vendor naming an SLO nobody defines", []string{"--probes", probes, "--thirdparties", vendors, specs}, `thirdparties.yaml:4:17: thirdParties[0].configAPI[0]: no SLO "edgecdn-api" is loaded`, true},
		{"a verifier without a target", []string{"--verifiers", verifiers}, "verifiers.yaml:2:5: verifiers[0].target: missing", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, stderr, err := runNines(t, append([]string{"lint"}, c.args...)...)
			if (err != nil) != c.fail || !strings.Contains(out, c.out) {
				t.Fatalf("err %v, stdout:\n%s\nstderr:\n%s\nwant %q", err, out, stderr, c.out)
			}
		})
	}
}

// TestLintInlineProbes: nines lint checks a probe a spec defines in place,
// without --probes.
func TestLintInlineProbes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "home.yaml")
	os.WriteFile(path, []byte("name: home\nservice: web\nsli:\n  probes: {locations: [a], consensus: {k: 2}, http: {url: \"http://x/\"}}\nobjective: 99\nwindow: {rolling: 1d}\n"), 0o644)
	out, _, err := runNines(t, "lint", path)
	if err == nil || !strings.Contains(out, "home.yaml:4:43: sli.probes.consensus.k: 2 is more than the probe's 1 locations") {
		t.Errorf("err %v, stdout:\n%s", err, out)
	}
}

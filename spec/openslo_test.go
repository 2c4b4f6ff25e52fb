package spec_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// openSLOCases lists the cases of an OpenSLO testdata directory: every
// *.yaml file is loaded alone, and every subdirectory as one set with
// LoadAllDir, so that references across files are tested too.
func openSLOCases(t *testing.T, dir string) map[string]func() (*spec.Bundle, error) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("no cases in %s: %v", dir, err)
	}
	cases := map[string]func() (*spec.Bundle, error){}
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.IsDir():
			cases[name] = func() (*spec.Bundle, error) { return spec.LoadAllDir(os.DirFS(dir), name) }
		case strings.HasSuffix(name, ".yaml"):
			data := readFile(t, filepath.Join(dir, name))
			cases[strings.TrimSuffix(name, ".yaml")] = func() (*spec.Bundle, error) { return spec.LoadAll(name, data) }
		}
	}
	return cases
}

// Every case in testdata/openslo/valid loads without error, and maps to
// what its .golden file says: the SLOs, the alert policies and the
// warnings.
func TestOpenSLOSpecsMapAsTheirGoldenFilesSay(t *testing.T) {
	const dir = "testdata/openslo/valid"
	for name, load := range openSLOCases(t, dir) {
		t.Run(name, func(t *testing.T) {
			b, err := load()
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			golden(t, filepath.Join(dir, name+".golden"), dump(b.SLOs)+dumpPolicies(b.AlertPolicies)+dumpWarnings(b.Warnings))
		})
	}
}

// Every case in testdata/openslo/invalid is refused with exactly the text
// of its .err file, and nothing else comes back but warnings.
func TestInvalidOpenSLOSpecsFailWithTheMessagesOfTheirErrFiles(t *testing.T) {
	const dir = "testdata/openslo/invalid"
	for name, load := range openSLOCases(t, dir) {
		t.Run(name, func(t *testing.T) {
			b, err := load()
			if err == nil {
				t.Fatalf("Load succeeded; want an error")
			}
			if b == nil || b.SLOs != nil || b.AlertPolicies != nil {
				t.Errorf("LoadAll returned %+v with an error; want only warnings", b)
			}
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				if se, ok := e.(*spec.Error); !ok || se.Line <= 0 || se.Column <= 0 || se.File == "" {
					t.Errorf("%v: want a *spec.Error with file, line and column", e)
				}
			}
			golden(t, filepath.Join(dir, name+".err"), err.Error()+"\n")
		})
	}
}

// dumpPolicies writes alert policies as text for golden files.
func dumpPolicies(ps []*spec.AlertPolicy) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "alert policy %s\n", p.Name)
		if p.DisplayName != "" || p.Description != "" {
			fmt.Fprintf(&b, "  displayName: %q description: %q\n", p.DisplayName, p.Description)
		}
		fmt.Fprintf(&b, "  slos: %s\n", strings.Join(p.SLOs, ", "))
		fmt.Fprintf(&b, "  alert when breaching %t, resolved %t, no data %t\n", p.WhenBreaching, p.WhenResolved, p.WhenNoData)
		for _, c := range p.Conditions {
			fmt.Fprintf(&b, "  condition %s (%q, %q): severity %q, burn rate %s %g over %s, for %s\n",
				c.Name, c.DisplayName, c.Description, c.Severity, c.Op, c.Threshold, c.LookbackWindow, c.AlertAfter)
		}
		for _, t := range p.Targets {
			fmt.Fprintf(&b, "  target %s (%q, %q): %s\n", t.Name, t.DisplayName, t.Description, t.Target)
		}
	}
	return b.String()
}

// sameMeaning rewrites the two fields that Convert may write in another
// form of the same meaning (see Convert).
func sameMeaning(slos []*slo.SLO) []*slo.SLO {
	out := make([]*slo.SLO, len(slos))
	for i, s := range slos {
		c := *s
		switch c.Method {
		case slo.Quanta:
			if c.QuantumObjective.IsZero() {
				c.QuantumObjective = c.Objective
			}
		case slo.TimeQuanta:
			c.QuantumObjective = slo.Ratio{}
		}
		out[i] = &c
	}
	return out
}

// Every valid spec, native or OpenSLO, converts to the other format and
// back to the same SLOs, and to its own format and back too.
func TestConvertRoundTrips(t *testing.T) {
	var files []string
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/openslo/valid/*.yaml"} {
		m, _ := filepath.Glob(pattern)
		files = append(files, m...)
	}
	for _, file := range files {
		t.Run(file, func(t *testing.T) {
			b, err := spec.LoadAll(filepath.Base(file), readFile(t, file))
			if err != nil {
				t.Fatal(err)
			}
			want := dump(sameMeaning(b.SLOs))
			for _, to := range []spec.Format{spec.Native, spec.OpenSLO} {
				out, err := spec.Convert(to, b.SLOs...)
				if err != nil {
					t.Fatalf("Convert(%s): %v", to, err)
				}
				again, err := spec.LoadAll("converted.yaml", out)
				if err != nil {
					t.Fatalf("Convert(%s) wrote\n%s\nwhich does not load: %v", to, out, err)
				}
				if got := dump(sameMeaning(again.SLOs)); got != want {
					t.Errorf("Convert(%s) wrote\n%s\nwhich maps to\n%s\nnot\n%s", to, out, got, want)
				}
				if to == spec.Native {
					if got, want := dump(again.SLOs), dump(b.SLOs); got != want {
						t.Errorf("Convert(native) wrote\n%s\nwhich maps to\n%s\nnot\n%s", out, got, want)
					}
				}
			}
		})
	}
}

// The OpenSLO that Convert writes for the native examples, as a reader of
// it sees it.
func TestConvertWritesOpenSLOAsTheGoldenFilesShow(t *testing.T) {
	files, _ := filepath.Glob("testdata/valid/*.yaml")
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".yaml")
		t.Run(name, func(t *testing.T) {
			slos, _, err := spec.Load(name, readFile(t, file))
			if err != nil {
				t.Fatal(err)
			}
			out, err := spec.Convert(spec.OpenSLO, slos...)
			if err != nil {
				t.Fatal(err)
			}
			golden(t, filepath.Join("testdata/openslo/converted", name+".yaml"), string(out))
		})
	}
}

// A reference resolves across the files of one load, and a missing one
// is reported at the line that makes it.
func TestOpenSLOReferencesResolveAcrossFiles(t *testing.T) {
	sli := "apiVersion: openslo/v1\nkind: SLI\nmetadata:\n  name: requests\nspec:\n  ratioMetric:\n    counter: true\n    bad: {metricSource: {type: Prometheus, spec: {query: 'http_requests_total{code=~\"5..\"}'}}}\n    total: {metricSource: {type: Prometheus, spec: {query: http_requests_total}}}\n"
	sloDoc := "apiVersion: openslo/v1\nkind: SLO\nmetadata:\n  name: checkout\nspec:\n  service: checkout\n  indicatorRef: requests\n  budgetingMethod: Occurrences\n  timeWindow: [{duration: 28d, isRolling: true}]\n  objectives: [{target: 0.999}]\n"
	fsys := fstest.MapFS{"a/sli.yaml": {Data: []byte(sli)}, "a/slo.yaml": {Data: []byte(sloDoc)}, "b/slo.yaml": {Data: []byte(sloDoc)}}
	slos, _, err := spec.LoadDir(fsys, "a")
	if err != nil || len(slos) != 1 || slos[0].SLI.Source.Bad != `http_requests_total{code=~"5.."}` {
		t.Errorf("LoadDir(a) = %d SLOs, %v; want checkout reading its SLI from sli.yaml", len(slos), err)
	}
	_, _, err = spec.LoadDir(fsys, "b")
	want := `b/slo.yaml:7:17: spec.indicatorRef: no SLI named "requests" among the documents loaded; there is no SLI at all, so define one (kind: SLI) in these files or inline it here`
	if err == nil || err.Error() != want {
		t.Errorf("LoadDir(b) = %v; want\n%s", err, want)
	}
	// Each file alone: the SLO misses its SLI, and the SLI alone is no SLO.
	if _, _, err := spec.Load("sli.yaml", []byte(sli)); err == nil || !strings.Contains(err.Error(), "no SLO among the documents") {
		t.Errorf("Load(sli.yaml) = %v; want a no-SLO error", err)
	}
}

// The target of an OpenSLO objective is read from its text, as the
// native objective is: 0.999 is exactly 999/1000.
func TestOpenSLOTargetsAreReadExactlyFromTheText(t *testing.T) {
	f := func(target string, num, den uint64) {
		t.Helper()
		doc := "apiVersion: openslo/v1\nkind: SLO\nmetadata: {name: x}\nspec:\n  service: x\n  indicator:\n    metadata: {name: x}\n    spec: {ratioMetric: {counter: true, good: {metricSource: {type: nines, spec: {ok: true}}}, total: {metricSource: {type: nines, spec: {events: all}}}}}\n  budgetingMethod: Occurrences\n  timeWindow: [{duration: 1w, isRolling: true}]\n  objectives: [{" + target + "}]\n"
		slos, _, err := spec.Load("x.yaml", []byte(doc))
		if err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		if got := slos[0].Objective; got != (slo.Ratio{Num: num, Den: den}) {
			t.Errorf("%s = %d/%d; want %d/%d", target, got.Num, got.Den, num, den)
		}
	}
	f("target: 0.999", 999, 1000)
	f("target: 0.9990", 999, 1000)
	f(`target: "0.95"`, 95, 100)
	f("target: 0.5", 50, 100)
	f("target: 0.000000001", 1, 1000000000)
	f("target: 0.999999999", 999999999, 1000000000)
	f("targetPercent: 99.95", 9995, 10000)
}

// Convert refuses, naming the SLO, what OpenSLO cannot say.
func TestConvertRefusesWhatOpenSLOCannotSay(t *testing.T) {
	f := func(native, want string) {
		t.Helper()
		slos, _, err := spec.Load("x.yaml", []byte(native))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := spec.Convert(spec.Native, slos...); err != nil {
			t.Errorf("Convert(native): %v", err)
		}
		_, err = spec.Convert(spec.OpenSLO, slos...)
		if err == nil || err.Error() != want {
			t.Errorf("Convert(openslo) = %v; want\n%s", err, want)
		}
	}
	f(strings.Replace(minimal("x"), "rolling: 30d", "rolling: 90s\nquantum: 30s", 1),
		"SLO x: rolling window 1m30s is not a whole number of minutes, which OpenSLO durations are")
	f(strings.Replace(minimal("x"), "rolling: 30d", "rolling: 1h\nquantum: 20s", 1),
		"SLO x: quantum 20s is not a number of minutes with a finite decimal, which an OpenSLO timeSliceWindow must be")
	f(strings.Replace(minimal("x"), "    status: \"<500\"\n", "    status: \"<500\"\n  source: {histogram: 'http.server.duration{a=\"b\"}', errors: '{code=\"500\"}'}\n", 1),
		"SLO x: a histogram source without a latency threshold has no OpenSLO form: a thresholdMetric takes its threshold from the objective")
	f(strings.Replace(minimal("x"), "    status: \"<500\"\n", "    status: \"<500\"\n    latency: \"<=5ms\"\n  source: {histogram: 'http.server.duration'}\n", 1),
		"SLO x: histogram http.server.duration leaves its unit to the series (no unit) and its name does not say seconds, but OpenSLO writes the threshold in the histogram's unit; set the source's unit")
	if _, err := spec.Convert(spec.OpenSLO, nil); err == nil {
		t.Error("Convert(nil) succeeded")
	}
	if f, err := spec.ParseFormat("OpenSLO"); err != nil || f != spec.OpenSLO || f.String() != "openslo" {
		t.Errorf("ParseFormat(OpenSLO) = %v, %v", f, err)
	}
}

// Load checks the alert policies of OpenSLO documents and LoadAll returns
// them; LoadAllFiles resolves them across files.
func TestAlertPoliciesComeWithLoadAll(t *testing.T) {
	dir := "testdata/openslo/valid/cross-file"
	fsys := os.DirFS(dir)
	names := []string{"alerts.yaml", "datasource.yaml", "slis.yaml", "slos.yaml"}
	b, err := spec.LoadAllFiles(fsys, names...)
	if err != nil || len(b.SLOs) != 1 || len(b.AlertPolicies) != 2 || b.AlertPolicies[0].SLOs[0] != "checkout-requests" {
		t.Fatalf("LoadAllFiles = %+v, %v; want one SLO and its two policies", b, err)
	}
	slos, warns, err := spec.LoadFiles(fsys, names...)
	if err != nil || len(slos) != 1 || len(warns) != len(b.Warnings) {
		t.Errorf("LoadFiles = %d SLOs, %d warnings, %v; want what LoadAllFiles gives without the policies", len(slos), len(warns), err)
	}
	b, err = spec.LoadAllFiles(fsys, "alerts.yaml", "slos.yaml")
	if err == nil || len(b.AlertPolicies) != 0 || !strings.HasPrefix(err.Error(), "slos.yaml:18:17: spec.indicatorRef: no SLI named") {
		t.Errorf("LoadAllFiles without the SLI = %+v, %v; want the missing reference", b, err)
	}
}

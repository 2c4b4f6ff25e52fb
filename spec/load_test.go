package spec_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// minimal returns a valid native spec named name.
func minimal(name string) string {
	return "name: " + name + "\nservice: checkout\nsli:\n  good:\n    status: \"<500\"\nobjective: 99.9\nwindow:\n  rolling: 30d\n"
}

func TestPercentagesAreReadExactlyFromTheText(t *testing.T) {
	f := func(objective string, num, den uint64) {
		t.Helper()
		data := strings.Replace(minimal("x"), "objective: 99.9", "objective: "+objective, 1)
		slos, _, err := spec.Load("x.yaml", []byte(data))
		if err != nil {
			t.Fatalf("objective %s: %v", objective, err)
		}
		if got := slos[0].Objective; got != (slo.Ratio{Num: num, Den: den}) {
			t.Errorf("objective %s = %d/%d; want %d/%d", objective, got.Num, got.Den, num, den)
		}
	}
	f("99.9", 999, 1000)
	f("99.90", 999, 1000)
	f(`"99.9"`, 999, 1000)
	f(`"99.95 %"`, 9995, 10000)
	f("99", 99, 100)
	f("99.9999999", 999999999, 1000000000)
	f(`"0.1%"`, 1, 1000)
}

func TestErrorsCarryFileLineColumnAndField(t *testing.T) {
	data := strings.Replace(minimal("x"), "rolling: 30d", "rolling: 30 days", 1)
	_, _, err := spec.Load("x.yaml", []byte(data))
	var e *spec.Error
	if !errors.As(err, &e) {
		t.Fatalf("Load: %v; want a *spec.Error", err)
	}
	if e.File != "x.yaml" || e.Line != 8 || e.Column != 12 || e.Field != "window.rolling" {
		t.Errorf("error at %s:%d:%d field %q; want x.yaml:8:12 field window.rolling", e.File, e.Line, e.Column, e.Field)
	}
	if !strings.HasPrefix(err.Error(), "x.yaml:8:12: window.rolling: ") {
		t.Errorf("Error() = %q", err)
	}
}

func TestWarningsComeWithTheirSLOs(t *testing.T) {
	data := minimal("x") + "  timezone: Europe/Berlin\n"
	slos, warns, err := spec.Load("x.yaml", []byte(data))
	if err != nil || len(slos) != 1 {
		t.Fatalf("Load: %d SLOs, %v", len(slos), err)
	}
	want := spec.Warning{File: "x.yaml", Line: 9, Column: 13, Field: "window.timezone",
		Message: "has no effect on a rolling window; a time zone only cuts calendar windows"}
	if len(warns) != 1 || warns[0] != want {
		t.Errorf("warnings = %+v; want [%+v]", warns, want)
	}
}

func TestLoadDirReadsSpecFilesAndRejectsDuplicateNamesAcrossThem(t *testing.T) {
	fsys := fstest.MapFS{
		"slos/a.yaml":        {Data: []byte(minimal("checkout") + "---\n" + minimal("search"))},
		"slos/b.yml":         {Data: []byte(minimal("payments"))},
		"slos/README.md":     {Data: []byte("# not a spec")},
		"slos/.draft.yaml":   {Data: []byte("not: a spec")},
		"slos/nested/c.yaml": {Data: []byte("not: a spec")},
		"dup/a.yaml":         {Data: []byte(minimal("checkout"))},
		"dup/b.yaml":         {Data: []byte("\n" + minimal("checkout"))},
		"empty/README.md":    {Data: []byte("")},
	}
	slos, _, err := spec.LoadDir(fsys, "slos")
	if err != nil {
		t.Fatalf("LoadDir(slos): %v", err)
	}
	var names []string
	for _, s := range slos {
		names = append(names, s.Name)
	}
	if got := strings.Join(names, ","); got != "checkout,search,payments" {
		t.Errorf("names = %s; want checkout,search,payments", got)
	}

	slos, _, err = spec.LoadDir(fsys, "dup")
	want := `dup/b.yaml:2:7: name: "checkout" is already the name of the SLO at dup/a.yaml:1:7; SLO names must be unique`
	if err == nil || err.Error() != want || slos != nil {
		t.Errorf("LoadDir(dup) = %d SLOs, %v; want the error\n%s", len(slos), err, want)
	}

	if _, _, err := spec.LoadDir(fsys, "empty"); err == nil || !strings.Contains(err.Error(), "no spec files") {
		t.Errorf("LoadDir(empty) = %v; want a no-spec-files error", err)
	}
	if _, _, err := spec.LoadDir(fsys, "missing"); err == nil {
		t.Error("LoadDir(missing) succeeded")
	}
}

func TestLoadFilesReportsEveryFilesProblems(t *testing.T) {
	fsys := fstest.MapFS{
		"good.yaml": {Data: []byte(minimal("good"))},
		"bad.yaml":  {Data: []byte(strings.Replace(minimal("bad"), "99.9", "101", 1))},
	}
	_, _, err := spec.LoadFiles(fsys, "good.yaml", "bad.yaml", "gone.yaml")
	if err == nil {
		t.Fatal("LoadFiles succeeded")
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "bad.yaml:6:12: objective: ") || !strings.HasPrefix(lines[1], "gone.yaml: ") {
		t.Errorf("error:\n%v\nwant one line for bad.yaml:6:12 and one for gone.yaml", err)
	}
}

func TestLoadingWithoutFSReadsOperatingSystemPaths(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.yaml")
	if err := os.WriteFile(path, []byte(minimal("x")), 0o644); err != nil {
		t.Fatal(err)
	}
	slos, _, err := spec.LoadFiles(nil, path)
	if err != nil || len(slos) != 1 {
		t.Errorf("LoadFiles(nil, %s) = %d SLOs, %v", path, len(slos), err)
	}
	slos, _, err = spec.LoadDir(nil, filepath.Dir(path))
	if err != nil || len(slos) != 1 {
		t.Errorf("LoadDir(nil, %s) = %d SLOs, %v", filepath.Dir(path), len(slos), err)
	}
}

// Hostile input must fail fast and cleanly: these are the classic ways to
// make a YAML reader spend memory or time.
func TestHostileInputFailsFast(t *testing.T) {
	laughs := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	for c := 'b'; c <= 'z'; c++ {
		p := string(c - 1)
		laughs += string(c) + ": &" + string(c) + " [*" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + ", *" + p + "]\n"
	}
	cases := []struct {
		name, data, want string
	}{
		{"billion laughs", laughs, "a: unknown field"},
		{"billion laughs where a label goes", minimal("x") + "labels: &l {a: *l, b: *l}\n", "labels.a: got a mapping"},
		{"alias to its own container", minimal("x") + "description: &d [*d]\n", "description: got a list"},
		{"window aliasing itself", strings.Replace(minimal("x"), "window:\n  rolling: 30d", "window: &w\n  rolling: *w", 1), "window.rolling: got a mapping"},
		{"document aliasing itself", "&r\nname: *r\n", "name: got a mapping"},
		{"deep nesting", strings.Repeat("[", 20000) + strings.Repeat("]", 20000), "exceeded max depth"},
		{"too large", minimal("x") + "description: " + strings.Repeat("x", spec.MaxFileSize) + "\n", "larger than"},
		{"many empty documents", strings.Repeat("---\n", spec.MaxFileSize/4-1), "no SLO in file"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			_, _, err := spec.Load("x.yaml", []byte(c.data))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("Load = %.300v; want an error containing %q", err, c.want)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("took %s", d)
			}
		})
	}
}

func TestLoadFilesRefusesAHugeFileWithoutReadingItWhole(t *testing.T) {
	fsys := fstest.MapFS{"huge.yaml": {Data: make([]byte, 3*spec.MaxFileSize)}}
	if _, _, err := spec.LoadFiles(fsys, "huge.yaml"); err == nil || !strings.Contains(err.Error(), "huge.yaml: file is larger than") {
		t.Errorf("LoadFiles = %v; want a too-large error", err)
	}
}

func TestAFileStopsAfterFiftyErrors(t *testing.T) {
	var b strings.Builder
	for i := range 60 {
		b.WriteString("---\nname: s" + strconv.Itoa(i) + "\nservice: x\nsli: {good: {ok: true}}\nobjective: 99.9\nwindow: {calendar: day, timezone: Mars/Base" + strconv.Itoa(i) + "}\n")
	}
	_, _, err := spec.Load("x.yaml", []byte(b.String()))
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 51 || lines[50] != "x.yaml: too many errors; only the first 50 are shown" {
		t.Errorf("%d lines, last %q; want 50 errors and then x.yaml: too many errors; only the first 50 are shown", len(lines), lines[len(lines)-1])
	}
}

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// evalIn runs nines eval in process with the given page budget and
// returns its output, error output and exit code.
func evalIn(t *testing.T, budget int, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}
	err := evalWith(context.Background(), e, args, evalFlags{compact: true, pageBudget: budget})
	if err != nil && err != errViolated {
		errOut.WriteString(err.Error())
	}
	return out.String(), errOut.String(), exitOf(err)
}

func TestEvalKeepsRollupsInAFileAlike(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "sparse.log")
	// Two months of one request every few minutes: about 50 KB of pages.
	writeSpanLog(t, log, 20000, 60*24*time.Hour)
	spec := filepath.Join("..", "..", "examples", "checkout.yaml")
	for _, format := range []string{"text", "json"} {
		t.Run("The "+format+" report is the same with the rollups in a file.", func(t *testing.T) {
			args := []string{"--spec", spec, "--events", log}
			if format == "json" {
				args = append(args, "--json")
			}
			want, wantErr, wantCode := evalIn(t, evalPageBudget, args...)
			tmp := t.TempDir()
			t.Setenv("TMPDIR", tmp)
			got, gotErr, gotCode := evalIn(t, 1, args...)
			if got != want || gotErr != wantErr || gotCode != wantCode {
				t.Fatalf("in a file: exit %d, %d bytes, stderr %q; in memory: exit %d, %d bytes, stderr %q", gotCode, len(got), gotErr, wantCode, len(want), wantErr)
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("eval left %s in TMPDIR", left[0].Name())
			}
		})
	}
	t.Run("A temporary file that cannot be made is an error that says so.", func(t *testing.T) {
		t.Setenv("TMPDIR", filepath.Join(dir, "no-such-dir"))
		out, errOut, code := evalIn(t, 1, "--spec", spec, "--events", log)
		if out != "" || code != exitUsage || !strings.Contains(errOut, "TMPDIR") {
			t.Fatalf("exit %d, stdout %q, stderr %q: want exit %d, nothing written, and an error naming TMPDIR", code, out, errOut, exitUsage)
		}
	})
}

func TestEvalWritesNothingWhenAWindowHasNoData(t *testing.T) {
	log := filepath.Join(t.TempDir(), "gap.log")
	lines := `203.0.113.1 - - [01/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "c" 0.001
203.0.113.1 - - [03/Dec/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "c" 0.001
`
	if err := os.WriteFile(log, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, json := range []bool{false, true} {
		args := []string{"--spec", filepath.Join("..", "..", "examples", "checkout.yaml"), "--events", log}
		if json {
			args = append(args, "--json")
		}
		out, errOut, code := evalIn(t, evalPageBudget, args...)
		want := "window 2026-12-02T00:00:00Z/2026-12-03T00:00:00Z: the data covers 2026-12-01T10:00:00Z to 2026-12-03T10:01:00Z, none of it in this window"
		if out != "" || code != exitUsage || !strings.Contains(errOut, want) {
			t.Errorf("json %v: exit %d, stdout %q, stderr %q: want exit %d, no report, and %q", json, code, out, errOut, exitUsage, want)
		}
	}
}

// TestEvalRefusesAProbeSLO: a probe's consensus is computed by nines serve
// from its locations' results; a file of events cannot stand for it.
func TestEvalRefusesAProbeSLO(t *testing.T) {
	specFile := filepath.Join(t.TempDir(), "home.yaml")
	if err := os.WriteFile(specFile, []byte(wireSpec), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := evalIn(t, evalPageBudget, "--spec", specFile, "--events", filepath.Join("..", "..", "examples", "access.log"))
	if out != "" || code != exitUsage || !strings.Contains(errOut, "SLO home is fed by probe web-home") || !strings.Contains(errOut, "nines replay") {
		t.Errorf("exit %d, stdout %q, stderr %q: want a refusal that names the probe and nines replay", code, out, errOut)
	}
}

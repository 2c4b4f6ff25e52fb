package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/ingest"
)

// The same requests, written by scripts/genlog in every format nines
// knows by name, give the same nines eval --json: the same quanta, events,
// violations and latency percentiles. Only what names the input (its file
// and format, and its last time, which formats write to the second or
// finer) may differ. Formats without a latency are compared on
// availability alone.
func TestEveryFormatOfTheSameRequestsEvaluatesAlike(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go tool builds scripts/genlog: %v", err)
	}
	dir := t.TempDir()
	genlog := filepath.Join(dir, "genlog")
	if out, err := exec.Command(goTool, "build", "-o", genlog, "../../scripts/genlog").CombinedOutput(); err != nil {
		t.Fatalf("building genlog: %v\n%s", err, out)
	}
	write := func(name, text string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const sloText = `
service: web
objective: 99
method: time-quanta
quantum: 1m
window:
  rolling: 1h
noData: good
`
	latencySpec := write("latency.yaml", "name: web-latency\nsli:\n  good:\n    status: \"<500\"\n    latency: \"<=5ms\"\n"+sloText)
	availSpec := write("availability.yaml", "name: web-availability\nsli:\n  good:\n    status: \"<500\"\n"+sloText)

	eval := func(t *testing.T, spec, log, format string, dropLatency bool) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		args := []string{"eval", "--spec", spec, "--events", log, "--format", format, "--log-timezone", "UTC",
			"--at", "2026-11-24T00:05:00Z", "--json"}
		if err := Run(context.Background(), args, strings.NewReader(""), &stdout, &stderr); err != nil && exitOf(err) != 1 {
			t.Fatalf("nines %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		var doc map[string]any
		if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil {
			t.Fatalf("%v\n%s", err, stdout.String())
		}
		in := doc["input"].(map[string]any)
		if in["malformed"].(float64) != 0 || in["events"].(float64) == 0 {
			t.Fatalf("%s read as %s: %v events, %v malformed: %v", log, format, in["events"], in["malformed"], in["errors"])
		}
		delete(in, "file")
		delete(in, "format")
		delete(in, "last")
		if dropLatency {
			for _, w := range doc["windows"].([]any) {
				delete(w.(map[string]any), "latency")
			}
		}
		out, _ := json.MarshalIndent(doc, "", "  ")
		return string(out)
	}

	var formats []string
	for _, p := range ingest.Presets() {
		if p.Name != "json" { // any JSON, its fields named by the user
			formats = append(formats, p.Name)
		}
	}
	logs := map[string]string{}
	for _, f := range formats {
		// 20,000 requests over 3 min 20 s with a 30 s outage: bad quanta,
		// violations and failed requests all show.
		out, err := exec.Command(genlog, "-format", f, "-lines", "20000", "-whole-ms", "-error-rate", "0.01",
			"-incident", "2026-11-24T00:01:10Z/30s").Output()
		if err != nil {
			t.Fatalf("genlog -format %s (every preset needs a writer in scripts/genlog): %v", f, err)
		}
		logs[f] = write(f+".log", string(out))
	}
	want := eval(t, latencySpec, logs["jsonl"], "jsonl", false)
	wantAvail := eval(t, availSpec, logs["jsonl"], "jsonl", true)
	for _, f := range formats {
		t.Run(f, func(t *testing.T) {
			p, err := ingest.NewParser(ingest.Config{Format: f, Timezone: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			if p.HasLatency() {
				if got := eval(t, latencySpec, logs[f], f, false); got != want {
					t.Errorf("read as %s:\n%s\nread as jsonl:\n%s", f, got, want)
				}
			}
			if got := eval(t, availSpec, logs[f], f, true); got != wantAvail {
				t.Errorf("availability read as %s:\n%s\nread as jsonl:\n%s", f, got, wantAvail)
			}
		})
	}
}

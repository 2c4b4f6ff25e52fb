package ingest

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/slo"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// render writes an event as the golden files show it.
func render(e slo.Event) string {
	lat := "-"
	if !math.IsNaN(e.Latency) {
		lat = strconv.FormatFloat(e.Latency, 'g', -1, 64) + "s"
	}
	ok := map[slo.Flag]string{slo.FlagUnset: "-", slo.FlagFalse: "false", slo.FlagTrue: "true"}[e.OK]
	return fmt.Sprintf("time=%s status=%d ok=%s latency=%s count=%d",
		time.Unix(0, e.Time).UTC().Format(time.RFC3339Nano), e.Status, ok, lat, e.Count)
}

// parseRender reads one line with p and renders the event or the error.
func parseRender(p *Parser, line string) string {
	e, err := p.Parse([]byte(line))
	if err != nil {
		return "error: " + err.Error()
	}
	return render(e)
}

// golden compares got with testdata/formats/name, or rewrites it.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "formats", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./ingest -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test ./ingest -update rewrites it):\n--- got\n%s--- want\n%s", path, got, want)
	}
}

// TestFormatStrings compiles every format string of
// testdata/formats/strings.txt and reads the lines under it: one golden
// per format-string feature.
func TestFormatStrings(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "formats", "strings.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	var p *Parser
	var c Config
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "## "), line == "":
			continue
		case strings.HasPrefix(line, "## "):
			out.WriteString("\n" + line + "\n")
			p, c = nil, Config{}
		case strings.HasPrefix(line, "format: "):
			c.Format = strings.TrimPrefix(line, "format: ")
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "tz: "):
			loc, err := time.LoadLocation(strings.TrimPrefix(line, "tz: "))
			if err != nil {
				t.Fatal(err)
			}
			c.Timezone = loc
			p = nil
			out.WriteString(line + "\n")
		default:
			if p == nil {
				if p, err = NewParser(c); err != nil {
					t.Fatalf("%s: %v", c.Format, err)
				}
			}
			fmt.Fprintf(&out, "  %s\n  -> %s\n", line, parseRender(p, line))
		}
	}
	golden(t, "strings.golden", out.String())
}

// TestFormatStringErrors: a format string that cannot be read is refused
// with the column of the problem, or with what it lacks.
func TestFormatStringErrors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "formats", "errors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		_, err := NewParser(Config{Format: line})
		if err == nil {
			t.Errorf("%s compiled; want an error", line)
			continue
		}
		fmt.Fprintf(&out, "%s\n  -> %v\n", line, err)
	}
	golden(t, "errors.golden", out.String())
}

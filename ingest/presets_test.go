package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestPresets reads the sample of every preset (testdata/formats/presets)
// with that preset, and lets detection have a go at it too: one golden
// per preset.
func TestPresets(t *testing.T) {
	for _, p := range Presets() {
		if p.Name == "json" {
			continue // it has no names of its own: see TestJSONFields
		}
		t.Run(p.Name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "formats", "presets", p.Name+".log"))
			if err != nil {
				t.Fatalf("every preset needs a sample: %v", err)
			}
			c := Config{Format: p.Name}
			if p.zone {
				c.Timezone = time.UTC
			}
			ps, err := NewParser(c)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			fmt.Fprintf(&out, "# %s: %s\n", p.Name, p.About)
			for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
				fmt.Fprintf(&out, "%s\n  -> %s\n", line, parseRender(ps, line))
			}
			c.Format = ""
			switch d, err := Detect(data, c); {
			case err != nil:
				fmt.Fprintf(&out, "auto: %v\n", err)
			default:
				fmt.Fprintf(&out, "auto: %s\n", d.Name())
			}
			golden(t, filepath.Join("presets", p.Name+".golden"), out.String())
		})
	}
}

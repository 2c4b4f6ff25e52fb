package oncall

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/report.txt and report.json from the current output")

// TestReportGolden holds the text and JSON of the worked report.
func TestReportGolden(t *testing.T) {
	rep := workedReport(t)
	var txt bytes.Buffer
	if err := WriteText(&txt, rep); err != nil {
		t.Fatal(err)
	}
	js, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range []struct {
		name string
		got  []byte
	}{{"report.txt", txt.Bytes()}, {"report.json", append(js, '\n')}} {
		t.Run("The "+g.name+" output matches its golden file.", func(t *testing.T) {
			path := filepath.Join("testdata", g.name)
			if *update {
				if err := os.MkdirAll("testdata", 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, g.got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if !bytes.Equal(g.got, want) {
				t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", g.name, g.got)
			}
		})
	}
}

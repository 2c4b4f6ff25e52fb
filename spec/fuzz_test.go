package spec_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

// FuzzLoad checks that no input makes Load panic, that every error it
// returns is a *spec.Error naming the file, and that what it accepts is
// valid and survives a round trip: written back as a spec and read again,
// it maps to the same SLOs. The seeds are native and OpenSLO documents;
// what loads is also converted to each format by Convert and read back.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"testdata/valid/*.yaml", "testdata/invalid/*.yaml",
		"testdata/openslo/valid/*.yaml", "testdata/openslo/valid/*/*.yaml", "testdata/openslo/invalid/*.yaml",
		"testdata/openslo/converted/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		slos, _, err := spec.Load("fuzz.yaml", data)
		if err != nil {
			if slos != nil {
				t.Fatalf("%d SLOs next to an error", len(slos))
			}
			checkErrors(t, "fuzz.yaml", err)
			return
		}
		if len(slos) == 0 {
			t.Fatal("no SLOs and no error")
		}
		for _, s := range slos {
			if err := s.Validate(); err != nil {
				t.Fatalf("accepted an SLO that does not validate: %v", err)
			}
			again, _, err := spec.Load("again.yaml", encode(s))
			if err != nil {
				t.Fatalf("written back as\n%s\nit fails: %v", encode(s), err)
			}
			if got, want := dump(again), dump([]*slo.SLO{s}); got != want {
				t.Fatalf("written back as\n%s\nit maps to\n%s\nnot\n%s", encode(s), got, want)
			}
			for _, to := range []spec.Format{spec.Native, spec.OpenSLO} {
				out, err := spec.Convert(to, s)
				if err != nil {
					if to == spec.Native {
						t.Fatalf("Convert(native): %v", err)
					}
					continue // some SLOs have no OpenSLO form; Convert says which
				}
				again, _, err := spec.Load("converted.yaml", out)
				if err != nil {
					t.Fatalf("Convert(%s) wrote\n%s\nwhich fails: %v", to, out, err)
				}
				if got, want := dump(sameMeaning(again)), dump(sameMeaning([]*slo.SLO{s})); got != want {
					t.Fatalf("Convert(%s) wrote\n%s\nwhich maps to\n%s\nnot\n%s", to, out, got, want)
				}
			}
		}
	})
}

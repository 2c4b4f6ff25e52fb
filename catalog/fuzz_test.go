package catalog_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/spec"
)

// FuzzLoad checks that no input makes Load panic, that every error names
// the file, and that what loads is consistent: every dependency resolves
// and the checks run on it.
func FuzzLoad(f *testing.F) {
	for _, pattern := range []string{"../examples/services.yaml", "../examples/catalog-info.yaml", "testdata/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("services:\n  - name: a\n    dependencies: [{service: a}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := catalog.Load("fuzz.yaml", data)
		if err != nil {
			if c != nil {
				t.Fatal("a catalog next to an error")
			}
			var se *spec.Error
			if !errors.As(err, &se) {
				t.Fatalf("error %T %v is not a *spec.Error", err, err)
			}
			return
		}
		for _, s := range c.Services {
			for _, d := range s.Dependencies {
				if c.Service(d.Service) == nil {
					t.Fatalf("%s depends on unknown %s", s.Name, d.Service)
				}
			}
		}
		catalog.Run(c, catalog.Input{Observed: []catalog.Edge{}})
	})
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

const lintAbout = `Validate SLO spec files, native or OpenSLO v1, as one set: references
resolve across them, every problem is reported with FILE:LINE:COL and the
field, and warnings flag what is odd but usable. A directory stands for the
*.yaml and *.yml files directly inside it.

With --services, the service catalog (a services.yaml, a directory of
them, or Backstage catalog-info.yaml; docs/catalog.md) is checked too:
unknown fields, duplicate services, dependencies on unknown services,
on-call rotations that are not declared, and, when specs are named as
well, dependency slos: that are not SLOs of the service depended on.

Exit code 0 when the set is valid (warnings allowed), 1 when it is not,
2 on usage errors.

Examples:
  nines lint ./slos/
  nines lint checkout.yaml openslo/*.yaml
  nines lint --services examples/services.yaml examples/shop-slos.yaml`

func runLint(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "lint", "FILE|DIR ...", lintAbout)
	strict := fs.Bool("strict", false, "treat warnings as errors")
	services := fs.String("services", "", "also check a service catalog `file or directory`")
	if help, err := parseFlagsWithArgs(fs, e, args); help || err != nil {
		return err
	}
	if fs.NArg() == 0 && *services == "" {
		return usageError("lint: name the spec files or directories to check (see nines lint --help)")
	}
	if *services != "" {
		return lintCatalog(e, *services, fs.Args(), *strict)
	}
	return lintSpecs(e, fs.Args(), *strict)
}

// lintSpecs checks a set of spec files.
func lintSpecs(e *env, paths []string, strict bool) error {
	b, err := loadSpecSet(paths)
	for _, w := range b.Warnings {
		fmt.Fprintf(e.stdout, "warning: %s\n", w)
	}
	if err != nil {
		return lintFailed(e, err)
	}
	fmt.Fprintf(e.stdout, "%s and %s are valid\n", plural(len(b.SLOs), "SLO"), pluralAs(len(b.AlertPolicies), "alert policy", "alert policies"))
	if strict && len(b.Warnings) > 0 {
		return &exitError{code: exitViolated, silent: true, err: errors.New("warnings under --strict")}
	}
	return nil
}

// lintFailed reports what lint found: problems in the files (each with
// FILE:LINE:COL) go to stdout and exit 1; anything else, such as a file
// that cannot be read, is an input error.
func lintFailed(e *env, err error) error {
	var se *spec.Error
	if !errors.As(err, &se) {
		return &exitError{code: exitUsage, err: fmt.Errorf("lint: %w", err)}
	}
	fmt.Fprintln(e.stdout, err)
	return &exitError{code: exitViolated, silent: true, err: err}
}

// lintCatalog checks a service catalog and, when paths name specs, the
// specs and the SLO names the catalog's dependencies refer to.
func lintCatalog(e *env, services string, paths []string, strict bool) error {
	var slos []*slo.SLO
	if len(paths) > 0 {
		b, err := loadSpecSet(paths)
		if err != nil || (strict && len(b.Warnings) > 0) {
			return lintSpecs(e, paths, strict)
		}
		for _, w := range b.Warnings {
			fmt.Fprintf(e.stdout, "warning: %s\n", w)
		}
		slos = b.SLOs
	}
	c, err := catalog.LoadPath(services)
	if err == nil {
		// Rotations are the on-call report's to read; their errors are
		// the catalog's all the same.
		_, err = catalogRotations(c)
	}
	if err == nil && slos != nil {
		err = c.CheckSLOs(slos)
	}
	if err != nil {
		return lintFailed(e, err)
	}
	msg := fmt.Sprintf("the catalog's %s and %s are valid", plural(len(c.Services), "service"), pluralAs(len(c.Edges()), "dependency", "dependencies"))
	if c.Ignored > 0 || c.IgnoredRefs > 0 {
		msg += fmt.Sprintf(" (Backstage: %s of other kinds and %s to non-components left out)",
			pluralAs(c.Ignored, "entity", "entities"), pluralAs(c.IgnoredRefs, "dependsOn reference", "dependsOn references"))
	}
	if slos != nil {
		msg += fmt.Sprintf(", with %s", plural(len(slos), "SLO"))
	}
	fmt.Fprintln(e.stdout, msg)
	return nil
}

// loadSpecSet loads files and directories as one set of specs.
func loadSpecSet(paths []string) (*spec.Bundle, error) {
	var files []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return &spec.Bundle{}, err
		}
		if !st.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			return &spec.Bundle{}, err
		}
		for _, de := range entries {
			n := de.Name()
			if !de.IsDir() && !strings.HasPrefix(n, ".") && (strings.HasSuffix(n, ".yaml") || strings.HasSuffix(n, ".yml")) {
				files = append(files, p+string(os.PathSeparator)+n)
			}
		}
	}
	if len(files) == 0 {
		return &spec.Bundle{}, fmt.Errorf("no *.yaml or *.yml file in %s", strings.Join(paths, ", "))
	}
	return spec.LoadAllFiles(nil, files...)
}

const convertAbout = `Write the SLOs of spec files in another format: native nines YAML or
OpenSLO v1 (an SLI and an SLO document for each). The files are loaded as
one set, as nines lint does; what the target format cannot express is an
error naming the SLO.

Examples:
  nines convert --to openslo checkout.yaml > checkout.openslo.yaml
  nines convert --to native ./openslo/`

func runConvert(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "convert", "--to native|openslo FILE|DIR ...", convertAbout)
	to := fs.String("to", "", "target `format`: native or openslo")
	if help, err := parseFlagsWithArgs(fs, e, args); help || err != nil {
		return err
	}
	format, err := spec.ParseFormat(*to)
	if err != nil {
		return usageError("convert: --to: %v", err)
	}
	if fs.NArg() == 0 {
		return usageError("convert: name the spec files or directories to convert")
	}
	b, err := loadSpecSet(fs.Args())
	for _, w := range b.Warnings {
		fmt.Fprintf(e.stderr, "nines: warning: %s\n", w)
	}
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	out, err := spec.Convert(format, b.SLOs...)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("convert: %w", err)}
	}
	_, err = e.stdout.Write(out)
	return err
}

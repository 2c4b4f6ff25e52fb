package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/probe"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
	"github.com/nines-sre/nines/thirdparty"
	"github.com/nines-sre/nines/verify"
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

With --probes, --thirdparties and --verifiers, the probes file
(docs/probes.md), the third parties' file (docs/thirdparties.md) and the
verifiers file (docs/verifiers.md) are checked too, and, when
specs are named as well, that every sli.probes names a probe of the file
and every SLO the third parties name is defined (a probe's location SLOs
included).

Exit code 0 when the set is valid (warnings allowed), 1 when it is not,
2 on usage errors.

Examples:
  nines lint ./slos/
  nines lint checkout.yaml openslo/*.yaml
  nines lint --services examples/services.yaml examples/shop-slos.yaml
  nines lint --probes probes.yaml --thirdparties thirdparties.yaml ./slos/`

func runLint(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "lint", "FILE|DIR ...", lintAbout)
	strict := fs.Bool("strict", false, "treat warnings as errors")
	services := fs.String("services", "", "also check a service catalog `file or directory`")
	probes := fs.String("probes", "", "also check a probes `file or directory`")
	vendors := fs.String("thirdparties", "", "also check a third parties `file`")
	verifiers := fs.String("verifiers", "", "also check a durability verifiers `file or directory`")
	if help, err := parseFlagsWithArgs(fs, e, args); help || err != nil {
		return err
	}
	if fs.NArg() == 0 && *services == "" && *probes == "" && *vendors == "" && *verifiers == "" {
		return usageError("lint: name the spec files or directories to check (see nines lint --help)")
	}
	if *probes != "" || *vendors != "" || *verifiers != "" {
		if *services != "" {
			return usageError("lint: check the catalog (--services) and the probes, third parties or verifiers in two runs")
		}
		return lintOutward(e, *probes, *vendors, *verifiers, fs.Args(), *strict)
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
	if err := lintInlineProbes(b.SLOs, paths); err != nil {
		return lintProblems(e, err)
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

// lintOutward checks a probes file and a third parties' file and, when
// paths name specs, what the specs and they say of each other, as nines
// serve would at start.
func lintOutward(e *env, probesPath, vendorsPath, verifiersPath string, paths []string, strict bool) error {
	var msgs []string
	var probes []*probe.Probe
	if probesPath != "" {
		ps, err := probe.Load(probesPath)
		if err != nil {
			return lintProblems(e, err)
		}
		probes = ps
		msgs = append(msgs, "the probes file's "+plural(len(ps), "probe"))
	}
	var vendors *thirdparty.Config
	if vendorsPath != "" {
		cfg, err := thirdparty.LoadFile(vendorsPath)
		if err != nil {
			return lintProblems(e, err)
		}
		vendors = cfg
		msgs = append(msgs, "the third parties' "+plural(len(cfg.Vendors), "vendor"))
	}
	var defs []*verify.Definition
	if verifiersPath != "" {
		d, err := verify.Load(verifiersPath)
		if err != nil {
			return lintProblems(e, err)
		}
		defs = d
		msgs = append(msgs, "the verifiers file's "+plural(len(d), "verifier"))
	}
	if len(paths) > 0 {
		files, err := specFileSet(paths)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("lint: %w", err)}
		}
		b, err := spec.LoadAllData(files)
		if err != nil || (strict && len(b.Warnings) > 0) {
			return lintSpecs(e, paths, strict)
		}
		for _, w := range b.Warnings {
			fmt.Fprintf(e.stdout, "warning: %s\n", w)
		}
		all, _, err := withProbes(files, probes)
		if err == nil {
			all, err = withVerifiers(all, defs)
		}
		if err == nil && len(defs) > 0 {
			_, err = spec.LoadAllData(all) // a verifier's SLO named as a spec's
		}
		if err != nil {
			return lintProblems(e, err)
		}
		if vendors != nil {
			full, err := spec.LoadAllData(all)
			if err != nil {
				return lintProblems(e, err)
			}
			known := map[string]bool{}
			for _, s := range full.SLOs {
				known[s.Name] = true
			}
			if err := vendors.CheckSLOs(func(n string) bool { return known[n] }); err != nil {
				return lintProblems(e, err)
			}
		}
		msgs = append(msgs, "with "+plural(len(b.SLOs), "SLO"))
	}
	fmt.Fprintln(e.stdout, strings.Join(msgs, " and ")+": valid")
	return nil
}

// lintInlineProbes checks the probes specs define in place, whose fields
// the spec loader leaves to package probe.
func lintInlineProbes(slos []*slo.SLO, paths []string) error {
	if !slices.ContainsFunc(slos, func(s *slo.SLO) bool { return s.SLI.Probe != nil && s.SLI.Probe.Inline }) {
		return nil
	}
	files, err := specFileSet(paths)
	if err != nil {
		return err
	}
	var errs []error
	idx := inlineIndex(files)
	for _, s := range slos {
		if p := s.SLI.Probe; p != nil && p.Inline {
			if _, _, err := idx.probe(s); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// lintProblems prints the problems of files found by a reader other than
// the spec loader's (each line FILE:LINE:COL field: message) and exits 1.
func lintProblems(e *env, err error) error {
	fmt.Fprintln(e.stdout, err)
	return &exitError{code: exitViolated, silent: true, err: err}
}

// specFileSet reads the spec files of paths (files and directories), by
// name, as nines serve reads --slos.
func specFileSet(paths []string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for _, p := range paths {
		files, err := specFiles(p, false)
		if err != nil {
			return nil, err
		}
		maps.Copy(out, files)
	}
	return out, nil
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
	for _, s := range b.SLOs {
		if p := s.SLI.Probe; p != nil && p.Inline {
			return usageError("convert: SLO %s defines its probe %s in place; the converted spec would only name it: move the probe to a probes file (docs/probes.md) and write sli.probes: %s", s.Name, p.Name, p.Name)
		}
	}
	out, err := spec.Convert(format, b.SLOs...)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("convert: %w", err)}
	}
	_, err = e.stdout.Write(out)
	return err
}

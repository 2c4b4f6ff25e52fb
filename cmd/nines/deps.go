package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/nines-sre/nines/catalog"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/spec"
)

const depsAbout = `Check the dependency graph of a service catalog (docs/catalog.md):

  ceiling     an SLO promises more than the product of its service's hard,
              synchronous, unmitigated dependencies' objectives allows
  unjudged    such a dependency has no SLO to judge it by
  latency     own work plus synchronous dependencies' latency exceeds the
              service's latency threshold
  budget      a dependency promises more latency than the budget it is given
  cycle       services that depend on each other in a loop, with the path
  capacity    a forecast peak above the tested capacity
  zone-loss   too few hosts to carry the peak after losing one zone
  undeclared  a call seen in traces that the catalog does not declare (--observed)
  unobserved  a declared dependency no trace shows (--observed)

It also names the bottleneck: the service with the least headroom between
forecast peak and tested capacity. Without --slos the ceiling and latency
checks are skipped, and the report says so.

Exit code 0 when nothing is found, 1 when there are findings, 2 on usage
or input errors.

Examples:
  nines deps check --services examples/services.yaml --slos examples/shop-slos.yaml
  nines deps check --services catalog/ --slos slos/ --json`

func runDeps(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "check" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			fmt.Fprintf(e.stdout, "Usage: nines deps check --services FILE|DIR [--slos FILE|DIR]... [--observed FILE] [--json]\n\n%s\n", depsAbout)
			return nil
		}
		return usageError("deps: want a subcommand: nines deps check --services FILE|DIR (see nines deps check --help)")
	}
	return runDepsCheck(ctx, e, args[1:])
}

func runDepsCheck(_ context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "deps check", "--services FILE|DIR [--slos FILE|DIR]... [--observed FILE] [--json]", depsAbout)
	services := fs.String("services", "", "the service catalog: a `file` or a directory of *.yaml (services.yaml or Backstage catalog-info.yaml)")
	var slos []string
	fs.Func("slos", "SLO spec `file or directory`, linked to services by their service: field (repeatable)", func(s string) error {
		slos = append(slos, s)
		return nil
	})
	observed := fs.String("observed", "", "a JSON `file` of observed call edges, [{\"from\":…,\"to\":…,\"calls\":N,\"errors\":N}], to compare with the declared ones")
	asJSON := fs.Bool("json", false, "write the report as JSON")
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	if *services == "" {
		return usageError("deps check: --services is required: name the catalog file or directory")
	}
	c, err := loadCatalog(*services)
	if err != nil {
		return err
	}
	in := catalog.Input{}
	if len(slos) > 0 {
		b, err := loadSpecSet(slos)
		for _, w := range b.Warnings {
			fmt.Fprintf(e.stderr, "nines: warning: %s\n", w)
		}
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("slos: %w", err)}
		}
		in.SLOs = b.SLOs
		if in.SLOs == nil {
			in.SLOs = []*slo.SLO{}
		}
		if err := c.CheckSLOs(in.SLOs); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	if *observed != "" {
		if in.Observed, err = readObserved(*observed); err != nil {
			return &exitError{code: exitUsage, err: err}
		}
	}
	r := catalog.Run(c, in)
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(r)
	} else {
		err = r.WriteText(e.stdout)
	}
	if err != nil {
		return err
	}
	if len(r.Findings) > 0 {
		return &exitError{code: exitViolated, silent: true, err: errors.New("dependency findings")}
	}
	return nil
}

// loadCatalog loads a catalog file or directory; its errors are input
// errors, each on its own line with FILE:LINE:COL.
func loadCatalog(path string) (*catalog.Catalog, error) {
	c, err := catalog.LoadPath(path)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("catalog:\n%w", err)}
	}
	return c, nil
}

// readObserved reads observed edges from a JSON file.
func readObserved(path string) ([]catalog.Edge, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("observed edges: %w", err)
	}
	defer f.Close()
	dec := json.NewDecoder(io.LimitReader(f, catalog.MaxFileSize))
	dec.DisallowUnknownFields()
	var edges []catalog.Edge
	if err := dec.Decode(&edges); err != nil {
		return nil, fmt.Errorf("observed edges %s: %w; want a JSON list of {\"from\", \"to\", \"calls\", \"errors\"}", path, err)
	}
	for i, ed := range edges {
		if !spec.ValidName(ed.From) || !spec.ValidName(ed.To) || ed.Errors > ed.Calls {
			return nil, fmt.Errorf("observed edges %s: edge %d (%s → %s): want service names for from and to, and errors at most calls", path, i, strings.TrimSpace(ed.From), strings.TrimSpace(ed.To))
		}
	}
	if edges == nil {
		edges = []catalog.Edge{}
	}
	return edges, nil
}

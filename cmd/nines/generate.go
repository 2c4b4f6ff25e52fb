package main

import (
	"context"
	"fmt"

	"github.com/nines-sre/nines/rules"
)

const generateAbout = `Write Prometheus recording and alerting rules for the SLOs of spec files
whose SLI names its series (sli.source), for teams that alert in their own
Prometheus (2.42 or later). The rules judge each quantum as nines does, by
the SLO's method and noData policy, and fire, hold and resolve at the same
minutes as nines serve: the same tiers, the page tiers' traffic guard, the
resolve hold (keep_firing_for), the no-data alert, and the labels of nines'
own notifications (alert, slo, service, severity, owner). A classic
histogram needs a bucket whose le equals the SLI's threshold; with native
histograms the threshold must be a power of two. An SLO the rules cannot
follow exactly is refused with the reason (docs/prometheus-rules.md).

Examples:
  nines generate prometheus-rules --slos ./slos/ > slo-rules.yaml
  nines generate prometheus-rules --slos checkout.yaml --histograms native`

func runGenerate(_ context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] != "prometheus-rules" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "-help") {
			fmt.Fprintf(e.stdout, "Usage: nines generate prometheus-rules --slos FILE|DIR [--histograms classic|native]\n\n%s\n", generateAbout)
			return nil
		}
		return usageError("generate: want \"nines generate prometheus-rules --slos PATH\"")
	}
	fs := newFlagSet(e, "generate prometheus-rules", "--slos FILE|DIR [flags]", generateAbout)
	path := fs.String("slos", "", "SLO spec `file or directory`")
	histograms := fs.String("histograms", "classic", "how the Prometheus stores latency `histograms`: classic or native")
	if help, err := parseFlags(fs, e, args[1:]); help || err != nil {
		return err
	}
	if *path == "" {
		return usageError("generate: --slos is required")
	}
	var h rules.Histograms
	switch *histograms {
	case "classic":
		h = rules.Classic
	case "native":
		h = rules.Native
	default:
		return usageError("generate: --histograms %q: want classic or native", *histograms)
	}
	b, err := loadSpecSet([]string{*path})
	for _, w := range b.Warnings {
		fmt.Fprintf(e.stderr, "nines: warning: %s\n", w)
	}
	if err != nil {
		return &exitError{code: exitUsage, err: err}
	}
	out, err := rules.Generate(b.SLOs, h)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("generate: %w", err)}
	}
	_, err = e.stdout.Write(out)
	return err
}

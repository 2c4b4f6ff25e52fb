package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nines-sre/nines/durability"
)

const durabilityAbout = `How often a replication group or an erasure-coded stripe loses data, from
the disks' annualised failure rate (AFR) and the time to replace a failed
one (MTTR): the Markov model of a group that loses data when more than m
of its n members are down at once. Per group and for many groups, per hour
and per year, as probabilities and as nines, with a sensitivity table.
Hardware only: operator, firmware and software errors are not in it.
See docs/data-durability.md.

Examples:
  nines durability --replicas 3 --afr 3% --mttr 24h
  nines durability --ec 6+3 --afr 2% --mttr 48h --groups 100000 --json`

func runDurability(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "durability", "--replicas N | --ec K+M --afr P% --mttr DURATION [--groups G] [--json]", durabilityAbout)
	replicas := fs.Int("replicas", 0, "`copies` of every object; data is lost when all are down")
	ec := fs.String("ec", "", "erasure code `K+M`: K data and M parity fragments; data is lost when more than M are down")
	afr := fs.String("afr", "", "annualised failure `rate` of one disk, with its % sign, such as 3%")
	mttr := fs.Duration("mttr", 0, "`time` from a disk's failure to its data being whole again, such as 24h")
	groups := fs.Int("groups", 1, "how many such `groups` the data is spread over")
	asJSON := fs.Bool("json", false, "print JSON")
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	var g durability.Group
	switch {
	case *replicas > 0 && *ec != "", *replicas == 0 && *ec == "":
		return usageError("durability: give --replicas N or --ec K+M, one of them")
	case *replicas > 0:
		g.N, g.Tolerate = *replicas, *replicas-1
	default:
		k, m, ok := strings.Cut(*ec, "+")
		kn, err1 := strconv.Atoi(strings.TrimSpace(k))
		mn, err2 := strconv.Atoi(strings.TrimSpace(m))
		if !ok || err1 != nil || err2 != nil || kn < 1 || mn < 0 {
			return usageError("durability: --ec %q: want K+M, such as 6+3", *ec)
		}
		g.N, g.Tolerate = kn+mn, mn
	}
	text, pct := strings.CutSuffix(strings.TrimSpace(*afr), "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(text), 64)
	if !pct || err != nil {
		return usageError("durability: --afr %q: want a percentage with its sign, such as 3%%", *afr)
	}
	g.AFR, g.MTTR = v/100, *mttr
	if *groups < 1 {
		return usageError("durability: --groups %d: want at least 1", *groups)
	}
	ss, err := durability.Sensitivities(g, *groups)
	if err != nil {
		return usageError("%v", err)
	}
	if *asJSON {
		return printJSON(e.stdout, map[string]any{"members": g.N, "tolerate": g.Tolerate, "afr": g.AFR, "mttr_hours": g.MTTR.Hours(),
			"groups": *groups, "result": ss[0].Result, "sensitivity": ss})
	}
	return writeDurability(e.stdout, g, *groups, ss)
}

func writeDurability(w io.Writer, g durability.Group, groups int, ss []durability.Sensitivity) error {
	r := ss[0].Result
	fmt.Fprintf(w, "%d members, data lost when more than %d are down; AFR %g %% (MTTF %.0f h), MTTR %s\n",
		g.N, g.Tolerate, 100*g.AFR, r.MTTFHours, g.MTTR.Round(time.Minute))
	fmt.Fprintf(w, "loss rate of one group: %.3g per hour (the exact chain: %.3g), %.3g per year\n",
		r.LossRatePerHour, r.ExactRatePerHour, r.LossRatePerHour*durability.HoursPerYear)
	fmt.Fprintf(w, "%d group(s): %.3g per hour, %.3g per year: %.2f nines of annual durability\n\n", groups, r.LossPerHour, r.LossPerYear, r.Nines)
	fmt.Fprintf(w, "%-16s %14s %14s %8s\n", "", "per hour", "per year", "nines")
	for _, s := range ss {
		fmt.Fprintf(w, "%-16s %14.3g %14.3g %8.2f\n", s.Change, s.LossPerHour, s.LossPerYear, s.Nines)
	}
	_, err := fmt.Fprintln(w, "\nHardware only: operator, firmware and software errors, which dominate real loss, are not in it.")
	return err
}

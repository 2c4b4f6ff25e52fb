package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/scorecard"
)

const readinessAbout = `Check each service's production readiness (docs/scorecards.md): the level it
reached (bronze, silver, gold by default; levels and checks from
--readiness FILE) and, for each failing check, what was found and how to fix
it. Checks: owner and on-call set; at least one SLO; a playbook entry for
every alert that can page (the URL answers, or a heading in --playbooks has
the alert's anchor); postmortems of SEV1/2 incidents; repair items on time;
no undeclared dependency. A playbook URL that does not answer fails its
check; it is not an error. Exit code 0 whatever the levels.

Examples:
  nines readiness --services services.yaml --data ./nines-data
  nines readiness --services services.yaml --readiness readiness.yaml --service checkout --json`

func runReadiness(ctx context.Context, e *env, args []string) error {
	var f scorecardFlags
	var configFile, playbooks string
	fs := newFlagSet(e, "readiness", "--services FILE [--readiness FILE] [--playbooks DIR] [--json]", readinessAbout)
	f.register(fs, false)
	fs.StringVar(&configFile, "readiness", "", "levels and checks `file` (readiness.yaml); default: bronze, silver, gold")
	fs.StringVar(&playbooks, "playbooks", "", "`directory` of Markdown playbooks; overrides the file's playbooks:")
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	cfg := scorecard.DefaultReadiness()
	if configFile != "" {
		var err error
		if cfg, err = scorecard.LoadReadiness(configFile); err != nil {
			return usageError("readiness: %v", err)
		}
	}
	if playbooks != "" {
		cfg.PlaybooksDir = playbooks
	}
	in, err := f.open(ctx, e, "readiness")
	if err != nil {
		return err
	}
	defer in.db.Close()
	a := &scorecard.Assessor{Config: cfg, Services: func() []scorecard.Service { return in.services }, SLOs: in.slos,
		Incidents: storeIncidents{in.db}, Prober: &scorecard.HTTPProber{Timeout: cfg.PlaybookTimeout}, Now: time.Now}
	if cfg.PlaybooksDir != "" {
		if st, err := os.Stat(cfg.PlaybooksDir); err != nil || !st.IsDir() {
			return usageError("readiness: playbooks %s: not a directory", cfg.PlaybooksDir)
		}
		a.Playbooks = os.DirFS(cfg.PlaybooksDir)
	}
	rs, err := a.Assess(ctx, f.service)
	if err != nil {
		return scorecardError("readiness", err)
	}
	if f.json {
		return printJSON(e.stdout, map[string]any{"services": rs})
	}
	return writeReadiness(e.stdout, rs)
}

// storeIncidents lists incidents straight from the store.
type storeIncidents struct{ st incident.Store }

func (s storeIncidents) List(ctx context.Context, f incident.Filter) ([]incident.Incident, error) {
	return s.st.ListIncidents(ctx, f)
}

func writeReadiness(w io.Writer, rs []scorecard.Readiness) error {
	for _, r := range rs {
		level := r.Level
		if level == "" {
			level = "no level"
		}
		next := ""
		if r.Next != "" {
			next = ", next " + r.Next
		}
		fmt.Fprintf(w, "%s: %s%s\n", r.Service, level, next)
		for _, c := range r.Checks {
			mark := "ok  "
			if !c.Passed {
				mark = "FAIL"
			}
			fmt.Fprintf(w, "  %s %-12s [%s] %s\n", mark, c.Check, c.Level, c.Detail)
			if c.Fix != "" {
				fmt.Fprintf(w, "       fix: %s\n", strings.TrimSpace(c.Fix))
			}
		}
	}
	return nil
}

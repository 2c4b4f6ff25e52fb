package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"github.com/nines-sre/nines/oncall"
)

const oncallAbout = `Report the on-call load of every rotation of the catalog, from a running
nines serve: per rotation and per person, pages per shift, pages outside
working hours and at night, incidents per shift against the limit (2 per
12 h shift by default), time engaged, alert noise (pages that led to no
incident, or to incidents resolved with no action), and people against the
minimum (6 for a single-site rotation, 6 per site for a multi-site one);
the month against the month before, and six months side by side. Each
rotation is read in its own time zone. See docs/oncall.md.

Subcommands:
  report      the load of a month (default: the current one)

Examples:
  nines oncall report
  nines oncall report --month 2026-11 --json`

func runOncall(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		out := e.stdout
		if len(args) == 0 {
			out = e.stderr
		}
		fmt.Fprintf(out, "Usage: nines oncall report [--month 2026-11] [--json]\n\n%s\n", oncallAbout)
		if len(args) == 0 {
			return &exitError{code: exitUsage, silent: true, err: errors.New("no subcommand")}
		}
		return nil
	}
	if args[0] != "report" {
		return usageError("oncall: unknown subcommand %q (see nines oncall --help)", args[0])
	}
	fs := newFlagSet(e, "oncall report", "[--month 2026-11] [--json]", oncallAbout)
	month := fs.String("month", "", "the `month` to report, such as 2026-11 (default: the current one)")
	asJSON := fs.Bool("json", false, "print the API's JSON")
	var c client
	clientFlags(fs, &c)
	if err := applyEnv(fs); err != nil {
		return usageError("oncall report: %v", err)
	}
	if help, err := parseFlags(fs, e, args[1:]); help || err != nil {
		return err
	}
	path := "/api/v1/oncall"
	if *month != "" {
		m, err := oncall.ParseMonth(*month)
		if err != nil {
			return usageError("oncall report: --month: %v", err)
		}
		path += "?" + url.Values{"month": {m.String()}}.Encode()
	}
	var raw json.RawMessage
	if err := c.get(ctx, path, &raw); err != nil {
		return fmt.Errorf("oncall report: %w", err)
	}
	if *asJSON {
		_, err := fmt.Fprintf(e.stdout, "%s\n", raw)
		return err
	}
	var rep oncall.Report
	if err := json.Unmarshal(raw, &rep); err != nil {
		return fmt.Errorf("oncall report: %w", err)
	}
	return oncall.WriteText(e.stdout, &rep)
}

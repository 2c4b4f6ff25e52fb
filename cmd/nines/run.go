package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes, so that `nines eval` can gate a pipeline.
const (
	exitViolated = 1
	exitUsage    = 2
)

// exitError carries the exit code for an error. A silent one has already
// been reported (the report says which objective was violated).
type exitError struct {
	code   int
	silent bool
	err    error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errViolated is returned when an evaluated window missed its objective.
var errViolated = &exitError{code: exitViolated, silent: true, err: errors.New("an objective was violated")}

func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

// env gives a command what a process gives main: its streams and whether
// stderr is a terminal that can show progress.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	stderrIsTTY    bool
}

type command struct {
	name, summary string
	run           func(ctx context.Context, e *env, args []string) error
}

func commands() []command {
	return []command{
		{"eval", "measure an SLO spec against an events file or access log", runEval},
		{"serve", "run the platform: store, ingestion, SLO status API, /metrics", runServe},
		{"alerts", "show what is firing in nines serve, and why", runAlerts},
		{"silence", "mute alert notifications for a while (silence add, list, expire)", runSilence},
		{"gate", "ask nines serve whether a release may go out (exit 0 allow, 1 deny)", runGate},
		{"incident", "record incidents and report TTD/TTE/TTF/TTM, repair debt, postmortems", runIncident},
		{"oncall", "report on-call load per rotation and person: pages, nights, incidents per shift, noise", runOncall},
		{"chaos", "run chaos experiments judged by the SLIs: the fault proxy, runs and their verdicts", runChaos},
		{"probe", "synthetic probes (HTTP, TCP, DNS, gRPC) from named locations: check once, or run an agent", runProbe},
		{"durability", "how often replicas or erasure-coded stripes lose data, from AFR and MTTR", runDurability},
		{"forecast", "when each SLO's budget runs out, each service's peak against its tested capacity, anomalies", runForecast},
		{"ship", "follow access logs into nines serve, each line counted exactly once", runShip},
		{"annotate", "record a deploy or other change in nines serve, shown beside the budget", runAnnotate},
		{"lint", "validate SLO spec files (native or OpenSLO v1) and service catalogs", runLint},
		{"deps", "check a service catalog's dependencies: ceilings, latency budgets, cycles, capacity", runDeps},
		{"generate", "write Prometheus rules for SLOs (generate prometheus-rules)", runGenerate},
		{"convert", "write SLO specs as native YAML or OpenSLO v1", runConvert},
		{"replay", "replay alerts over history: what would have fired, and when", runReplay},
		{"scorecard", "weekly availability scorecards per service, and their push to owners (scorecard push)", runScorecard},
		{"readiness", "production readiness per service: levels, failing checks and how to fix them", runReadiness},
		{"migrate", "show or apply the schema migrations of a PostgreSQL store (migrate status, up)", runMigrate},
		{"version", "print the version of nines", runVersion},
	}
}

// Run executes the nines command line args (without the program name).
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, stderrIsTTY: isTerminal(stderr)}
	if len(args) == 0 {
		writeUsage(stderr)
		return &exitError{code: exitUsage, silent: true, err: errors.New("no command")}
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return Run(ctx, []string{args[1], "--help"}, stdin, stdout, stderr)
		}
		writeUsage(stdout)
		return nil
	case "-version", "--version":
		name = "version"
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, e, args[1:])
		}
	}
	writeUsage(stderr)
	return usageError("unknown command %q", name)
}

func writeUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString(`nines measures services against service-level objectives.

Usage:
  nines <command> [flags]

Commands:
`)
	for _, c := range commands() {
		fmt.Fprintf(&b, "  %-10s %s\n", c.name, c.summary)
	}
	b.WriteString(`
Run "nines <command> --help" for the flags of a command.

Exit codes: 0 every objective met, 1 an objective violated, 2 usage or input error.
`)
	io.WriteString(w, b.String())
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints a usage text that starts with what the command is for.
func newFlagSet(e *env, name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage: nines %s %s\n\n%s\n\nFlags:\n", name, synopsis, about)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args of a command that takes no arguments, turning -h
// into a clean exit and any other flag error into a usage error.
func parseFlags(fs *flag.FlagSet, e *env, args []string) (help bool, err error) {
	if help, err = parseFlagsWithArgs(fs, e, args); help || err != nil {
		return help, err
	}
	if fs.NArg() > 0 {
		return false, usageError("%s: unexpected argument %q (see nines %s --help)", fs.Name(), fs.Arg(0), fs.Name())
	}
	return false, nil
}

// parseFlagsWithArgs is parseFlags for commands that take arguments after
// their flags.
func parseFlagsWithArgs(fs *flag.FlagSet, e *env, args []string) (help bool, err error) {
	fs.SetOutput(io.Discard)
	err = fs.Parse(args)
	fs.SetOutput(e.stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(e.stdout)
		fs.Usage()
		return true, nil
	case err != nil:
		return false, usageError("%s: %v (see nines %s --help)", fs.Name(), err, fs.Name())
	}
	return false, nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// plural writes a count with its noun, singular for one: "1 SLO",
// "3 SLOs".
func plural[N int | int64](n N, noun string) string {
	return pluralAs(n, noun, noun+"s")
}

// pluralAs is plural for a noun whose plural is not noun+"s".
func pluralAs[N int | int64](n N, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

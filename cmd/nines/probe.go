package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/nines-sre/nines/probe"
)

const probeAbout = `Synthetic probes: HTTP(S) requests and transactions, TCP, DNS and gRPC
health, from named locations (docs/probes.md).

Subcommands:
  check    run each probe once and print its result, phase by phase
           (exit 1 when one failed)
  agent    run the probes that list --location at their intervals and push
           their results to nines serve as events

Examples:
  nines probe check --probes probes.yaml
  nines probe agent --server http://nines:9797 --location eu-west --probes probes.yaml`

func runProbe(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		out := e.stdout
		if len(args) == 0 {
			out = e.stderr
		}
		fmt.Fprintf(out, "Usage: nines probe check|agent [flags]\n\n%s\n", probeAbout)
		if len(args) == 0 {
			return &exitError{code: exitUsage, silent: true, err: errors.New("no subcommand")}
		}
		return nil
	}
	switch args[0] {
	case "check":
		return runProbeCheck(ctx, e, args[1:])
	case "agent":
		return runProbeAgent(ctx, e, args[1:])
	}
	return usageError("probe: unknown subcommand %q (see nines probe --help)", args[0])
}

func loadProbes(cmd, path string) ([]*probe.Probe, error) {
	if path == "" {
		return nil, usageError("%s: --probes is required: a probes.yaml file or a directory of them (docs/probes.md)", cmd)
	}
	ps, err := probe.Load(path)
	if err != nil {
		return nil, usageError("%s: %v", cmd, err)
	}
	return ps, nil
}

func runProbeCheck(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "probe check", "--probes FILE|DIR [--location NAME] [--json]", "Run each probe once, all at the same time, and print the results in the\nfile's order with their phases. Exit 1 when a probe failed.")
	path := fs.String("probes", "", "probes.yaml `file`, or a directory of them")
	location := fs.String("location", "", "run only the probes that list this location `name` (default: every probe, as location \"local\")")
	asJSON := fs.Bool("json", false, "print JSON")
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	ps, err := loadProbes("probe check", *path)
	if err != nil {
		return err
	}
	loc := *location
	if loc == "" {
		loc = "local"
	} else {
		if !probe.ValidLocation(loc) {
			return usageError("probe check: --location %q: want letters, digits, - and _ (not \"cert\")", loc)
		}
		var mine []*probe.Probe
		for _, p := range ps {
			if p.Runs(loc) {
				mine = append(mine, p)
			}
		}
		if len(mine) == 0 {
			return usageError("probe check: no probe lists location %s", loc)
		}
		ps = mine
	}
	results := make([]probe.Result, len(ps))
	c := probe.NewChecker()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i, p := range ps {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			results[i] = c.Check(ctx, p, loc, time.Now)
			<-sem
		}()
	}
	wg.Wait()
	if *asJSON {
		err = writeProbeJSON(e.stdout, ps, results)
	} else {
		err = writeProbeText(e.stdout, ps, results)
	}
	if err != nil {
		return err
	}
	for _, r := range results {
		if !r.OK {
			return &exitError{code: exitViolated, silent: true, err: errors.New("a probe failed")}
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func fmtDuration(d time.Duration) string {
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", ms(d))
	}
	return fmt.Sprintf("%dµs", d.Microseconds())
}

// writeProbeText prints a table of the results, then each one's phases,
// steps and certificate.
func writeProbeText(w io.Writer, ps []*probe.Probe, rs []probe.Result) error {
	var table bytes.Buffer
	tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PROBE\tLOCATION\tRESULT\tSTATUS\tLATENCY\tREASON")
	for _, r := range rs {
		res, status := "ok", "-"
		if !r.OK {
			res = "FAIL"
		}
		if r.Status > 0 {
			status = fmt.Sprint(r.Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Probe, r.Location, res, status, fmtDuration(r.Latency), r.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var b strings.Builder
	for _, line := range strings.SplitAfter(table.String(), "\n") {
		b.WriteString(strings.TrimRight(line, " \n"))
		if line != "" {
			b.WriteByte('\n')
		}
	}
	b.WriteByte('\n')
	for i, r := range rs {
		if len(r.Phases) == 0 {
			continue
		}
		parts := make([]string, len(r.Phases))
		for j, ph := range r.Phases {
			parts[j] = ph.Name + " " + fmtDuration(ph.Duration)
		}
		fmt.Fprintf(&b, "%s: %s\n", probe.LocationSLO(r.Probe, r.Location), strings.Join(parts, ", "))
		if len(r.Steps) > 1 {
			for _, s := range r.Steps {
				res := "ok"
				if !s.OK {
					res = "FAIL: " + s.Reason
				}
				fmt.Fprintf(&b, "  step %s: status %d in %s, %s\n", s.Name, s.Status, fmtDuration(s.Latency), res)
			}
		}
		if !r.CertExpiry.IsZero() {
			verdict := "good"
			if line := r.CertLine(nil); strings.Contains(string(line), `"ok":false`) {
				verdict = "BAD"
			}
			fmt.Fprintf(&b, "  certificate: expires %s, %d days left: %s at certMinDays %d (SLO %s)\n",
				r.CertExpiry.UTC().Format(time.RFC3339), r.CertDaysLeft(), verdict, ps[i].CertMinDays, probe.CertSLO(r.Probe))
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeProbeJSON(w io.Writer, ps []*probe.Probe, rs []probe.Result) error {
	type phase struct {
		Name string  `json:"name"`
		MS   float64 `json:"ms"`
	}
	type step struct {
		Name   string  `json:"name"`
		Status int     `json:"status"`
		MS     float64 `json:"latency_ms"`
		OK     bool    `json:"ok"`
		Reason string  `json:"reason,omitempty"`
	}
	type out struct {
		Probe       string     `json:"probe"`
		Location    string     `json:"location"`
		SLO         string     `json:"slo"`
		Start       time.Time  `json:"start"`
		MS          float64    `json:"latency_ms"`
		OK          bool       `json:"ok"`
		Status      int        `json:"status,omitempty"`
		Reason      string     `json:"reason,omitempty"`
		Phases      []phase    `json:"phases"`
		Steps       []step     `json:"steps,omitempty"`
		CertExpiry  *time.Time `json:"cert_expiry,omitempty"`
		CertDays    *int       `json:"cert_days_left,omitempty"`
		CertMinDays int        `json:"cert_min_days,omitempty"`
	}
	all := make([]out, 0, len(rs))
	for i, r := range rs {
		o := out{Probe: r.Probe, Location: r.Location, SLO: probe.LocationSLO(r.Probe, r.Location), Start: r.Start.UTC(),
			MS: ms(r.Latency), OK: r.OK, Status: r.Status, Reason: r.Reason, Phases: []phase{}}
		for _, ph := range r.Phases {
			o.Phases = append(o.Phases, phase{ph.Name, ms(ph.Duration)})
		}
		for _, s := range r.Steps {
			o.Steps = append(o.Steps, step{s.Name, s.Status, ms(s.Latency), s.OK, s.Reason})
		}
		if !r.CertExpiry.IsZero() {
			exp, days := r.CertExpiry.UTC(), r.CertDaysLeft()
			o.CertExpiry, o.CertDays, o.CertMinDays = &exp, &days, ps[i].CertMinDays
		}
		all = append(all, o)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(all)
}

func runProbeAgent(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "probe agent", "--server URL --location NAME [--probes FILE|DIR] [--token-file FILE]",
		"Run the probes that list --location at their intervals and push their\nresults to nines serve as events: each to the SLO probe.location, each\ncertificate seen to probe.cert. Batches are sent again until taken, each\ncounted once. Without --probes, the probes are those nines serve runs\n(--probes there), read from it at start and again every minute. Every\nflag can also be set as NINES_ and its name in capitals (NINES_SERVER,\nNINES_LOCATION, …).")
	server := fs.String("server", "http://127.0.0.1:9797", "nines serve base `URL`")
	location := fs.String("location", "", "this agent's location `name`, as the probes' locations: lists it")
	path := fs.String("probes", "", "probes.yaml `file`, or a directory of them (default: read them from nines serve)")
	tokenFile := fs.String("token-file", "", "`file` with the bearer token, when the server requires one")
	maxLag := fs.Duration("max-lag", 5*time.Minute, "nines serve's --ingest.max-lag: a clock further behind has its results counted late, and is told so")
	maxPending := fs.Int("max-pending", 100_000, "event lines kept while nines serve cannot take them; past them the oldest are dropped, counted")
	concurrency := fs.Int("concurrency", 256, "checks running at once at most")
	if err := applyEnv(fs); err != nil {
		return usageError("probe agent: %v", err)
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	if *location == "" {
		return usageError("probe agent: --location is required: the name this agent's probes list under locations:")
	}
	token := ""
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return usageError("probe agent: --token-file: %v", err)
		}
		token = strings.TrimSpace(string(b))
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	src := probeSource{path: *path, server: *server, token: token, client: &http.Client{Timeout: 10 * time.Second}}
	ps, err := src.load(ctx)
	if err != nil {
		return usageError("probe agent: %v", err)
	}
	agent, err := probe.NewAgent(probe.AgentConfig{Server: *server, Location: *location, Token: token, MaxLag: *maxLag, MaxPending: *maxPending, Logger: logger})
	if err != nil {
		return usageError("%v", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	actx, stop := context.WithCancel(context.WithoutCancel(ctx))
	go func() { defer wg.Done(); agent.Run(actx) }()
	defer func() {
		stop()
		wg.Wait()
		st := agent.Stats()
		logger.Info("nines probe agent: stopped", "sent", st.Sent, "dropped", st.Dropped, "refused", st.Refused, "late_quanta", st.Late, "pending", st.Pending)
	}()
	for {
		sched, err := probe.NewScheduler(probe.SchedulerConfig{Location: *location, Probes: ps, Sink: agent, Concurrency: *concurrency, Logger: logger})
		if err != nil {
			return usageError("%v", err)
		}
		if len(sched.Probes()) == 0 {
			return usageError("probe agent: no probe in %s lists location %s", src.String(), *location)
		}
		logger.Info("nines probe agent: running", "location", *location, "probes", len(sched.Probes()), "server", *server, "from", src.String())
		// A file given is read once; probes read from nines serve are read
		// again every minute, and a change restarts the schedule.
		sctx, restart := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); sched.Run(sctx) }() // hands its last results to the agent
		next := src.watch(sctx, logger)
		<-done
		restart()
		if next == nil || ctx.Err() != nil {
			return nil
		}
		ps = next
	}
}

// probeSource is where an agent's probes come from: a file, or the
// probes nines serve runs (GET /api/v1/probes/file).
type probeSource struct {
	path, server, token string
	client              *http.Client
	last                []byte
}

func (s *probeSource) String() string {
	if s.path != "" {
		return s.path
	}
	return strings.TrimSuffix(s.server, "/") + "/api/v1/probes/file"
}

// load reads the probes; from nines serve it tries until it answers (an
// agent may start before the server), and refuses what it cannot parse.
func (s *probeSource) load(ctx context.Context) ([]*probe.Probe, error) {
	if s.path != "" {
		return probe.Load(s.path)
	}
	for {
		ps, changed, err := s.fetch(ctx)
		switch {
		case err == nil && changed:
			return ps, nil
		case errors.Is(err, errProbesRefused):
			return nil, err
		case ctx.Err() != nil:
			return nil, ctx.Err()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second):
		}
	}
}

// watch returns the new probes once nines serve's differ from those
// running, nil when ctx ends first or the probes come from a file.
func (s *probeSource) watch(ctx context.Context, logger *slog.Logger) []*probe.Probe {
	if s.path != "" {
		<-ctx.Done()
		return nil
	}
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		ps, changed, err := s.fetch(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			logger.Warn("nines probe agent: the probes could not be read again from nines serve; the ones running go on", "err", err)
		case changed:
			logger.Info("nines probe agent: nines serve's probes changed; restarting the schedule")
			return ps
		}
	}
}

var errProbesRefused = errors.New("nines serve refused to give its probes")

// fetch reads nines serve's probes file and says whether it changed.
func (s *probeSource) fetch(ctx context.Context) ([]*probe.Probe, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.String(), nil)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %v", errProbesRefused, err)
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, probe.MaxFileSize+1))
	switch {
	case err != nil:
		return nil, false, err
	case resp.StatusCode/100 == 5:
		return nil, false, fmt.Errorf("%s: %s", s, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return nil, false, fmt.Errorf("%w: %s: %s %s (give --probes FILE, or start nines serve with --probes)", errProbesRefused, s, resp.Status, strings.TrimSpace(string(body)))
	case len(body) > probe.MaxFileSize:
		return nil, false, fmt.Errorf("%w: %s: larger than %d bytes", errProbesRefused, s, probe.MaxFileSize)
	}
	if bytes.Equal(body, s.last) {
		return nil, false, nil
	}
	ps, err := probe.Parse(s.String(), body)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", errProbesRefused, err)
	}
	s.last = body
	return ps, true, nil
}

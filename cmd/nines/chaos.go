package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nines-sre/nines/chaos"
)

const chaosAbout = `Run chaos experiments judged by the SLIs (docs/chaos.md).

Subcommands:
  proxy    a fault-injecting HTTP proxy in front of a service, taking its
           orders from nines serve
  run      start a run of an experiment of nines serve --experiments
  status   the experiments, their last runs and verdicts, or one in full
  stop     stop the run of an experiment now

Examples:
  nines chaos proxy --listen :8080 --upstream http://checkout:8080 --server http://nines:9797 --name checkout
  nines chaos run checkout-slow-payments
  nines chaos status checkout-slow-payments
  nines chaos stop checkout-slow-payments`

func runChaos(ctx context.Context, e *env, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		out := e.stdout
		if len(args) == 0 {
			out = e.stderr
		}
		fmt.Fprintf(out, "Usage: nines chaos proxy|run|status|stop [flags]\n\n%s\n", chaosAbout)
		if len(args) == 0 {
			return &exitError{code: exitUsage, silent: true, err: errors.New("no subcommand")}
		}
		return nil
	}
	switch args[0] {
	case "proxy":
		if slices.Contains(args[1:], "--tcp") || slices.Contains(args[1:], "-tcp") {
			return runChaosTCP(ctx, e, args[1:])
		}
		return runChaosProxy(ctx, e, args[1:])
	case "run", "status", "stop":
		return runChaosControl(ctx, e, args[0], args[1:])
	}
	return usageError("chaos: unknown subcommand %q (see nines chaos --help)", args[0])
}

func runChaosControl(ctx context.Context, e *env, sub string, args []string) error {
	fs := newFlagSet(e, "chaos "+sub, "[flags] EXPERIMENT", chaosAbout)
	var c client
	clientFlags(fs, &c)
	asJSON := fs.Bool("json", false, "print the API's JSON")
	by := ""
	if sub == "stop" {
		fs.StringVar(&by, "by", os.Getenv("USER"), "who stops it, for the run's record")
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	name := fs.Arg(0)
	if name == "" && sub != "status" {
		return usageError("chaos %s: name the experiment (see nines chaos status)", sub)
	}
	var out map[string]any
	var err error
	switch sub {
	case "run":
		err = c.do(ctx, http.MethodPost, "/api/v1/experiments/"+url.PathEscape(name)+"/runs", nil, &out, nil)
	case "stop":
		q := ""
		if by != "" {
			q = "?by=" + url.QueryEscape(by)
		}
		err = c.do(ctx, http.MethodPost, "/api/v1/experiments/"+url.PathEscape(name)+"/stop"+q, nil, &out, nil)
	default:
		path := "/api/v1/experiments"
		if name != "" {
			path += "/" + url.PathEscape(name)
		}
		err = c.get(ctx, path, &out)
	}
	if err != nil {
		return fmt.Errorf("chaos %s: %w", sub, err)
	}
	if *asJSON || sub == "status" && name != "" {
		return printJSON(e.stdout, out)
	}
	return writeChaos(e.stdout, sub, out)
}

// writeChaos prints the answer of run, stop or status in lines.
func writeChaos(w io.Writer, sub string, out map[string]any) error {
	if sub == "status" {
		list, _ := out["experiments"].([]any)
		for _, it := range list {
			x, _ := it.(map[string]any)
			last := "never run"
			if r, ok := x["last_run"].(map[string]any); ok {
				last = fmt.Sprintf("run %v %v: %v", r["id"], r["outcome"], r["reason"])
			}
			fmt.Fprintf(w, "%v  slo %v  proxy %v  confidence %.2f  %s\n", x["name"], x["slo"], x["proxy"], x["confidence"], last)
		}
		return nil
	}
	planned, _ := out["planned"].(map[string]any)
	fmt.Fprintf(w, "run %v of %v: %v (%v)\n", out["id"], out["experiment"], out["outcome"], out["reason"])
	if sub == "run" && planned != nil {
		when := "no traffic measured in the last hour to time it by"
		if secs, ok := planned["duration_seconds"].(float64); ok {
			when = "about " + (time.Duration(secs) * time.Second).String() + " at the last hour's traffic"
		}
		fmt.Fprintf(w, "decides within about %v requests per cohort: %s\n", planned["requests"], when)
	}
	return nil
}

// runChaosProxy runs the HTTP proxy: it takes the orders of nines serve
// (the run going on, its cohorts and faults), sends each cohort's
// requests to nines serve as events of its cohort SLO, and injects only
// while it hears from nines serve (it fails open).
func runChaosProxy(ctx context.Context, e *env, args []string) error {
	fs := newFlagSet(e, "chaos proxy", "--listen ADDR --upstream URL --server URL --name NAME", chaosAbout)
	listen := fs.String("listen", "127.0.0.1:8080", "`address` the proxy listens on")
	upstream := fs.String("upstream", "", "the service's base `URL`, such as http://checkout:8080")
	name := fs.String("name", "", "the proxy's `name` in the experiment files (proxy:)")
	admin := fs.String("admin", "", "`address` of the proxy's own endpoints: POST /pause, POST /resume, GET /pause, GET /metrics (no token: keep it private)")
	routes := fs.String("routes", "", "comma-separated path `prefixes` the metrics label requests by (others are \"other\")")
	var pc chaos.PauseConfig
	fs.IntVar(&pc.Queue, "pause.queue", 1000, "requests held at most while paused; one more gets 503")
	fs.DurationVar(&pc.MaxHold, "pause.max-hold", 30*time.Second, "longest a request is held while paused; then 503")
	fs.Float64Var(&pc.ReleaseRate, "pause.release-rate", 200, "held requests a second sent upstream after a resume, in order")
	var tc chaos.ThrottleConfig
	fs.Float64Var(&tc.GlobalRate, "throttle.rate", 0, "requests a second all proxy replicas together let through (0: no limit); over it, 429")
	fs.IntVar(&tc.Replicas, "throttle.replicas", 1, "how many proxy replicas share --throttle.rate")
	fs.IntVar(&tc.Burst, "throttle.burst", 0, "requests a replica lets through at once above its share after a quiet spell (0: a second's worth)")
	var c client
	clientFlags(fs, &c)
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	up, err := url.Parse(*upstream)
	if err != nil || *upstream == "" {
		return usageError("chaos proxy: --upstream %q: want the service's URL, such as http://checkout:8080", *upstream)
	}
	token := ""
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return usageError("chaos proxy: --token-file: %v", err)
		}
		token = strings.TrimSpace(string(b))
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	// A proxy's heap is small and short-lived (a request's buffers): a
	// garbage collection every fourth growth rather than every one costs
	// little memory and much less CPU per request. GOGC still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	agent, err := chaos.NewAgent(chaos.AgentConfig{Server: c.server, Name: *name, Token: token, Logger: logger})
	if err != nil {
		return usageError("%v", err)
	}
	cfg := chaos.Config{Upstream: up, Recorder: agent, Injecting: agent.Injecting, Logger: logger}
	if cfg.Pauser, err = chaos.NewPauser(pc, time.Now); err != nil {
		return usageError("chaos proxy: %v", err)
	}
	if tc.GlobalRate > 0 {
		if tc.Burst == 0 {
			tc.Burst = max(1, int(tc.GlobalRate/float64(tc.Replicas)))
		}
		if cfg.Throttle, err = chaos.NewThrottle(tc, time.Now); err != nil {
			return usageError("chaos proxy: %v", err)
		}
	}
	var prefixes []string
	for _, r := range strings.Split(*routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			prefixes = append(prefixes, r)
		}
	}
	if cfg.Metrics, err = chaos.NewMetrics(chaos.LabelsOf(cfg, prefixes)); err != nil {
		return usageError("chaos proxy: %v", err)
	}
	p, err := chaos.NewProxy(cfg)
	if err != nil {
		return usageError("%v", err)
	}
	agent.Attach(p)
	if *admin != "" {
		aln, err := net.Listen("tcp", *admin)
		if err != nil {
			return usageError("chaos proxy: --admin: %v", err)
		}
		defer aln.Close()
		ahs := &http.Server{Handler: chaos.AdminHandler(p), ReadHeaderTimeout: 10 * time.Second}
		go ahs.Serve(aln)
		defer ahs.Close()
		fmt.Fprintf(e.stderr, "nines chaos proxy: admin on http://%s (pause, resume, metrics)\n", aln.Addr())
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return usageError("chaos proxy: %v", err)
	}
	defer ln.Close()
	var protocols http.Protocols
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true) // h2c, as service meshes speak it
	hs := &http.Server{Handler: p, Protocols: &protocols, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	fmt.Fprintf(e.stderr, "nines chaos proxy: http://%s → %s, orders from %s as %q\n", ln.Addr(), up, c.server, *name)
	actx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { agent.Run(actx) })
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err := <-errc:
		cancel()
		wg.Wait()
		return err
	}
	sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer scancel()
	hs.Shutdown(sctx)
	cancel() // the agent sends what it holds, once
	wg.Wait()
	return nil
}

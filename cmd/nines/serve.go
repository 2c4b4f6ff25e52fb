package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
	"github.com/nines-sre/nines/ui"
)

const serveAbout = `Run nines as a service: an embedded SQLite store under --data, SLO specs
from --slos, ingestion over HTTP, SLO status and burn rates over a JSON API
(docs/api.md) and on /metrics for Prometheus and Grafana.

Every flag can also be set by an environment variable: NINES_ and the flag
name in capitals with dots and dashes as underscores (NINES_LISTEN,
NINES_TOKEN_FILE, …). Flags win over the environment.

Specs are reloaded on SIGHUP and on POST /api/v1/-/reload; a set with an
error is refused and the previous one stays in force.

Examples:
  nines serve --data ./nines-data --slos ./slos/
  nines serve --demo            # made-up traffic for three services`

type serveFlags struct {
	listen, data, slos, tokenFile string
	protectReads, demo            bool
	maxLag, hold, tick            time.Duration
	retention                     store.Retention
	incidents                     string // --incidents FILE
	notify                        string // --notify FILE
}

func runServe(ctx context.Context, e *env, args []string) error {
	var f serveFlags
	fs := newFlagSet(e, "serve", "[flags]", serveAbout)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:9797", "`address` to listen on")
	fs.StringVar(&f.data, "data", "./nines-data", "`directory` of the embedded store")
	fs.StringVar(&f.slos, "slos", "", "SLO spec `file or directory` (*.yaml, *.yml; native or OpenSLO v1)")
	fs.StringVar(&f.incidents, "incidents", "", "incidents configuration `file`: severity scale, per-service owners and TTD/TTE/TTF/TTM goals (examples/incidents.yaml)")
	fs.StringVar(&f.notify, "notify", "", "alert routing and notifiers `file` (notify.yaml: PagerDuty, Slack, webhooks, Alertmanager; docs/notify.md); without it alerts go to the log")
	fs.StringVar(&f.tokenFile, "token-file", "", "`file` holding a bearer token required by write and admin endpoints")
	fs.BoolVar(&f.protectReads, "protect-reads", false, "require the bearer token on read endpoints too")
	fs.BoolVar(&f.demo, "demo", false, "make up traffic for three demo services (with their SLOs unless --slos is given)")
	fs.DurationVar(&f.maxLag, "ingest.max-lag", 5*time.Minute, "how late data may arrive and still update its quantum")
	fs.DurationVar(&f.hold, "ingest.remote-write-hold", 30*time.Second, "how long after a quantum ends remote-write data for it is awaited (a histogram's buckets may come in several requests)")
	fs.DurationVar(&f.tick, "eval.interval", 5*time.Second, "how often SLO windows advance")
	fs.DurationVar(&f.retention.Full, "retention.full", store.Retention{}.WithDefaults().Full, "how long per-quantum latency histograms are kept")
	fs.DurationVar(&f.retention.Counts, "retention.counts", store.Retention{}.WithDefaults().Counts, "how long per-quantum counts are kept")
	fs.DurationVar(&f.retention.IdempotencyKeys, "retention.idempotency-keys", store.DefaultIdempotencyKeys, "how long Idempotency-Key values of writes are remembered: a retry within it counts once (forgotten at the hourly compaction after)")
	if err := applyEnv(fs); err != nil {
		return usageError("serve: %v", err)
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	if _, _, _, err := f.retention.Cutoffs(time.Now()); err != nil {
		return usageError("serve: --retention.*: %v", err)
	}
	if f.slos == "" && !f.demo {
		fmt.Fprintln(e.stderr, "nines: serving without --slos: SLOs stored earlier are used; add specs with --slos DIR")
	}
	token := ""
	if f.tokenFile != "" {
		b, err := os.ReadFile(f.tokenFile)
		if err != nil {
			return usageError("serve: --token-file: %v", err)
		}
		if token = strings.TrimSpace(string(b)); token == "" {
			return usageError("serve: --token-file %s is empty", f.tokenFile)
		}
	}
	return serve(ctx, e, &f, token)
}

// applyEnv sets every flag from its NINES_ environment variable; flags
// given on the command line are parsed afterwards and win.
func applyEnv(fs *flag.FlagSet) error {
	var err error
	fs.VisitAll(func(fl *flag.Flag) {
		name := "NINES_" + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(fl.Name))
		if v, ok := os.LookupEnv(name); ok && err == nil {
			if serr := fs.Set(fl.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %v", name, v, serr)
			}
		}
	})
	return err
}

func serve(ctx context.Context, e *env, f *serveFlags, token string) error {
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	db, err := sqlite.Open(ctx, f.data, sqlite.Options{})
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("serve: store: %w", err)}
	}
	defer db.Close()
	// Listen first: the incidents receiver posts to the address actually
	// bound (--listen 127.0.0.1:0 picks a port).
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("serve: %w", err)}
	}
	defer ln.Close()
	nt, err := newNotifier(f.notify, ln.Addr().String(), token, db, logger)
	if err != nil {
		return err
	}
	eng, err := engine.New(ctx, engine.Config{Store: db, Logger: logger, MaxLag: f.maxLag, RemoteWriteHold: f.hold, OnTransition: nt.Enqueue})
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("serve: %w", err)}
	}
	load := func() ([]string, error) {
		files, err := specFiles(f.slos, f.demo)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", engine.ErrInvalid, err)
		}
		warnings, err := eng.Load(ctx, files)
		var out []string
		for _, w := range warnings {
			logger.Warn("spec", "warning", w.String())
			out = append(out, w.String())
		}
		return out, err
	}
	var reload func() ([]string, error)
	if f.slos != "" || f.demo {
		if _, err := load(); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("serve: %w", err)}
		}
		reload = load
	}
	incidents, err := newIncidentService(eng, db, f.incidents, f.demo)
	if err != nil {
		return err
	}
	go func() { _ = incidents.Refresh(ctx) }() // the first incident report is then as quick as the rest
	web, err := ui.New(ui.Config{Engine: eng, Store: db, Logger: logger, Incidents: incidents})
	if err != nil {
		return err
	}
	defer web.Wait() // background cache reads end before the store closes
	reload = nt.withReload(reload)
	srv, err := server.New(server.Config{Engine: eng, Store: db, Logger: logger, Token: token,
		ProtectReads: f.protectReads, Reload: reload, Version: buildVersion(), UI: web, Incidents: incidents, Notify: nt.Dispatcher})
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	fmt.Fprintf(e.stderr, "nines serve: http://%s  data %s  %d SLOs\n", ln.Addr(), f.data, len(eng.SLOs()))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	run := func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	run(func() { every(ctx, f.tick, func(now time.Time) { eng.Tick(now) }) })
	run(func() { nt.Run(ctx) })
	run(func() {
		every(ctx, time.Hour, func(now time.Time) {
			if _, err := db.Compact(ctx, now, f.retention); err != nil && ctx.Err() == nil {
				logger.Error("compaction", "err", err)
			}
		})
	})
	if reload != nil {
		hup := make(chan os.Signal, 1)
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
		run(func() {
			for {
				select {
				case <-ctx.Done():
					return
				case <-hup:
					if _, err := reload(); err != nil {
						logger.Error("reload refused, the previous SLOs stay in force", "err", err)
					} else {
						logger.Info("reloaded SLO specs", "slos", len(eng.SLOs()))
					}
				}
			}
		})
	}
	if f.demo {
		run(func() { demo.Run(ctx, eng, logger, server.IncidentOptions(eng, db, incidents.Config()), web.Warm) })
	} else {
		run(func() { web.Warm(ctx) }) // the first page views are then as quick as the rest
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- hs.Serve(ln) }()
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	cancel()
	shutdownCtx, stop := context.WithTimeout(context.Background(), 10*time.Second)
	defer stop()
	if serr := hs.Shutdown(shutdownCtx); serr != nil {
		logger.Warn("shutdown", "err", serr)
	}
	wg.Wait()
	if serr := eng.SaveState(shutdownCtx); serr != nil {
		logger.Error("saving the metric collectors' state and the alert state at shutdown (acknowledged samples are in the records already)", "err", serr)
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// every calls fn with the time at each interval until ctx ends.
func every(ctx context.Context, d time.Duration, fn func(time.Time)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			fn(now)
		}
	}
}

// specFiles reads the spec files of path (a file or a directory), plus
// the demo specs when demo is set.
func specFiles(path string, withDemo bool) (map[string][]byte, error) {
	files := map[string][]byte{}
	if withDemo && path == "" {
		files["demo.yaml"] = []byte(demo.Specs)
	}
	if path == "" {
		return files, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("--slos: %w", err)
	}
	names := []string{path}
	if st.IsDir() {
		names = nil
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && p != path {
				return filepath.SkipDir
			}
			if ext := filepath.Ext(p); !d.IsDir() && (ext == ".yaml" || ext == ".yml") && !strings.HasPrefix(d.Name(), ".") {
				names = append(names, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("--slos: %w", err)
		}
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("--slos: %w", err)
		}
		files[n] = b
	}
	return files, nil
}

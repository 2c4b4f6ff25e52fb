package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"github.com/nines-sre/nines/callgraph"
	"github.com/nines-sre/nines/catalog"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nines-sre/nines/demo"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/server"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/ui"
	"github.com/nines-sre/nines/ui/snapshot"
)

const serveAbout = `Run nines as a service: an embedded SQLite store under --data, SLO specs
from --slos, ingestion over HTTP, SLO status and burn rates over a JSON API
(docs/api.md) and on /metrics for Prometheus and Grafana.

Every flag can also be set by an environment variable: NINES_ and the flag
name in capitals with dots and dashes as underscores (NINES_LISTEN,
NINES_TOKEN_FILE, …). Flags win over the environment.

Specs are reloaded on SIGHUP and on POST /api/v1/-/reload; a set with an
error is refused and the previous one stays in force.

Listening on an address other than loopback needs --token-file (or
--insecure-no-auth, for a network where anyone who can reach nines may
change it). Clients that reach nines by a host name need it listed in
--web.external-host: requests for other names are refused, so that no web
page can re-point its own name at nines and read or change it.

Examples:
  nines serve --data ./nines-data --slos ./slos/
  nines serve --demo            # made-up traffic for three services`

type serveFlags struct {
	traces                        callgraph.Options // --traces.*: the observed call graph
	listen, data, slos, tokenFile string
	store                         string // --store: storeopen.go
	protectReads, demo            bool
	insecureNoAuth                bool
	maxLag, hold, tick            time.Duration
	pull                          pullFlags
	retention                     store.Retention
	incidents                     string // --incidents FILE
	notify                        string // --notify FILE
	services                      string // --services FILE|DIR
	readiness                     string // --readiness FILE
	experiments                   string // --experiments DIR
	thirdParties                  string // --thirdparties FILE
	probes, probeLocation         string // --probes FILE, --probe-location NAME
	verifiers                     string // --verifiers FILE
	web                           webFlags
	maxSnapshots                  int
	advertiseURL                  string // --advertise-url URL
}

// webFlags are the --web.* flags: how the HTTP server guards itself.
type webFlags struct {
	externalHosts     hostList
	maxBodyMemory     byteSize
	readHeaderTimeout time.Duration
	readTimeout       time.Duration
}

func runServe(ctx context.Context, e *env, args []string) error {
	var f serveFlags
	fs := newFlagSet(e, "serve", "[flags]", serveAbout)
	fs.StringVar(&f.listen, "listen", "127.0.0.1:9797", "`address` to listen on")
	fs.StringVar(&f.data, "data", "./nines-data", "`directory` of the embedded store")
	fs.StringVar(&f.store, "store", "", storeFlagHelp)
	fs.StringVar(&f.advertiseURL, "advertise-url", "", "`URL` the other replicas on the same PostgreSQL reach this one at, to send it metric samples while it leads (default http:// and the --listen address, with the host name for a wildcard address; docs/replicas.md)")
	fs.StringVar(&f.slos, "slos", "", "SLO spec `file or directory` (*.yaml, *.yml; native or OpenSLO v1)")
	fs.StringVar(&f.incidents, "incidents", "", "incidents configuration `file`: severity scale, per-service owners and TTD/TTE/TTF/TTM goals (examples/incidents.yaml)")
	fs.StringVar(&f.experiments, "experiments", "", "chaos experiments `directory or file` (experiments/*.yaml; docs/chaos.md): their cohorts are measured as SLOs, runs started and judged here")
	fs.StringVar(&f.probes, "probes", "", "synthetic probes `file or directory` (probes.yaml; docs/probes.md): an SLO with sli.probes: NAME is fed by the consensus of that probe's locations")
	fs.StringVar(&f.probeLocation, "probe-location", "", "location `name` this server probes from, among the probes' locations (default: none; agents at other vantage points run nines probe agent)")
	fs.StringVar(&f.verifiers, "verifiers", "", "durability verifiers `file or directory` (verifiers.yaml; docs/verifiers.md): objects written or reported, read back at ages, each read an event of NAME.durability, with a heartbeat SLO NAME.heartbeat")
	fs.StringVar(&f.thirdParties, "thirdparties", "", "third parties `file` (thirdparties.yaml; docs/thirdparties.md): each vendor's state from the SLOs of its data plane, telemetry and configuration API, notified on a change, and its SLA per month")
	fs.StringVar(&f.readiness, "readiness", "", "production readiness levels and checks `file` (readiness.yaml; default bronze, silver, gold; docs/scorecards.md), with --services")
	fs.StringVar(&f.services, "services", "", "service catalog `file or directory` (services.yaml or Backstage catalog-info.yaml; docs/catalog.md): service pages, the dependency graph and /api/v1/deps/check")
	fs.StringVar(&f.notify, "notify", "", "alert routing and notifiers `file` (notify.yaml: PagerDuty, Slack, webhooks, Alertmanager; docs/notify.md); without it alerts go to the log")
	fs.StringVar(&f.tokenFile, "token-file", "", "`file` holding a bearer token required by write and admin endpoints")
	fs.BoolVar(&f.protectReads, "protect-reads", false, "require the bearer token on read endpoints too (needs --token-file)")
	fs.BoolVar(&f.insecureNoAuth, "insecure-no-auth", false, "listen on an address other than loopback without --token-file: anyone who reaches it may write, silence alerts and change incidents")
	fs.Var(&f.web.externalHosts, "web.external-host", "host `name` clients reach nines by, beside its IP addresses and localhost (repeatable or comma-separated); requests for other names are refused (DNS rebinding)")
	f.web.maxBodyMemory = defaultMaxBodyMemory
	fs.Var(&f.web.maxBodyMemory, "web.max-body-memory", "request bodies held in memory at once, over all requests (`size`, such as 256MiB; at least 32MiB, the largest body); past it writes get 503 with Retry-After")
	fs.DurationVar(&f.web.readHeaderTimeout, "web.read-header-timeout", 10*time.Second, "how long a client may take to send a request's headers")
	fs.DurationVar(&f.web.readTimeout, "web.read-timeout", time.Minute, "how long a client may take to send a whole request, body included; a slower one is cut off")
	fs.BoolVar(&f.demo, "demo", false, "make up traffic for three demo services (with their SLOs unless --slos is given)")
	fs.DurationVar(&f.maxLag, "ingest.max-lag", 5*time.Minute, "how late data may arrive and still update its quantum")
	fs.DurationVar(&f.hold, "ingest.remote-write-hold", 30*time.Second, "how long after a quantum ends remote-write data for it is awaited (a histogram's buckets may come in several requests)")
	fs.DurationVar(&f.tick, "eval.interval", 5*time.Second, "how often SLO windows advance")
	f.pull.register(fs)
	fs.DurationVar(&f.retention.Full, "retention.full", store.Retention{}.WithDefaults().Full, "how long per-quantum latency histograms are kept")
	fs.DurationVar(&f.retention.Counts, "retention.counts", store.Retention{}.WithDefaults().Counts, "how long per-quantum counts are kept")
	fs.DurationVar(&f.retention.IdempotencyKeys, "retention.idempotency-keys", store.DefaultIdempotencyKeys, "how long Idempotency-Key values of writes are remembered: a retry within it counts once (forgotten at the hourly compaction after)")
	fs.IntVar(&f.traces.Spans, "traces.span-buffer", callgraph.DefaultSpans, "how many recent spans POST /v1/traces keeps as possible parents of spans still to come (about 80 bytes each; docs/traces.md)")
	fs.IntVar(&f.traces.Pending, "traces.pending-buffer", callgraph.DefaultPending, "how many child spans may wait for a parent not received yet; the oldest is dropped, counted")
	fs.IntVar(&f.maxSnapshots, "ui.max-snapshots", snapshot.DefaultMax, "how many snapshots (frozen SLO pages, about 100 KB each) are kept; 0 turns freezing off")
	if err := applyEnv(fs); err != nil {
		return usageError("serve: %v", err)
	}
	if help, err := parseFlags(fs, e, args); help || err != nil {
		return err
	}
	if _, _, _, err := f.retention.Cutoffs(time.Now()); err != nil {
		return usageError("serve: --retention.*: %v", err)
	}
	if err := f.traces.Check(); err != nil {
		return usageError("serve: --traces.*: %v", err)
	}
	if f.web.maxBodyMemory < server.DefaultMaxBody {
		return usageError("serve: --web.max-body-memory %s is less than the largest request body (32MiB): such a request could never be served", &f.web.maxBodyMemory)
	}
	if f.web.readHeaderTimeout <= 0 || f.web.readTimeout <= 0 {
		return usageError("serve: --web.read-header-timeout and --web.read-timeout must be positive")
	}
	if f.maxSnapshots < 0 || f.maxSnapshots > snapshot.MaxLimit {
		return usageError("serve: --ui.max-snapshots %d: want 0 (no snapshots) to %d", f.maxSnapshots, snapshot.MaxLimit)
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
	if f.protectReads && token == "" {
		return usageError("serve: --protect-reads needs --token-file: without a token there is nothing to require of a read")
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
	db, where, err := openStore(ctx, f.store, f.data)
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
	if err := checkExposure(ln.Addr(), token, f.insecureNoAuth, logger); err != nil {
		return err
	}
	advertise, err := advertiseURL(f.advertiseURL, ln.Addr())
	if err != nil {
		return err
	}
	rep, err := newReplication(db, advertise, logger)
	if err != nil {
		return err
	}
	nt, err := newNotifier(f.notify, ln.Addr().String(), token, db, rep.claimer(), logger)
	if err != nil {
		return err
	}
	eng, err := engine.New(ctx, engine.Config{Store: db, Logger: logger, MaxLag: f.maxLag, RemoteWriteHold: f.hold, OnTransition: nt.Enqueue,
		Role: rep.role(), Feed: rep.feed()})
	if err != nil {
		return &exitError{code: exitUsage, err: fmt.Errorf("serve: %w", err)}
	}
	experiments, err := loadExperiments(f.experiments)
	if err != nil {
		return err
	}
	prober := newProbeRuntime(eng, db, rep.leading, f.probeLocation, logger)
	verifierDefs, err := loadVerifiers(f.verifiers)
	if err != nil {
		return err
	}
	load := func() ([]string, error) {
		files, err := specFiles(f.slos, f.demo)
		if err == nil {
			files, err = withCohorts(files, experiments)
		}
		var set *probeSet
		if err == nil {
			// The probes file is read at each load, as the specs are.
			files, set, err = withProbesFile(files, f.probes)
		}
		if err == nil {
			files, err = withVerifiers(files, verifierDefs)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", engine.ErrInvalid, err)
		}
		warnings, err := eng.Load(ctx, files)
		if err == nil {
			prober.use(set)
		}
		var out []string
		for _, w := range warnings {
			logger.Warn("spec", "warning", w.String())
			out = append(out, w.String())
		}
		return out, err
	}
	var reload func() ([]string, error)
	if f.slos != "" || f.demo || len(verifierDefs) > 0 || f.probes != "" {
		if _, err := load(); err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("serve: %w", err)}
		}
		reload = load
	}
	// Probes come from --probes or from specs that define them in place.
	probing := f.probes != "" || len(prober.set.Load().bySLO) > 0
	incidents, err := newIncidentService(eng, db, f.incidents, f.demo, logger)
	if err != nil {
		return err
	}
	shelf, err := snapshot.New(db, f.maxSnapshots)
	if err != nil {
		return err
	}
	puller, err := newPuller(eng, db, logger, f.pull, f.maxLag, rep)
	if err != nil {
		return err
	}
	svcs, err := readCatalog(f.services, eng.SLOs())
	if err != nil {
		return err
	}
	graph, err := callgraph.New(f.traces)
	if err != nil {
		return err
	}
	parts, err := wireCatalog(svcs, graph, eng, db, incidents, f.readiness, logger)
	if err != nil {
		return err
	}
	// Each component gets the parts it calls (server/needs.go,
	// ui/needs.go; docs/architecture.md): the engine reads and writes
	// SLO data, the store answers what the engine does not hold.
	chaosRuns, err := newChaos(ctx, experiments, eng, db, logger)
	if err != nil {
		return err
	}
	vendors, err := newThirdParties(f.thirdParties, eng)
	if err != nil {
		return err
	}
	verifiers, err := newVerifiers(verifierDefs, eng, db, logger)
	if err != nil {
		return err
	}
	forecasts := &forecaster{store: db, slos: eng.SLOs, every: 5 * time.Minute}
	if svcs != nil {
		c := svcs.Catalog
		forecasts.catalog = func() *catalog.Catalog { return c }
	}
	ucfg := ui.Config{SLOs: eng, Rollups: db, Incidents: incidents, Snapshots: shelf, Sources: puller, Logger: logger, Token: token}
	parts.uiConfig(&ucfg)
	if chaosRuns != nil {
		ucfg.Chaos = chaosRuns
	}
	if vendors != nil {
		ucfg.ThirdParties = vendors
	}
	ucfg.Forecasts = forecasts
	if probing {
		ucfg.Probes = prober
	}
	web, err := ui.New(ucfg)
	if err != nil {
		return err
	}
	defer web.Wait() // background cache reads end before the store closes
	reload = nt.withReload(reload)
	scfg := server.Config{SLOs: eng, Traces: graph, Writes: eng, Annotations: db, Size: db, Sources: puller,
		Incidents: incidents, Notify: nt.Dispatcher, Snapshots: shelf, UI: web, Logger: logger, Token: token, Replica: rep.replica(),
		ProtectReads: f.protectReads, Reload: reload, Version: buildVersion(),
		Hosts: allowedHosts(f.listen, append(f.web.externalHosts, hostOf(advertise))), MaxBodyMemory: int64(f.web.maxBodyMemory)}
	parts.serverConfig(&scfg)
	if chaosRuns != nil {
		scfg.Chaos = chaosRuns
	}
	if vendors != nil {
		scfg.ThirdParties = vendors
	}
	scfg.Forecasts = forecasts
	if probing {
		scfg.Probes = prober
	}
	if verifiers != nil {
		scfg.Verifiers = verifiers
	}
	srv, err := server.New(scfg)
	if err != nil {
		return usageError("serve: %v", err)
	}
	hs := httpServer(srv, &f.web, logger)
	fmt.Fprintf(e.stderr, "nines serve: http://%s  %s  %s\n", ln.Addr(), where, plural(len(eng.SLOs()), "SLO"))

	// The lease outlives the other work, so that the leader saves its
	// state at shutdown as the leader, then hands over at once.
	leadCtx, stopLeading := context.WithCancel(context.WithoutCancel(ctx))
	var leading sync.WaitGroup
	leading.Go(func() { rep.run(leadCtx, eng) })
	defer leading.Wait()
	defer stopLeading()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	run := func(fn func()) { wg.Add(1); go func() { defer wg.Done(); fn() }() }
	run(func() { rep.follow(ctx, eng, logger) })
	run(func() { every(ctx, f.tick, func(now time.Time) { eng.Tick(now) }) })
	// The first incident report is then as quick as the rest; waited for
	// like the rest, so it never reads a closed store.
	run(func() {
		if err := incidents.Refresh(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("reading incidents for the reports", "err", err)
		}
	})
	run(func() { nt.run(ctx, rep) })
	run(func() { puller.Run(ctx) })
	run(func() { parts.pushScorecards(ctx, rep.leading, nt.Dispatcher, db, logger) })
	run(func() { runThirdParties(ctx, vendors, rep.leading, nt.Dispatcher, logger) })
	run(func() { annotateAnomalies(ctx, forecasts, db, rep.leading, logger) })
	if probing {
		run(func() { prober.run(ctx) })
	}
	if verifiers != nil {
		run(func() { whileLeading(ctx, rep.leading, func(ctx context.Context) { verifiers.Run(ctx, time.Second) }) })
	}
	if chaosRuns != nil {
		// Runs are stepped four times a second, by the leader: with the
		// proxies' events sent as often, a harm bound stops a run within
		// about a second of being passed.
		run(func() {
			led := true // the controller read the runs at start
			every(ctx, 250*time.Millisecond, func(time.Time) {
				leading := rep.leading()
				if leading && !led {
					// Take over the runs the last leader stepped.
					if err := chaosRuns.Refresh(ctx); err != nil {
						logger.Warn("chaos: reading the runs as the new leader (tried again at the next step)", "err", err)
						return
					}
				}
				led = leading
				if leading {
					chaosRuns.Step(ctx)
				}
			})
		})
	}
	run(func() {
		every(ctx, time.Hour, func(now time.Time) {
			if !rep.leading() {
				return // the leader's to do, once for all replicas
			}
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

// idleTimeout closes a kept-alive connection that sends nothing more.
const idleTimeout = 2 * time.Minute

// httpServer is nines serve's http.Server. A client that sends its
// headers or its body slowly is cut off at the read timeouts, so that
// clients trickling a byte every few seconds cannot hold connections (and
// their goroutines and buffers) for ever. There is no write timeout: a
// year's budget chart may take seconds to compute, and a client that
// reads slowly holds only its own answer.
func httpServer(h http.Handler, w *webFlags, logger *slog.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: w.readHeaderTimeout, ReadTimeout: w.readTimeout, IdleTimeout: idleTimeout,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
}

// checkExposure refuses to serve writes to the network without a token:
// with none, anyone who reaches the address may silence every alert,
// open incidents and feed data. --insecure-no-auth says that is meant,
// and is logged at every start.
func checkExposure(addr net.Addr, token string, insecure bool, logger *slog.Logger) error {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() || token != "" {
		return nil
	}
	if !insecure {
		return usageError("serve: --listen %s is reachable from other machines and no --token-file is set, so anyone who reaches it could write data, silence alerts and change incidents; give --token-file FILE, listen on 127.0.0.1, or accept it with --insecure-no-auth", addr)
	}
	logger.Warn("serving without a token on an address other machines can reach (--insecure-no-auth): anyone who reaches it may write data, silence alerts and change incidents", "listen", addr.String())
	return nil
}

// allowedHosts are the host names the server answers to beside its IP
// addresses and localhost: the --web.external-host names, and the
// --listen host when it is a name.
func allowedHosts(listen string, external hostList) []string {
	out := slices.Clone(external)
	if host, _, err := net.SplitHostPort(listen); err == nil && host != "" && net.ParseIP(host) == nil {
		out = append(out, host)
	}
	return out
}

// hostList is a repeatable, comma-separated flag of host names.
type hostList []string

func (h *hostList) String() string { return strings.Join(*h, ",") }

func (h *hostList) Set(v string) error {
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" || strings.ContainsAny(name, "/ ") {
			return fmt.Errorf("%q: want host names such as nines.example.com, comma-separated", v)
		}
		*h = append(*h, name)
	}
	return nil
}

// defaultMaxBodyMemory holds eight of the largest bodies (32 MiB) at
// once, or thousands of the usual remote-write requests.
const defaultMaxBodyMemory = 256 << 20

// byteSize is a flag of bytes: a whole number with KiB, MiB or GiB, or
// bare bytes.
type byteSize int64

func (b *byteSize) String() string {
	switch v := int64(*b); {
	case v != 0 && v%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", v>>30)
	case v != 0 && v%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", v>>20)
	case v != 0 && v%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", v>>10)
	default:
		return strconv.FormatInt(v, 10)
	}
}

func (b *byteSize) Set(v string) error {
	num, shift := strings.TrimSpace(v), 0
	for _, u := range []struct {
		suffix string
		shift  int
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}} {
		if n, ok := strings.CutSuffix(num, u.suffix); ok {
			num, shift = strings.TrimSpace(n), u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64>>shift {
		return fmt.Errorf("%q: want a positive size such as 256MiB, 1GiB or a number of bytes", v)
	}
	*b = byteSize(n << shift)
	return nil
}

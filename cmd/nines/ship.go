package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/nines-sre/nines/ingest"
	"github.com/nines-sre/nines/ship"
)

const shipAbout = `Follow access logs into a running nines serve, each line counted exactly
once: across log rotation (by rename or copytruncate, gzip-compressed or
not), retries, and kill -9 of nines ship, of the server, or both.

  nines ship --server http://127.0.0.1:9797 --token-file /etc/nines/token \
      --slo checkout --log-format nginx-combined \
      --state /var/lib/nines-ship/checkout.state '/var/log/nginx/access.log*'

Quote the patterns so that files created later match too; include the
rotated names (access.log*), so that lines written just before a
rotation are read from the rotated file even after a restart. Lines go
to POST /api/v1/events; with --rollup nines ship counts them into
per-minute rollups itself, by the SLIs it reads from the server, and
sends kilobytes a minute instead. docs/ship.md has a systemd unit.

Every flag can also be set by an environment variable: NINES_ and the
flag name in capitals with dashes as underscores (NINES_SERVER,
NINES_TOKEN_FILE, …). Exit code 2 when it cannot start.`

type shipFlags struct {
	client
	logFlags
	slos                          fieldList
	service, state, readFrom      string
	metrics                       string
	rollup                        bool
	poll, batchWait, maxBackoff   time.Duration
	batchLines, inFlight, maxLine int
}

func runShip(ctx context.Context, e *env, args []string) error {
	var f shipFlags
	fs := newFlagSet(e, "ship", "--server URL (--slo NAME | --service NAME) --log-format FORMAT --state FILE FILE|PATTERN...", shipAbout)
	fs.StringVar(&f.server, "server", "http://127.0.0.1:9797", "nines serve base `URL`")
	fs.StringVar(&f.tokenFile, "token-file", "", "`file` with the bearer token, when the server requires one")
	fs.Var(&f.slos, "slo", "SLO `name` the lines are for (repeatable)")
	fs.StringVar(&f.service, "service", "", "send the lines to every SLO of this service `name`")
	f.logFlags.register(fs, false)
	fs.StringVar(&f.state, "state", "", "checkpoint `file`: what was read and sent, written atomically")
	fs.StringVar(&f.readFrom, "read-from", "end", "at the first start, without a state file, read the files already there from their `end` or beginning")
	fs.BoolVar(&f.rollup, "rollup", false, "count per-quantum rollups here and send those instead of every line")
	fs.StringVar(&f.metrics, "metrics-listen", "", "`address` to serve nines ship's own /metrics on (e.g. 127.0.0.1:9798)")
	fs.DurationVar(&f.poll, "poll", 250*time.Millisecond, "how often to look for new lines and files")
	fs.DurationVar(&f.batchWait, "batch-wait", 0, "longest a line waits for its batch (default 1s, 10s with --rollup)")
	fs.IntVar(&f.batchLines, "batch-lines", 0, "lines that fill a batch (default 10000; with --rollup 5000000)")
	fs.IntVar(&f.inFlight, "in-flight", 2, "batches on their way at once")
	fs.IntVar(&f.maxLine, "max-line", 64<<10, "longest line in `bytes`; longer ones are malformed")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "how long to wait for one answer of the server")
	fs.DurationVar(&f.maxBackoff, "max-backoff", 30*time.Second, "longest wait between two tries of a request the server could not take")
	if err := applyEnv(fs); err != nil {
		return usageError("ship: %v", err)
	}
	if help, err := parseFlagsWithArgs(fs, e, args); help || err != nil {
		return err
	}
	cfg, err := f.config(fs.Args())
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	cfg.Logger = logger
	s, err := ship.New(cfg)
	if err != nil {
		return usageError("ship: %v", err)
	}
	if f.metrics != "" {
		ln, err := net.Listen("tcp", f.metrics)
		if err != nil {
			return usageError("ship: --metrics-listen: %v", err)
		}
		srv := &http.Server{Handler: s.MetricsHandler(), ReadHeaderTimeout: 10 * time.Second,
			ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
		go srv.Serve(ln)
		defer srv.Close()
		logger.Info("nines ship: metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	}
	if err := s.Run(ctx); err != nil {
		var cs *ship.CorruptStateError
		if errors.As(err, &cs) {
			return usageError("ship: %v", err)
		}
		return &exitError{code: exitUsage, err: fmt.Errorf("ship: %w", err)}
	}
	return nil
}

// config checks the flags and builds the shipper's configuration.
func (f *shipFlags) config(patterns []string) (ship.Config, error) {
	var cfg ship.Config
	switch {
	case len(patterns) == 0:
		return cfg, usageError("ship: name the log files to follow, as paths or quoted glob patterns ('/var/log/nginx/access.log*')")
	case f.logFormat == "":
		return cfg, usageError("ship: --log-format is required: a preset (combined, nginx, caddy, jsonl, …; see docs/formats.md) or the server's format string; nines ship does not guess")
	case f.state == "":
		return cfg, usageError("ship: --state is required: the file that keeps what was read and sent (e.g. /var/lib/nines-ship/access.state)")
	case f.readFrom != "end" && f.readFrom != "beginning":
		return cfg, usageError("ship: --read-from %q: want end or beginning", f.readFrom)
	}
	// The same checks as nines eval's, so both read a format alike.
	lc, err := f.logConfig("ship")
	if err != nil {
		return cfg, err
	}
	parser, err := ingest.NewParser(lc)
	if err != nil {
		return cfg, usageError("ship: %v", err)
	}
	return ship.Config{
		Server: f.server, TokenFile: f.tokenFile, SLOs: f.slos, Service: f.service, Patterns: patterns,
		Parser: parser, StatePath: f.state, Rollup: f.rollup, ReadFromBeginning: f.readFrom == "beginning",
		Poll: f.poll, BatchWait: f.batchWait, BatchLines: f.batchLines, InFlight: f.inFlight, MaxLine: f.maxLine,
		Timeout: f.timeout, MaxBackoff: f.maxBackoff, MinBackoff: min(250*time.Millisecond, f.maxBackoff),
	}, nil
}

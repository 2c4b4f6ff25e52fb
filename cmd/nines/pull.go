package main

import (
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/pull"
	"github.com/nines-sre/nines/store"
)

// pullFlags are the --pull.* flags of nines serve.
type pullFlags struct {
	interval, delay time.Duration
}

func (p *pullFlags) register(fs *flag.FlagSet) {
	fs.DurationVar(&p.interval, "pull.interval", pull.DefaultInterval, "how often SLIs with sli.source.prometheus are read from their query API")
	fs.DurationVar(&p.delay, "pull.delay", pull.DefaultDelay, "how far behind now they are read, so that a scrape's samples are stored before their quantum is")
}

// newPuller makes the runner that reads the SLIs whose sources name a
// Prometheus-compatible query API (sli.source.prometheus) and feeds their
// rollups to eng. With no such SLO its steps do nothing; a reload that
// adds one is read from the next step on. Of several replicas only the
// leader reads.
func newPuller(eng *engine.Engine, db store.Store, logger *slog.Logger, f pullFlags, maxLag time.Duration, rep *replication) (*pull.Runner, error) {
	if f.interval <= 0 || f.delay <= 0 {
		return nil, usageError("serve: --pull.interval and --pull.delay must be positive (got %v and %v)", f.interval, f.delay)
	}
	r, err := pull.New(pull.Config{Engine: eng, Store: db, Logger: logger.With("component", "pull"), Interval: f.interval, Delay: f.delay, MaxLag: maxLag, Leading: rep.leading, Holder: rep.holder()})
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	return r, nil
}

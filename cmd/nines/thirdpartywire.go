package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/thirdparty"
)

// thirdPartyEvery is how often the vendors' states are evaluated: their
// SLOs change once a quantum, and a change is notified within this.
const thirdPartyEvery = 15 * time.Second

// newThirdParties reads nines serve --thirdparties and makes the board
// that evaluates the vendors from the SLOs the engine loaded; nil without
// the flag. Every SLO the file names must be loaded.
func newThirdParties(path string, eng *engine.Engine) (*thirdparty.Board, error) {
	if path == "" {
		return nil, nil
	}
	cfg, err := thirdparty.LoadFile(path)
	if err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("serve: --thirdparties: %w", err)}
	}
	if err := cfg.CheckSLOs(func(name string) bool { _, err := eng.SLO(name); return err == nil }); err != nil {
		return nil, &exitError{code: exitUsage, err: fmt.Errorf("serve: --thirdparties: %w", err)}
	}
	in := thirdparty.FromSLOs{Src: eng}
	return thirdparty.NewBoard(cfg, in, in, 1) // a state is taken at once: the SLOs it is read from are settled
}

// runThirdParties evaluates the vendors on the leader and sends each
// change of state through the notification routes: the state left
// resolves, the new one fires (thirdparty.Change.Notifications).
func runThirdParties(ctx context.Context, board *thirdparty.Board, leading func() bool, d *notify.Dispatcher, logger *slog.Logger) {
	if board == nil {
		return
	}
	logger = logger.With("component", "thirdparties")
	every(ctx, thirdPartyEvery, func(now time.Time) {
		if !leading() {
			return
		}
		changes, err := board.Tick(ctx, now)
		if err != nil && ctx.Err() == nil {
			logger.Warn("some of the vendors' SLOs could not be read; their states hold as last known", "err", err)
		}
		for _, c := range changes {
			logger.Info("third party changed state", "change", c.Summary())
			for _, n := range c.Notifications() {
				d.EnqueueAlert(notify.Alert{Labels: n.Labels, Annotations: n.Annotations, StartsAt: n.StartsAt, EndsAt: n.EndsAt})
			}
		}
	})
}

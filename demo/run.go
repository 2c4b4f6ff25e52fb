package demo

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/slo"
)

// Engine is what the demo drives: the SLO set it makes traffic for, and
// the two ways traffic goes in (engine.Engine).
type Engine interface {
	SLOs() []*slo.SLO
	Now() time.Time
	Series(ctx context.Context, name string, from, to time.Time) (*slo.SLO, *slo.Series, error)
	Backfill(ctx context.Context, name string, series *slo.Series, source string) (engine.AppendResult, error)
	Append(ctx context.Context, name string, series *slo.Series, source string) (engine.AppendResult, error)
}

// seed is the demo's: the same minute always gets the same traffic.
const seed = 1

// Run backfills the demo SLOs' windows, records the incidents of their
// outages, calls warm, then adds each minute's traffic as it closes,
// until ctx ends.
func Run(ctx context.Context, eng Engine, logger *slog.Logger, incidents incident.Options, warm func(context.Context)) {
	now := eng.Now()
	Backfill(ctx, eng, logger, now)
	if n, err := SeedIncidents(ctx, incidents, eng.SLOs(), now, seed); err != nil {
		logger.Error("demo incidents", "err", err)
	} else if n > 0 {
		logger.Info("demo incidents recorded", "incidents", n)
	}
	logger.Info("demo traffic backfilled; adding a minute as each closes")
	warm(ctx)
	last := now.Truncate(time.Minute)
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for ; !last.Add(time.Minute).After(now); last = last.Add(time.Minute) {
				for _, s := range eng.SLOs() {
					if series, ok := seriesOf(s, last, last.Add(time.Minute)); ok {
						if _, err := eng.Append(ctx, s.Name, series, "demo"); err != nil && ctx.Err() == nil {
							logger.Error("demo traffic", "slo", s.Name, "err", err)
						}
					}
				}
			}
		}
	}
}

// Backfill stores the demo traffic of every demo SLO's window before now,
// and at least BackfillDays, so that incidents and charts early in a
// calendar window have traffic behind them. Days are filled newest first,
// every SLO in turn, so the last hours are there soonest; the engine
// replays the SLOs' alerts over the history once it is in. Quanta already
// stored are left alone, so a second start adds nothing twice.
func Backfill(ctx context.Context, eng Engine, logger *slog.Logger, now time.Time) {
	slos := eng.SLOs()
	days := make([][]time.Time, len(slos))
	for i, s := range slos {
		w := s.Window.Containing(now)
		if s.Window.Calendar == slo.NotCalendar {
			w = s.Window.Containing(now.Truncate(s.Quantum))
		}
		for day := minTime(w.Start, now.Add(-BackfillDays*24*time.Hour).Truncate(24*time.Hour)); day.Before(now); day = day.Add(24 * time.Hour) {
			days[i] = append(days[i], day)
		}
	}
	fill := func(s *slo.SLO, day time.Time) bool {
		end := minTime(day.Add(24*time.Hour), now.Truncate(s.Quantum))
		series, ok := seriesOf(s, day, end)
		if !ok {
			return false
		}
		_, stored, err := eng.Series(ctx, s.Name, day, end)
		if err != nil {
			logger.Error("demo backfill", "slo", s.Name, "err", err)
			return false
		}
		series.Rollups = slices.DeleteFunc(series.Rollups, func(r slo.Rollup) bool {
			_, found := slices.BinarySearchFunc(stored.Rollups, r.Start, func(x slo.Rollup, t int64) int { return cmp.Compare(x.Start, t) })
			return found
		})
		if _, err := eng.Backfill(ctx, s.Name, series, "demo"); err != nil {
			logger.Error("demo backfill", "slo", s.Name, "err", err)
			return false
		}
		return true
	}
	done := make([]bool, len(slos))
	for back := 1; ctx.Err() == nil; back++ {
		any := false
		for i, s := range slos {
			if done[i] || back > len(days[i]) {
				continue
			}
			any = true
			done[i] = !fill(s, days[i][len(days[i])-back])
		}
		if !any {
			break
		}
	}
}

// seriesOf is the demo traffic of s in [from, to), or false when s is not
// a demo SLO.
func seriesOf(s *slo.SLO, from, to time.Time) (*slo.Series, bool) {
	series := &slo.Series{Quantum: s.Quantum}
	for t := from.Truncate(s.Quantum); t.Before(to); t = t.Add(s.Quantum) {
		r, ok := Rollup(s, t, seed)
		if !ok {
			return nil, false
		}
		series.Rollups = append(series.Rollups, r)
	}
	return series, true
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

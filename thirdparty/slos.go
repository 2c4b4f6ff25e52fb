package thirdparty

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nines-sre/nines/slo"
)

// SLOSource is what FromSLOs reads: nines serve's engine.
type SLOSource interface {
	SLO(name string) (*slo.SLO, error)
	Series(ctx context.Context, name string, from, to time.Time) (*slo.SLO, *slo.Series, error)
	Evaluate(ctx context.Context, name string, w slo.Window, at time.Time) (*slo.Result, error)
}

// FromSLOs reads the states' figures and the SLA months from the SLOs
// nines serve evaluates: it is both the Reader and the Counter.
type FromSLOs struct {
	Src SLOSource
	// Lookback is how far back Latest looks for a measured quantum; give
	// the largest stale bound of the vendors (default 1 hour).
	Lookback time.Duration
}

var (
	_ Reader  = FromSLOs{}
	_ Counter = FromSLOs{}
)

// Latest returns the SLO's latest measured quantum that ended at or
// before at, judged by the SLO's own rules (slo.SLO.Judge): a quantum
// still in progress says nothing yet.
func (f FromSLOs) Latest(ctx context.Context, name string, at time.Time) (Quantum, error) {
	back := f.Lookback
	if back <= 0 {
		back = time.Hour
	}
	s, series, err := f.Src.Series(ctx, name, at.Add(-back), at)
	if err != nil {
		return Quantum{}, err
	}
	end := at.UnixNano()
	for i := len(series.Rollups) - 1; i >= 0; i-- {
		r := &series.Rollups[i]
		if !r.Measured || r.Start+int64(s.Quantum) > end {
			continue
		}
		verdict, _ := s.Judge(r)
		if verdict == "skipped" {
			continue
		}
		return Quantum{Start: time.Unix(0, r.Start).UTC(), Measured: true, Good: verdict == "good", Attempted: r.Attempted, Failed: r.Failed()}, nil
	}
	return Quantum{}, nil
}

// Count returns the SLO's good and total over [from, to) in the unit of
// its method: quanta for quanta and time-quanta, events for transactions,
// and for downtime-minutes nanoseconds of counted quanta, less the
// downtime. Quanta the SLO counts as bad for want of data (noData: bad)
// count as bad here too: the SLA is judged by the SLO as it is written.
func (f FromSLOs) Count(ctx context.Context, name string, from, to time.Time) (good, total uint64, err error) {
	s, err := f.Src.SLO(name)
	if err != nil {
		return 0, 0, err
	}
	res, err := f.Src.Evaluate(ctx, name, slo.Window{Start: from, End: to}, to)
	if err != nil {
		return 0, 0, err
	}
	switch s.Method {
	case slo.Transactions:
		return res.Events.Good, res.Events.Total, nil
	case slo.DowntimeMinutes:
		total := uint64(res.Quanta.Counted()) * uint64(s.Quantum)
		down := uint64(max(res.Downtime, 0))
		if down > total {
			return 0, 0, fmt.Errorf("SLO %s: %s of downtime in %d quanta of %s", name, res.Downtime, res.Quanta.Counted(), s.Quantum)
		}
		return total - down, total, nil
	}
	if res.Quanta.Good < 0 || res.Quanta.Bad < 0 {
		return 0, 0, errors.New("negative quantum counts")
	}
	return uint64(res.Quanta.Good), uint64(res.Quanta.Counted()), nil
}

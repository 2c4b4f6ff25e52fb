package scorecard

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// RollupReader reads stored rollups: store.Querier's read of counts, the
// narrowest part of the store a scorecard needs.
type RollupReader interface {
	Rollups(ctx context.Context, sli string, quantum time.Duration, from, to int64) store.RollupIterator
}

// SLOFinder finds an SLO by name, for the quantum its rollups are stored
// under. *engine.Engine is one.
type SLOFinder interface {
	SLO(name string) (*slo.SLO, error)
}

var _ RollupReader = (store.Querier)(nil)

// FromRollups measures a service by the SLOs it is judged by: the good and
// total counts of their rollups, summed over the SLOs, per week. A call
// counted by two SLIs of the service counts twice, as the SLOs judge it
// twice; list the SLOs that see each call once (availability, not also
// latency of the same requests) for the clients' view.
type FromRollups struct {
	Rollups RollupReader
	SLOs    SLOFinder
}

// Counts implements Source.
func (f *FromRollups) Counts(ctx context.Context, s *Service, weeks []Week) ([]Counts, error) {
	out := make([]Counts, len(weeks))
	if len(weeks) == 0 {
		return out, nil
	}
	starts := make([]int64, len(weeks))
	for i, w := range weeks {
		starts[i] = w.Start.UnixNano()
	}
	from, to := starts[0], weeks[len(weeks)-1].End.UnixNano()
	for _, name := range s.SLOs {
		def, err := f.SLOs.SLO(name)
		if err != nil {
			return nil, fmt.Errorf("SLO %s of service %s: %w (name an SLO that is loaded)", name, s.Name, err)
		}
		it := f.Rollups.Rollups(ctx, def.Name, def.Quantum, from, to)
		for it.Next() {
			r := it.At()
			// The week a quantum starts in counts it; weeks are whole
			// local days and quanta divide an hour or are whole hours, so
			// no quantum straddles two weeks but in zones offset by less
			// than the quantum.
			i := sort.Search(len(starts), func(i int) bool { return starts[i] > r.Start }) - 1
			if i < 0 {
				continue
			}
			out[i].Add(Counts{Good: min(r.Good, r.Attempted), Total: r.Attempted})
		}
		if err := errors.Join(it.Err(), it.Close()); err != nil {
			return nil, fmt.Errorf("reading rollups of %s: %w", name, err)
		}
	}
	return out, nil
}

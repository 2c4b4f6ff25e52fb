package scorecard

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
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

// ErrNoSLO is wrapped by the error for a service naming an SLO that is
// not loaded: its card says so, rather than the whole board failing.
var ErrNoSLO = errors.New("no such SLO")

// FromRollups measures a service by the SLOs it is judged by: the good and
// total counts of their rollups, summed over the SLOs, per week. A call
// counted by two SLIs of the service counts twice, as the SLOs judge it
// twice; list the SLOs that see each call once (availability, not also
// latency of the same requests) for the clients' view.
type FromRollups struct {
	Rollups RollupReader
	SLOs    SLOFinder
	// Cache, when set, keeps the counts of past weeks, so a weekly push
	// or a page reads each week of each SLO from the store once.
	Cache *WeekCache
}

// WeekCache keeps the weekly counts of SLOs for weeks wholly in past UTC
// days. Every write to a past UTC day changes PastWrites (the engine's
// PastDayWrites), which empties the cache; an SLO whose definition was
// reloaded (and maybe re-judged) is read again. It is safe for
// concurrent use.
type WeekCache struct {
	Now        func() time.Time
	PastWrites func() int64

	mu   sync.Mutex
	gen  int64
	slos map[sloKey]*sloWeeks
}

type sloKey struct {
	name    string
	quantum time.Duration
}

type sloWeeks struct {
	def   *slo.SLO
	weeks map[[2]int64]Counts
}

// lookup returns the cached counts of def's week [start, end), if any,
// and whether the week may be cached at all.
func (c *WeekCache) lookup(def *slo.SLO, start, end int64) (Counts, bool, bool) {
	today := c.Now().UTC().Truncate(24 * time.Hour).UnixNano()
	if end > today {
		return Counts{}, false, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if g := c.PastWrites(); g != c.gen || c.slos == nil {
		c.gen, c.slos = g, map[sloKey]*sloWeeks{}
	}
	e := c.slos[sloKey{def.Name, def.Quantum}]
	if e == nil || e.def != def {
		return Counts{}, false, true
	}
	v, ok := e.weeks[[2]int64{start, end}]
	return v, ok, true
}

// store keeps counts read while generation gen was current: counts read
// across a write to a past day may be stale, so they are dropped.
func (c *WeekCache) store(def *slo.SLO, gen int64, start, end int64, v Counts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen || c.PastWrites() != gen {
		return
	}
	k := sloKey{def.Name, def.Quantum}
	e := c.slos[k]
	if e == nil || e.def != def {
		e = &sloWeeks{def: def, weeks: map[[2]int64]Counts{}}
		c.slos[k] = e
	}
	e.weeks[[2]int64{start, end}] = v
}

func (c *WeekCache) generation() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
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
	ends := make([]int64, len(weeks))
	for i, w := range weeks {
		ends[i] = w.End.UnixNano()
	}
	for _, name := range s.SLOs {
		def, err := f.SLOs.SLO(name)
		if err != nil {
			return nil, fmt.Errorf("%w: SLO %s of service %s: %v (name an SLO that is loaded)", ErrNoSLO, name, s.Name, err)
		}
		got := make([]Counts, len(weeks))
		// Weeks are read from the first one the cache lacks on; the
		// cache only holds past weeks, so what follows it is read too.
		first, gen := 0, int64(0)
		if f.Cache != nil {
			gen = f.Cache.generation()
			for ; first < len(weeks); first++ {
				v, ok, _ := f.Cache.lookup(def, starts[first], ends[first])
				if !ok {
					break
				}
				got[first] = v
			}
			gen = f.Cache.generation()
		}
		if first < len(weeks) {
			if err := f.read(ctx, def, starts[first:], ends[len(ends)-1], got[first:]); err != nil {
				return nil, err
			}
			if f.Cache != nil {
				for i := first; i < len(weeks); i++ {
					if _, _, cacheable := f.Cache.lookup(def, starts[i], ends[i]); cacheable {
						f.Cache.store(def, gen, starts[i], ends[i], got[i])
					}
				}
			}
		}
		for i := range out {
			out[i].Add(got[i])
		}
	}
	return out, nil
}

// read sums def's rollups from starts[0] to end into dst, by week.
func (f *FromRollups) read(ctx context.Context, def *slo.SLO, starts []int64, end int64, dst []Counts) error {
	it := f.Rollups.Rollups(ctx, def.Name, def.Quantum, starts[0], end)
	for it.Next() {
		r := it.At()
		// The week a quantum starts in counts it; weeks are whole local
		// days and quanta divide an hour or are whole hours, so no
		// quantum straddles two weeks but in zones offset by less than
		// the quantum.
		i := sort.Search(len(starts), func(i int) bool { return starts[i] > r.Start }) - 1
		if i < 0 {
			continue
		}
		dst[i].Add(Counts{Good: min(r.Good, r.Attempted), Total: r.Attempted})
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return fmt.Errorf("reading rollups of %s: %w", def.Name, err)
	}
	return nil
}

package ui

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
)

// Pages judge up to tens of thousands of quanta a view (a 30-day window
// of minutes, and the window before it for a rolling burn-down). Reading
// them with their latency histograms costs several microseconds a quantum,
// most of it decoding and copying histograms the page does not need: the
// page's latency comes from the store's hourly histograms. So the UI reads
// counts only, and keeps the counts of whole past days in a small cache.
//
// A cached day is trusted while the engine's count of writes to past days
// (Engine.PastDayWrites) stands still: live data older than MaxLag
// (minutes) is refused, so a past day changes only through a backfill, an
// import or late data just after midnight, and each of those moves it.
// cacheTTL bounds an entry's life all the same, against writes that reach
// the store some other way.

const (
	// cacheTTL is how long a past day's counts are reused at most.
	cacheTTL = time.Hour
	// cacheSettled is how long after a day ends it may be cached: more
	// than the engine's default MaxLag and Settle.
	cacheSettled = 15 * time.Minute
	// cacheDays bounds the cache: about 45 KB a day of minutes, so 40 MB.
	cacheDays = 1000
)

type dayKey struct {
	slo     string
	quantum time.Duration
	day     int64 // Unix ns of the day's start (UTC)
}

type dayCounts struct {
	fetched time.Time
	// gen is Engine.PastDayWrites when the day was read.
	gen     int64
	rollups []slo.Rollup // without latency histograms
	// latency is the day's merged latency histogram, read on first use.
	latency *hist.Histogram
	// refreshing is set while a refresh-ahead read runs.
	refreshing bool
}

// countsCache is safe for concurrent use.
type countsCache struct {
	mu   sync.Mutex
	days map[dayKey]*dayCounts
}

// counts returns the rollups of s in [from, to) without their latency
// histograms, read through the cache for days that ended cacheSettled
// before now.
func (u *UI) counts(ctx context.Context, s *slo.SLO, from, to, now time.Time) (*slo.Series, error) {
	series := &slo.Series{Quantum: s.Quantum, Since: slo.NotStarted}
	if since, ok, err := u.cfg.SLOs.Since(s.Name); err != nil {
		return nil, err
	} else if ok {
		// Quanta before the SLO's life began count nowhere.
		series.Since = since.UnixNano()
	}
	const day = 24 * time.Hour
	if day%s.Quantum != 0 {
		// Quanta that do not tile a day are read uncached.
		err := u.readCounts(ctx, s, from, to, &series.Rollups)
		return series, err
	}
	var days [][]slo.Rollup
	n := 0
	for d := from.UTC().Truncate(day); d.Before(to); d = d.Add(day) {
		rs, err := u.day(ctx, s, d, now)
		if err != nil {
			return nil, err
		}
		part := (&slo.Series{Quantum: s.Quantum, Rollups: rs}).Range(from.UnixNano(), to.UnixNano())
		days = append(days, part)
		n += len(part)
	}
	series.Rollups = make([]slo.Rollup, 0, n)
	for _, part := range days {
		series.Rollups = append(series.Rollups, part...)
	}
	return series, nil
}

// day returns the counts of the UTC day starting at d.
func (u *UI) day(ctx context.Context, s *slo.SLO, d, now time.Time) ([]slo.Rollup, error) {
	end := d.Add(24 * time.Hour)
	cacheable := !end.Add(cacheSettled).After(now)
	key := dayKey{s.Name, s.Quantum, d.UnixNano()}
	c := &u.cache
	// Read before the store: a write while it is read leaves the entry
	// older than the count, and the next view reads the day again.
	gen := u.cfg.SLOs.PastDayWrites()
	if cacheable {
		c.mu.Lock()
		dc := c.days[key]
		c.mu.Unlock()
		if dc != nil && dc.gen == gen && now.Sub(dc.fetched) < cacheTTL && !now.Before(dc.fetched) {
			// Past half its life, an entry in use is read again in the
			// background, so a page on a wall screen never waits for the
			// store after its first view.
			c.mu.Lock()
			if now.Sub(dc.fetched) >= cacheTTL/2 && !dc.refreshing {
				dc.refreshing = true
				withLatency := dc.latency != nil
				u.refreshes.Go(func() { u.refreshDay(s, d, key, withLatency) })
			}
			c.mu.Unlock()
			return dc.rollups, nil
		}
	}
	var rs []slo.Rollup
	var h *hist.Histogram
	if cacheable {
		h = new(hist.Histogram)
	}
	complete, err := u.readDay(ctx, s, d, end, &rs, h)
	if err != nil {
		return nil, err
	}
	if !complete {
		h = nil // compacted quanta: the hourly histograms have the latency
	}
	// An empty day is not kept: reading it again costs nothing, and it is
	// what a history being backfilled (nines serve --demo at start, an
	// import) looks like before its turn comes.
	if cacheable && len(rs) > 0 {
		c.mu.Lock()
		if c.days == nil {
			c.days = map[dayKey]*dayCounts{}
		}
		if len(c.days) >= cacheDays {
			// Forget the stalest entry; a full cache is rare enough that a
			// scan is cheaper than keeping an order.
			var oldest dayKey
			var at time.Time
			for k, v := range c.days {
				if at.IsZero() || v.fetched.Before(at) {
					oldest, at = k, v.fetched
				}
			}
			delete(c.days, oldest)
		}
		c.days[key] = &dayCounts{fetched: now, gen: gen, rollups: rs, latency: h}
		c.mu.Unlock()
	}
	return rs, nil
}

// refreshDay reads a cached day again, with its latency when that was
// in use, and replaces the entry.
func (u *UI) refreshDay(s *slo.SLO, d time.Time, key dayKey, withLatency bool) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	fresh := &dayCounts{fetched: u.cfg.SLOs.Now(), gen: u.cfg.SLOs.PastDayWrites(), latency: new(hist.Histogram)}
	complete, err := u.readDay(ctx, s, d, d.Add(24*time.Hour), &fresh.rollups, fresh.latency)
	if err == nil && !complete {
		fresh.latency = nil
		if withLatency {
			fresh.latency, err = u.cfg.SLOs.Latency(ctx, s.Name, d, d.Add(24*time.Hour))
		}
	}
	u.cache.mu.Lock()
	defer u.cache.mu.Unlock()
	if err != nil {
		u.cfg.Logger.Warn("ui: refreshing cached counts", "slo", s.Name, "day", d, "err", err)
		if dc := u.cache.days[key]; dc != nil {
			dc.refreshing = false
		}
		return
	}
	u.cache.days[key] = fresh
}

// readCounts appends the rollups of s in [from, to) to dst, counts only.
func (u *UI) readCounts(ctx context.Context, s *slo.SLO, from, to time.Time, dst *[]slo.Rollup) error {
	_, err := u.readDay(ctx, s, from, to, dst, nil)
	return err
}

// readDay appends the rollups of s in [from, to) to dst, counts only,
// and merges their latencies into h when h is not nil: one pass over the
// rows serves both, since the store decodes every histogram it reads
// anyway. complete is false when a quantum with traffic had no histogram:
// compaction moved it into the hourly histograms (or the source sent no
// latencies), so h does not hold the span's latency.
func (u *UI) readDay(ctx context.Context, s *slo.SLO, from, to time.Time, dst *[]slo.Rollup, h *hist.Histogram) (complete bool, err error) {
	complete = true
	it := u.cfg.Rollups.Rollups(ctx, s.Name, s.Quantum, from.UnixNano(), to.UnixNano())
	for it.Next() {
		r := it.At()
		*dst = append(*dst, slo.Rollup{Start: r.Start, Attempted: r.Attempted, Good: r.Good, Errors: r.Errors,
			Slow: r.Slow, OverThreshold: r.OverThreshold, Measured: r.Measured})
		if h != nil {
			if r.Attempted > 0 && r.Latency.Count() == 0 {
				complete = false
			}
			h.Merge(&r.Latency)
		}
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return false, fmt.Errorf("reading rollups of %s: %w", s.Name, err)
	}
	return complete, nil
}

// latency merges the latencies of s over [from, to): whole past days from
// the cache, the ragged edges and today from the engine.
func (u *UI) latency(ctx context.Context, s *slo.SLO, from, to, now time.Time) (*hist.Histogram, error) {
	const day = 24 * time.Hour
	var h hist.Histogram
	for d := from.UTC().Truncate(day); d.Before(to); d = d.Add(day) {
		lo, hi := maxTime(d, from), minTime(d.Add(day), to)
		if !lo.Equal(d) || !hi.Equal(d.Add(day)) || d.Add(day+cacheSettled).After(now) {
			part, err := u.cfg.SLOs.Latency(ctx, s.Name, lo, hi)
			if err != nil {
				return nil, err
			}
			h.Merge(part)
			continue
		}
		// Reading the day's counts through the cache also merges its
		// latencies in the same pass, unless compaction moved them.
		if _, err := u.day(ctx, s, d, now); err != nil {
			return nil, err
		}
		key := dayKey{s.Name, s.Quantum, d.UnixNano()}
		u.cache.mu.Lock()
		dc := u.cache.days[key]
		var cached *hist.Histogram
		if dc != nil {
			cached = dc.latency
		}
		u.cache.mu.Unlock()
		if cached == nil {
			part, err := u.cfg.SLOs.Latency(ctx, s.Name, d, d.Add(day))
			if err != nil {
				return nil, err
			}
			cached = part
			u.cache.mu.Lock()
			if dc != nil && u.cache.days[key] == dc {
				dc.latency = part
			}
			u.cache.mu.Unlock()
		}
		h.Merge(cached)
	}
	return &h, nil
}

// warmDays is how many past days Warm reads for each SLO: a 30-day window
// and the day it began on.
const warmDays = 31

// Warm reads the past days of every SLO's usual range into the cache, so
// that the first view of a page after a start is as quick as the next
// ones. It stops at ctx's end, and before the cache would overflow: the
// SLOs first by name get warmed, the others are read on first view.
func (u *UI) Warm(ctx context.Context) {
	const day = 24 * time.Hour
	now := u.cfg.SLOs.Now()
	budget := cacheDays / 2
	start := time.Now()
	defer func() {
		u.cfg.Logger.Info("ui: cache warmed", "days", cacheDays/2-budget, "took", time.Since(start).Round(time.Millisecond))
	}()
	for _, s := range u.cfg.SLOs.SLOs() {
		if day%s.Quantum != 0 {
			continue // not cached
		}
		for d := now.UTC().Truncate(day).Add(-warmDays * day); !d.Add(day + cacheSettled).After(now); d = d.Add(day) {
			if ctx.Err() != nil || budget == 0 {
				return
			}
			if _, err := u.day(ctx, s, d, now); err != nil {
				u.cfg.Logger.Warn("ui: warming the cache", "slo", s.Name, "err", err)
				break
			}
			budget--
		}
	}
}

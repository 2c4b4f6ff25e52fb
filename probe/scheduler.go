package probe

import (
	"container/heap"
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Sink takes results in batches. Results is called from one goroutine
// at a time and should not block for long: a slow sink holds back the
// checks' results.
type Sink interface {
	Results(ctx context.Context, rs []Result)
}

// SchedulerConfig configures a Scheduler.
type SchedulerConfig struct {
	// Location is where this process runs; only probes that list it run.
	Location string
	Probes   []*Probe
	Sink     Sink
	// Checker runs the checks (NewChecker() when nil).
	Checker *Checker
	// Concurrency bounds the checks running at once (256); a check due
	// while that many run is skipped and counted, not queued, so a slow
	// moment never turns into a burst.
	Concurrency int
	// Flush is how often results are handed to the sink (1 s), MaxBatch
	// how many at most at a time (1000).
	Flush    time.Duration
	MaxBatch int
	Now      func() time.Time
	Logger   *slog.Logger
}

// Scheduler runs probes at their intervals from one location. Each
// probe's checks fall at the same offset within its interval, on the
// wall clock, from a hash of its name: a thousand probes spread evenly
// instead of all at once, every location checks a probe at the same
// moments (so their results line up in a consensus window), and a
// restart keeps the rhythm.
//
// One goroutine keeps a heap of due times and hands due checks to
// workers, at most Concurrency of them, started as they are needed.
type Scheduler struct {
	cfg     SchedulerConfig
	probes  []*Probe
	results chan Result

	checks, skipped atomic.Int64
}

// NewScheduler returns a scheduler for the probes that run from
// cfg.Location.
func NewScheduler(cfg SchedulerConfig) (*Scheduler, error) {
	if !ValidLocation(cfg.Location) {
		return nil, errors.New("probe scheduler: the location must be a name of letters, digits, - and _ (not \"cert\")")
	}
	if cfg.Sink == nil {
		return nil, errors.New("probe scheduler: no sink for the results")
	}
	if cfg.Checker == nil {
		cfg.Checker = NewChecker()
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 256
	}
	if cfg.Flush <= 0 {
		cfg.Flush = time.Second
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Scheduler{cfg: cfg, results: make(chan Result, cfg.Concurrency)}
	for _, p := range cfg.Probes {
		if p.Runs(cfg.Location) {
			s.probes = append(s.probes, p)
		}
	}
	return s, nil
}

// Probes are the probes this scheduler runs.
func (s *Scheduler) Probes() []*Probe { return s.probes }

// SchedulerStats are a scheduler's counts.
type SchedulerStats struct{ Checks, Skipped int64 }

func (s *Scheduler) Stats() SchedulerStats {
	return SchedulerStats{Checks: s.checks.Load(), Skipped: s.skipped.Load()}
}

// Offset is where in its interval a probe's checks fall, from its name.
func Offset(name string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(name))
	return time.Duration(h.Sum64() % uint64(interval))
}

// NextDue is the first time at or after now that falls at the probe's
// offset within its interval, counted from the Unix epoch.
func NextDue(p *Probe, now time.Time) time.Time {
	iv := int64(p.Interval)
	off := int64(Offset(p.Name, p.Interval))
	n := now.UnixNano()
	k := (n - off) / iv
	t := k*iv + off
	if t < n {
		t += iv
	}
	return time.Unix(0, t)
}

type due struct {
	at  time.Time
	idx int
}

type dueHeap []due

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(due)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// Run runs the probes until ctx ends, then waits for the checks under
// way (cut short by ctx: their results are not a measurement and are
// dropped) and hands the results collected to the sink. A Scheduler
// runs once.
func (s *Scheduler) Run(ctx context.Context) {
	var wg sync.WaitGroup
	collected := make(chan struct{})
	go func() {
		s.collect(ctx)
		close(collected)
	}()
	now := s.cfg.Now()
	h := make(dueHeap, 0, len(s.probes))
	for i, p := range s.probes {
		h = append(h, due{NextDue(p, now), i})
	}
	heap.Init(&h)
	running := make([]atomic.Bool, len(s.probes))
	// Workers live as long as the scheduler and are started as needed,
	// up to Concurrency: a check's call chain is deep, and a worker's
	// grown stack is kept instead of grown anew for every check.
	jobs := make(chan int)
	workers := 0
	work := func() {
		defer wg.Done()
		for i := range jobs {
			r := s.cfg.Checker.Check(ctx, s.probes[i], s.cfg.Location, s.cfg.Now)
			running[i].Store(false)
			if ctx.Err() == nil {
				s.checks.Add(1)
				s.results <- r
			}
		}
	}
	stopWorkers := func() {
		close(jobs)
		wg.Wait()
		close(s.results)
		<-collected
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for len(h) > 0 {
		timer.Reset(max(h[0].at.Sub(s.cfg.Now()), 0))
		select {
		case <-ctx.Done():
			stopWorkers()
			return
		case <-timer.C:
		}
		now := s.cfg.Now()
		for len(h) > 0 && !h[0].at.After(now) {
			d := &h[0]
			p := s.probes[d.idx]
			if running[d.idx].Load() {
				// Still running (a timeout as long as the interval):
				// the next check waits its turn.
				s.skipped.Add(1)
			} else {
				running[d.idx].Store(true)
				select {
				case jobs <- d.idx:
				default:
					if workers < s.cfg.Concurrency {
						workers++
						wg.Add(1)
						go work()
						jobs <- d.idx
					} else {
						running[d.idx].Store(false)
						s.skipped.Add(1)
						s.cfg.Logger.Warn("probe: a check was skipped: too many checks are running at once", "probe", p.Name, "running", s.cfg.Concurrency)
					}
				}
			}
			// The next due time follows the last on the grid, so a late
			// wake-up never shifts the rhythm; a long stall skips ahead.
			d.at = d.at.Add(p.Interval)
			if d.at.Before(now) {
				d.at = NextDue(p, now)
			}
			heap.Fix(&h, 0)
		}
	}
	<-ctx.Done()
	stopWorkers()
}

// collect hands results to the sink in batches.
func (s *Scheduler) collect(ctx context.Context) {
	tick := time.NewTicker(s.cfg.Flush)
	defer tick.Stop()
	batch := make([]Result, 0, 64)
	flush := func(ctx context.Context) {
		if len(batch) > 0 {
			s.cfg.Sink.Results(ctx, batch)
			batch = make([]Result, 0, 64)
		}
	}
	for {
		select {
		case r, ok := <-s.results:
			if !ok {
				fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				flush(fctx)
				cancel()
				return
			}
			batch = append(batch, r)
			if len(batch) >= s.cfg.MaxBatch {
				flush(ctx)
			}
		case <-tick.C:
			flush(ctx)
		}
	}
}

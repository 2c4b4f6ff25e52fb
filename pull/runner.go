package pull

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// Engine is what the runner needs of nines serve's engine: the SLOs, and
// the append path remote write uses, live and for history.
type Engine interface {
	SLOs() []*slo.SLO
	Commit(ctx context.Context, b *engine.Batch) (map[string]engine.AppendResult, error)
	CommitBackfill(ctx context.Context, b *engine.Batch) (map[string]engine.AppendResult, error)
}

// Store is what the runner reads of the store: its cursors, which it
// writes with its rollups, and the rollups an SLO already has when it
// first reads it.
type Store interface {
	GetState(ctx context.Context, key string) ([]byte, error)
	Rollups(ctx context.Context, sli string, quantum time.Duration, from, to int64) store.RollupIterator
}

// Config configures a Runner. Engine and State are required.
type Config struct {
	Engine Engine
	Store  Store
	// Now is the clock; time.Now by default.
	Now    func() time.Time
	Logger *slog.Logger
	// Delay is how far behind now a step reads: samples are stamped when
	// the scrape began and stored a little later, and a quantum is handed
	// out only when every sample of it can be read. 30 s by default, as
	// nines waits for remote write.
	Delay time.Duration
	// Interval is the time between steps; one minute by default.
	Interval time.Duration
	// Lookback is how far before an SLO's first unread quantum a new
	// reader starts, for each series' baseline: the Collector forgets a
	// series after metrics.DefaultIdleTimeout, so reading that far back
	// gives the first quantum the increase remote write would have given it.
	Lookback time.Duration
	// Chunk is the longest range one query asks for while catching up.
	// Six hours are 1,440 samples a series at 15 s scrapes, well under the
	// 11,000 points Prometheus answers a query_range with, and the answers
	// stay a few MB. A series denser than 11,000 samples a chunk halves it.
	Chunk time.Duration
	// LiveWithin: an SLO whose stored rollups end this close to the
	// horizon is read live (a step's worth each minute); further back it
	// is caught up chunk by chunk, apart from the live ones.
	LiveWithin time.Duration
	// MaxLag is the engine's: how old a quantum its live path still
	// takes. Older rollups go in as history (Engine.CommitBackfill). Five
	// minutes by default, as the engine's.
	MaxLag time.Duration
	// NewClient makes the client of an API; NewClient(api, nil) by
	// default.
	NewClient func(api slo.PromAPI) *Client
	// Leading, when set, says whether this process reads: of several
	// nines serve on one database only the leader does, since every read
	// adds its rollups to the shared store. One that stops leading drops
	// its readers and cursors, so that when it leads again it starts from
	// the cursors stored by whoever read meanwhile. Nil: always.
	Leading func() bool
	// Holder, when set, is this replica's name in the leader lease: the
	// rollups and cursors a step commits carry it (store.WithLease), so
	// that a step in flight when the lease passed to another replica is
	// refused rather than read twice.
	Holder string
}

// Defaults of a Config.
const (
	DefaultDelay      = 30 * time.Second
	DefaultInterval   = time.Minute
	DefaultLookback   = metrics.DefaultIdleTimeout
	DefaultChunk      = 6 * time.Hour
	DefaultLiveWithin = 5 * time.Minute
	DefaultMaxLag     = 5 * time.Minute
	// MaxPoints is the most samples a series may have in one answer before
	// the chunk is halved: Prometheus' limit of points a query_range
	// answers with.
	MaxPoints = 11000
)

// Source is the name of the pull source in the engine's ingest counters.
const Source = "pull"

// StateKey is where the end of an SLO's stored pull rollups is kept: a
// decimal Unix nanosecond, stored in the transaction of the rollups.
func StateKey(slo string) string { return "pull/" + slo }

// Runner reads the SLIs whose sources name a query API and feeds their
// rollups to the engine. It is safe for concurrent use.
type Runner struct {
	cfg Config

	mu      sync.Mutex
	readers map[string]*reader
	status  map[string]*Status
	cursors map[string]int64 // by SLO: end of its stored rollups, Unix ns
}

// Status is what the SLO's API document says of its pull source.
type Status struct {
	Source string `json:"source"`
	URL    string `json:"url"`
	// State is backfilling (catching up on history), live (read each
	// minute), failing (the last step failed after its retries; the quanta
	// it could not read stay unmeasured until a step reads them) or
	// waiting (no step has run yet).
	State string `json:"state"`
	// Through is the end of the rollups stored from this source.
	Through     time.Time `json:"through,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
	// Error says which query failed and why; FailingSince is when the
	// source first failed without a success since.
	Error        string    `json:"error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	// Queries are the queries a step sends for the SLOs read with this one.
	Queries []string `json:"queries"`
	// Skipped counts samples the Collector did not use in the last step, by
	// reason, as remote write reports them.
	Skipped  map[string]uint64 `json:"skipped,omitempty"`
	Problems []string          `json:"problems,omitempty"`
}

// skipped lists what the Collector did not use and a user can mend: the
// duplicates of a range's first sample, and the series a shared query
// brings that no SLO of the reader selects, are how pulling works.
func skipped(rep *metrics.Report) (map[string]uint64, []string) {
	var out map[string]uint64
	for _, reason := range []metrics.Reason{metrics.Late, metrics.BadValue, metrics.WrongType, metrics.NoThresholdBucket, metrics.Inconsistent} {
		if n := rep.Count(reason); n > 0 {
			if out == nil {
				out = map[string]uint64{}
			}
			out[reason.String()] = n
		}
	}
	var problems []string
	for _, p := range rep.Problems {
		problems = append(problems, p.Error())
	}
	return out, problems
}

// New checks cfg and returns a Runner.
func New(cfg Config) (*Runner, error) {
	if cfg.Engine == nil || cfg.Store == nil {
		return nil, errors.New("pull: no engine or store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{{&cfg.Delay, DefaultDelay}, {&cfg.Interval, DefaultInterval}, {&cfg.Lookback, DefaultLookback}, {&cfg.Chunk, DefaultChunk}, {&cfg.LiveWithin, DefaultLiveWithin}, {&cfg.MaxLag, DefaultMaxLag}} {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < 0 {
			return nil, fmt.Errorf("pull: negative duration %v", *d.v)
		}
	}
	if cfg.NewClient == nil {
		cfg.NewClient = func(api slo.PromAPI) *Client { return NewClient(api, nil) }
	}
	return &Runner{cfg: cfg, readers: map[string]*reader{}, status: map[string]*Status{}, cursors: map[string]int64{}}, nil
}

// Run steps every Interval until ctx ends: first at once, to start the
// backfill, then each Interval at Delay past its start (plus a margin),
// so that a quantum is stored as soon as it can be read, before the
// engine judges it.
func (r *Runner) Run(ctx context.Context) {
	for {
		if err := r.Step(ctx); err != nil && ctx.Err() == nil {
			r.cfg.Logger.Warn("pull step", "err", err)
		}
		now := r.cfg.Now()
		select {
		case <-ctx.Done():
			return
		case <-time.After(r.nextStep(now).Sub(now)):
		}
	}
}

// stepMargin is how long after Delay past an interval's start a step
// runs: the samples stamped just before its horizon are in by then.
const stepMargin = 2 * time.Second

// nextStep is the time of the step after now.
func (r *Runner) nextStep(now time.Time) time.Time {
	next := now.Truncate(r.cfg.Interval).Add(r.cfg.Delay + stepMargin)
	for !next.After(now) {
		next = next.Add(r.cfg.Interval)
	}
	return next
}

// SourceStatus reports on the pull source of the SLO called name.
func (r *Runner) SourceStatus(name string) (any, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.status[name]
	if !ok {
		return nil, false
	}
	c := *st
	c.Queries = slices.Clone(st.Queries)
	c.Skipped = maps.Clone(st.Skipped)
	c.Problems = slices.Clone(st.Problems)
	return c, true
}

// SourceNote is one line on the pull source of the SLO called name, for
// the SLO page, and whether it is failing; "" when the SLO is not read
// from a query API.
func (r *Runner) SourceNote(name string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.status[name]
	if !ok {
		return "", false
	}
	through := "nothing stored yet"
	if !st.Through.IsZero() {
		through = "stored through " + st.Through.UTC().Format("2006-01-02 15:04 MST")
	}
	switch st.State {
	case "failing":
		return fmt.Sprintf("Read from %s: failing since %s, %s; the quanta it cannot read stay unmeasured until it answers. %s",
			st.URL, st.FailingSince.UTC().Format("2006-01-02 15:04:05 MST"), through, st.Error), true
	case "backfilling":
		return fmt.Sprintf("Read from %s: backfilling the window, %s.", st.URL, through), false
	case "live":
		return fmt.Sprintf("Read from %s each minute, %s.", st.URL, through), false
	}
	return fmt.Sprintf("Read from %s: waiting for the first read.", st.URL), false
}

// reader reads the SLOs of one API and quantum that are at one stage
// (catching up or live) with one Collector, so that each query serves
// all of them.
type reader struct {
	key     string
	api     slo.PromAPI
	quantum time.Duration
	names   []string // sorted
	ident   string   // the sources, to tell a changed set
	client  *Client
	col     *metrics.Collector
	queries []string
	// fetched is the end of the samples the Collector has, Unix ms.
	fetched int64
	chunk   time.Duration
}

// Step reads what is due for every pull source: history for those behind,
// the last minute for the live ones. It returns the errors of the sources
// that failed (each also in its SLOs' status).
func (r *Runner) Step(ctx context.Context) error {
	if r.cfg.Leading != nil && !r.cfg.Leading() {
		r.mu.Lock()
		clear(r.readers)
		clear(r.cursors)
		r.mu.Unlock()
		return nil
	}
	if r.cfg.Holder != "" {
		ctx = store.WithLease(ctx, r.cfg.Holder)
	}
	now := r.cfg.Now()
	to := now.Add(-r.cfg.Delay)
	// An SLO that cannot be planned (a cursor the store cannot read) does
	// not hold the others back.
	readers, planErr := r.plan(ctx, to)
	var wg sync.WaitGroup
	errs := make([]error, len(readers), len(readers)+1)
	sem := make(chan struct{}, 4)
	for i, rd := range readers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs[i] = r.advance(ctx, rd, to)
		}()
	}
	wg.Wait()
	return errors.Join(append(errs, planErr)...)
}

// plan groups the pull SLOs into readers, keeping the readers whose set
// is unchanged (and with them their counter baselines).
func (r *Runner) plan(ctx context.Context, to time.Time) ([]*reader, error) {
	type member struct {
		s   *slo.SLO
		src metrics.SLISource
	}
	groups := map[string][]member{}
	var errs []error
	seen := map[string]bool{}
	for _, s := range r.cfg.Engine.SLOs() {
		if s.SLI.Source == nil || s.SLI.Source.Prometheus == nil {
			continue
		}
		seen[s.Name] = true
		src, err := metrics.SourceOf(s.Name, s.SLI)
		if err != nil {
			errs = append(errs, err)
			r.fail([]string{s.Name}, s.SLI.Source.Prometheus.URL, err)
			continue
		}
		cur, err := r.cursor(ctx, s, to)
		if err != nil {
			errs = append(errs, err)
			r.fail([]string{s.Name}, s.SLI.Source.Prometheus.URL, err)
			continue
		}
		live := slo.QuantumStart(to.UnixNano(), s.Quantum)-cur <= int64(r.cfg.LiveWithin)
		key := apiKey(s.SLI.Source.Prometheus) + "\x00" + s.Quantum.String() + "\x00" + strconv.FormatBool(live)
		groups[key] = append(groups[key], member{s, src})
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for name := range r.status {
		if !seen[name] {
			delete(r.status, name)
			delete(r.cursors, name)
		}
	}
	next := map[string]*reader{}
	for key, ms := range groups {
		slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.s.Name, b.s.Name) })
		var ident strings.Builder
		names := make([]string, len(ms))
		srcs := make([]metrics.SLISource, len(ms))
		for i, m := range ms {
			names[i], srcs[i] = m.s.Name, m.src
			src := *m.s.SLI.Source
			src.Prometheus = nil // in the key; its address changes with each reload
			fmt.Fprintf(&ident, "%s %+v %s %v;", m.s.Name, src, m.s.SLI.Status.String(), m.s.SLI.Latency)
		}
		if old := r.readers[key]; old != nil && old.ident == ident.String() {
			next[key] = old
			continue
		}
		col, err := metrics.NewCollector(metrics.Config{Sources: srcs, Quantum: ms[0].s.Quantum})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		api := *ms[0].s.SLI.Source.Prometheus
		from := int64(math.MaxInt64)
		for _, n := range names {
			from = min(from, r.cursors[n])
		}
		rd := &reader{key: key, api: api, quantum: ms[0].s.Quantum, names: names, ident: ident.String(),
			client: r.cfg.NewClient(api), col: col, queries: queries(srcs),
			fetched: time.Unix(0, from).Add(-r.cfg.Lookback).UnixMilli(), chunk: r.cfg.Chunk}
		next[key] = rd
		for _, n := range names {
			st := r.statusOf(n, api.URL)
			st.Queries = rd.queries
		}
	}
	r.readers = next
	out := slices.Collect(maps.Values(next))
	slices.SortFunc(out, func(a, b *reader) int { return strings.Compare(a.key, b.key) })
	return out, errors.Join(errs...)
}

// apiKey tells APIs apart: the same URL with another tenant or other
// credentials is another source.
func apiKey(a *slo.PromAPI) string {
	var b strings.Builder
	b.WriteString(a.URL)
	for _, k := range slices.Sorted(maps.Keys(a.Headers)) {
		fmt.Fprintf(&b, "\x00%s=%s", strings.ToLower(k), a.Headers[k])
	}
	fmt.Fprintf(&b, "\x00%s\x00%s\x00%s", a.BearerTokenFile, a.BasicAuthUser, a.BasicAuthPasswordFile)
	return b.String()
}

// cursor returns the end of the SLO's stored pull rollups: from the
// store the first time, but never before the start of its window (or of
// its life, when the spec sets one). An SLO read this way for the first
// time is backfilled from there, or from the end of the rollups it
// already has: an SLO moved from remote write to its API keeps what was
// received, and nothing is counted twice. r.mu must not be held.
func (r *Runner) cursor(ctx context.Context, s *slo.SLO, to time.Time) (int64, error) {
	r.mu.Lock()
	cur, ok := r.cursors[s.Name]
	r.mu.Unlock()
	if ok {
		return cur, nil
	}
	start := s.Window.Containing(to).Start
	if !s.Since.IsZero() && s.Since.After(start) {
		start = s.Since
	}
	first := slo.QuantumStart(start.UnixNano(), s.Quantum)
	b, err := r.cfg.Store.GetState(ctx, StateKey(s.Name))
	switch {
	case err == nil:
		cur, err = strconv.ParseInt(string(b), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("pull: SLO %s: stored cursor %q: %w", s.Name, b, err)
		}
		cur = max(cur, first)
	case errors.Is(err, store.ErrNotFound):
		cur = first
		it := r.cfg.Store.Rollups(ctx, s.Name, s.Quantum, first, to.UnixNano())
		for it.Next() {
			cur = max(cur, it.At().Start+int64(s.Quantum))
		}
		err := it.Err()
		it.Close()
		if err != nil {
			return 0, fmt.Errorf("pull: SLO %s: reading its stored rollups: %w", s.Name, err)
		}
	default:
		return 0, fmt.Errorf("pull: SLO %s: reading its cursor: %w", s.Name, err)
	}
	r.mu.Lock()
	r.cursors[s.Name] = cur
	r.mu.Unlock()
	return cur, nil
}

// statusOf returns the status of name, made if missing. r.mu is held.
func (r *Runner) statusOf(name, url string) *Status {
	st := r.status[name]
	if st == nil {
		st = &Status{Source: "prometheus", URL: url, State: "waiting"}
		r.status[name] = st
	}
	st.URL = url
	return st
}

func (r *Runner) fail(names []string, url string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now()
	for _, n := range names {
		st := r.statusOf(n, url)
		st.State, st.Error = "failing", err.Error()
		if st.FailingSince.IsZero() {
			st.FailingSince = now
		}
	}
}

// advance reads rd's SLOs up to to, chunk by chunk, each chunk's rollups
// stored with the cursors in one transaction. The next chunk is fetched
// while one is stored: a backfill then takes about as long as
// Prometheus takes to answer.
func (r *Runner) advance(ctx context.Context, rd *reader, to time.Time) error {
	toMs := to.UnixMilli()
	type chunk struct {
		end    int64
		series []metrics.Series
		err    error
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan chunk, 1)
	go func() {
		defer close(chunks)
		for from := rd.fetched; from < toMs; {
			end := min(toMs, from+rd.chunk.Milliseconds())
			series, err := r.fetch(ctx, rd, from, end)
			if errors.Is(err, errDense) {
				continue // fetch halved the chunk
			}
			select {
			case chunks <- chunk{end, series, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
			from = end
		}
	}()
	for c := range chunks {
		err := c.err
		if err == nil {
			horizon := slo.QuantumStart(c.end*int64(time.Millisecond), rd.quantum)
			err = r.store(ctx, rd, c.series, horizon)
		}
		if err != nil {
			// The fetcher ends before rd is read again.
			cancel()
			for range chunks {
			}
			err = fmt.Errorf("pull from %s: %w", rd.api.URL, err)
			r.fail(rd.names, rd.api.URL, err)
			return err
		}
		rd.fetched = c.end
	}
	return nil
}

var errDense = errors.New("more samples a series than a chunk may hold")

// fetch runs rd's queries for (from, end].
func (r *Runner) fetch(ctx context.Context, rd *reader, from, end int64) ([]metrics.Series, error) {
	span := time.Duration(end-from) * time.Millisecond
	var all []metrics.Series
	for _, q := range rd.queries {
		series, err := rd.client.Raw(ctx, q, span, time.UnixMilli(end))
		if err != nil {
			return nil, err
		}
		for i := range series {
			if len(series[i].Samples) > MaxPoints && rd.chunk > 2*r.cfg.Interval {
				rd.chunk /= 2
				return nil, errDense
			}
		}
		all = append(all, series...)
	}
	return all, nil
}

// store folds series into rd's Collector, hands out the quanta that end
// by horizon and stores them, with the SLOs' cursors, in one transaction;
// the Collector's change is undone when the transaction fails, so the
// next step reads the same samples again and counts them once.
func (r *Runner) store(ctx context.Context, rd *reader, series []metrics.Series, horizon int64) error {
	ch, err := rd.col.Begin()
	if err != nil {
		return err
	}
	rep := ch.Add(series)
	results, frep := ch.Flush(horizon)
	rep.Merge(&frep)
	r.mu.Lock()
	cursors := make(map[string]int64, len(rd.names))
	for _, n := range rd.names {
		cursors[n] = r.cursors[n]
	}
	r.mu.Unlock()
	b := &engine.Batch{Source: Source, Series: map[string]*slo.Series{}, State: map[string][]byte{}}
	oldest := int64(math.MaxInt64)
	for _, res := range results {
		if res.Rollup.Start < cursors[res.SLI] {
			continue // stored by an earlier step, or before a restart
		}
		s := b.Series[res.SLI]
		if s == nil {
			s = &slo.Series{Quantum: rd.quantum}
			b.Series[res.SLI] = s
		}
		s.Rollups = append(s.Rollups, res.Rollup)
		oldest = min(oldest, res.Rollup.Start)
	}
	for _, n := range rd.names {
		if horizon > cursors[n] {
			b.State[StateKey(n)] = []byte(strconv.FormatInt(horizon, 10))
		}
	}
	if len(b.State) == 0 && len(b.Series) == 0 {
		ch.Commit()
		return nil
	}
	commit := r.cfg.Engine.Commit
	if oldest < r.cfg.Now().Add(-r.cfg.MaxLag/2).UnixNano() {
		// History: near or past the age the engine takes live data to.
		commit = r.cfg.Engine.CommitBackfill
	}
	stored, err := commit(ctx, b)
	if err != nil {
		ch.Rollback()
		return fmt.Errorf("storing rollups: %w", err)
	}
	ch.Commit()
	var refused []string
	for _, n := range rd.names {
		if res := stored[n]; res.Late+res.Future > 0 {
			// Stored with the cursor past them: say so rather than lose
			// them quietly.
			refused = append(refused, fmt.Sprintf("the engine refused %d late and %d future rollups of %s (--ingest.max-lag %v)", res.Late, res.Future, n, r.cfg.MaxLag))
		}
	}
	if len(refused) > 0 {
		r.cfg.Logger.Warn("pull: rollups refused", "refused", refused)
	}
	now := r.cfg.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	state := "live"
	if horizon < slo.QuantumStart(now.Add(-r.cfg.Delay).UnixNano(), rd.quantum)-int64(r.cfg.LiveWithin) {
		state = "backfilling"
	}
	for _, n := range rd.names {
		if horizon > r.cursors[n] {
			r.cursors[n] = horizon
		}
		st := r.statusOf(n, rd.api.URL)
		st.State, st.Error, st.FailingSince, st.LastSuccess = state, "", time.Time{}, now
		st.Through = time.Unix(0, r.cursors[n]).UTC()
		st.Skipped, st.Problems = skipped(&rep)
		st.Problems = append(st.Problems, refused...)
	}
	return nil
}

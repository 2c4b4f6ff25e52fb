package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nines-sre/nines/ingest/metrics"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

// Every request of remote write or OTLP that is answered 2xx is durable
// before the answer: its change to the collector (new counter baselines,
// increases to the quanta the collector holds open, the quanta it hands
// out) is one record, stored in the same transaction as the rollups of
// the quanta handed out. The collector's whole state is saved now and
// then, and the records since are replayed onto it at start: a crash, or
// the machine losing power, loses nothing that was acknowledged and
// counts nothing twice. A failed transaction undoes the change, so the
// sender's retry counts once. docs/durability.md describes the records.
//
// The state is saved once the records since the last save outweigh it
// logPerState times (a record is a few bytes a series of its request,
// the state about 100 bytes a series of all): saving costs a fraction of
// recording, and the records replayed at start are a few times the state
// at most, read in well under a second for 100,000 series.
const (
	logPerState = 4
	minLogBytes = 1 << 20
)

// retrySaveAfter is how long a collector waits after a failed save of its
// state before it tries again; its records keep it durable meanwhile.
const retrySaveAfter = 10 * time.Second

// protocol is a way metric series arrive. Each has its own collector, so
// that one protocol's flushing never cuts into another's held quanta and
// their series never mix.
type protocol struct {
	name string
	// hold is how long after a quantum ends its collector keeps it open for
	// the rest of its series, or negative to hand every quantum out at once.
	// Prometheus' shards send the series of one scrape in separate requests
	// seconds apart, and a histogram can only be read once all its buckets
	// are in: a quantum handed out with half of them would lose the other
	// half. An OTLP data point carries its whole histogram.
	hold time.Duration
}

// protocols are the metric protocols nines serve takes.
func (e *Engine) protocols() []protocol {
	return []protocol{{"remote-write", e.cfg.RemoteWriteHold}, {"otlp", -1}}
}

// The collector's keys in the store's state (docs/durability.md): the
// generation of the saved state, the state in chunks, and the records
// of the changes since, all numbered in 16 hex digits so that they sort.
func genKey(p string) string { return "collector/" + p + "/gen" }
func statePrefix(p string) string {
	return "collector/" + p + "/state/"
}
func stateGen(p string, gen uint64) string {
	return fmt.Sprintf("%s%016x/", statePrefix(p), gen)
}
func stateKey(p string, gen uint64, chunk int) string {
	return fmt.Sprintf("%s%016x", stateGen(p, gen), chunk)
}
func logPrefix(p string) string {
	return "collector/" + p + "/log/"
}
func logGen(p string, gen uint64) string {
	return fmt.Sprintf("%s%016x/", logPrefix(p), gen)
}
func logKey(p string, gen, seq uint64) string {
	return fmt.Sprintf("%s%016x", logGen(p, gen), seq)
}

// stateChunk is the size of the pieces a state is stored in: SQLite
// copies a value whole, twice, to store it, and a state of 100,000 series
// is 10 MB.
const stateChunk = 1 << 20

// Keys of nines before durable records: the state as one value, and the
// mark that said it was older than the rollups stored since.
func oldStateKey(p string) string { return "collector/" + p }
func staleKey(p string) string    { return "collector/" + p + "-stale" }

// collector turns metric series (remote write, OTLP) into rollups for the
// SLOs whose SLI names a metric source. One is shared behind a mutex: a
// series' baseline must see its samples in order.
type collector struct {
	proto protocol
	mu    sync.Mutex
	c     *metrics.Collector
	// sources is the number of SLOs read from metrics.
	sources int
	// state holds the baselines while no SLO reads metrics (c is nil);
	// unread says they are still in the store, not read yet.
	state  []byte
	unread bool
	// The log: records of changes since the saved state go under
	// generation gen, numbered from seq. logBytes is their size,
	// stateBytes that of the saved state; failedSave is when a save last
	// failed.
	gen, seq             uint64
	logBytes, stateBytes int64
	failedSave           time.Time
	// saveSoon asks for the state to be saved after the next change: the
	// records since the last save do not apply to it (a state or record
	// unreadable, the common quantum changed by a reload).
	saveSoon bool
	// minLog is the least size of records that makes it worth saving the
	// state (minLogBytes; tests lower it).
	minLog int64
	// rec is the last record's buffer, for the next (the store copies
	// what it is given).
	rec []byte

	// The requests waiting for a transaction, and whether one of them is
	// committing (see IngestMetrics). qmu is never held with mu.
	qmu     sync.Mutex
	queue   []*request
	leading bool
}

// prevState returns the baselines of a collector about to be replaced.
func prevState(prev *collector) []byte {
	prev.mu.Lock()
	defer prev.mu.Unlock()
	if prev.c == nil {
		return prev.state
	}
	state, err := prev.c.MarshalState()
	if err != nil {
		return nil
	}
	return state
}

// sourcesOf maps the SLOs' received metric sources to the collector's.
// A source read from a query API (package pull) is not received: series
// that remote write brings for its selectors must not count twice.
func sourcesOf(slos map[string]*entry) ([]metrics.SLISource, error) {
	var out []metrics.SLISource
	var errs []error
	for name, en := range slos {
		if !received(en.slo) {
			continue
		}
		ms, err := metrics.SourceOf(name, en.slo.SLI)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, ms)
	}
	return out, errors.Join(errs...)
}

// received reports whether s is read from series nines serve receives.
func received(s *slo.SLO) bool {
	return s.SLI.Source != nil && s.SLI.Source.Prometheus == nil
}

// commonQuantum is the largest quantum that divides the quantum of every
// SLO read from metrics: the collector's rollups then nest in each SLO's
// quanta, and the aggregator regroups them (10 s rollups into 1 m quanta).
func commonQuantum(slos map[string]*entry) time.Duration {
	var g time.Duration
	for _, en := range slos {
		if !received(en.slo) {
			continue
		}
		a, b := g, en.slo.Quantum
		for b != 0 {
			a, b = b, a%b
		}
		g = a
	}
	if g <= 0 {
		return slo.DefaultQuantum
	}
	return g
}

// newCollector builds the collector for slos, carrying over the counter
// baselines and open quanta of prev, or at start those of the store, so
// that a reload or a restart neither loses nor double-counts an increase.
func (e *Engine) newCollector(ctx context.Context, slos map[string]*entry, prev *collector, p protocol) (*collector, error) {
	sources, err := sourcesOf(slos)
	if err != nil {
		return nil, err
	}
	col := &collector{proto: p, sources: len(sources), minLog: minLogBytes}
	if prev != nil {
		col.minLog = prev.minLog
	}
	var c *metrics.Collector
	if len(sources) > 0 {
		if c, err = metrics.NewCollector(metrics.Config{Sources: sources, MaxLag: e.cfg.MaxLag, Quantum: commonQuantum(slos)}); err != nil {
			return nil, err
		}
	}
	if prev == nil || prev.unread {
		// At start, or no SLO has read metrics since: the state is the
		// store's, left there until an SLO reads metrics.
		if c == nil {
			col.unread = true
			return col, nil
		}
		if err := e.readCollector(ctx, col, c); err != nil {
			return nil, err
		}
		return col, nil
	}
	// The log goes on: its records since the saved state are in prev's.
	state := prevState(prev)
	col.gen, col.seq, col.logBytes, col.stateBytes = prev.gen, prev.seq, prev.logBytes, prev.stateBytes
	if c == nil {
		// No SLO reads metrics; keep the baselines for when one does.
		col.state = state
		return col, nil
	}
	if len(state) > 0 {
		if err := c.UnmarshalState(state); err != nil {
			// Another quantum: the open quanta would not line up.
			e.cfg.Logger.Warn("the metric SLOs' common quantum changed: counters start from new baselines and the quanta held open are dropped", "protocol", p.name, "err", err)
			col.saveSoon = true
		}
	}
	col.c = c
	return col, nil
}

// readCollector restores c from the store: its saved state, then the
// records of every change since, in order.
func (e *Engine) readCollector(ctx context.Context, col *collector, c *metrics.Collector) error {
	st := e.cfg.Store
	p := col.proto.name
	var state []byte
	gen, err := st.GetState(ctx, genKey(p))
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Saved by nines before durable records, or never.
		state, err = st.GetState(ctx, oldStateKey(p))
		if errors.Is(err, store.ErrNotFound) {
			state, err = nil, nil
		}
		if err != nil {
			return fmt.Errorf("collector state: %w", err)
		}
		if stale, err := st.GetState(ctx, staleKey(p)); err == nil && string(stale) == "1" {
			e.cfg.Logger.Warn("the collector state was saved by an earlier nines before its last batches and it stopped without saving again: starting from new baselines; what each series counted between its last sample then and its first sample now, and the quanta held open then, are not counted", "protocol", p)
			state = nil
		}
	case err != nil:
		return fmt.Errorf("collector state: %w", err)
	default:
		if col.gen, err = strconv.ParseUint(string(gen), 10, 64); err != nil {
			return fmt.Errorf("collector state: generation %q: %w", gen, err)
		}
		err = st.RangeState(ctx, stateGen(p, col.gen), func(_ string, chunk []byte) error {
			state = append(state, chunk...)
			return nil
		})
		if err != nil {
			return fmt.Errorf("collector state: %w", err)
		}
	}
	col.stateBytes = int64(len(state))
	if len(state) > 0 {
		if err := c.UnmarshalState(state); err != nil {
			e.cfg.Logger.Warn("collector state unreadable or of another quantum: counters start from new baselines", "protocol", p, "err", err)
			col.saveSoon = true
		}
	}
	var stale []uint64
	var bad int
	err = st.RangeState(ctx, logPrefix(p), func(key string, rec []byte) error {
		g, seq, ok := parseLogKey(strings.TrimPrefix(key, logPrefix(p)))
		switch {
		case !ok:
			bad++
			return nil
		case g != col.gen:
			if !slices.Contains(stale, g) {
				stale = append(stale, g)
			}
			return nil
		}
		if err := c.ApplyRecord(rec); err != nil {
			// Its own increases are lost; the records after it hold
			// increases of their own, and baselines that overwrite its.
			bad++
			e.cfg.Logger.Error("collector record unreadable: its samples are not counted", "protocol", p, "key", key, "err", err)
		}
		col.seq = seq + 1
		col.logBytes += int64(len(rec))
		return nil
	})
	if err != nil {
		return fmt.Errorf("collector records: %w", err)
	}
	c.MarkLogged()
	col.c = c
	col.saveSoon = col.saveSoon || bad > 0
	// Older states, and the records they hold: a crash came between
	// saving a state and deleting them.
	err = st.RangeState(ctx, statePrefix(p), func(key string, _ []byte) error {
		g, _, ok := parseLogKey(strings.TrimPrefix(key, statePrefix(p)))
		if ok && g != col.gen && !slices.Contains(stale, g) {
			stale = append(stale, g)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("collector state: %w", err)
	}
	if !e.holdsLease() {
		// A follower only reads: what looks stale to it may be a state
		// the leader is saving now.
		stale = nil
	}
	for _, g := range stale {
		e.deleteGen(ctx, p, g)
	}
	if e.holdsLease() {
		if _, err := st.DeleteStatePrefix(ctx, staleKey(p)); err != nil {
			e.cfg.Logger.Warn("deleting the mark of an earlier nines", "protocol", p, "err", err)
		}
	}
	if col.logBytes > 0 || bad > 0 {
		e.cfg.Logger.Info("collector restored from its state and the records since", "protocol", p,
			"state_bytes", col.stateBytes, "record_bytes", col.logBytes, "records", col.seq, "unreadable", bad)
	}
	return nil
}

// parseLogKey reads "GEN/SEQ" of a record or a state's chunk, 16 hex
// digits each.
func parseLogKey(s string) (gen, seq uint64, ok bool) {
	g, q, found := strings.Cut(s, "/")
	if !found || len(g) != 16 || len(q) != 16 {
		return 0, 0, false
	}
	gen, err1 := strconv.ParseUint(g, 16, 64)
	seq, err2 := strconv.ParseUint(q, 16, 64)
	return gen, seq, err1 == nil && err2 == nil
}

// MetricsResult says what became of a batch of metric series.
type MetricsResult struct {
	Report metrics.Report
	// Stored is what the rollups did, by SLO.
	Stored map[string]AppendResult
}

// IngestMetrics folds series decoded from proto ("remote-write" or
// "otlp") into rollups for every SLO that reads them, and stores the
// rollups of the quanta its protocol no longer holds together with the
// record of the change, in one transaction: once it returns without
// error, everything the series brought survives a crash. On error
// nothing of them was counted, and a retry counts them once.
//
// Requests that come in while a transaction is being written wait for
// the next, and share it (a group commit): one fsync for all, and one
// answer, success or error, for all.
func (e *Engine) IngestMetrics(ctx context.Context, proto string, series []metrics.Series) (*MetricsResult, error) {
	if !e.leading() {
		return nil, ErrFollower
	}
	ctx = e.fenced(ctx)
	e.writes.RLock()
	defer e.writes.RUnlock()
	e.mu.RLock()
	col := e.collectors[proto]
	e.mu.RUnlock()
	if col == nil || col.sources == 0 {
		return nil, fmt.Errorf("%w: no SLO reads metrics; give an SLI a source (docs/api.md)", ErrInvalid)
	}
	p := &request{series: series, done: make(chan bool, 1)}
	col.qmu.Lock()
	col.queue = append(col.queue, p)
	lead := !col.leading
	col.leading = true
	col.qmu.Unlock()
	if lead || <-p.done {
		e.commitQueue(ctx, col)
	}
	if p.err != nil {
		return nil, p.err
	}
	e.counters.Samples.Add(int64(p.rep.Samples))
	for reason := range metrics.Reason(metrics.NumReasons) {
		if n := p.rep.Count(reason); n > 0 && reason.Dropping() {
			e.counters.Reject("metrics: "+reason.String(), int64(n))
		}
	}
	return &MetricsResult{Report: p.rep, Stored: p.stored}, nil
}

// request is a remote-write or OTLP request waiting for the transaction
// that stores it.
type request struct {
	series []metrics.Series
	rep    metrics.Report
	stored map[string]AppendResult
	err    error
	// done is sent false once the request is stored (or failed), or true
	// when it is to commit the queue, its own request in it.
	done chan bool
}

// commitQueue commits the requests queued on col as one change, then
// hands the queue to the first request that came in meanwhile (so that
// no sender waits for others' requests after its own is stored) or, if
// none did, leaves it to the next to come.
func (e *Engine) commitQueue(ctx context.Context, col *collector) {
	col.qmu.Lock()
	batch := col.queue
	col.queue = nil
	col.qmu.Unlock()

	// The transaction is the batch's, not this request's alone: a sender
	// that hangs up must not fail the others.
	ctx = context.WithoutCancel(ctx)
	col.mu.Lock()
	if col.c == nil {
		for _, p := range batch {
			p.err = fmt.Errorf("%w: no SLO reads metrics; give an SLI a source (docs/api.md)", ErrInvalid)
		}
	} else {
		reps, stored, err := e.changeLocked(ctx, col, batch, flushBefore(col, e.cfg.Now()), col.proto.name)
		for i, p := range batch {
			p.err = err
			if err == nil {
				p.rep, p.stored = reps[i], stored
			}
		}
	}
	col.mu.Unlock()

	col.qmu.Lock()
	var next *request
	if len(col.queue) > 0 {
		next = col.queue[0]
	} else {
		col.leading = false
	}
	col.qmu.Unlock()
	for _, p := range batch {
		p.done <- false
	}
	if next != nil {
		next.done <- true
	}
}

// changeLocked folds the series of each request into col's collector and
// hands out the quanta that end before before, storing their rollups and
// the change's record in one transaction; the change takes effect only if
// that transaction commits. It returns each request's report (the first
// has what handing out the quanta reported). The caller holds e.writes
// and col.mu.
func (e *Engine) changeLocked(ctx context.Context, col *collector, reqs []*request, before int64, source string) ([]metrics.Report, map[string]AppendResult, error) {
	ch, err := col.c.Begin()
	if err != nil {
		return nil, nil, err
	}
	reps := make([]metrics.Report, len(reqs), max(len(reqs), 1))
	for i, p := range reqs {
		reps[i] = ch.Add(p.series)
	}
	_, flushed := ch.Flush(before)
	if len(reps) > 0 {
		reps[0].Merge(&flushed)
	}
	if ch.Empty() {
		// Nothing to keep (series no SLO reads, nothing due), so nothing
		// to store; the next change with a record looks for idle series.
		ch.Rollback()
		return reps, nil, nil
	}
	rec := ch.AppendRecord(col.rec[:0])
	col.rec = rec
	batch := &Batch{Source: source, Series: map[string]*slo.Series{},
		State: map[string][]byte{logKey(col.proto.name, col.gen, col.seq): rec}}
	aggs := map[string]*slo.Aggregator{}
	for i := range ch.Results {
		r := &ch.Results[i]
		s, err := e.SLO(r.SLI)
		if err != nil {
			continue // the SLO went away in a reload since the sample came in
		}
		a := aggs[r.SLI]
		if a == nil {
			a = slo.NewAggregator(&s.SLI, s.Quantum)
			aggs[r.SLI] = a
		}
		if err := a.AddRollup(&r.Rollup); err != nil {
			// Series that together count more than 2^64−1 events in one
			// quantum: what does not fit is counted as refused, never
			// wrapped around.
			e.counters.Reject("metrics: overflow", 1)
			e.cfg.Logger.Warn("refusing a quantum of metric samples", "sli", r.SLI, "err", err)
		}
	}
	for name, a := range aggs {
		batch.Series[name] = a.Series()
	}
	stored, err := e.commitLocked(ctx, batch, e.cfg.MaxLag)
	if err != nil && !store.Failing(err) && errors.Is(err, store.ErrInvalid) {
		// The store will never take these quanta (counts that would pass
		// 2^64−1 with what it holds, say): retrying them would fail every
		// later request of the protocol. Refuse them, counted and logged,
		// and keep the rest of the change.
		n := 0
		for _, series := range batch.Series {
			n += len(series.Rollups)
		}
		e.counters.Reject("metrics: refused by the store", int64(n))
		e.cfg.Logger.Error("refusing metric quanta the store will not take", "protocol", col.proto.name, "quanta", n, "err", err)
		batch.Series = map[string]*slo.Series{}
		stored, err = e.commitLocked(ctx, batch, e.cfg.MaxLag)
	}
	if err != nil {
		ch.Rollback()
		return nil, nil, err
	}
	ch.Commit()
	col.seq++
	col.logBytes += int64(len(rec))
	if (col.saveSoon || col.logBytes >= max(logPerState*col.stateBytes, col.minLog)) && e.cfg.Now().Sub(col.failedSave) >= retrySaveAfter {
		if err := e.saveCollector(ctx, col); err != nil {
			col.failedSave = e.cfg.Now()
			e.cfg.Logger.Warn("saving the collector state (its records keep it durable meanwhile)", "protocol", col.proto.name, "err", err)
		}
	}
	return reps, stored, nil
}

// saveCollector stores col's whole state as a new generation and deletes
// the records of the last: the state holds what they did. The caller
// holds e.writes and col.mu, and no change is open.
func (e *Engine) saveCollector(ctx context.Context, col *collector) error {
	if err := e.health.failing(); err != nil {
		return err
	}
	state, err := col.c.MarshalState()
	if err != nil {
		return err
	}
	p := col.proto.name
	gen := col.gen + 1
	app := e.cfg.Store.Appender(ctx)
	set := func(k string, v []byte) error {
		if err := app.SetState(k, v); err != nil {
			app.Rollback()
			return err
		}
		return nil
	}
	for i := 0; i*stateChunk < len(state); i++ {
		if err := set(stateKey(p, gen, i), state[i*stateChunk:min(len(state), (i+1)*stateChunk)]); err != nil {
			return err
		}
	}
	if err := set(genKey(p), []byte(strconv.FormatUint(gen, 10))); err != nil {
		return err
	}
	// The state of an earlier nines, emptied: the new one holds it.
	if err := set(oldStateKey(p), nil); err != nil {
		return err
	}
	if err := app.Commit(); err != nil {
		return fmt.Errorf("saving the %s collector: %w", p, err)
	}
	old := col.gen
	col.gen, col.seq, col.logBytes, col.stateBytes, col.saveSoon = gen, 0, 0, int64(len(state)), false
	col.c.MarkLogged()
	// A crash before this leaves what the next start deletes.
	e.deleteGen(ctx, p, old)
	return nil
}

// deleteGen deletes a saved state and its records, now that a newer
// state holds what they did.
func (e *Engine) deleteGen(ctx context.Context, p string, gen uint64) {
	for _, prefix := range []string{stateGen(p, gen), logGen(p, gen)} {
		if _, err := e.cfg.Store.DeleteStatePrefix(ctx, prefix); err != nil {
			e.cfg.Logger.Warn("deleting an older collector state and its records", "protocol", p, "err", err)
		}
	}
}

// flushBefore is the horizon before which col hands quanta out at now.
func flushBefore(col *collector, now time.Time) int64 {
	if col.proto.hold < 0 {
		return math.MaxInt64
	}
	return now.Add(-col.proto.hold).UnixNano()
}

// eachCollector runs fn on every collector that has sources, holding
// e.writes and the collector's lock as changeLocked requires.
func (e *Engine) eachCollector(fn func(col *collector) error) error {
	e.writes.RLock()
	defer e.writes.RUnlock()
	e.mu.RLock()
	cols := slices.Collect(maps.Values(e.collectors))
	e.mu.RUnlock()
	var errs []error
	for _, col := range cols {
		col.mu.Lock()
		if col.c != nil {
			errs = append(errs, fn(col))
		}
		col.mu.Unlock()
	}
	return errors.Join(errs...)
}

// flushMetrics stores the quanta the collectors held past their hold, so
// they reach the status even when no further request comes. Tick calls
// it; a flush that fails keeps the quanta and is tried again at the next.
func (e *Engine) flushMetrics(ctx context.Context, now time.Time) {
	err := e.eachCollector(func(col *collector) error {
		_, _, err := e.changeLocked(ctx, col, nil, flushBefore(col, now), col.proto.name)
		return err
	})
	if err != nil {
		e.cfg.Logger.Error("flushing metric rollups (kept, tried again at the next tick)", "err", err)
	}
}

// SaveState stores the collectors' state, quanta held open included, so
// that a clean restart reads no records, and every SLO's alert history
// and state as of now, so that the restart resumes the alerts where they
// stand. nines serve calls it at shutdown; what it fails to store is in
// the records already.
//
// The quanta still held are not handed out: the buckets of a histogram
// still to come in other requests would be missing from them. The next
// start stores them once their hold has passed.
func (e *Engine) SaveState(ctx context.Context) error {
	if !e.leading() {
		return nil // the leader's to save
	}
	e.mu.RLock()
	entries := slices.Collect(maps.Values(e.slos))
	e.mu.RUnlock()
	for _, en := range entries {
		en.mu.Lock()
		en.stateDirty = true
		en.changes++
		en.mu.Unlock()
	}
	e.saveAlerts(ctx, entries)
	return e.eachCollector(func(col *collector) error {
		if _, _, err := e.changeLocked(ctx, col, nil, flushBefore(col, e.cfg.Now()), col.proto.name); err != nil {
			return err
		}
		return e.saveCollector(ctx, col)
	})
}

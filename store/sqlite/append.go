package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/nines-sre/nines/hist"
	"github.com/nines-sre/nines/slo"
	"github.com/nines-sre/nines/store"
)

type rollupKey struct {
	sli     string
	quantum int64
	start   int64
}

type seriesKey struct {
	sli     string
	quantum int64
}

// appender batches a Commit's worth of writes in memory. Merging there
// first means a batch writes each (sli, quantum, start) once, however
// many sources fed it.
type appender struct {
	db      *DB
	ctx     context.Context
	done    bool
	rollups map[rollupKey]*slo.Rollup
	counts  map[rollupKey]*slo.Rollup // SetCounts: verdicts to write
	state   map[string][]byte
	stats   map[store.IngestKey]int64
	keys    map[string]store.Idempotency
}

// Appender implements store.Appendable.
func (db *DB) Appender(ctx context.Context) store.Appender {
	return &appender{db: db, ctx: ctx}
}

func (a *appender) Append(sli string, quantum time.Duration, r *slo.Rollup) error {
	if a.done {
		return store.ErrAppenderDone
	}
	if err := store.CheckRollup(sli, quantum, r); err != nil {
		return fmt.Errorf("sqlite: append: %w", err)
	}
	if a.rollups == nil {
		a.rollups = make(map[rollupKey]*slo.Rollup)
	}
	k := rollupKey{sli, int64(quantum), r.Start}
	if _, ok := a.counts[k]; ok {
		return fmt.Errorf("sqlite: append %s@%d: %w: the batch sets this quantum's counts already; commit it first", sli, r.Start, store.ErrInvalid)
	}
	dst := a.rollups[k]
	if dst == nil {
		dst = &slo.Rollup{Start: r.Start}
		a.rollups[k] = dst
	}
	if err := dst.Merge(r); err != nil {
		return fmt.Errorf("sqlite: append %s: %w: %w", sli, store.ErrInvalid, err)
	}
	return nil
}

func (a *appender) SetCounts(sli string, quantum time.Duration, r *slo.Rollup) error {
	if a.done {
		return store.ErrAppenderDone
	}
	if err := store.CheckCounts(sli, quantum, r); err != nil {
		return fmt.Errorf("sqlite: set counts: %w", err)
	}
	k := rollupKey{sli, int64(quantum), r.Start}
	if _, ok := a.rollups[k]; ok {
		return fmt.Errorf("sqlite: set counts %s@%d: %w: the batch appends to this quantum already; commit it first", sli, r.Start, store.ErrInvalid)
	}
	if a.counts == nil {
		a.counts = make(map[rollupKey]*slo.Rollup)
	}
	// Only the counts matter: the histograms stay as stored.
	a.counts[k] = store.CountsOf(r)
	return nil
}

func (a *appender) SetState(key string, value []byte) error {
	if a.done {
		return store.ErrAppenderDone
	}
	if key == "" {
		return fmt.Errorf("sqlite: set state: %w: empty key", store.ErrInvalid)
	}
	if a.state == nil {
		a.state = make(map[string][]byte)
	}
	a.state[key] = append([]byte{}, value...)
	return nil
}

func (a *appender) AddIngestStats(source, reason string, n int64) error {
	if a.done {
		return store.ErrAppenderDone
	}
	if a.stats == nil {
		a.stats = make(map[store.IngestKey]int64)
	}
	a.stats[store.IngestKey{Source: source, Reason: reason}] += n
	return nil
}

func (a *appender) Idempotent(id store.Idempotency) error {
	if a.done {
		return store.ErrAppenderDone
	}
	if err := store.CheckIdempotencyKey(id.Key); err != nil {
		return fmt.Errorf("sqlite: idempotent: %w", err)
	}
	if err := store.CheckTime("idempotency key time", id.At); err != nil {
		return fmt.Errorf("sqlite: idempotent %q: %w", id.Key, err)
	}
	if first, ok := a.keys[id.Key]; ok {
		return fmt.Errorf("sqlite: idempotent: twice in one batch: %w", &store.DuplicateError{Idempotency: first})
	}
	if a.keys == nil {
		a.keys = make(map[string]store.Idempotency)
	}
	id.Request = append([]byte{}, id.Request...)
	id.Reply = append([]byte{}, id.Reply...)
	a.keys[id.Key] = id
	return nil
}

func (a *appender) Rollback() error {
	if a.done {
		return store.ErrAppenderDone
	}
	a.done = true
	a.rollups, a.counts, a.state, a.stats, a.keys = nil, nil, nil, nil, nil
	return nil
}

func (a *appender) Commit() error {
	if a.done {
		return store.ErrAppenderDone
	}
	a.done = true
	defer func() { a.rollups, a.counts, a.state, a.stats, a.keys = nil, nil, nil, nil, nil }()
	if len(a.rollups) == 0 && len(a.counts) == 0 && len(a.state) == 0 && len(a.stats) == 0 && len(a.keys) == 0 {
		return a.db.check(a.ctx, "commit")
	}
	return a.db.write(a.ctx, "commit", func(tx *sql.Tx) error {
		return a.flush(tx)
	})
}

// write runs fn in a write transaction and commits it.
func (db *DB) write(ctx context.Context, op string, fn func(*sql.Tx) error) (err error) {
	if err := db.check(ctx, "%s", op); err != nil {
		return err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(ctx, err, "%s: begin", op)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return db.wrap(ctx, err, "%s", op)
	}
	if err := tx.Commit(); err != nil {
		return db.wrap(ctx, err, "%s", op)
	}
	return nil
}

// flush writes the batch in key order, which keeps B-tree page visits
// local.
func (a *appender) flush(tx *sql.Tx) error {
	ctx, db := a.ctx, a.db
	// Keys first: a retry costs one lookup, not the merge of its rollups.
	if err := a.claimKeys(tx); err != nil {
		return err
	}
	keys := sortedKeys(a.rollups)
	ckeys := sortedKeys(a.counts)

	m := newMerger(ctx, tx, db)
	known, err := m.seriesMarks(keys, ckeys)
	if err != nil {
		return err
	}
	var hourly map[int64]*hist.Histogram // late histograms of compacted quanta, by hourKey
	for _, k := range keys {
		s := known[seriesKey{k.sli, k.quantum}]
		r := a.rollups[k]
		if k.start >= s.mark {
			if err := m.mergeRollup(s.id, k, r); err != nil {
				return err
			}
			continue
		}
		// The quantum is compacted: its histogram goes to its hour, so
		// that an hour's latencies are never split between the two
		// tables once compacted, and its counts to its block. Compact
		// dropped the statuses' histograms with the quantum's: late ones
		// go too, the counts stay.
		if r.Latency.Count() > 0 {
			if hourly == nil {
				hourly = make(map[int64]*hist.Histogram)
			}
			hk := hourKey(s.id, store.HourOf(k.start))
			if h := hourly[hk]; h != nil {
				h.Merge(&r.Latency)
			} else {
				hourly[hk] = r.Latency.Clone()
			}
		}
		r.Latency.Reset()
		for i := range r.Statuses {
			r.Statuses[i].Latency.Reset()
		}
		if err := m.mergeCompacted(s.id, k, r); err != nil {
			return err
		}
	}
	for _, k := range ckeys {
		s := known[seriesKey{k.sli, k.quantum}]
		if err := m.setCounts(s, k, a.counts[k]); err != nil {
			return err
		}
	}
	if err := m.storeBlock(); err != nil {
		return err
	}
	for _, hk := range slices.Sorted(maps.Keys(hourly)) {
		if err := m.mergeHourly(hk, hourly[hk]); err != nil {
			return err
		}
	}
	if len(a.state) > 0 {
		st := tx.StmtContext(ctx, db.ws.statePut)
		for k, v := range a.state {
			if _, err := st.ExecContext(ctx, k, v); err != nil {
				return fmt.Errorf("set state %q: %w", k, err)
			}
		}
	}
	if len(a.stats) > 0 {
		st := tx.StmtContext(ctx, db.ws.statsAdd)
		for k, n := range a.stats {
			if _, err := st.ExecContext(ctx, k.Source, k.Reason, n); err != nil {
				return fmt.Errorf("ingest stats %s/%s: %w", k.Source, k.Reason, err)
			}
		}
	}
	return nil
}

// claimKeys stores the batch's idempotency keys, or fails with a
// *store.DuplicateError for the first one committed before. The single
// write connection serialises commits, so the insert that finds the key
// taken is the whole race.
func (a *appender) claimKeys(tx *sql.Tx) error {
	if len(a.keys) == 0 {
		return nil
	}
	ctx := a.ctx
	ins := tx.StmtContext(ctx, a.db.ws.keyIns)
	for _, k := range slices.Sorted(maps.Keys(a.keys)) {
		id := a.keys[k]
		res, err := ins.ExecContext(ctx, k, id.Request, id.Reply, id.At.UnixNano())
		if err != nil {
			return fmt.Errorf("idempotency key %q: %w", k, err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("idempotency key %q: %w", k, err)
		} else if n == 1 {
			continue
		}
		first := store.Idempotency{Key: k}
		var ns int64
		if err := tx.StmtContext(ctx, a.db.ws.keyGet).QueryRowContext(ctx, k).Scan(&first.Request, &first.Reply, &ns); err != nil {
			return fmt.Errorf("idempotency key %q: read the first commit: %w", k, err)
		}
		first.At = time.Unix(0, ns).UTC()
		return &store.DuplicateError{Idempotency: first}
	}
	return nil
}

// sortedKeys returns the keys of m in (sli, quantum, start) order.
func sortedKeys(m map[rollupKey]*slo.Rollup) []rollupKey {
	keys := make([]rollupKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(x, y rollupKey) int {
		return cmp.Or(cmp.Compare(x.sli, y.sli), cmp.Compare(x.quantum, y.quantum), cmp.Compare(x.start, y.start))
	})
	return keys
}

// merger does the read-modify-write of rollups and hourly histograms
// inside one write transaction, with scratch space reused across rows.
type merger struct {
	ctx context.Context
	tx  *sql.Tx
	db  *DB
	// Bound lazily: a batch of new quanta never needs the merge statements.
	seriesIns, seriesLookup, rollupIns, rollupGet, rollupUpd, countsGet, countsUpd, hourlyGet, hourlyPut *sql.Stmt
	blockGet, blockPut, blockDel                                                                         *sql.Stmt

	cur *openBlock // the block of compacted quanta being changed

	buf   []byte
	sbuf  []byte // the statuses' encoding, beside buf's histogram
	old   slo.Rollup
	blob  []byte
	sblob []byte
	scrat hist.Histogram
	sc    statusCodec
}

func newMerger(ctx context.Context, tx *sql.Tx, db *DB) *merger {
	return &merger{ctx: ctx, tx: tx, db: db}
}

func (m *merger) stmt(p **sql.Stmt, s *sql.Stmt) *sql.Stmt {
	if *p == nil {
		*p = m.tx.StmtContext(m.ctx, s)
	}
	return *p
}

// seriesChunk is how many series one lookup statement names: 500 bound
// parameters, well under SQLite's limit.
const seriesChunk = 250

// series is what a batch needs of a stored series.
type series struct {
	id   int64
	mark int64 // hist_before_ns: quanta before it are compacted
}

// seriesMarks returns the id and hist_before_ns of every series of the
// keys (each sorted), creating the series that do not exist yet, a chunk
// of series per statement.
func (m *merger) seriesMarks(keys ...[]rollupKey) (map[seriesKey]series, error) {
	var sks []seriesKey
	for _, ks := range keys {
		for i, k := range ks {
			if sk := (seriesKey{k.sli, k.quantum}); i == 0 || sk != sks[len(sks)-1] {
				sks = append(sks, sk)
			}
		}
	}
	out := make(map[seriesKey]series, len(sks))
	args := make([]any, 0, 2*seriesChunk)
	for chunk := range slices.Chunk(sks, seriesChunk) {
		args = args[:0]
		for i := range seriesChunk {
			sk := chunk[min(i, len(chunk)-1)]
			args = append(args, sk.sli, sk.quantum)
		}
		rows, err := m.stmt(&m.seriesLookup, m.db.ws.seriesMarks).QueryContext(m.ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("series: %w", err)
		}
		for rows.Next() {
			var sk seriesKey
			var s series
			if err := rows.Scan(&sk.sli, &sk.quantum, &s.id, &s.mark); err != nil {
				_ = rows.Close()
				return nil, fmt.Errorf("series: %w", err)
			}
			out[sk] = s
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("series: %w", err)
		}
	}
	for _, sk := range sks {
		if _, ok := out[sk]; ok {
			continue
		}
		s := series{mark: math.MinInt64}
		if err := m.stmt(&m.seriesIns, m.db.ws.seriesIns).QueryRowContext(m.ctx, sk.sli, sk.quantum, s.mark).Scan(&s.id); err != nil {
			return nil, fmt.Errorf("append %s/%v: new series: %w", sk.sli, time.Duration(sk.quantum), err)
		}
		if s.id <= 0 || s.id > maxSeriesID {
			return nil, fmt.Errorf("append %s/%v: new series: id %d out of range 1-%d", sk.sli, time.Duration(sk.quantum), s.id, int64(maxSeriesID))
		}
		out[sk] = s
	}
	return out, nil
}

// encode returns r's histogram in the libcircllhist format, or nil (SQL
// NULL) for an empty one. The slice is reused by the next call.
func (m *merger) encode(h *hist.Histogram) []byte {
	if h.Count() == 0 {
		return nil
	}
	m.buf = h.AppendBinary(m.buf[:0])
	return m.buf
}

// encodeStatuses returns r's statuses in the form statuses.go describes,
// or nil (SQL NULL) for none. The slice is reused by the next call.
func (m *merger) encodeStatuses(r *slo.Rollup) []byte {
	b := m.sc.encode(m.sbuf, r)
	if b != nil {
		m.sbuf = b
	}
	return b
}

// mergeRollup merges r into the stored rollup of k. r is clobbered.
func (m *merger) mergeRollup(id int64, k rollupKey, r *slo.Rollup) error {
	blob := m.encode(&r.Latency)
	res, err := m.stmt(&m.rollupIns, m.db.ws.rollupIns).ExecContext(m.ctx, id, k.start,
		int64(r.Attempted), int64(r.Good), int64(r.Errors), int64(r.Slow), int64(r.OverThreshold), r.Measured, blob,
		m.encodeStatuses(r))
	if err != nil {
		return fmt.Errorf("append %s@%d: %w", k.sli, k.start, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("append %s@%d: %w", k.sli, k.start, err)
	} else if n == 1 {
		return nil
	}

	// The quantum exists: late samples, or a second source.
	var c [5]int64
	var measured bool
	err = m.stmt(&m.rollupGet, m.db.ws.rollupGet).QueryRowContext(m.ctx, id, k.start).
		Scan(&c[0], &c[1], &c[2], &c[3], &c[4], &measured, &m.blob, &m.sblob)
	if err != nil {
		return fmt.Errorf("append %s@%d: read for merge: %w", k.sli, k.start, err)
	}
	old := &m.old
	*old = slo.Rollup{Start: k.start, Attempted: uint64(c[0]), Good: uint64(c[1]), Errors: uint64(c[2]),
		Slow: uint64(c[3]), OverThreshold: uint64(c[4]), Measured: measured, Latency: old.Latency, Statuses: old.Statuses}
	if err := decode(&old.Latency, m.blob); err != nil {
		return fmt.Errorf("append %s@%d: stored histogram: %w", k.sli, k.start, err)
	}
	if err := m.sc.decode(old, m.sblob); err != nil {
		return fmt.Errorf("append %s@%d: stored statuses: %w", k.sli, k.start, err)
	}
	if err := old.Merge(r); err != nil {
		// The stored quantum and this batch together hold more events
		// than a count can: refuse the batch rather than store them
		// wrapped around.
		return fmt.Errorf("append %s: %w: %w", k.sli, store.ErrInvalid, err)
	}
	_, err = m.stmt(&m.rollupUpd, m.db.ws.rollupUpd).ExecContext(m.ctx,
		int64(old.Attempted), int64(old.Good), int64(old.Errors), int64(old.Slow), int64(old.OverThreshold), old.Measured,
		m.encode(&old.Latency), m.encodeStatuses(old), id, k.start)
	if err != nil {
		return fmt.Errorf("append %s@%d: merge: %w", k.sli, k.start, err)
	}
	return nil
}

// setCounts replaces the verdicts of the stored rollup of k, of series s,
// with r's.
func (m *merger) setCounts(s series, k rollupKey, r *slo.Rollup) error {
	if k.start < s.mark {
		return m.setCompacted(s.id, k, r)
	}
	var attempted int64
	err := m.stmt(&m.countsGet, m.db.ws.countsGet).QueryRowContext(m.ctx, s.id, k.start).Scan(&attempted, &m.sblob)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("set counts %s/%v@%d: %w: no rollup is stored for the quantum", k.sli, time.Duration(k.quantum), k.start, store.ErrNotFound)
	case err != nil:
		return fmt.Errorf("set counts %s@%d: %w", k.sli, k.start, err)
	case uint64(attempted) != r.Attempted:
		return fmt.Errorf("set counts %s@%d: %w: %d events stored, %d judged", k.sli, k.start, store.ErrConflict, uint64(attempted), r.Attempted)
	}
	sts, err := m.sc.setOver(m.sbuf[:0], m.sblob, r)
	if err != nil {
		return fmt.Errorf("set counts %s@%d: %w", k.sli, k.start, err)
	}
	if sts != nil {
		m.sbuf = sts
	}
	_, err = m.stmt(&m.countsUpd, m.db.ws.countsUpd).ExecContext(m.ctx,
		int64(r.Good), int64(r.Errors), int64(r.Slow), int64(r.OverThreshold), sts, s.id, k.start)
	if err != nil {
		return fmt.Errorf("set counts %s@%d: %w", k.sli, k.start, err)
	}
	return nil
}

// mergeHourly merges h into the hourly histogram of key (hourKey). h is
// clobbered.
func (m *merger) mergeHourly(key int64, h *hist.Histogram) error {
	hour := keyHour(key)
	err := m.stmt(&m.hourlyGet, m.db.ws.hourlyGet).QueryRowContext(m.ctx, key).Scan(&m.blob)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("hourly histogram of series %d@%d: %w", key>>hourBits, hour, err)
	default:
		if err := decode(&m.scrat, m.blob); err != nil {
			return fmt.Errorf("hourly histogram of series %d@%d: stored histogram: %w", key>>hourBits, hour, err)
		}
		h.Merge(&m.scrat)
	}
	if h.Count() == 0 {
		return nil
	}
	if _, err := m.stmt(&m.hourlyPut, m.db.ws.hourlyPut).ExecContext(m.ctx, key, m.encode(h)); err != nil {
		return fmt.Errorf("hourly histogram of series %d@%d: %w", key>>hourBits, hour, err)
	}
	return nil
}

// openBlock is a block of compacted quanta read for changing.
type openBlock struct {
	key, hour, quantum int64
	es                 []blockEntry
	dirty              bool
}

// block returns the block of series id's quantum starting at start,
// writing back the block changed before if it is another.
func (m *merger) block(id, quantum, start int64) (*openBlock, error) {
	hour := store.HourOf(start)
	key := hourKey(id, hour)
	if m.cur != nil && m.cur.key == key {
		return m.cur, nil
	}
	if err := m.storeBlock(); err != nil {
		return nil, err
	}
	b := &openBlock{key: key, hour: hour, quantum: quantum}
	var blob []byte // a copy: the entries alias it
	err := m.stmt(&m.blockGet, m.db.ws.blockGet).QueryRowContext(m.ctx, key).Scan(&blob)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return nil, fmt.Errorf("block of series %d@%d: %w", id, hour, err)
	default:
		if b.es, err = decodeBlock(nil, blob, hour, quantum); err != nil {
			return nil, fmt.Errorf("block of series %d@%d: %w", id, hour, err)
		}
	}
	m.cur = b
	return b, nil
}

// storeBlock writes back the block changed last, if it was.
func (m *merger) storeBlock() error {
	b := m.cur
	m.cur = nil
	if b == nil || !b.dirty {
		return nil
	}
	var err error
	if len(b.es) == 0 {
		_, err = m.stmt(&m.blockDel, m.db.ws.blockDel).ExecContext(m.ctx, b.key, b.key+1)
	} else {
		m.buf = encodeBlock(m.buf[:0], b.hour, b.quantum, b.es)
		_, err = m.stmt(&m.blockPut, m.db.ws.blockPut).ExecContext(m.ctx, b.key, m.buf)
	}
	if err != nil {
		return fmt.Errorf("block of series %d@%d: %w", b.key>>hourBits, b.hour, err)
	}
	return nil
}

// mergeCompacted merges r, without histograms, into the compacted quantum
// of k in series id.
func (m *merger) mergeCompacted(id int64, k rollupKey, r *slo.Rollup) error {
	b, err := m.block(id, k.quantum, k.start)
	if err != nil {
		return err
	}
	i, ok := findEntry(b.es, k.start)
	if !ok {
		var e blockEntry
		if err := e.fromRollup(r, &m.sc); err != nil {
			return fmt.Errorf("append %s: %w", k.sli, err)
		}
		b.es, b.dirty = slices.Insert(b.es, i, e), true
		return nil
	}
	old := &m.old
	if err := b.es[i].toRollup(old, &m.sc); err != nil {
		return fmt.Errorf("append %s: stored %w", k.sli, err)
	}
	if err := old.Merge(r); err != nil {
		return fmt.Errorf("append %s: %w: %w", k.sli, store.ErrInvalid, err)
	}
	if err := b.es[i].fromRollup(old, &m.sc); err != nil {
		return fmt.Errorf("append %s: %w", k.sli, err)
	}
	b.dirty = true
	return nil
}

// setCompacted replaces the verdicts of the compacted quantum of k in
// series id with r's.
func (m *merger) setCompacted(id int64, k rollupKey, r *slo.Rollup) error {
	b, err := m.block(id, k.quantum, k.start)
	if err != nil {
		return fmt.Errorf("set counts %s@%d: %w", k.sli, k.start, err)
	}
	i, ok := findEntry(b.es, k.start)
	if !ok {
		return fmt.Errorf("set counts %s/%v@%d: %w: no rollup is stored for the quantum", k.sli, time.Duration(k.quantum), k.start, store.ErrNotFound)
	}
	e := &b.es[i]
	if e.c[0] != r.Attempted {
		return fmt.Errorf("set counts %s@%d: %w: %d events stored, %d judged", k.sli, k.start, store.ErrConflict, e.c[0], r.Attempted)
	}
	sts, err := m.sc.setOver(nil, e.statuses, r)
	if err != nil {
		return fmt.Errorf("set counts %s@%d: %w", k.sli, k.start, err)
	}
	e.c[1], e.c[2], e.c[3], e.c[4], e.statuses = r.Good, r.Errors, r.Slow, r.OverThreshold, sts
	b.dirty = true
	return nil
}

// decode reads a stored histogram; NULL is an empty one.
func decode(h *hist.Histogram, blob []byte) error {
	if blob == nil {
		h.Reset()
		return nil
	}
	return h.UnmarshalBinary(blob)
}

package postgres

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

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
		return fmt.Errorf("postgres: append: %w", err)
	}
	k := rollupKey{sli, int64(quantum), r.Start}
	if _, ok := a.counts[k]; ok {
		return fmt.Errorf("postgres: append %s@%d: %w: the batch sets this quantum's counts already; commit it first", sli, r.Start, store.ErrInvalid)
	}
	if a.rollups == nil {
		a.rollups = make(map[rollupKey]*slo.Rollup)
	}
	dst := a.rollups[k]
	if dst == nil {
		dst = &slo.Rollup{Start: r.Start}
		a.rollups[k] = dst
	}
	if err := dst.Merge(r); err != nil {
		return fmt.Errorf("postgres: append %s: %w: %w", sli, store.ErrInvalid, err)
	}
	return nil
}

func (a *appender) SetCounts(sli string, quantum time.Duration, r *slo.Rollup) error {
	if a.done {
		return store.ErrAppenderDone
	}
	if err := store.CheckCounts(sli, quantum, r); err != nil {
		return fmt.Errorf("postgres: set counts: %w", err)
	}
	k := rollupKey{sli, int64(quantum), r.Start}
	if _, ok := a.rollups[k]; ok {
		return fmt.Errorf("postgres: set counts %s@%d: %w: the batch appends to this quantum already; commit it first", sli, r.Start, store.ErrInvalid)
	}
	if a.counts == nil {
		a.counts = make(map[rollupKey]*slo.Rollup)
	}
	a.counts[k] = store.CountsOf(r)
	return nil
}

func (a *appender) SetState(key string, value []byte) error {
	if a.done {
		return store.ErrAppenderDone
	}
	if key == "" {
		return fmt.Errorf("postgres: set state: %w: empty key", store.ErrInvalid)
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
		return fmt.Errorf("postgres: idempotent: %w", err)
	}
	if err := store.CheckTime("idempotency key time", id.At); err != nil {
		return fmt.Errorf("postgres: idempotent %q: %w", id.Key, err)
	}
	if first, ok := a.keys[id.Key]; ok {
		return fmt.Errorf("postgres: idempotent: twice in one batch: %w", &store.DuplicateError{Idempotency: first})
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
	lock := 0
	if len(a.rollups) > 0 || len(a.counts) > 0 {
		lock = lockRollups
	}
	return a.db.write(a.ctx, "commit", lock, a.flush)
}

// flush writes the batch in one transaction.
func (a *appender) flush(tx pgx.Tx) error {
	// Keys first: a retry costs one lookup, not the merge of its rollups.
	if err := a.claimKeys(tx); err != nil {
		return err
	}
	ctx := a.ctx
	b := &pgx.Batch{}
	if len(a.rollups) > 0 {
		a.queueChanges(b) // before the merge, which clobbers a.rollups
		if err := mergeRollups(ctx, tx, b, a.rollups); err != nil {
			return err
		}
	}
	if len(a.counts) > 0 {
		if err := setCounts(ctx, tx, b, a.counts); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.state)) {
		b.Queue(`INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, []byte(k), a.state[k])
	}
	for _, k := range slices.SortedFunc(maps.Keys(a.stats), func(x, y store.IngestKey) int {
		return cmp.Or(cmp.Compare(x.Source, y.Source), cmp.Compare(x.Reason, y.Reason))
	}) {
		b.Queue(statsAdd, k.Source, k.Reason, a.stats[k])
	}
	return sendBatch(ctx, tx, b)
}

const statsAdd = `INSERT INTO ingest_stats (source, reason, n) VALUES ($1, $2, $3)
	ON CONFLICT (source, reason) DO UPDATE SET n = ingest_stats.n + excluded.n`

// sendBatch sends the queued statements in one round trip and checks
// each one's result.
func sendBatch(ctx context.Context, tx pgx.Tx, b *pgx.Batch) error {
	if b.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, b).Close()
}

// claimKeys stores the batch's idempotency keys, or fails with a
// *store.DuplicateError for the first one committed before. Of two
// transactions inserting one key, the second waits for the first to end
// and then finds the key taken (or free, if the first rolled back).
func (a *appender) claimKeys(tx pgx.Tx) error {
	ctx := a.ctx
	for _, k := range slices.Sorted(maps.Keys(a.keys)) {
		id := a.keys[k]
		tag, err := tx.Exec(ctx, `INSERT INTO idempotency (key, request, reply, at_ns) VALUES ($1, $2, $3, $4) ON CONFLICT (key) DO NOTHING`,
			k, id.Request, id.Reply, id.At.UnixNano())
		if err != nil {
			return fmt.Errorf("idempotency key %q: %w", k, err)
		}
		if tag.RowsAffected() == 1 {
			continue
		}
		first := store.Idempotency{Key: k}
		var ns int64
		if err := tx.QueryRow(ctx, `SELECT request, reply, at_ns FROM idempotency WHERE key = $1`, k).Scan(&first.Request, &first.Reply, &ns); err != nil {
			return fmt.Errorf("idempotency key %q: read the first commit: %w", k, err)
		}
		first.At = time.Unix(0, ns).UTC()
		return &store.DuplicateError{Idempotency: first}
	}
	return nil
}

// sortedKeys returns the keys of m in (sli, quantum, start) order.
func sortedKeys(m map[rollupKey]*slo.Rollup) []rollupKey {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(x, y rollupKey) int {
		return cmp.Or(cmp.Compare(x.sli, y.sli), cmp.Compare(x.quantum, y.quantum), cmp.Compare(x.start, y.start))
	})
	return keys
}

// keyArrays returns keys as the three arrays a query unnests.
func keyArrays(keys []rollupKey) (slis [][]byte, quanta, starts []int64) {
	slis, quanta, starts = make([][]byte, len(keys)), make([]int64, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		slis[i], quanta[i], starts[i] = []byte(k.sli), k.quantum, k.start
	}
	return slis, quanta, starts
}

// seriesMarks returns the hist_before_ns of every series of keys,
// creating the series that do not exist yet.
func seriesMarks(ctx context.Context, tx pgx.Tx, keys []rollupKey) (map[seriesKey]int64, error) {
	var slis [][]byte
	var quanta []int64
	for i, k := range keys {
		if i == 0 || k.sli != keys[i-1].sli || k.quantum != keys[i-1].quantum {
			slis, quanta = append(slis, []byte(k.sli)), append(quanta, k.quantum)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO series (sli, quantum_ns, hist_before_ns)
		SELECT s, q, $3 FROM unnest($1::bytea[], $2::bigint[]) AS k(s, q) ON CONFLICT DO NOTHING`,
		slis, quanta, int64(math.MinInt64)); err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT s.sli, s.quantum_ns, s.hist_before_ns
		FROM unnest($1::bytea[], $2::bigint[]) AS k(s, q) JOIN series AS s ON s.sli = k.s AND s.quantum_ns = k.q`, slis, quanta)
	if err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	marks := make(map[seriesKey]int64, len(slis))
	var sli []byte
	var q, mark int64
	_, err = pgx.ForEachRow(rows, []any{&sli, &q, &mark}, func() error {
		marks[seriesKey{string(sli), q}] = mark
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	return marks, nil
}

// storedRollups reads the rollups stored for keys, calling fn with each.
func storedRollups(ctx context.Context, tx pgx.Tx, keys []rollupKey, cols string, dest []any, fn func(k rollupKey) error) error {
	slis, quanta, starts := keyArrays(keys)
	rows, err := tx.Query(ctx, `SELECT r.sli, r.quantum_ns, r.start_ns, `+cols+`
		FROM unnest($1::bytea[], $2::bigint[], $3::bigint[]) AS k(s, q, t)
		JOIN rollups AS r ON r.sli = k.s AND r.quantum_ns = k.q AND r.start_ns = k.t`, slis, quanta, starts)
	if err != nil {
		return err
	}
	var sli []byte
	var k rollupKey
	_, err = pgx.ForEachRow(rows, append([]any{&sli, &k.quantum, &k.start}, dest...), func() error {
		k.sli = string(sli)
		return fn(k)
	})
	return err
}

// mergeRollups merges the batch's rollups into the stored ones: new
// quanta are copied in, stored ones read, merged in Go and updated.
// Histograms of quanta Compact moved already go to their hours. The
// rollups lock is held, so nothing changes the rows between the read and
// the write. The rollups of m are clobbered.
func mergeRollups(ctx context.Context, tx pgx.Tx, b *pgx.Batch, m map[rollupKey]*slo.Rollup) error {
	keys := sortedKeys(m)
	marks, err := seriesMarks(ctx, tx, keys)
	if err != nil {
		return err
	}
	var hourly map[rollupKey]*hist.Histogram // late histograms of compacted quanta
	for _, k := range keys {
		r := m[k]
		if k.start < marks[seriesKey{k.sli, k.quantum}] && r.Latency.Count() > 0 {
			// The quantum's histogram was moved to its hour already: this
			// one goes there too, so an hour's latencies are never split
			// between the two tables once compacted.
			if hourly == nil {
				hourly = make(map[rollupKey]*hist.Histogram)
			}
			hk := rollupKey{k.sli, k.quantum, store.HourOf(k.start)}
			if h := hourly[hk]; h != nil {
				h.Merge(&r.Latency)
			} else {
				hourly[hk] = r.Latency.Clone()
			}
			r.Latency.Reset()
			for i := range r.Statuses {
				r.Statuses[i].Latency.Reset()
			}
		}
	}

	var row rollupRow
	var old slo.Rollup
	stored := make(map[rollupKey]bool)
	err = storedRollups(ctx, tx, keys, rollupCols, row.dest(), func(k rollupKey) error {
		old.Start = k.start
		if err := row.rollup(&old); err != nil {
			return domain(fmt.Errorf("postgres: append %s@%d: stored rollup: %w", k.sli, k.start, err))
		}
		if err := old.Merge(m[k]); err != nil {
			// The stored quantum and this batch together hold more
			// events than a count can: refuse the batch rather than store
			// them wrapped around.
			return domain(fmt.Errorf("postgres: append %s: %w: %w", k.sli, store.ErrInvalid, err))
		}
		old.CopyTo(m[k])
		stored[k] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("read for merge: %w", err)
	}
	var fresh [][]any
	for _, k := range keys {
		var w rollupRow
		w.set(m[k])
		if stored[k] {
			b.Queue(`UPDATE rollups SET (`+rollupCols+`) = ($4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
				WHERE sli = $1 AND quantum_ns = $2 AND start_ns = $3`, append([]any{[]byte(k.sli), k.quantum, k.start}, w.values()...)...)
			continue
		}
		fresh = append(fresh, append([]any{[]byte(k.sli), k.quantum, k.start}, w.values()...))
	}
	if len(fresh) > 0 {
		// COPY is the quickest way in for many rows; the lock guarantees
		// none of them exists.
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"rollups"}, copyCols, pgx.CopyFromRows(fresh)); err != nil {
			return fmt.Errorf("append: %w", err)
		}
	}
	if len(hourly) > 0 {
		return mergeHourly(ctx, tx, b, hourly)
	}
	return nil
}

var copyCols = []string{"sli", "quantum_ns", "start_ns", "attempted", "good", "errors", "slow", "over_threshold", "measured", "hist",
	"status_codes", "status_counts", "status_timed", "status_over", "status_hists"}

// mergeHourly merges the histograms of m into the hourly ones (a key's
// start is the hour). The histograms of m are clobbered.
func mergeHourly(ctx context.Context, tx pgx.Tx, b *pgx.Batch, m map[rollupKey]*hist.Histogram) error {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(x, y rollupKey) int {
		return cmp.Or(cmp.Compare(x.sli, y.sli), cmp.Compare(x.quantum, y.quantum), cmp.Compare(x.start, y.start))
	})
	slis, quanta, starts := keyArrays(keys)
	rows, err := tx.Query(ctx, `SELECT h.sli, h.quantum_ns, h.start_ns, h.hist
		FROM unnest($1::bytea[], $2::bigint[], $3::bigint[]) AS k(s, q, t)
		JOIN hourly AS h ON h.sli = k.s AND h.quantum_ns = k.q AND h.start_ns = k.t`, slis, quanta, starts)
	if err != nil {
		return fmt.Errorf("hourly: %w", err)
	}
	var k rollupKey
	var sli, blob []byte
	var scratch hist.Histogram
	_, err = pgx.ForEachRow(rows, []any{&sli, &k.quantum, &k.start, &blob}, func() error {
		k.sli = string(sli)
		if err := decodeHist(&scratch, blob); err != nil {
			return domain(fmt.Errorf("postgres: hourly %s@%d: stored histogram: %w", k.sli, k.start, err))
		}
		m[k].Merge(&scratch)
		return nil
	})
	if err != nil {
		return fmt.Errorf("hourly: %w", err)
	}
	for _, k := range keys {
		b.Queue(`INSERT INTO hourly (sli, quantum_ns, start_ns, hist) VALUES ($1, $2, $3, $4)
			ON CONFLICT (sli, quantum_ns, start_ns) DO UPDATE SET hist = excluded.hist`, []byte(k.sli), k.quantum, k.start, m[k].AppendBinary(nil))
	}
	return nil
}

// setCounts replaces the verdicts of the stored rollups of m with m's.
func setCounts(ctx context.Context, tx pgx.Tx, b *pgx.Batch, m map[rollupKey]*slo.Rollup) error {
	keys := sortedKeys(m)
	var attempted int64
	var codes []int32
	var counts, timed []int64
	found := make(map[rollupKey]bool, len(keys))
	err := storedRollups(ctx, tx, keys, `attempted, status_codes, status_counts, status_timed`, []any{&attempted, &codes, &counts, &timed}, func(k rollupKey) error {
		r := m[k]
		found[k] = true
		if uint64(attempted) != r.Attempted {
			return domain(fmt.Errorf("postgres: set counts %s@%d: %w: %d events stored, %d judged", k.sli, k.start, store.ErrConflict, uint64(attempted), r.Attempted))
		}
		if err := sameStatuses(codes, counts, timed, r); err != nil {
			return domain(fmt.Errorf("postgres: set counts %s@%d: %w", k.sli, k.start, err))
		}
		var over []int64
		if codes != nil {
			over = make([]int64, len(r.Statuses))
			for i := range r.Statuses {
				over[i] = int64(r.Statuses[i].Over)
			}
		}
		b.Queue(`UPDATE rollups SET good = $4, errors = $5, slow = $6, over_threshold = $7, status_over = $8
			WHERE sli = $1 AND quantum_ns = $2 AND start_ns = $3`,
			[]byte(k.sli), k.quantum, k.start, int64(r.Good), int64(r.Errors), int64(r.Slow), int64(r.OverThreshold), over)
		return nil
	})
	if err != nil {
		return fmt.Errorf("set counts: %w", err)
	}
	for _, k := range keys {
		if !found[k] {
			return domain(fmt.Errorf("postgres: set counts %s/%v@%d: %w: no rollup is stored for the quantum", k.sli, time.Duration(k.quantum), k.start, store.ErrNotFound))
		}
	}
	return nil
}

// sameStatuses returns an error wrapping store.ErrConflict unless r holds
// the stored statuses with the same counts.
func sameStatuses(codes []int32, counts, timed []int64, r *slo.Rollup) error {
	if codes == nil {
		if len(r.Statuses) > 0 {
			return fmt.Errorf("%w: the stored rollup keeps no statuses, the new counts %d", store.ErrConflict, len(r.Statuses))
		}
		return nil
	}
	if len(codes) != len(r.Statuses) || len(counts) != len(codes) || len(timed) != len(codes) {
		return fmt.Errorf("%w: %d statuses stored, %d in the new counts", store.ErrConflict, len(codes), len(r.Statuses))
	}
	for i, s := range r.Statuses {
		if int(codes[i]) != s.Code || uint64(counts[i]) != s.Count || uint64(timed[i]) != s.Timed {
			return fmt.Errorf("%w: status %s: %d events, %d timed stored; status %s: %d, %d in the new counts", store.ErrConflict,
				slo.StatusName(int(codes[i])), uint64(counts[i]), uint64(timed[i]), slo.StatusName(s.Code), s.Count, s.Timed)
		}
	}
	return nil
}

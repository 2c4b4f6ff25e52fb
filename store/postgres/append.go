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

type seriesKey struct {
	sli     string
	quantum time.Duration
}

// appender is a store.Batch and the context its Commit runs in.
type appender struct {
	db   *DB
	ctx  context.Context
	done bool
	b    store.Batch
}

// Appender implements store.Appendable.
func (db *DB) Appender(ctx context.Context) store.Appender {
	return &appender{db: db, ctx: ctx}
}

// fail names the store in the batch's errors.
func fail(err error) error {
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	return nil
}

func (a *appender) Append(sli string, quantum time.Duration, r *slo.Rollup) error {
	if a.done {
		return store.ErrAppenderDone
	}
	return fail(a.b.Append(sli, quantum, r))
}

func (a *appender) SetCounts(sli string, quantum time.Duration, r *slo.Rollup) error {
	if a.done {
		return store.ErrAppenderDone
	}
	return fail(a.b.SetCounts(sli, quantum, r))
}

func (a *appender) SetState(key string, value []byte) error {
	if a.done {
		return store.ErrAppenderDone
	}
	return fail(a.b.SetState(key, value))
}

func (a *appender) AddIngestStats(source, reason string, n int64) error {
	if a.done {
		return store.ErrAppenderDone
	}
	a.b.AddIngestStats(source, reason, n)
	return nil
}

func (a *appender) Idempotent(id store.Idempotency) error {
	if a.done {
		return store.ErrAppenderDone
	}
	return fail(a.b.Idempotent(id))
}

func (a *appender) Rollback() error {
	if a.done {
		return store.ErrAppenderDone
	}
	a.done = true
	a.b.Reset()
	return nil
}

func (a *appender) Commit() error {
	if a.done {
		return store.ErrAppenderDone
	}
	a.done = true
	defer a.b.Reset()
	if a.b.Empty() {
		return a.db.check(a.ctx, "commit")
	}
	lock := 0
	if len(a.b.Rollups) > 0 || len(a.b.Counts) > 0 {
		lock = lockRollups
	}
	return a.db.write(a.ctx, "commit", lock, a.flush)
}

// flush writes the batch in one transaction.
func (a *appender) flush(tx pgx.Tx) error {
	if err := checkLease(a.ctx, tx); err != nil {
		return err
	}
	// Keys first: a retry costs one lookup, not the merge of its rollups.
	if err := a.claimKeys(tx); err != nil {
		return err
	}
	ctx := a.ctx
	b := &pgx.Batch{}
	if len(a.b.Rollups) > 0 {
		a.queueChanges(b) // before the merge, which clobbers the batch's rollups
		if err := mergeRollups(ctx, tx, b, a.b.Rollups); err != nil {
			return err
		}
	}
	if len(a.b.Counts) > 0 {
		if err := setCounts(ctx, tx, b, a.b.Counts); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(a.b.State)) {
		b.Queue(`INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, []byte(k), a.b.State[k])
	}
	for _, k := range slices.SortedFunc(maps.Keys(a.b.Stats), func(x, y store.IngestKey) int {
		return cmp.Or(cmp.Compare(x.Source, y.Source), cmp.Compare(x.Reason, y.Reason))
	}) {
		b.Queue(statsAdd, k.Source, k.Reason, a.b.Stats[k])
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
	for _, k := range slices.Sorted(maps.Keys(a.b.Keys)) {
		id := a.b.Keys[k]
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

// seriesRow is a series as stored.
type seriesRow struct {
	id   int32
	mark int64 // hist_before_ns
}

// lookupSeries returns the id and hist_before_ns of every series of keys
// (sorted) that exists, creating the others first when create is set.
func lookupSeries(ctx context.Context, tx pgx.Tx, keys []store.RollupKey, create bool) (map[seriesKey]seriesRow, error) {
	var slis [][]byte
	var quanta []int64
	for i, k := range keys {
		if i == 0 || k.SLI != keys[i-1].SLI || k.Quantum != keys[i-1].Quantum {
			slis, quanta = append(slis, []byte(k.SLI)), append(quanta, int64(k.Quantum))
		}
	}
	out, err := selectSeries(ctx, tx, slis, quanta)
	if err != nil || !create || len(out) == len(slis) {
		return out, err
	}
	// New series: rare, so the common commit does not pay for an insert.
	if _, err := tx.Exec(ctx, `INSERT INTO series (sli, quantum_ns, hist_before_ns)
		SELECT s, q, $3 FROM unnest($1::bytea[], $2::bigint[]) AS k(s, q) ON CONFLICT DO NOTHING`,
		slis, quanta, int64(math.MinInt64)); err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	return selectSeries(ctx, tx, slis, quanta)
}

func selectSeries(ctx context.Context, tx pgx.Tx, slis [][]byte, quanta []int64) (map[seriesKey]seriesRow, error) {
	rows, err := tx.Query(ctx, `SELECT s.sli, s.quantum_ns, s.id, s.hist_before_ns
		FROM unnest($1::bytea[], $2::bigint[]) AS k(s, q) JOIN series AS s ON s.sli = k.s AND s.quantum_ns = k.q`, slis, quanta)
	if err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	out := make(map[seriesKey]seriesRow, len(slis))
	var sli []byte
	var q int64
	var sr seriesRow
	_, err = pgx.ForEachRow(rows, []any{&sli, &q, &sr.id, &sr.mark}, func() error {
		out[seriesKey{string(sli), time.Duration(q)}] = sr
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("series: %w", err)
	}
	return out, nil
}

// rowKey names a stored row: a rollup's quantum, or an hour.
type rowKey struct {
	series int32
	Start  int64
}

// rowArrays returns keys as the two arrays a query unnests.
func rowArrays(keys []rowKey) (series []int32, starts []int64) {
	series, starts = make([]int32, len(keys)), make([]int64, len(keys))
	for i, k := range keys {
		series[i], starts[i] = k.series, k.Start
	}
	return series, starts
}

// storedRows reads cols of the rows of table stored for keys, calling fn
// with each row's key after scanning it into dest.
func storedRows(ctx context.Context, tx pgx.Tx, table string, keys []rowKey, cols string, dest []any, fn func(k rowKey) error) error {
	series, starts := rowArrays(keys)
	rows, err := tx.Query(ctx, `SELECT r.series, r.start_ns, `+cols+`
		FROM unnest($1::integer[], $2::bigint[]) AS k(s, t)
		JOIN `+table+` AS r ON r.series = k.s AND r.start_ns = k.t`, series, starts)
	if err != nil {
		return err
	}
	var k rowKey
	_, err = pgx.ForEachRow(rows, append([]any{&k.series, &k.Start}, dest...), func() error { return fn(k) })
	return err
}

// mergeRollups merges the batch's rollups into the stored ones: new
// quanta are copied in, stored ones read, merged in Go and updated.
// Histograms of quanta Compact moved already go to their hours. The
// rollups lock is held, so nothing changes the rows between the read and
// the write. The rollups of m are clobbered.
func mergeRollups(ctx context.Context, tx pgx.Tx, b *pgx.Batch, m map[store.RollupKey]*slo.Rollup) error {
	keys := store.SortedKeys(m)
	series, err := lookupSeries(ctx, tx, keys, true)
	if err != nil {
		return err
	}
	byRow := make(map[rowKey]*slo.Rollup, len(keys))
	rowKeys := make([]rowKey, len(keys))
	var hourly map[rowKey]*hist.Histogram // late histograms of compacted quanta
	for i, k := range keys {
		sr, r := series[seriesKey{k.SLI, k.Quantum}], m[k]
		rk := rowKey{sr.id, k.Start}
		byRow[rk], rowKeys[i] = r, rk
		if k.Start < sr.mark && r.Latency.Count() > 0 {
			// The quantum's histogram was moved to its hour already: this
			// one goes there too, so an hour's latencies are never split
			// between the two tables once compacted.
			if hourly == nil {
				hourly = make(map[rowKey]*hist.Histogram)
			}
			hk := rowKey{sr.id, store.HourOf(k.Start)}
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
	stored := make(map[rowKey]bool)
	err = storedRows(ctx, tx, "rollups", rowKeys, rollupCols, row.dest(), func(k rowKey) error {
		old.Start = k.Start
		if err := row.rollup(&old); err != nil {
			return domain(fmt.Errorf("postgres: append to series %d@%d: stored rollup: %w", k.series, k.Start, err))
		}
		if err := old.Merge(byRow[k]); err != nil {
			// The stored quantum and this batch together hold more
			// events than a count can: refuse the batch rather than store
			// them wrapped around.
			return domain(fmt.Errorf("postgres: append: %w: %w", store.ErrInvalid, err))
		}
		old.CopyTo(byRow[k])
		stored[k] = true
		return nil
	})
	if err != nil {
		return fmt.Errorf("read for merge: %w", err)
	}
	var fresh [][]any
	for _, k := range rowKeys {
		row.set(byRow[k])
		if stored[k] {
			b.Queue(`UPDATE rollups SET (`+rollupCols+`) = ($3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
				WHERE series = $1 AND start_ns = $2`, append([]any{k.series, k.Start}, row.values()...)...)
			continue
		}
		fresh = append(fresh, append([]any{k.series, k.Start}, row.values()...))
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

var copyCols = []string{"series", "start_ns", "attempted", "good", "errors", "slow", "over_threshold", "measured", "hist",
	"statuses", "status_hists", "status_derived"}

// mergeHourly merges the histograms of m into the hourly ones (a key's
// start is the hour). The histograms of m are clobbered.
func mergeHourly(ctx context.Context, tx pgx.Tx, b *pgx.Batch, m map[rowKey]*hist.Histogram) error {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(x, y rowKey) int { return cmp.Or(cmp.Compare(x.series, y.series), cmp.Compare(x.Start, y.Start)) })
	var blob []byte
	var scratch hist.Histogram
	err := storedRows(ctx, tx, "hourly", keys, "hist", []any{&blob}, func(k rowKey) error {
		if err := decodeHist(&scratch, blob); err != nil {
			return domain(fmt.Errorf("postgres: hourly histogram of series %d at %d: %w", k.series, k.Start, err))
		}
		m[k].Merge(&scratch)
		return nil
	})
	if err != nil {
		return fmt.Errorf("hourly: %w", err)
	}
	for _, k := range keys {
		b.Queue(`INSERT INTO hourly (series, start_ns, hist) VALUES ($1, $2, $3)
			ON CONFLICT (series, start_ns) DO UPDATE SET hist = excluded.hist`, k.series, k.Start, m[k].AppendBinary(nil))
	}
	return nil
}

// setCounts replaces the verdicts of the stored rollups of m with m's.
func setCounts(ctx context.Context, tx pgx.Tx, b *pgx.Batch, m map[store.RollupKey]*slo.Rollup) error {
	keys := store.SortedKeys(m)
	series, err := lookupSeries(ctx, tx, keys, false)
	if err != nil {
		return err
	}
	byRow := make(map[rowKey]store.RollupKey, len(keys))
	var rowKeys []rowKey
	for _, k := range keys {
		sr, ok := series[seriesKey{k.SLI, k.Quantum}]
		if !ok {
			return notStored(k)
		}
		rk := rowKey{sr.id, k.Start}
		byRow[rk] = k
		rowKeys = append(rowKeys, rk)
	}
	var attempted int64
	var packed []byte
	var statuses []int64
	found := make(map[rowKey]bool, len(keys))
	err = storedRows(ctx, tx, "rollups", rowKeys, `attempted, statuses`, []any{&attempted, &packed}, func(rk rowKey) error {
		k := byRow[rk]
		r := m[k]
		found[rk] = true
		var err error
		if statuses, err = unpackStatuses(statuses, packed); err != nil {
			return domain(fmt.Errorf("postgres: set counts %s@%d: stored statuses: %w", k.SLI, k.Start, err))
		}
		if uint64(attempted) != r.Attempted {
			return domain(fmt.Errorf("postgres: set counts %s@%d: %w: %d events stored, %d judged", k.SLI, k.Start, store.ErrConflict, uint64(attempted), r.Attempted))
		}
		if err := sameStatuses(statuses, r); err != nil {
			return domain(fmt.Errorf("postgres: set counts %s@%d: %w", k.SLI, k.Start, err))
		}
		var sts []int64
		if statuses != nil {
			sts = slices.Clone(statuses)
			for i := range r.Statuses {
				sts[4*i+3] = int64(r.Statuses[i].Over)
			}
		}
		b.Queue(`UPDATE rollups SET good = $3, errors = $4, slow = $5, over_threshold = $6, statuses = $7
			WHERE series = $1 AND start_ns = $2`,
			rk.series, rk.Start, int64(r.Good), int64(r.Errors), int64(r.Slow), int64(r.OverThreshold), packStatuses(sts))
		return nil
	})
	if err != nil {
		return fmt.Errorf("set counts: %w", err)
	}
	for _, rk := range rowKeys {
		if !found[rk] {
			return notStored(byRow[rk])
		}
	}
	return nil
}

func notStored(k store.RollupKey) error {
	return domain(fmt.Errorf("postgres: set counts %s/%v@%d: %w: no rollup is stored for the quantum", k.SLI, time.Duration(k.Quantum), k.Start, store.ErrNotFound))
}

// sameStatuses returns an error wrapping store.ErrConflict unless r holds
// the stored statuses (four numbers each, as unpackStatuses returns) with the
// same counts.
func sameStatuses(stored []int64, r *slo.Rollup) error {
	if stored == nil {
		if len(r.Statuses) > 0 {
			return fmt.Errorf("%w: the stored rollup keeps no statuses, the new counts %d", store.ErrConflict, len(r.Statuses))
		}
		return nil
	}
	if len(stored) != 4*len(r.Statuses) {
		return fmt.Errorf("%w: %d statuses stored, %d in the new counts", store.ErrConflict, len(stored)/4, len(r.Statuses))
	}
	for i, s := range r.Statuses {
		v := stored[4*i : 4*i+4]
		if v[0] != int64(s.Code) || uint64(v[1]) != s.Count || uint64(v[2]) != s.Timed {
			return fmt.Errorf("%w: status %s: %d events, %d timed stored; status %s: %d, %d in the new counts", store.ErrConflict,
				slo.StatusName(int(v[0])), uint64(v[1]), uint64(v[2]), slo.StatusName(s.Code), s.Count, s.Timed)
		}
	}
	return nil
}

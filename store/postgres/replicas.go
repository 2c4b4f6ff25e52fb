package postgres

import (
	"context"
	"errors"
	"fmt"
	"github.com/nines-sre/nines/store"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nines-sre/nines/slo"
)

// Several nines serve processes (replicas) on one database: the leader
// lease, the feed of rollups each replica commits for the others'
// trackers, and the claiming of outbox records (docs/replicas.md).

// replicasSchema is the migration that adds the tables of replicas.
const replicasSchema = `
-- The leader lease: who evaluates alerts for the notifiers and delivers
-- notifications, until when by the database's clock.
CREATE TABLE leases (
	name    text        NOT NULL PRIMARY KEY,
	holder  text        NOT NULL,
	expires timestamptz NOT NULL
);

-- What each append added to the rollups, in commit order (seq is taken
-- under the rollups lock, so a reader that sees seq N sees every seq
-- below it that committed): the other replicas fold it into their
-- trackers. Pruned after a few minutes (PruneChanges).
CREATE TABLE changes (
	seq            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	origin         text        NOT NULL, -- the replica that committed it
	created        timestamptz NOT NULL DEFAULT now(),
	sli            bytea       NOT NULL,
	quantum_ns     bigint      NOT NULL,
	start_ns       bigint      NOT NULL,
	attempted      bigint      NOT NULL,
	good           bigint      NOT NULL,
	errors         bigint      NOT NULL,
	slow           bigint      NOT NULL,
	over_threshold bigint      NOT NULL,
	measured       boolean     NOT NULL,
	hist           bytea,
	-- Per-status counts and histograms as the rollups table keeps them.
	statuses       bytea,
	status_hists   bytea[],
	status_derived smallint    NOT NULL DEFAULT 0
);
CREATE INDEX changes_created ON changes (created);
`

// leaderLease is the name of the one lease nines takes.
const leaderLease = "leader"

// SetOrigin names this process in the change feed: from then on every
// commit of rollups records what it added, under name, for the other
// replicas (Changes). nines serve calls it once, before any write.
func (db *DB) SetOrigin(name string) { db.origin.Store(&name) }

func (db *DB) originName() string {
	if p := db.origin.Load(); p != nil {
		return *p
	}
	return ""
}

// AcquireLease takes the leader lease for holder for ttl by the
// database's clock, when it is free, expired or holder's already, and
// returns who holds it (leader.Lease).
func (db *DB) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (string, error) {
	if err := db.check(ctx, "leader lease"); err != nil {
		return "", err
	}
	var got string
	err := db.pool.QueryRow(ctx, `INSERT INTO leases AS l (name, holder, expires)
		VALUES ($1, $2, clock_timestamp() + $3::bigint * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires = excluded.expires
		WHERE l.holder = excluded.holder OR l.expires <= clock_timestamp()
		RETURNING holder`, leaderLease, holder, ttl.Microseconds()).Scan(&got)
	if errors.Is(err, pgx.ErrNoRows) {
		err = db.pool.QueryRow(ctx, `SELECT holder FROM leases WHERE name = $1`, leaderLease).Scan(&got)
	}
	if err != nil {
		return "", db.wrap(ctx, err, "leader lease")
	}
	return got, nil
}

// checkLease fences a leader's write (store.WithLease): it goes on only
// while its holder's lease is unexpired by the database's clock, and
// holds the lease row FOR SHARE until the transaction ends, so that no
// other replica can take the lease over before this write commits.
func checkLease(ctx context.Context, tx pgx.Tx) error {
	holder := store.LeaseHolder(ctx)
	if holder == "" {
		return nil
	}
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND expires > clock_timestamp() FOR SHARE`, leaderLease, holder).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return domain(fmt.Errorf("%w (%s)", store.ErrLeaseLost, holder))
	}
	return err
}

// ReleaseLease ends holder's lease now (leader.Lease).
func (db *DB) ReleaseLease(ctx context.Context, holder string) error {
	if err := db.check(ctx, "release leader lease"); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, `UPDATE leases SET expires = clock_timestamp() - interval '1 second' WHERE name = $1 AND holder = $2`, leaderLease, holder)
	if err != nil {
		return db.wrap(ctx, err, "release leader lease")
	}
	return nil
}

// queueChanges records the batch's rollups, as appended (before they
// merge with what is stored), for the other replicas. It runs under the
// rollups lock.
func (a *appender) queueChanges(b *pgx.Batch) {
	origin := a.db.originName()
	if origin == "" {
		return
	}
	var w rollupRow
	for _, k := range store.SortedKeys(a.b.Rollups) {
		w.set(a.b.Rollups[k])
		b.Queue(`INSERT INTO changes (origin, sli, quantum_ns, start_ns, `+rollupCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
			append([]any{origin, []byte(k.SLI), int64(k.Quantum), k.Start}, w.values()...)...)
	}
}

// prunedKey is the state key of the highest seq PruneChanges deleted.
const prunedKey = "replicas/changes-pruned"

// HoldFeed stops every replica's commits of rollups until release is
// called, and returns the feed's head at that moment: a replica reading
// its trackers from the rollups meanwhile reads exactly the changes up
// to head, and folds in those after it from the feed.
func (db *DB) HoldFeed(ctx context.Context) (head int64, release func(), err error) {
	if err := db.check(ctx, "hold the change feed"); err != nil {
		return 0, nil, err
	}
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return 0, nil, db.wrap(ctx, err, "hold the change feed")
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, $2)`, lockClass, lockRollups); err != nil {
		conn.Release()
		return 0, nil, db.wrap(ctx, err, "hold the change feed: lock")
	}
	release = func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1, $2)`, lockClass, lockRollups)
		conn.Release()
	}
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(seq), 0) FROM changes`).Scan(&head); err != nil {
		release()
		return 0, nil, db.wrap(ctx, err, "hold the change feed: head")
	}
	return head, release, nil
}

// maxChanges bounds the changes one call of Changes reads.
const maxChanges = 10_000

// Changes calls fn, in commit order, with each rollup another replica
// appended after seq after, and returns the seq reached. complete is
// false when changes after after were pruned already: the caller missed
// some and must read its trackers from the rollups again. fn may keep r.
func (db *DB) Changes(ctx context.Context, after int64, fn func(seq int64, sli string, quantum time.Duration, r *slo.Rollup) error) (next int64, complete bool, err error) {
	next, complete = after, true
	err = db.read(ctx, "read the change feed", func(tx pgx.Tx) error {
		var pruned []byte
		err := tx.QueryRow(ctx, `SELECT value FROM state WHERE key = $1`, []byte(prunedKey)).Scan(&pruned)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if len(pruned) > 0 {
			p, perr := strconv.ParseInt(string(pruned), 10, 64)
			if perr != nil {
				return fmt.Errorf("%s %q: %w", prunedKey, pruned, perr)
			}
			if p > after {
				complete = false
				return nil
			}
		}
		var head int64
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(seq), $1) FROM changes`, after).Scan(&head); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT seq, sli, quantum_ns, start_ns, `+rollupCols+` FROM changes
			WHERE seq > $1 AND seq <= $2 AND origin <> $3 ORDER BY seq LIMIT $4`, after, head, db.originName(), maxChanges)
		if err != nil {
			return err
		}
		var w rollupRow
		var seq, quantum, start int64
		var sli []byte
		n := 0
		_, err = pgx.ForEachRow(rows, append([]any{&seq, &sli, &quantum, &start}, w.dest()...), func() error {
			r := &slo.Rollup{Start: start}
			if err := w.rollup(r); err != nil {
				return fmt.Errorf("change %d: %w", seq, err)
			}
			n++
			next = seq
			if err := fn(seq, string(sli), time.Duration(quantum), r); err != nil {
				return domain(err)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if n < maxChanges {
			next = head
		}
		return nil
	})
	return next, complete, err
}

// PruneChanges deletes the changes older than age by the database's
// clock, and every change committed before them, so that the feed keeps
// a prefix-free tail; the leader calls it now and then. A replica whose
// position is behind what was deleted learns it from Changes.
func (db *DB) PruneChanges(ctx context.Context, age time.Duration) (int64, error) {
	var n int64
	err := db.write(ctx, "prune the change feed", 0, func(tx pgx.Tx) error {
		var top *int64
		if err := tx.QueryRow(ctx, `SELECT max(seq) FROM changes WHERE created < now() - $1::bigint * interval '1 microsecond'`,
			age.Microseconds()).Scan(&top); err != nil {
			return err
		}
		if top == nil {
			return nil
		}
		tag, err := tx.Exec(ctx, `DELETE FROM changes WHERE seq <= $1`, *top)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, `INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
			[]byte(prunedKey), []byte(strconv.FormatInt(*top, 10)))
		return err
	})
	return n, err
}

// ClaimState runs fn while this process alone holds the state record key
// (SELECT … FOR UPDATE SKIP LOCKED): the notifier sends an outbox
// record so, and no other replica can send it at the same time. When fn
// returns true the record is deleted in the same transaction. ran is
// false when another holds the record (exists) or it is gone.
func (db *DB) ClaimState(ctx context.Context, key string, fn func(ctx context.Context) (remove bool)) (ran, exists bool, err error) {
	err = db.write(ctx, "claim "+key, 0, func(tx pgx.Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM state WHERE key = $1 FOR UPDATE SKIP LOCKED`, []byte(key)).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM state WHERE key = $1)`, []byte(key)).Scan(&exists)
		}
		if err != nil {
			return err
		}
		ran, exists = true, true
		if fn(ctx) {
			_, err = tx.Exec(ctx, `DELETE FROM state WHERE key = $1`, []byte(key))
			return err
		}
		return nil
	})
	return ran, exists, err
}

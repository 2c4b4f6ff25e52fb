package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/store"
)

// Incidents keep, as in store/sqlite, the figures lists filter on and the
// facts the metrics read as columns, the rest of the record as a JSON
// body, and timeline entries, repair items and budget burned as rows of
// their own. Every write holds the incidents' advisory lock, which makes
// gen (the highest + 1) increase in commit order.

func nsOf(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

func timeOf(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// incidentBody is what the body column holds: the record without what
// has columns or tables of its own.
func incidentBody(inc *incident.Incident) ([]byte, error) {
	c := *inc
	c.Timeline, c.Repairs, c.Burn, c.Metrics = nil, nil, nil, nil
	return json.Marshal(&c)
}

// recordCols are the columns an incident's record sets, in the order of
// incidentValues.
const recordCols = `version, status, severity, service, services, owner, title, detected_by, group_key,
	impact_start_ns, detected_ns, engaged_ns, mitigated_ns, resolved_ns, hops, responders, repaired, updated_ns, body`

func incidentValues(inc *incident.Incident) ([]any, error) {
	body, err := incidentBody(inc)
	if err != nil {
		return nil, err
	}
	var hops *int
	if n, ok := inc.Hops(); ok {
		hops = &n
	}
	services := inc.Services
	if services == nil {
		services = []string{}
	}
	f := inc.Facts()
	return []any{inc.Version, string(inc.Status), inc.Severity, inc.Service(), services, inc.Owner, inc.Title,
		string(inc.DetectedBy), inc.GroupKey, nsOf(inc.ImpactStart), nsOf(inc.Detected), nsOf(inc.Engaged), nsOf(inc.Mitigated),
		nsOf(inc.Resolved), hops, len(inc.Responders), int16(f.Repaired), inc.Updated.UnixNano(), body}, nil
}

const nextGen = `(SELECT coalesce(max(gen), 0) + 1 FROM incidents)`

func insertIncident(ctx context.Context, tx pgx.Tx, inc *incident.Incident) error {
	// Times are stored as Unix nanoseconds, which wrap around outside
	// 1677–2262: refuse what the range of times nines stores excludes.
	if err := inc.CheckTimes(); err != nil {
		return domain(err)
	}
	inc.Version = 1
	values, err := incidentValues(inc)
	if err != nil {
		return domain(err)
	}
	err = tx.QueryRow(ctx, `INSERT INTO incidents (`+recordCols+`, created_ns, gen)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, `+nextGen+`)
		RETURNING id`, append(values, inc.Created.UnixNano())...).Scan(&inc.ID)
	if err != nil {
		return err
	}
	if err := writeChildren(ctx, tx, inc, 0); err != nil {
		return err
	}
	return writeBurns(ctx, tx, inc.ID, inc.Burn)
}

// writeChildren inserts the timeline entries with Seq 0 after lastSeq and
// the repair items with ID 0, and updates the other repair items.
func writeChildren(ctx context.Context, tx pgx.Tx, inc *incident.Incident, lastSeq int64) error {
	for i := range inc.Timeline {
		e := &inc.Timeline[i]
		if e.Seq != 0 {
			continue
		}
		lastSeq++
		e.Seq = lastSeq
		if _, err := tx.Exec(ctx, `INSERT INTO incident_timeline (incident_id, seq, at_ns, kind, author, text) VALUES ($1, $2, $3, $4, $5, $6)`,
			inc.ID, e.Seq, e.At.UnixNano(), string(e.Kind), e.Author, e.Text); err != nil {
			return err
		}
	}
	for i := range inc.Repairs {
		r := &inc.Repairs[i]
		r.IncidentID = inc.ID
		norm := incident.NormalizeTitle(r.Title)
		if r.ID == 0 {
			// DO NOTHING rather than a unique violation, which would
			// abort the transaction: a duplicate title is the domain's
			// error, told in its words.
			err := tx.QueryRow(ctx, `INSERT INTO repair_items (incident_id, title, norm_title, term, phase, owner, status, created_ns, due_ns, closed_ns, link)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) ON CONFLICT (incident_id, norm_title) DO NOTHING RETURNING id`,
				inc.ID, r.Title, norm, string(r.Term), string(r.Phase), r.Owner, string(r.Status), r.Created.UnixNano(), nsOf(r.Due), nsOf(r.Closed), r.Link).Scan(&r.ID)
			if errors.Is(err, pgx.ErrNoRows) {
				return domain(fmt.Errorf("%w: incident %d already has a repair item titled %q", incident.ErrDuplicate, inc.ID, r.Title))
			}
			if err != nil {
				return err
			}
			continue
		}
		_, err := tx.Exec(ctx, `UPDATE repair_items SET title = $1, norm_title = $2, term = $3, phase = $4, owner = $5, status = $6, due_ns = $7, closed_ns = $8, link = $9
			WHERE id = $10 AND incident_id = $11`,
			r.Title, norm, string(r.Term), string(r.Phase), r.Owner, string(r.Status), nsOf(r.Due), nsOf(r.Closed), r.Link, r.ID, inc.ID)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" { // unique_violation: renamed onto another item's title
			return domain(fmt.Errorf("%w: incident %d already has a repair item titled %q", incident.ErrDuplicate, inc.ID, r.Title))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func writeBurns(ctx context.Context, tx pgx.Tx, id int64, burns []incident.Burn) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM incident_burns WHERE incident_id = $1`, id)
	for _, x := range burns {
		b.Queue(`INSERT INTO incident_burns (incident_id, slo, from_ns, to_ns, unit, spent, total, share, error)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (incident_id, slo) DO UPDATE SET from_ns = excluded.from_ns, to_ns = excluded.to_ns, unit = excluded.unit,
				spent = excluded.spent, total = excluded.total, share = excluded.share, error = excluded.error`,
			id, x.SLO, x.From.UnixNano(), x.To.UnixNano(), x.Unit, x.Spent, x.Total, x.Share, x.Error)
	}
	return sendBatch(ctx, tx, b)
}

// CreateIncident implements incident.Store.
func (db *DB) CreateIncident(ctx context.Context, inc *incident.Incident) error {
	return db.write(ctx, "create incident", lockIncidents, func(tx pgx.Tx) error { return insertIncident(ctx, tx, inc) })
}

// ImportIncidents stores many new incidents in one transaction: for
// imports and for benchmarks, where a commit per incident would cost a
// disk sync each.
func (db *DB) ImportIncidents(ctx context.Context, incs []*incident.Incident) error {
	return db.write(ctx, "import incidents", lockIncidents, func(tx pgx.Tx) error {
		for _, inc := range incs {
			if err := insertIncident(ctx, tx, inc); err != nil {
				return err
			}
		}
		return nil
	})
}

// incidentCols are what scanIncident reads.
const incidentCols = `id, version, status, severity, owner, title, detected_by, group_key,
	impact_start_ns, detected_ns, engaged_ns, mitigated_ns, resolved_ns, created_ns, updated_ns, body`

func scanIncident(row pgx.Row) (*incident.Incident, error) {
	var inc incident.Incident
	var body []byte
	var imp, det, eng, mit, res *int64
	var created, updated, id, version int64
	var status, owner, title, by, key string
	var sev int
	if err := row.Scan(&id, &version, &status, &sev, &owner, &title, &by, &key, &imp, &det, &eng, &mit, &res, &created, &updated, &body); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(body, &inc); err != nil {
		return nil, fmt.Errorf("incident %d: body: %w", id, err)
	}
	inc.ID, inc.Version, inc.Status, inc.Severity, inc.Owner, inc.Title = id, version, incident.Status(status), sev, owner, title
	inc.DetectedBy, inc.GroupKey = incident.DetectedBy(by), key
	inc.ImpactStart, inc.Detected, inc.Engaged, inc.Mitigated, inc.Resolved = timeOf(imp), timeOf(det), timeOf(eng), timeOf(mit), timeOf(res)
	inc.Created, inc.Updated = time.Unix(0, created).UTC(), time.Unix(0, updated).UTC()
	return &inc, nil
}

// loadIncident reads an incident whole in tx; lock locks its row for the
// rest of tx.
func loadIncident(ctx context.Context, tx pgx.Tx, id int64, lock bool) (*incident.Incident, error) {
	q := `SELECT ` + incidentCols + ` FROM incidents WHERE id = $1`
	if lock {
		q += ` FOR UPDATE`
	}
	inc, err := scanIncident(tx.QueryRow(ctx, q, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, domain(fmt.Errorf("incident %d: %w", id, incident.ErrNotFound))
	}
	if err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `SELECT seq, at_ns, kind, author, text FROM incident_timeline WHERE incident_id = $1 ORDER BY at_ns, seq`, id)
	if err != nil {
		return nil, err
	}
	var e incident.Entry
	var at int64
	var kind string
	if _, err := pgx.ForEachRow(rows, []any{&e.Seq, &at, &kind, &e.Author, &e.Text}, func() error {
		e.At, e.Kind = time.Unix(0, at).UTC(), incident.Kind(kind)
		inc.Timeline = append(inc.Timeline, e)
		return nil
	}); err != nil {
		return nil, err
	}
	if inc.Repairs, err = repairItems(ctx, tx, `WHERE incident_id = $1`, id); err != nil {
		return nil, err
	}
	burns, err := burnsOf(ctx, tx, `WHERE incident_id = $1`, id)
	if err != nil {
		return nil, err
	}
	inc.Burn = burns[id]
	return inc, nil
}

type queryer interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// repairItems reads the repair items where selects.
func repairItems(ctx context.Context, q queryer, where string, args ...any) ([]incident.RepairItem, error) {
	rows, err := q.Query(ctx, `SELECT id, incident_id, title, term, phase, owner, status, created_ns, due_ns, closed_ns, link
		FROM repair_items `+where+` ORDER BY id`, args...)
	if err != nil {
		return nil, err
	}
	var out []incident.RepairItem
	var r incident.RepairItem
	var term, phase, status string
	var created int64
	var due, closed *int64
	_, err = pgx.ForEachRow(rows, []any{&r.ID, &r.IncidentID, &r.Title, &term, &phase, &r.Owner, &status, &created, &due, &closed, &r.Link}, func() error {
		r.Term, r.Phase, r.Status = incident.Term(term), incident.Phase(phase), incident.RepairStatus(status)
		r.Created, r.Due, r.Closed = time.Unix(0, created).UTC(), timeOf(due), timeOf(closed)
		out = append(out, r)
		return nil
	})
	return out, err
}

// burnsOf reads the budget burned where selects.
func burnsOf(ctx context.Context, q queryer, where string, args ...any) (incident.Burns, error) {
	rows, err := q.Query(ctx, `SELECT incident_id, slo, from_ns, to_ns, unit, spent, total, share, error
		FROM incident_burns `+where+` ORDER BY incident_id, slo COLLATE "C"`, args...)
	if err != nil {
		return nil, err
	}
	out := incident.Burns{}
	var id, from, to int64
	var b incident.Burn
	_, err = pgx.ForEachRow(rows, []any{&id, &b.SLO, &from, &to, &b.Unit, &b.Spent, &b.Total, &b.Share, &b.Error}, func() error {
		b.From, b.To = time.Unix(0, from).UTC(), time.Unix(0, to).UTC()
		out[id] = append(out[id], b)
		return nil
	})
	return out, err
}

// Incident implements incident.Store.
func (db *DB) Incident(ctx context.Context, id int64) (*incident.Incident, error) {
	var inc *incident.Incident
	err := db.read(ctx, fmt.Sprintf("get incident %d", id), func(tx pgx.Tx) (err error) {
		inc, err = loadIncident(ctx, tx, id, false)
		return err
	})
	return inc, err
}

// persist writes a changed incident loaded in tx, bumping its version.
func persist(ctx context.Context, tx pgx.Tx, inc *incident.Incident) error {
	if err := inc.CheckTimes(); err != nil {
		return domain(err)
	}
	inc.Version++
	values, err := incidentValues(inc)
	if err != nil {
		return domain(err)
	}
	if _, err := tx.Exec(ctx, `UPDATE incidents SET (`+recordCols+`, gen) =
		($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, `+nextGen+`) WHERE id = $20`,
		append(values, inc.ID)...); err != nil {
		return err
	}
	var last *int64
	if err := tx.QueryRow(ctx, `SELECT max(seq) FROM incident_timeline WHERE incident_id = $1`, inc.ID).Scan(&last); err != nil {
		return err
	}
	var n int64
	if last != nil {
		n = *last
	}
	return writeChildren(ctx, tx, inc, n)
}

// UpdateIncident implements incident.Store.
func (db *DB) UpdateIncident(ctx context.Context, id int64, fn func(inc *incident.Incident) error) (*incident.Incident, error) {
	var out *incident.Incident
	err := db.write(ctx, fmt.Sprintf("update incident %d", id), lockIncidents, func(tx pgx.Tx) error {
		inc, err := loadIncident(ctx, tx, id, true)
		if err != nil {
			return err
		}
		version := inc.Version
		if err := fn(inc); err != nil {
			return domain(err)
		}
		inc.ID, inc.Version = id, version
		if err := persist(ctx, tx, inc); err != nil {
			return err
		}
		out = inc
		return nil
	})
	return out, err
}

// OpenOrAttach implements incident.Store.
func (db *DB) OpenOrAttach(ctx context.Context, service, groupKey string, fn func(found *incident.Incident) (*incident.Incident, error)) (*incident.Incident, error) {
	var out *incident.Incident
	err := db.write(ctx, "incident for alert group "+groupKey, lockIncidents, func(tx pgx.Tx) error {
		var found *incident.Incident
		var id int64
		// The caller's group key is never empty; saying so lets the
		// partial index on group keys serve the lookup.
		err := tx.QueryRow(ctx, `SELECT id FROM incidents WHERE service = $1 AND group_key = $2 AND group_key <> ''
			AND status IN ('open', 'mitigated') ORDER BY id DESC LIMIT 1`, service, groupKey).Scan(&id)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return err
		default:
			if found, err = loadIncident(ctx, tx, id, true); err != nil {
				return err
			}
		}
		var version int64
		if found != nil {
			version = found.Version
		}
		inc, err := fn(found)
		if err != nil {
			return domain(err)
		}
		if inc == nil {
			return nil
		}
		if found == nil {
			if err := insertIncident(ctx, tx, inc); err != nil {
				return err
			}
		} else {
			inc.ID, inc.Version = id, version
			if err := persist(ctx, tx, inc); err != nil {
				return err
			}
		}
		out = inc
		return nil
	})
	return out, err
}

// ListIncidents implements incident.Store: a page of the list, newest
// impact first along incidents_order.
func (db *DB) ListIncidents(ctx context.Context, f incident.Filter) ([]incident.Incident, error) {
	if err := db.check(ctx, "list incidents"); err != nil {
		return nil, err
	}
	statuses := make([]string, len(f.Status))
	for i, s := range f.Status {
		statuses[i] = string(s)
	}
	bound := func(t time.Time) *int64 {
		if t.IsZero() {
			return nil
		}
		n := store.ClampNs(t)
		return &n
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10_000)
	rows, err := db.pool.Query(ctx, `SELECT `+incidentCols+` FROM incidents
		WHERE ($1 = '' OR $1 = ANY(services))
			AND (cardinality($2::text[]) = 0 OR status = ANY($2))
			AND ($3 = 0 OR severity = $3)
			AND ($4::bigint IS NULL OR impact_start_ns >= $4) AND ($5::bigint IS NULL OR impact_start_ns < $5)
		ORDER BY coalesce(impact_start_ns, detected_ns, created_ns) DESC, id DESC LIMIT $6 OFFSET $7`,
		f.Service, statuses, f.Severity, bound(f.From), bound(f.To), limit, max(f.Offset, 0))
	if err != nil {
		return nil, db.wrap(ctx, err, "list incidents")
	}
	defer rows.Close()
	out := []incident.Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, db.wrap(ctx, err, "list incidents")
		}
		out = append(out, *inc)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(ctx, err, "list incidents")
	}
	return out, nil
}

// IncidentFactsSince implements incident.Store. One snapshot: the gen
// returned is exactly that of the rows read.
func (db *DB) IncidentFactsSince(ctx context.Context, since int64, fn func(f *incident.Facts) error) (int64, error) {
	var gen int64
	var fnErr error
	err := db.read(ctx, "incident facts", func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(gen), 0) FROM incidents`).Scan(&gen); err != nil {
			return err
		}
		if gen == since {
			return nil
		}
		rows, err := tx.Query(ctx, `SELECT id, title, services, owner, severity, status, detected_by,
			impact_start_ns, detected_ns, engaged_ns, mitigated_ns, coalesce(hops, -1), responders, repaired
			FROM incidents WHERE gen > $1`, since)
		if err != nil {
			return err
		}
		// Services and owners repeat across incidents: one copy each.
		owners := map[string]string{}
		services := map[string][]string{}
		var f incident.Facts
		var status, by string
		var imp, det, eng, mit *int64
		var repaired int16
		var svcs []string
		_, err = pgx.ForEachRow(rows, []any{&f.ID, &f.Title, &svcs, &f.Owner, &f.Severity, &status, &by, &imp, &det, &eng, &mit, &f.Hops, &f.Responders, &repaired}, func() error {
			f.Status, f.DetectedBy, f.Repaired = incident.Status(status), incident.DetectedBy(by), incident.PhaseSet(repaired)
			f.ImpactStart, f.Detected, f.Engaged, f.Mitigated = timeOf(imp), timeOf(det), timeOf(eng), timeOf(mit)
			if o, ok := owners[f.Owner]; ok {
				f.Owner = o
			} else {
				owners[f.Owner] = f.Owner
			}
			key := fmt.Sprint(svcs)
			if s, ok := services[key]; ok {
				f.Services = s
			} else {
				services[key], f.Services = svcs, svcs
			}
			svcs = nil
			if err := fn(&f); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
		if fnErr != nil {
			return domain(fnErr)
		}
		return err
	})
	if err != nil {
		return 0, err
	}
	return gen, nil
}

// RepairItems implements incident.Store.
func (db *DB) RepairItems(ctx context.Context) ([]incident.RepairItem, error) {
	if err := db.check(ctx, "repair items"); err != nil {
		return nil, err
	}
	items, err := repairItems(ctx, db.pool, ``)
	if err != nil {
		return nil, db.wrap(ctx, err, "repair items")
	}
	return items, nil
}

// Burns implements incident.Store.
func (db *DB) Burns(ctx context.Context) (incident.Burns, error) {
	if err := db.check(ctx, "incident budget burned"); err != nil {
		return nil, err
	}
	b, err := burnsOf(ctx, db.pool, ``)
	if err != nil {
		return nil, db.wrap(ctx, err, "incident budget burned")
	}
	return b, nil
}

// SetBurns implements incident.Store.
func (db *DB) SetBurns(ctx context.Context, id, version int64, burns []incident.Burn) (bool, error) {
	if err := incident.CheckBurnTimes(burns); err != nil {
		return false, err
	}
	written := false
	err := db.write(ctx, fmt.Sprintf("incident %d budget burned", id), lockIncidents, func(tx pgx.Tx) error {
		var current int64
		err := tx.QueryRow(ctx, `SELECT version FROM incidents WHERE id = $1`, id).Scan(&current)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain(fmt.Errorf("incident %d: %w", id, incident.ErrNotFound))
		}
		if err != nil {
			return err
		}
		if current != version {
			return nil // a newer change computes its own
		}
		written = true
		return writeBurns(ctx, tx, id, burns)
	})
	return written && err == nil, err
}

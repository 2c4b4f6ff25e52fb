package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/store"
)

// incidentSchema keeps incidents (incident.Store). A row of incidents is
// small: the figures lists filter on as columns, and everything the
// metrics need packed in facts (see appendFacts), so a report over
// 100,000 incidents reads one narrow table and decodes no JSON. The rest
// of the record is a JSON body in incident_bodies. Times are Unix
// nanoseconds, NULL when unknown. Timeline
// entries, repair items and budget burned are rows of their own: a
// timeline grows by appends, repair items are counted across incidents,
// and budget burned is derived data replaced as rollups arrive.
const incidentSchema = `
CREATE TABLE incidents (
	id              INTEGER PRIMARY KEY,
	version         INTEGER NOT NULL,
	status          TEXT    NOT NULL,
	severity        INTEGER NOT NULL,
	service         TEXT    NOT NULL, -- the primary service
	services        TEXT    NOT NULL, -- all of them, one per line
	owner           TEXT    NOT NULL,
	title           TEXT    NOT NULL,
	detected_by     TEXT    NOT NULL,
	group_key       TEXT    NOT NULL,
	impact_start_ns INTEGER,
	detected_ns     INTEGER,
	engaged_ns      INTEGER,
	mitigated_ns    INTEGER,
	resolved_ns     INTEGER,
	hops            INTEGER,          -- NULL when no responder engaged
	responders      INTEGER NOT NULL,
	created_ns      INTEGER NOT NULL,
	updated_ns      INTEGER NOT NULL,
	-- gen is the change that last wrote the row (the highest gen + 1),
	-- so that a reader holding the facts up to gen G asks only for
	-- rows with gen > G.
	gen             INTEGER NOT NULL,
	facts           BLOB    NOT NULL  -- appendFacts
);
CREATE INDEX incidents_gen ON incidents (gen);

CREATE TABLE incident_bodies (
	id   INTEGER PRIMARY KEY,
	body BLOB NOT NULL -- JSON: summary, responders, links, SLOs, postmortem
);
CREATE INDEX incidents_impact ON incidents (impact_start_ns);
-- Serves a lookup only when the query says group_key <> '' (see incGroup).
CREATE INDEX incidents_group ON incidents (service, group_key) WHERE group_key <> '';

CREATE TABLE incident_timeline (
	incident_id INTEGER NOT NULL,
	seq         INTEGER NOT NULL,
	at_ns       INTEGER NOT NULL,
	kind        TEXT    NOT NULL,
	author      TEXT    NOT NULL,
	text        TEXT    NOT NULL,
	PRIMARY KEY (incident_id, seq)
) WITHOUT ROWID;

CREATE TABLE repair_items (
	id          INTEGER PRIMARY KEY,
	incident_id INTEGER NOT NULL,
	title       TEXT    NOT NULL,
	norm_title  TEXT    NOT NULL,
	term        TEXT    NOT NULL,
	phase       TEXT    NOT NULL,
	owner       TEXT    NOT NULL,
	status      TEXT    NOT NULL,
	created_ns  INTEGER NOT NULL,
	due_ns      INTEGER,
	closed_ns   INTEGER,
	link        TEXT    NOT NULL,
	UNIQUE (incident_id, norm_title)
);

CREATE TABLE incident_burns (
	incident_id INTEGER NOT NULL,
	slo         TEXT    NOT NULL,
	from_ns     INTEGER NOT NULL,
	to_ns       INTEGER NOT NULL,
	unit        TEXT    NOT NULL,
	spent       REAL    NOT NULL,
	total       REAL    NOT NULL,
	share       REAL    NOT NULL,
	error       TEXT    NOT NULL,
	PRIMARY KEY (incident_id, slo)
) WITHOUT ROWID;
`

var _ incident.Store = (*DB)(nil)

func nsOf(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

func timeOf(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.Unix(0, n.Int64).UTC()
}

// incTx runs fn in a write transaction and returns fn's own errors as
// they are, so that the domain's errors (a conflict, a closed incident)
// reach the caller without the store's wording around them.
func (db *DB) incTx(ctx context.Context, op string, fn func(tx *sql.Tx) error) error {
	if err := db.check(ctx, "%s", op); err != nil {
		return err
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return db.wrap(ctx, err, "%s: begin", op)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		var se *storeError
		if errors.As(err, &se) {
			return db.wrap(ctx, se.err, "%s", op)
		}
		return err
	}
	if err := tx.Commit(); err != nil {
		return db.wrap(ctx, err, "%s: commit", op)
	}
	return nil
}

// storeError marks an error of the database itself, as opposed to one of
// the domain returned by a caller's function.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

func dbErr(err error) error {
	if err == nil {
		return nil
	}
	return &storeError{err}
}

// incidentBody is what the body column holds: the record without what
// has columns or tables of its own.
func incidentBody(inc *incident.Incident) ([]byte, error) {
	c := *inc
	c.Timeline, c.Repairs, c.Burn, c.Metrics = nil, nil, nil, nil
	return json.Marshal(&c)
}

// recordCols are the columns an incident's record sets, in the order of
// incidentRow's values.
var recordCols = []string{"version", "status", "severity", "service", "services", "owner", "title", "detected_by", "group_key",
	"impact_start_ns", "detected_ns", "engaged_ns", "mitigated_ns", "resolved_ns", "hops", "responders", "updated_ns", "facts"}

// incidentRow is an incident's body and the values of recordCols. The
// facts include the phases of its repair items, those added by the
// change being written too.
func incidentRow(inc *incident.Incident) (body []byte, values []any, err error) {
	if body, err = incidentBody(inc); err != nil {
		return nil, nil, err
	}
	var hops any
	if n, ok := inc.Hops(); ok {
		hops = n
	}
	f := inc.Facts()
	return body, []any{inc.Version, inc.Status, inc.Severity, inc.Service(), strings.Join(inc.Services, "\n"), inc.Owner, inc.Title,
		inc.DetectedBy, inc.GroupKey, nsOf(inc.ImpactStart), nsOf(inc.Detected), nsOf(inc.Engaged), nsOf(inc.Mitigated), nsOf(inc.Resolved),
		hops, len(inc.Responders), inc.Updated.UnixNano(), appendFacts(nil, &f)}, nil
}

func (db *DB) insertIncident(ctx context.Context, tx *sql.Tx, inc *incident.Incident) error {
	// Times are stored as Unix nanoseconds, which wrap around outside
	// 1677–2262: refuse what the range of times nines stores excludes.
	if err := inc.CheckTimes(); err != nil {
		return err
	}
	inc.Version = 1
	body, values, err := incidentRow(inc)
	if err != nil {
		return err
	}
	res, err := tx.StmtContext(ctx, db.ws.incIns).ExecContext(ctx, append(values, inc.Created.UnixNano())...)
	if err != nil {
		return dbErr(err)
	}
	if inc.ID, err = res.LastInsertId(); err != nil {
		return dbErr(err)
	}
	// The body was encoded before the ID was known; the ID column is
	// authoritative and overrides it on reading.
	if _, err := tx.StmtContext(ctx, db.ws.incBodyIns).ExecContext(ctx, inc.ID, body); err != nil {
		return dbErr(err)
	}
	if err := db.writeChildren(ctx, tx, inc, 0); err != nil {
		return err
	}
	return db.writeBurns(ctx, tx, inc.ID, inc.Burn)
}

// writeChildren inserts the timeline entries with Seq 0 after lastSeq and
// the repair items with ID 0, and updates the other repair items.
func (db *DB) writeChildren(ctx context.Context, tx *sql.Tx, inc *incident.Incident, lastSeq int64) error {
	for i := range inc.Timeline {
		e := &inc.Timeline[i]
		if e.Seq != 0 {
			continue
		}
		lastSeq++
		e.Seq = lastSeq
		if _, err := tx.StmtContext(ctx, db.ws.entryIns).ExecContext(ctx, inc.ID, e.Seq, e.At.UnixNano(), e.Kind, e.Author, e.Text); err != nil {
			return dbErr(err)
		}
	}
	for i := range inc.Repairs {
		r := &inc.Repairs[i]
		r.IncidentID = inc.ID
		norm := incident.NormalizeTitle(r.Title)
		if r.ID == 0 {
			res, err := tx.StmtContext(ctx, db.ws.repairIns).ExecContext(ctx, inc.ID, r.Title, norm, r.Term, r.Phase, r.Owner, r.Status, r.Created.UnixNano(), nsOf(r.Due), nsOf(r.Closed), r.Link)
			if err != nil {
				if strings.Contains(err.Error(), "UNIQUE") {
					return fmt.Errorf("%w: incident %d already has a repair item titled %q", incident.ErrDuplicate, inc.ID, r.Title)
				}
				return dbErr(err)
			}
			if r.ID, err = res.LastInsertId(); err != nil {
				return dbErr(err)
			}
			continue
		}
		if _, err := tx.StmtContext(ctx, db.ws.repairUpd).ExecContext(ctx, r.Title, norm, r.Term, r.Phase, r.Owner, r.Status, nsOf(r.Due), nsOf(r.Closed), r.Link, r.ID, inc.ID); err != nil {
			return dbErr(err)
		}
	}
	return nil
}

func (db *DB) writeBurns(ctx context.Context, tx *sql.Tx, id int64, burns []incident.Burn) error {
	if _, err := tx.StmtContext(ctx, db.ws.burnsDel).ExecContext(ctx, id); err != nil {
		return dbErr(err)
	}
	ins := tx.StmtContext(ctx, db.ws.burnIns)
	for _, b := range burns {
		if _, err := ins.ExecContext(ctx, id, b.SLO, b.From.UnixNano(), b.To.UnixNano(), b.Unit, b.Spent, b.Total, b.Share, b.Error); err != nil {
			return dbErr(err)
		}
	}
	return nil
}

// CreateIncident implements incident.Store.
func (db *DB) CreateIncident(ctx context.Context, inc *incident.Incident) error {
	return db.incTx(ctx, "create incident", func(tx *sql.Tx) error { return db.insertIncident(ctx, tx, inc) })
}

// ImportIncidents stores many new incidents in one transaction: for
// imports and for benchmarks, where a commit per incident would cost a
// disk sync each.
func (db *DB) ImportIncidents(ctx context.Context, incs []*incident.Incident) error {
	return db.incTx(ctx, "import incidents", func(tx *sql.Tx) error {
		for _, inc := range incs {
			if err := db.insertIncident(ctx, tx, inc); err != nil {
				return err
			}
		}
		return nil
	})
}

type scanner interface{ Scan(dest ...any) error }

func scanIncident(s scanner) (*incident.Incident, error) {
	var inc incident.Incident
	var body []byte
	var imp, det, eng, mit, res sql.NullInt64
	var created, updated int64
	var id, version int64
	var status, owner, title, by, key string
	var sev int
	if err := s.Scan(&id, &version, &status, &sev, &owner, &title, &by, &key, &imp, &det, &eng, &mit, &res, &created, &updated, &body); err != nil {
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

// loadIncident reads an incident whole in tx, with set, the statements
// of tx's connection.
func loadIncident(ctx context.Context, tx *sql.Tx, set *stmts, id int64) (*incident.Incident, error) {
	inc, err := scanIncident(tx.StmtContext(ctx, set.incGet).QueryRowContext(ctx, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("incident %d: %w", id, incident.ErrNotFound)
	}
	if err != nil {
		return nil, dbErr(err)
	}
	rows, err := tx.StmtContext(ctx, set.entriesOf).QueryContext(ctx, id)
	if err != nil {
		return nil, dbErr(err)
	}
	for rows.Next() {
		var e incident.Entry
		var at int64
		var kind string
		if err := rows.Scan(&e.Seq, &at, &kind, &e.Author, &e.Text); err != nil {
			rows.Close()
			return nil, dbErr(err)
		}
		e.At, e.Kind = time.Unix(0, at).UTC(), incident.Kind(kind)
		inc.Timeline = append(inc.Timeline, e)
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return nil, dbErr(err)
	}
	if inc.Repairs, err = repairItems(ctx, tx.StmtContext(ctx, set.repairsOf), id); err != nil {
		return nil, err
	}
	burns, err := burnsOf(ctx, tx.StmtContext(ctx, set.burnsOf), id)
	if err != nil {
		return nil, err
	}
	inc.Burn = burns[id]
	return inc, nil
}

// repairItems reads the repair items st (repairsOf or repairsAll) selects.
func repairItems(ctx context.Context, st *sql.Stmt, args ...any) ([]incident.RepairItem, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	var out []incident.RepairItem
	for rows.Next() {
		var r incident.RepairItem
		var term, phase, status string
		var created int64
		var due, closed sql.NullInt64
		if err := rows.Scan(&r.ID, &r.IncidentID, &r.Title, &term, &phase, &r.Owner, &status, &created, &due, &closed, &r.Link); err != nil {
			return nil, dbErr(err)
		}
		r.Term, r.Phase, r.Status = incident.Term(term), incident.Phase(phase), incident.RepairStatus(status)
		r.Created, r.Due, r.Closed = time.Unix(0, created).UTC(), timeOf(due), timeOf(closed)
		out = append(out, r)
	}
	return out, dbErr(rows.Err())
}

// burnsOf reads the budget burned st (burnsOf or burnsAll) selects.
func burnsOf(ctx context.Context, st *sql.Stmt, args ...any) (incident.Burns, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, dbErr(err)
	}
	defer rows.Close()
	out := incident.Burns{}
	for rows.Next() {
		var id, from, to int64
		var b incident.Burn
		if err := rows.Scan(&id, &b.SLO, &from, &to, &b.Unit, &b.Spent, &b.Total, &b.Share, &b.Error); err != nil {
			return nil, dbErr(err)
		}
		b.From, b.To = time.Unix(0, from).UTC(), time.Unix(0, to).UTC()
		out[id] = append(out[id], b)
	}
	return out, dbErr(rows.Err())
}

// Incident implements incident.Store.
func (db *DB) Incident(ctx context.Context, id int64) (*incident.Incident, error) {
	if err := db.check(ctx, "get incident %d", id); err != nil {
		return nil, err
	}
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, db.wrap(ctx, err, "get incident %d", id)
	}
	defer tx.Rollback()
	inc, err := loadIncident(ctx, tx, &db.rs, id)
	var se *storeError
	if errors.As(err, &se) {
		return nil, db.wrap(ctx, se.err, "get incident %d", id)
	}
	return inc, err
}

// persist writes a changed incident loaded in tx, bumping its version.
func (db *DB) persist(ctx context.Context, tx *sql.Tx, inc *incident.Incident) error {
	if err := inc.CheckTimes(); err != nil {
		return err
	}
	inc.Version++
	body, values, err := incidentRow(inc)
	if err != nil {
		return err
	}
	if _, err := tx.StmtContext(ctx, db.ws.incUpd).ExecContext(ctx, append(values, inc.ID)...); err != nil {
		return dbErr(err)
	}
	if _, err := tx.StmtContext(ctx, db.ws.incBodyUpd).ExecContext(ctx, body, inc.ID); err != nil {
		return dbErr(err)
	}
	var last sql.NullInt64
	if err := tx.StmtContext(ctx, db.ws.lastSeq).QueryRowContext(ctx, inc.ID).Scan(&last); err != nil {
		return dbErr(err)
	}
	return db.writeChildren(ctx, tx, inc, last.Int64)
}

// UpdateIncident implements incident.Store.
func (db *DB) UpdateIncident(ctx context.Context, id int64, fn func(inc *incident.Incident) error) (*incident.Incident, error) {
	var out *incident.Incident
	err := db.incTx(ctx, fmt.Sprintf("update incident %d", id), func(tx *sql.Tx) error {
		inc, err := loadIncident(ctx, tx, &db.ws, id)
		if err != nil {
			return err
		}
		version := inc.Version
		if err := fn(inc); err != nil {
			return err
		}
		inc.ID, inc.Version = id, version
		if err := db.persist(ctx, tx, inc); err != nil {
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
	err := db.incTx(ctx, "incident for alert group "+groupKey, func(tx *sql.Tx) error {
		var found *incident.Incident
		var id int64
		err := tx.StmtContext(ctx, db.ws.incGroup).QueryRowContext(ctx, service, groupKey).Scan(&id)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return dbErr(err)
		default:
			if found, err = loadIncident(ctx, tx, &db.ws, id); err != nil {
				return err
			}
		}
		var version int64
		if found != nil {
			version = found.Version
		}
		inc, err := fn(found)
		if err != nil || inc == nil {
			return err
		}
		if found == nil {
			if err := db.insertIncident(ctx, tx, inc); err != nil {
				return err
			}
		} else {
			inc.ID, inc.Version = id, version
			if err := db.persist(ctx, tx, inc); err != nil {
				return err
			}
		}
		out = inc
		return nil
	})
	return out, err
}

// ListIncidents implements incident.Store.
func (db *DB) ListIncidents(ctx context.Context, f incident.Filter) ([]incident.Incident, error) {
	if err := db.check(ctx, "list incidents"); err != nil {
		return nil, err
	}
	var statuses string
	if len(f.Status) > 0 {
		var b strings.Builder
		for _, st := range f.Status {
			b.WriteString("\n" + string(st))
		}
		statuses = b.String() + "\n"
	}
	bound := func(t time.Time) any {
		if t.IsZero() {
			return nil
		}
		return store.ClampNs(t)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 10_000)
	rows, err := db.rs.incList.QueryContext(ctx, f.Service, statuses, f.Severity, bound(f.From), bound(f.To), limit, max(f.Offset, 0))
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

// IncidentFactsSince implements incident.Store.
func (db *DB) IncidentFactsSince(ctx context.Context, since int64, fn func(f *incident.Facts) error) (int64, error) {
	if err := db.check(ctx, "incident facts"); err != nil {
		return 0, err
	}
	// One read transaction: the gen returned is exactly that of the
	// rows read.
	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, db.wrap(ctx, err, "incident facts")
	}
	defer tx.Rollback()
	var gen int64
	if err := tx.StmtContext(ctx, db.rs.factsGen).QueryRowContext(ctx).Scan(&gen); err != nil {
		return 0, db.wrap(ctx, err, "incident facts")
	}
	if gen == since {
		return gen, nil
	}
	st, args := db.rs.factsAll, []any{}
	if since > 0 {
		st, args = db.rs.factsSince, []any{since}
	}
	rows, err := tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	if err != nil {
		return 0, db.wrap(ctx, err, "incident facts")
	}
	defer rows.Close()
	// Services and owners repeat across incidents: one copy per distinct
	// value, found without allocating (RawBytes is the driver's buffer).
	in := interner{split: map[string][]string{}, owners: map[string]string{}}
	var packed sql.RawBytes
	var f incident.Facts
	for rows.Next() {
		f = incident.Facts{}
		if err := rows.Scan(&f.ID, &packed); err != nil {
			return 0, db.wrap(ctx, err, "incident facts")
		}
		if err := decodeFacts(packed, &f, &in); err != nil {
			return 0, fmt.Errorf("sqlite: incident %d: %w", f.ID, err)
		}
		if err := fn(&f); err != nil {
			return 0, err
		}
	}
	if err := rows.Err(); err != nil {
		return 0, db.wrap(ctx, err, "incident facts")
	}
	return gen, nil
}

// The facts column packs what the metrics read of an incident, so that
// a report reads one column a row: 40 bytes, little-endian, of impact
// start, detected, engaged, mitigated (int64 Unix ns, 0 when unknown),
// hops (int16, -1 unknown), responders (uint16), severity (int8),
// detected-by and status (uint8 codes below), the phases of its repair
// items (incident.PhaseSet); then the services (one per line), the
// owner and the title, each as a uvarint length and the bytes.
const factsFixed = 40

var (
	detectedByCodes = []incident.DetectedBy{"", incident.ByMonitoring, incident.ByCustomer, incident.ByOther}
	statusCodes     = []incident.Status{"", incident.Open, incident.Mitigated, incident.Resolved, incident.PostmortemDone}
)

func code[T comparable](codes []T, v T) byte {
	for i, c := range codes {
		if c == v {
			return byte(i)
		}
	}
	return 0
}

func appendFacts(dst []byte, f *incident.Facts) []byte {
	for _, t := range []time.Time{f.ImpactStart, f.Detected, f.Engaged, f.Mitigated} {
		var ns int64
		if !t.IsZero() {
			ns = t.UnixNano()
		}
		dst = binary.LittleEndian.AppendUint64(dst, uint64(ns))
	}
	dst = binary.LittleEndian.AppendUint16(dst, uint16(int16(max(-1, min(f.Hops, math.MaxInt16)))))
	dst = binary.LittleEndian.AppendUint16(dst, uint16(min(f.Responders, math.MaxUint16)))
	dst = append(dst, byte(int8(f.Severity)), code(detectedByCodes, f.DetectedBy), code(statusCodes, f.Status), byte(f.Repaired))
	for _, v := range []string{strings.Join(f.Services, "\n"), f.Owner, f.Title} {
		dst = binary.AppendUvarint(dst, uint64(len(v)))
		dst = append(dst, v...)
	}
	return dst
}

// interner shares the strings that repeat from row to row.
type interner struct {
	split  map[string][]string
	owners map[string]string
}

func (in *interner) services(b []byte) []string {
	if s, ok := in.split[string(b)]; ok {
		return s
	}
	s := strings.Split(string(b), "\n")
	in.split[string(b)] = s
	return s
}

func (in *interner) owner(b []byte) string {
	if o, ok := in.owners[string(b)]; ok {
		return o
	}
	o := string(b)
	in.owners[o] = o
	return o
}

var errFacts = errors.New("malformed facts column")

func decodeFacts(b []byte, f *incident.Facts, in *interner) error {
	if len(b) < factsFixed {
		return fmt.Errorf("%w: %d bytes", errFacts, len(b))
	}
	for i, dst := range []*time.Time{&f.ImpactStart, &f.Detected, &f.Engaged, &f.Mitigated} {
		if ns := int64(binary.LittleEndian.Uint64(b[8*i:])); ns != 0 {
			*dst = time.Unix(0, ns).UTC()
		}
	}
	f.Hops = int(int16(binary.LittleEndian.Uint16(b[32:])))
	f.Responders = int(binary.LittleEndian.Uint16(b[34:]))
	f.Severity = int(int8(b[36]))
	if int(b[37]) < len(detectedByCodes) {
		f.DetectedBy = detectedByCodes[b[37]]
	}
	if int(b[38]) < len(statusCodes) {
		f.Status = statusCodes[b[38]]
	}
	f.Repaired = incident.PhaseSet(b[39])
	b = b[factsFixed:]
	var parts [3][]byte
	for i := range parts {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return fmt.Errorf("%w: field %d", errFacts, i)
		}
		parts[i], b = b[k:k+int(n)], b[k+int(n):]
	}
	f.Services, f.Owner, f.Title = in.services(parts[0]), in.owner(parts[1]), string(parts[2])
	return nil
}

// RepairItems implements incident.Store.
func (db *DB) RepairItems(ctx context.Context) ([]incident.RepairItem, error) {
	if err := db.check(ctx, "repair items"); err != nil {
		return nil, err
	}
	items, err := repairItems(ctx, db.rs.repairsAll)
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
	b, err := burnsOf(ctx, db.rs.burnsAll)
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
	err := db.incTx(ctx, fmt.Sprintf("incident %d budget burned", id), func(tx *sql.Tx) error {
		var current int64
		err := tx.StmtContext(ctx, db.ws.incVersion).QueryRowContext(ctx, id).Scan(&current)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("incident %d: %w", id, incident.ErrNotFound)
		}
		if err != nil {
			return dbErr(err)
		}
		if current != version {
			return nil // a newer change computes its own
		}
		written = true
		return db.writeBurns(ctx, tx, id, burns)
	})
	return written && err == nil, err
}

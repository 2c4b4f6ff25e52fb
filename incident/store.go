package incident

import (
	"context"
	"time"
)

// Store keeps incidents. store/sqlite and store/postgres implement it,
// and incident/incidenttest is the contract both pass. Implementations are
// safe for concurrent use and apply each call in one transaction.
type Store interface {
	// CreateIncident stores a new incident, with its timeline and repair
	// items, and sets its ID, Version (1), the Seq of its entries and the
	// IDs of its items.
	CreateIncident(ctx context.Context, inc *Incident) error
	// Incident returns the incident with its timeline and repair items,
	// or an error wrapping ErrNotFound.
	Incident(ctx context.Context, id int64) (*Incident, error)
	// UpdateIncident loads the incident in a write transaction and calls
	// fn with it; when fn returns nil, the changed incident is stored with
	// its version bumped (new timeline entries are those with Seq 0, new
	// repair items those with ID 0) and returned. fn must not do I/O: it
	// runs with the store's write lock held.
	UpdateIncident(ctx context.Context, id int64, fn func(inc *Incident) error) (*Incident, error)
	// OpenOrAttach finds, in one write transaction, the incident not yet
	// resolved with the given service (primary) and group key, and calls
	// fn with it or with nil when there is none. fn returns the incident
	// to store: a new one (ID 0) is created, a found one updated.
	OpenOrAttach(ctx context.Context, service, groupKey string, fn func(found *Incident) (*Incident, error)) (*Incident, error)
	// ListIncidents returns the incidents matching f, newest impact first,
	// without their timelines and repair items.
	ListIncidents(ctx context.Context, f Filter) ([]Incident, error)
	// IncidentFactsSince calls fn with the facts of every incident
	// changed after generation since (all of them for 0), until fn
	// returns an error, and returns the generation of what it read. A
	// caller holding the facts up to a generation thus keeps them
	// current by asking for the changes only. The Facts are reused after
	// fn returns: copy what you keep.
	IncidentFactsSince(ctx context.Context, since int64, fn func(f *Facts) error) (gen int64, err error)
	// RepairItems returns every repair item.
	RepairItems(ctx context.Context) ([]RepairItem, error)
	// SetBurns replaces the stored budget burned of an incident, without
	// changing its version: it is derived from rollups, not edited. It
	// does so only while the incident is at version, and reports whether
	// it did: figures computed from an older version of the incident's
	// times must not overwrite those of a newer one.
	SetBurns(ctx context.Context, id, version int64, burns []Burn) (bool, error)
	// Burns returns the stored budget burned of the incidents that have
	// any, by incident ID.
	Burns(ctx context.Context) (Burns, error)
}

// Filter selects incidents for a list.
type Filter struct {
	Service string
	Status  []Status
	// Severity keeps only this level when non-zero.
	Severity int
	// From and To bound the impact start, half-open; zero is unbounded.
	From, To time.Time
	// Limit caps the answer (default 100, at most 10,000); Offset skips.
	Limit, Offset int
}

// AllFacts returns the facts of every incident st keeps, as a slice.
func AllFacts(ctx context.Context, st Store) ([]Facts, error) {
	var out []Facts
	_, err := st.IncidentFactsSince(ctx, 0, func(f *Facts) error {
		out = append(out, *f)
		return nil
	})
	return out, err
}

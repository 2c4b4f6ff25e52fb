package store

import (
	"context"
	"fmt"
)

// Among several nines serve on one database, some writes are the
// leader's alone: the metric collectors' records and rollups, the pull
// sources' steps, the alert state. A replica that lost the lease while
// such a write was in flight (a paused process, a slow network) must not
// commit it once another replica leads: the new leader went on from what
// was committed before it took over, and a late commit would count some
// increases twice. So the leader marks the context of those writes with
// its name in the lease (a fencing token), and a backend shared by
// replicas commits them only while that name holds an unexpired lease,
// holding the lease for the length of the transaction so that nobody can
// take it over in between. A backend opened by one process (SQLite) has
// no lease and ignores the mark.

type leaseKey struct{}

// WithLease marks the writes made with ctx as those of the lease holder
// named holder.
func WithLease(ctx context.Context, holder string) context.Context {
	return context.WithValue(ctx, leaseKey{}, holder)
}

// LeaseHolder is the holder ctx's writes are marked with, "" for none.
func LeaseHolder(ctx context.Context) string {
	h, _ := ctx.Value(leaseKey{}).(string)
	return h
}

// ErrLeaseLost is a leader's write refused because its lease expired or
// passed to another replica: nothing of it was stored. It wraps
// ErrUnavailable: the sender retries, and reaches the new leader.
var ErrLeaseLost = fmt.Errorf("%w: this replica no longer holds the leader lease", ErrUnavailable)

// Package leader decides which of several nines serve processes on one
// database evaluates alerts for the notifiers and delivers notifications:
// the leader. Every replica takes writes and answers reads; only the
// leader tells notifiers, sends what the outbox holds and takes metric
// samples (remote write, OTLP), whose counter baselines one collector
// must hold.
//
// Leadership is a lease with an expiry that the database's clock decides
// (store/postgres: the leases table). The holder renews it every Renew;
// another replica takes it once it has expired. The holder counts its
// lease from the moment it sent the renewal, which is no later than the
// moment the database stamped it, so the holder always stops leading
// before the database hands the lease to anyone else: at most one
// replica leads at any time, whatever the network does. A leader killed
// outright is replaced within TTL + Renew (docs/replicas.md).
package leader

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Lease is a named lease in a database shared by the replicas.
type Lease interface {
	// AcquireLease gives the lease to holder for ttl from the database's
	// now, when it is free, expired or held by holder already (a
	// renewal), and reports who holds it when the call returns.
	AcquireLease(ctx context.Context, holder string, ttl time.Duration) (current string, err error)
	// ReleaseLease ends holder's lease at once, so that another replica
	// need not wait for it to expire; a lease holder does not hold is
	// left alone.
	ReleaseLease(ctx context.Context, holder string) error
}

// The roles a replica reports on /healthz, /readyz and /metrics.
const (
	RoleLeader   = "leader"
	RoleFollower = "follower"
)

// Options tune an Elector. Holder is required.
type Options struct {
	// Holder names this replica in the lease (host, process, address):
	// unique among the replicas, and what the others report as leader.
	Holder string
	// TTL is how long a lease lasts unless renewed (default 15 s).
	TTL time.Duration
	// Renew is how often the holder renews it and the others try to
	// take it (default TTL/5). It bounds each attempt too.
	Renew time.Duration
	// Now is the clock (default time.Now); it must be monotonic, as
	// time.Now's readings are.
	Now    func() time.Time
	Logger *slog.Logger
	// OnChange, when set, is called with true when this replica becomes
	// the leader and false when it stops, from the elector's goroutine.
	OnChange func(leading bool)
}

// Elector holds or waits for the lease. It is safe for concurrent use.
type Elector struct {
	lease Lease
	opts  Options

	mu sync.Mutex
	// until is when this replica's lease ends by its own clock; zero when
	// it does not hold it. leading is what OnChange was last told.
	until   time.Time
	leading bool
	holder  string // the holder last seen, "" when unknown
	err     error  // the last attempt's error
	// failingSince is when the attempts started failing, zero while
	// they succeed.
	failingSince time.Time
}

// New returns an Elector on lease; call Run to make it work.
func New(lease Lease, opts Options) (*Elector, error) {
	if opts.Holder == "" {
		return nil, errors.New("leader: no holder name")
	}
	if opts.TTL == 0 {
		opts.TTL = 15 * time.Second
	}
	if opts.Renew == 0 {
		opts.Renew = opts.TTL / 5
	}
	if opts.TTL < time.Second || opts.Renew <= 0 || opts.Renew*2 > opts.TTL {
		return nil, fmt.Errorf("leader: lease of %s renewed every %s: want a lease of at least 1s renewed at least twice in it", opts.TTL, opts.Renew)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Elector{lease: lease, opts: opts}, nil
}

// Holder is this replica's name in the lease.
func (e *Elector) Holder() string { return e.opts.Holder }

// Leading reports whether this replica holds an unexpired lease now.
func (e *Elector) Leading() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.opts.Now().Before(e.until)
}

// Role is RoleLeader or RoleFollower.
func (e *Elector) Role() string {
	if e.Leading() {
		return RoleLeader
	}
	return RoleFollower
}

// Status is what a replica reports of the election.
type Status struct {
	Role string `json:"role"`
	// Holder is this replica; Leader the holder last seen ("" when the
	// database could not be asked).
	Holder string `json:"holder"`
	Leader string `json:"leader,omitempty"`
	// Error is why the last attempt failed, and UnreachableSince when
	// the first of the attempts failing since failed.
	Error            string    `json:"error,omitempty"`
	UnreachableSince time.Time `json:"unreachable_since,omitzero"`
}

// Status reports the role, this replica's name and the leader last seen.
func (e *Elector) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := Status{Role: RoleFollower, Holder: e.opts.Holder, Leader: e.holder}
	if e.opts.Now().Before(e.until) {
		st.Role = RoleLeader
	}
	if e.err != nil {
		st.Error = e.err.Error()
		st.UnreachableSince = e.failingSince
	}
	return st
}

// Step makes one attempt to take or renew the lease, and steps down when
// the lease could not be renewed in time. Run calls it every Renew.
func (e *Elector) Step(ctx context.Context) {
	sent := e.opts.Now()
	actx, cancel := context.WithTimeout(ctx, e.opts.Renew)
	holder, err := e.lease.AcquireLease(actx, e.opts.Holder, e.opts.TTL)
	cancel()
	e.mu.Lock()
	e.err = err
	switch {
	case err == nil:
		e.failingSince = time.Time{}
	case e.failingSince.IsZero():
		e.failingSince = sent
	}
	switch {
	case err != nil:
		// Unknown: keep what is held until its end, no longer.
		e.holder = ""
		if ctx.Err() == nil {
			e.opts.Logger.Warn("leader lease: cannot reach the database", "err", err, "leading_until", e.until)
		}
	case holder == e.opts.Holder:
		e.holder = holder
		e.until = sent.Add(e.opts.TTL)
	default:
		e.holder = holder
		e.until = time.Time{}
	}
	e.mu.Unlock()
	e.tell()
}

// tell calls OnChange when the role changed since it was last told.
func (e *Elector) tell() {
	e.mu.Lock()
	now := e.opts.Now().Before(e.until)
	changed := now != e.leading
	e.leading = now
	e.mu.Unlock()
	if !changed {
		return
	}
	if now {
		e.opts.Logger.Info("leader lease taken: this replica evaluates alerts and delivers notifications", "holder", e.opts.Holder)
	} else {
		e.opts.Logger.Warn("leader lease lost: this replica follows", "holder", e.opts.Holder, "leader", e.Status().Leader)
	}
	if e.opts.OnChange != nil {
		e.opts.OnChange(now)
	}
}

// Run takes part in the election until ctx ends, then releases the lease
// if it holds it, so that another replica leads at once.
func (e *Elector) Run(ctx context.Context) {
	t := time.NewTicker(e.opts.Renew)
	defer t.Stop()
	e.Step(ctx)
	for {
		// Wake at the lease's end too: a renewal that hangs must not
		// keep this replica leading past it.
		var expire <-chan time.Time
		var timer *time.Timer
		e.mu.Lock()
		if e.leading {
			timer = time.NewTimer(max(0, e.until.Sub(e.opts.Now())))
			expire = timer.C
		}
		e.mu.Unlock()
		select {
		case <-ctx.Done():
			e.release()
			return
		case <-t.C:
			e.Step(ctx)
		case <-expire:
			e.tell()
		}
		if timer != nil {
			timer.Stop()
		}
	}
}

// release gives the lease up at shutdown.
func (e *Elector) release() {
	e.mu.Lock()
	held := e.opts.Now().Before(e.until)
	e.until = time.Time{}
	e.mu.Unlock()
	if held {
		ctx, cancel := context.WithTimeout(context.Background(), e.opts.Renew)
		defer cancel()
		if err := e.lease.ReleaseLease(ctx, e.opts.Holder); err != nil {
			e.opts.Logger.Warn("leader lease: releasing at shutdown (another replica takes over when it expires)", "err", err)
		}
	}
	e.tell()
}

// HolderName is how a replica names itself in the lease: the URL the
// other replicas reach it at first, so that a follower can send the
// leader what only the leader takes (metric samples), then its host and
// process, which tell two processes behind one URL apart.
func HolderName(url, host string, pid int) string {
	return fmt.Sprintf("%s (%s pid %d)", url, host, pid)
}

// URLOf is the URL a holder named by HolderName is reached at, "" for
// a holder named otherwise (or none).
func URLOf(holder string) string {
	url, _, ok := strings.Cut(holder, " ")
	if !ok || !strings.Contains(url, "://") {
		return ""
	}
	return url
}

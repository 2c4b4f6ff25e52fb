package notify

import (
	"context"
	"encoding/json"
	"time"
)

// Several nines serve on one database (docs/replicas.md): one, the
// leader, routes and delivers; every replica shows the silences and the
// outbox as the database holds them.

// Role says whether this replica leads; leader.Elector satisfies it.
type Role interface {
	Leading() bool
}

// Claimer is a State that several processes share: ClaimState runs fn
// while the caller alone holds the record under key, and deletes the
// record in the same transaction when fn returns true. ran is false when
// another process holds the record (exists) or it is gone. The
// dispatcher sends each outbox entry under a claim, so that no two
// replicas send one entry at once, and a replica killed mid-send leaves
// the entry to the next leader, which sends the same request again (the
// same PagerDuty dedup_key, the same Alertmanager fingerprints).
type Claimer interface {
	ClaimState(ctx context.Context, key string, fn func(ctx context.Context) (remove bool)) (ran, exists bool, err error)
}

// RunReplica is Run for one of several replicas: while role leads, the
// dispatcher works every Tick, starting from what the database holds
// each time this replica becomes the leader (the outbox, the alerts held
// and the silences the last leader left); while it follows, it only
// reads the silences and the outbox back every Tick, for the API.
func (d *Dispatcher) RunReplica(ctx context.Context, role Role) {
	t := time.NewTicker(d.opts.Tick)
	defer t.Stop()
	was := false
	for {
		leading := role.Leading()
		switch {
		case leading && !was:
			d.reset()
			if err := d.Load(ctx); err != nil && ctx.Err() == nil {
				d.opts.Logger.Error("notify: loading the outbox on becoming the leader", "err", err)
			}
		case leading:
			d.refreshSilences(ctx)
			d.step(ctx, d.opts.Now())
		default:
			d.refreshSilences(ctx)
			d.refreshOutbox(ctx)
		}
		was = leading
		select {
		case <-ctx.Done():
			d.deliveries.Wait()
			return
		case <-t.C:
		}
	}
}

// reset forgets what this replica held in memory, before it reads the
// last leader's state; deliveries still in flight finish under their
// claims.
//
// The queue stays: the engine may have told this replica's first
// transitions as the leader already, and they are news to the records
// read next.
func (d *Dispatcher) reset() {
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.groups)
	clear(d.records)
	clear(d.dirty)
	clear(d.silences)
	for id := range d.outbox {
		if !d.inflight[id] {
			delete(d.outbox, id)
		}
	}
	d.inhibitors = nil
}

// refreshSilences takes the silences as stored: another replica's API
// may have added, changed or expired one.
func (d *Dispatcher) refreshSilences(ctx context.Context) {
	if d.opts.State == nil {
		return
	}
	stored := map[string]*Silence{}
	err := d.opts.State.RangeState(ctx, silencePrefix, func(key string, v []byte) error {
		var s Silence
		if json.Unmarshal(v, &s) == nil && s.ID != "" && len(s.Matchers) > 0 && !s.Matchers.Matches(map[string]string{}) {
			stored[s.ID] = &s
		}
		return nil
	})
	if err != nil {
		return // kept as they were; the next tick tries again
	}
	d.mu.Lock()
	d.silences = stored
	d.mu.Unlock()
}

// refreshOutbox takes the outbox as stored, for a follower's API.
func (d *Dispatcher) refreshOutbox(ctx context.Context) {
	if d.opts.State == nil {
		return
	}
	stored := map[string]*Entry{}
	err := d.opts.State.RangeState(ctx, outboxPrefix, func(key string, v []byte) error {
		if e, err := decodeEntry(key, v); err == nil {
			stored[e.ID] = e
		}
		return nil
	})
	if err != nil {
		return
	}
	d.mu.Lock()
	for id := range d.outbox {
		if d.inflight[id] {
			stored[id] = d.outbox[id]
		}
	}
	d.outbox = stored
	d.mu.Unlock()
}

// sent is what became of one attempt under a claim.
type sent struct {
	status     int
	retryAfter time.Duration
	detail     string
	err        error // of the request; a failed claim is persisted, not here
	// tried: this replica sent it. removed: its record was deleted with
	// the claim (a success). gone: the record no longer exists, another
	// replica delivered it.
	tried, removed, gone bool
}

// sendClaimed sends e under a claim of its record when the State is
// shared (Options.Claimer), else as it is.
func (d *Dispatcher) sendClaimed(ctx context.Context, timeout time.Duration, e *Entry) sent {
	var out sent
	c := d.opts.Claimer
	if c == nil {
		out.status, out.retryAfter, out.detail, out.err = d.sendEntry(ctx, timeout, e)
		out.tried = true
		return out
	}
	ran, exists, cerr := c.ClaimState(ctx, e.key(), func(ctx context.Context) bool {
		out.status, out.retryAfter, out.detail, out.err = d.sendEntry(ctx, timeout, e)
		return out.ok()
	})
	// A failed claim is tried again at the next tick; a failed deletion
	// after a success has the entry sent again: the same request.
	d.persist(cerr)
	out.tried, out.gone = ran, !ran && cerr == nil && !exists
	out.removed = ran && cerr == nil && out.ok()
	return out
}

// ok reports whether the receiver accepted the request.
func (s *sent) ok() bool { return s.err == nil && s.status >= 200 && s.status < 300 }

package notify

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClaims is a shared State as the other replicas see it: records
// held by another replica, and records another replica delivered.
type fakeClaims struct {
	State
	mu      sync.Mutex
	held    bool // another replica holds every record
	gone    bool // another replica delivered every record
	removed []string
}

func (f *fakeClaims) ClaimState(ctx context.Context, key string, fn func(context.Context) bool) (bool, bool, error) {
	f.mu.Lock()
	held, gone := f.held, f.gone
	f.mu.Unlock()
	switch {
	case gone:
		return false, false, nil
	case held:
		return false, true, nil
	}
	if fn(ctx) {
		f.mu.Lock()
		f.removed = append(f.removed, key)
		f.mu.Unlock()
		_, err := f.State.DeleteStatePrefix(ctx, key)
		return true, true, err
	}
	return true, true, nil
}

func TestClaimedDelivery(t *testing.T) {
	ctx := context.Background()
	rcv := newReceiver(t)
	c := &clock{t: t0}
	db := openStore(t, t.TempDir())
	claims := &fakeClaims{State: db, held: true}
	d := New(config(t, hookConfig, rcv.URL), Options{State: db, Claimer: claims, Now: c.Now})
	d.Enqueue(checkout, fire(t0))
	d.Step(ctx, t0)
	t.Run("An entry another replica holds is not sent, and stays in the outbox.", func(t *testing.T) {
		if rcv.count() != 0 || d.Outbox().Pending != 1 {
			t.Fatalf("%d sent, outbox %+v", rcv.count(), d.Outbox())
		}
	})
	t.Run("An entry claimed here is sent and its record removed under the claim.", func(t *testing.T) {
		claims.mu.Lock()
		claims.held = false
		claims.mu.Unlock()
		c.Set(t0.Add(time.Second))
		d.Step(ctx, c.Now())
		if rcv.count() != 1 || d.Outbox().Pending != 0 {
			t.Fatalf("%d sent, outbox %+v", rcv.count(), d.Outbox())
		}
		if len(claims.removed) != 1 || !strings.HasPrefix(claims.removed[0], outboxPrefix) {
			t.Errorf("removed under the claim: %v", claims.removed)
		}
	})
	t.Run("An entry another replica delivered leaves this replica's outbox unsent.", func(t *testing.T) {
		claims.mu.Lock()
		claims.gone = true
		claims.mu.Unlock()
		at := t0.Add(2 * time.Minute) // past group_interval: the resolve goes out
		d.Enqueue(checkout, resolve(at, t0))
		c.Set(at)
		d.Step(ctx, at)
		stored := 0
		if err := db.RangeState(ctx, outboxPrefix, func(string, []byte) error { stored++; return nil }); err != nil {
			t.Fatal(err)
		}
		if stored != 1 {
			t.Fatalf("%d outbox records stored, want the resolve's", stored)
		}
		if rcv.count() != 1 || d.Outbox().Pending != 0 {
			t.Fatalf("%d sent, outbox %+v", rcv.count(), d.Outbox())
		}
	})
}

// role is a settable replica role.
type role struct {
	mu      sync.Mutex
	leading bool
}

func (r *role) Leading() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.leading }
func (r *role) set(b bool)    { r.mu.Lock(); r.leading = b; r.mu.Unlock() }

func TestReplicaDeliversOnlyWhileLeading(t *testing.T) {
	rcv := newReceiver(t)
	db := openStore(t, t.TempDir())
	// The last leader left an entry in the outbox.
	prev := New(config(t, hookConfig, "http://127.0.0.1:1"), Options{State: db, MinBackoff: time.Hour})
	prev.Enqueue(checkout, fire(time.Now()))
	prev.Step(context.Background(), time.Now())
	if prev.Outbox().Pending != 1 {
		t.Fatalf("the last leader's outbox: %+v", prev.Outbox())
	}
	// Its entry names the unreachable URL: this replica's config sends
	// the same request, rendered once, as it was stored.
	r := &role{}
	d := New(config(t, hookConfig, rcv.URL), Options{State: db, Tick: 20 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { d.RunReplica(ctx, r); close(done) }()
	time.Sleep(200 * time.Millisecond)
	if v := d.Outbox(); v.Pending != 1 {
		t.Errorf("a follower's outbox view: %+v, want the stored entry", v)
	}
	if got := metric(d, `nines_notifications_failed_total{receiver="hook",reason="network"}`); got != "" {
		t.Errorf("a follower tried to deliver: failures %s", got)
	}
	r.set(true)
	deadline := time.Now().Add(5 * time.Second)
	for metric(d, `nines_notifications_failed_total{receiver="hook",reason="network"}`) == "" && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := metric(d, `nines_notifications_failed_total{receiver="hook",reason="network"}`); got == "" {
		t.Error("the new leader did not try the entry the last one left")
	}
	cancel()
	<-done
}

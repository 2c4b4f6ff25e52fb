package leader

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// clock is a fake clock shared by the replicas and the fake database.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// memLease is the lease as the database keeps it, with the database's
// clock; down makes every call fail, as a lost database does.
type memLease struct {
	clock   *clock
	mu      sync.Mutex
	holder  string
	expires time.Time
	down    bool
}

var errDown = errors.New("connection refused")

func (l *memLease) AcquireLease(_ context.Context, holder string, ttl time.Duration) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return "", errDown
	}
	now := l.clock.Now()
	if l.holder == "" || l.holder == holder || !now.Before(l.expires) {
		l.holder, l.expires = holder, now.Add(ttl)
	}
	return l.holder, nil
}

func (l *memLease) ReleaseLease(_ context.Context, holder string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.down {
		return errDown
	}
	if l.holder == holder {
		l.holder = ""
	}
	return nil
}

func newElector(t *testing.T, l Lease, c *clock, holder string, changes *[]bool) *Elector {
	t.Helper()
	e, err := New(l, Options{Holder: holder, TTL: 15 * time.Second, Now: c.Now, OnChange: func(b bool) { *changes = append(*changes, b) }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// contenders are replicas a and b on one lease, on a fake clock, with
// the role changes each is told.
func contenders(t *testing.T) (c *clock, l *memLease, a, b *Elector, ca, cb *[]bool) {
	c = &clock{t: time.Unix(1_700_000_000, 0)}
	l = &memLease{clock: c}
	ca, cb = &[]bool{}, &[]bool{}
	return c, l, newElector(t, l, c, "a", ca), newElector(t, l, c, "b", cb), ca, cb
}

func TestElection(t *testing.T) {
	ctx := context.Background()
	t.Run("Of two contenders the first to ask leads and the other follows while the lease is renewed.", func(t *testing.T) {
		c, _, a, b, ca, cb := contenders(t)
		for range 100 {
			a.Step(ctx)
			b.Step(ctx)
			if !a.Leading() || b.Leading() {
				t.Fatalf("at %s: a leading %v, b leading %v; want a alone", c.Now(), a.Leading(), b.Leading())
			}
			c.add(3 * time.Second)
		}
		if st := b.Status(); st.Role != RoleFollower || st.Leader != "a" {
			t.Errorf("b's status %+v: want a follower that sees a lead", st)
		}
		if len(*ca) != 1 || !(*ca)[0] || len(*cb) != 0 {
			t.Errorf("role changes a %v, b %v: want a told once that it leads, b never", *ca, *cb)
		}
	})
	t.Run("A leader that stops renewing is replaced once its lease expired, and never while it might still lead.", func(t *testing.T) {
		c, _, a, b, _, _ := contenders(t)
		a.Step(ctx)
		b.Step(ctx)
		died := c.Now()
		// a is killed: it takes no more steps. b tries every 3 s.
		var took time.Duration
		for range 20 {
			c.add(3 * time.Second)
			b.Step(ctx)
			if a.Leading() && b.Leading() {
				t.Fatalf("at %s both lead", c.Now())
			}
			if b.Leading() {
				took = c.Now().Sub(died)
				break
			}
		}
		if took == 0 || took > 15*time.Second+3*time.Second {
			t.Errorf("b took over %s after a stopped: want within the lease and one renewal interval (18s)", took)
		}
	})
	t.Run("A leader that loses the database steps down when its lease ends, and a replica that can reach it takes over.", func(t *testing.T) {
		c, l, a, b, ca, _ := contenders(t)
		a.Step(ctx)
		// a's connection fails; b's works: a separate lease view.
		cut := &cutLease{Lease: l}
		a.lease = cut
		cut.down = true
		for range 10 {
			c.add(3 * time.Second)
			a.Step(ctx)
			b.Step(ctx)
			if a.Leading() && b.Leading() {
				t.Fatalf("at %s both lead", c.Now())
			}
		}
		if a.Leading() || !b.Leading() {
			t.Fatalf("a leading %v, b leading %v: want b alone", a.Leading(), b.Leading())
		}
		if st := a.Status(); st.Error == "" || st.Role != RoleFollower {
			t.Errorf("a's status %+v: want a follower saying why", st)
		}
		if len(*ca) != 2 || !(*ca)[0] || (*ca)[1] {
			t.Errorf("a's role changes %v: want lead, then step down", *ca)
		}
		// a's database comes back: it follows b.
		cut.down = false
		c.add(3 * time.Second)
		a.Step(ctx)
		b.Step(ctx)
		if a.Leading() || !b.Leading() {
			t.Errorf("after recovery a leading %v, b leading %v: want b to keep leading", a.Leading(), b.Leading())
		}
	})
	t.Run("A leader that shuts down releases the lease and the next replica leads at its first attempt.", func(t *testing.T) {
		_, _, a, b, _, _ := contenders(t)
		a.Step(ctx)
		a.release()
		b.Step(ctx)
		if a.Leading() || !b.Leading() {
			t.Errorf("a leading %v, b leading %v: want b", a.Leading(), b.Leading())
		}
	})
}

// cutLease fails every call while down, as a replica cut off from the
// database sees it.
type cutLease struct {
	Lease
	down bool
}

func (c *cutLease) AcquireLease(ctx context.Context, holder string, ttl time.Duration) (string, error) {
	if c.down {
		return "", errDown
	}
	return c.Lease.AcquireLease(ctx, holder, ttl)
}

func TestOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"A lease without a holder name is refused.", Options{}},
		{"A lease renewed less than twice in its life is refused.", Options{Holder: "a", TTL: 10 * time.Second, Renew: 6 * time.Second}},
		{"A lease shorter than a second is refused.", Options{Holder: "a", TTL: 500 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(&memLease{}, tc.opts); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

package notify

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// TestDeliveryHistory follows a page through the history: kept when the
// receiver accepts it (not while it fails), read back by day with the
// alert's service and severity, found again after a restart, and gone
// once older than the retention.
func TestDeliveryHistory(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	rcv := newReceiver(t, 503, 200)
	cfg := config(t, `
receivers:
  - {name: hook, webhook: {url: "%URL%/hook"}}
route:
  receiver: hook
  group_wait: 0s
`, rcv.URL)
	c := &clock{t: t0}
	db := openStore(t, dir)
	defer func() { db.Close() }()
	opts := func() Options {
		return Options{State: db, Now: c.Now, Rand: rand.New(rand.NewPCG(1, 2)), MinBackoff: time.Second, MaxBackoff: time.Second,
			HistoryRetention: 30 * 24 * time.Hour}
	}
	d := New(cfg, opts())
	if err := d.Load(ctx); err != nil {
		t.Fatal(err)
	}
	read := func() []Delivery {
		t.Helper()
		var out []Delivery
		bad, err := ReadHistory(ctx, db, t0.Add(-48*time.Hour), t0.Add(48*time.Hour), func(r *Delivery) error {
			out = append(out, *r)
			return nil
		})
		if err != nil || bad != 0 {
			t.Fatalf("reading the history: %v (%d unreadable)", err, bad)
		}
		return out
	}
	d.Enqueue(checkout, fire(t0))
	d.Step(ctx, t0)
	if got := read(); len(got) != 0 {
		t.Fatalf("a refused notification is in the history: %+v", got)
	}
	at := t0.Add(2 * time.Second)
	c.Set(at)
	d.Step(ctx, at)
	got := read()
	if len(got) != 1 {
		t.Fatalf("history %+v: want the one delivered notification", got)
	}
	r := got[0]
	if r.Status != "firing" || r.Attempts != 2 || !r.Delivered.Equal(at) || len(r.Alerts) != 1 {
		t.Fatalf("record %+v", r)
	}
	if a := r.Alerts[0]; a.Service != "checkout" || a.Severity != "page" || a.SLO != "checkout-availability" || !a.StartsAt.Equal(t0) || a.Fingerprint == "" {
		t.Errorf("alert %+v", a)
	}

	// After a restart the pruning knows where the history starts, and
	// drops the day once it is older than the retention.
	db.Close()
	db = openStore(t, dir)
	later := t0.Add(32 * 24 * time.Hour)
	c.Set(later)
	d = New(cfg, opts())
	if err := d.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if len(read()) != 1 {
		t.Fatal("the history did not survive a restart")
	}
	d.Step(ctx, later)
	if got := read(); len(got) != 0 {
		t.Fatalf("a record older than the retention is still there: %+v", got)
	}
}

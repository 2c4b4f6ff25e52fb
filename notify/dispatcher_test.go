package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
)

const hookConfig = `
timeout: 300ms
max_age: 1h
receivers:
  - name: hook
    webhook: {url: "%URL%/hook"}
route: {receiver: hook, group_wait: 0s, group_interval: 1m, repeat_interval: 1h}
`

// TestRetryBackoff: 503 and 429 are retried with growing, jittered
// delays or the Retry-After asked for; the failures show in metrics and
// the outbox until the receiver takes the notification.
func TestRetryBackoff(t *testing.T) {
	rcv := newReceiver(t, 503, 503, 429, 200)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig, rcv.URL), c, nil)
	ctx := context.Background()
	d.Enqueue(checkout, fire(t0))
	d.Step(ctx, t0)
	v := d.Outbox()
	if rcv.count() != 1 || v.Pending != 1 || v.Entries[0].Attempts != 1 || v.Entries[0].LastStatus != 503 {
		t.Fatalf("after a 503: %d requests, outbox %+v", rcv.count(), v)
	}
	// The first retry waits MinBackoff (1 s) ± 20 %.
	next := v.Entries[0].NextAttempt.Sub(t0)
	if next < 800*time.Millisecond || next > 1200*time.Millisecond {
		t.Errorf("first retry after %s, want 1s ± 20%%", next)
	}
	d.Step(ctx, t0.Add(500*time.Millisecond))
	if rcv.count() != 1 {
		t.Fatal("retried before the backoff")
	}
	c.Set(t0.Add(2 * time.Second))
	d.Step(ctx, c.Now())
	v = d.Outbox()
	next = v.Entries[0].NextAttempt.Sub(c.Now())
	if rcv.count() != 2 || next < 1600*time.Millisecond || next > 2400*time.Millisecond {
		t.Fatalf("second retry: %d requests, next after %s, want 2s ± 20%%", rcv.count(), next)
	}
	rcv.mu.Lock()
	rcv.retry = "30"
	rcv.mu.Unlock()
	c.Set(t0.Add(5 * time.Second))
	d.Step(ctx, c.Now())
	v = d.Outbox()
	if got := v.Entries[0].NextAttempt.Sub(c.Now()); got != 30*time.Second || !strings.Contains(v.Entries[0].LastError, "HTTP 429") {
		t.Fatalf("after 429 with Retry-After 30: next after %s, error %q", got, v.Entries[0].LastError)
	}
	c.Set(t0.Add(35 * time.Second))
	d.Step(ctx, c.Now())
	if v = d.Outbox(); rcv.count() != 4 || v.Pending != 0 {
		t.Fatalf("after 200: %d requests, outbox %+v", rcv.count(), v)
	}
	for prefix, want := range map[string]string{
		`nines_notifications_failed_total{receiver="hook",reason="http_5xx"}`: "2",
		`nines_notifications_failed_total{receiver="hook",reason="http_429"}`: "1",
		`nines_notifications_sent_total{receiver="hook",kind="firing"}`:       "1",
		`nines_notifications_pending`:                                         "0",
	} {
		if got := metric(d, prefix); got != want {
			t.Errorf("%s = %q, want %s", prefix, got, want)
		}
	}
}

// TestDeadLetters: a 4xx other than 429 is not retried; a notification
// that keeps failing is given up after max_age. Both stay visible.
func TestDeadLetters(t *testing.T) {
	t.Run("400 at once", func(t *testing.T) {
		rcv := newReceiver(t, 400)
		c := &clock{t: t0}
		d := newDispatcher(t, config(t, hookConfig, rcv.URL), c, nil)
		d.Enqueue(checkout, fire(t0))
		d.Step(context.Background(), t0)
		d.Step(context.Background(), t0.Add(30*time.Minute))
		v := d.Outbox()
		if rcv.count() != 1 || v.Dead != 1 || !v.Entries[0].Dead || !strings.Contains(v.Entries[0].DeadReason, `refused it: HTTP 400: {"status":"x"}`) {
			t.Fatalf("%d requests, outbox %+v", rcv.count(), v)
		}
		if metric(d, `nines_notifications_dead_total{receiver="hook"}`) != "1" || metric(d, "nines_notifications_dead_letters") != "1" {
			t.Error("dead letter not in metrics")
		}
	})
	t.Run("500 until max_age", func(t *testing.T) {
		rcv := newReceiver(t, 500)
		c := &clock{t: t0}
		d := newDispatcher(t, config(t, hookConfig, rcv.URL), c, nil)
		d.Enqueue(checkout, fire(t0))
		for now := t0; now.Before(t0.Add(2 * time.Hour)); now = now.Add(10 * time.Second) {
			c.Set(now)
			d.Step(context.Background(), now)
		}
		v := d.Outbox()
		if !v.Entries[0].Dead || !strings.Contains(v.Entries[0].DeadReason, "gave up after 1h") {
			t.Fatalf("outbox %+v", v)
		}
		// Backoff is capped at MaxBackoff (1 m): about 60 + a few attempts
		// in the hour, not hundreds and not a handful.
		if n := v.Entries[0].Attempts; n < 60 || n > 80 {
			t.Errorf("%d attempts in an hour", n)
		}
	})
}

// TestHangingEndpoint: a receiver that never answers costs one timeout
// per attempt and does not hold up another receiver.
func TestHangingEndpoint(t *testing.T) {
	hang := newReceiver(t, 0)
	ok := newReceiver(t)
	c := &clock{t: t0}
	cfg := config(t, strings.ReplaceAll(`
timeout: 200ms
receivers:
  - {name: hang, webhook: {url: "%HANG%"}}
  - {name: ok, webhook: {url: "%URL%"}}
route:
  receiver: ok
  group_wait: 0s
  routes:
    - {matchers: [severity=page], receiver: hang, continue: true}
    - {receiver: ok}
`, "%HANG%", hang.URL), ok.URL)
	d := newDispatcher(t, cfg, c, nil)
	d.Enqueue(checkout, fire(t0))
	start := time.Now()
	d.Step(context.Background(), t0)
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a step took %s", took)
	}
	if ok.count() != 1 {
		t.Errorf("the healthy receiver got %d requests", ok.count())
	}
	v := d.Outbox()
	if v.Pending != 1 || !strings.Contains(v.Entries[0].LastError, "no answer within 200ms") {
		t.Fatalf("outbox %+v", v)
	}
	if metric(d, `nines_notifications_failed_total{receiver="hang",reason="timeout"}`) != "1" {
		t.Error("timeout not counted")
	}
}

// TestRestartKeepsOutbox: a notification that could not be delivered
// before a restart is delivered after it, from the persisted outbox; so
// is an alert that was waiting for its group_wait.
func TestRestartKeepsOutbox(t *testing.T) {
	dir := t.TempDir()
	rcv := newReceiver(t, 503, 503, 200)
	ctx := context.Background()
	c := &clock{t: t0}
	cfg := config(t, `
receivers:
  - {name: hook, webhook: {url: "%URL%/hook"}}
route:
  receiver: hook
  group_wait: 0s
  routes:
    - {matchers: [slo=cart-latency], receiver: hook, group_wait: 1m}
`, rcv.URL)

	db := openStore(t, dir)
	d := newDispatcher(t, cfg, c, db)
	if err := d.Load(ctx); err != nil {
		t.Fatal(err)
	}
	d.Enqueue(checkout, fire(t0))
	d.Enqueue(cart, fire(t0))
	d.Step(ctx, t0)
	if rcv.count() != 1 || d.Outbox().Pending != 1 {
		t.Fatalf("before restart: %d requests, %+v", rcv.count(), d.Outbox())
	}
	db.Close()

	db = openStore(t, dir)
	defer db.Close()
	c.Set(t0.Add(10 * time.Second))
	d = newDispatcher(t, cfg, c, db)
	if err := d.Load(ctx); err != nil {
		t.Fatal(err)
	}
	v := d.Outbox()
	if v.Pending != 1 || v.Entries[0].Attempts != 1 || len(v.Groups) != 2 {
		t.Fatalf("after restart: %+v", v)
	}
	d.Step(ctx, c.Now()) // 503 again
	c.Set(t0.Add(20 * time.Second))
	d.Step(ctx, c.Now()) // 200
	if rcv.count() != 3 || d.Outbox().Pending != 0 {
		t.Fatalf("after retry: %d requests, %+v", rcv.count(), d.Outbox())
	}
	var m WebhookMessage
	rcv.body(t, 2, &m)
	if m.Alerts[0].Labels["slo"] != "checkout-availability" {
		t.Errorf("delivered %+v", m.Alerts)
	}
	// The cart alert was held in its group_wait across the restart (which
	// starts it again).
	c.Set(t0.Add(80 * time.Second))
	d.Step(ctx, c.Now())
	rcv.body(t, 3, &m)
	if len(m.Alerts) != 1 || m.Alerts[0].Labels["slo"] != "cart-latency" {
		t.Errorf("held alert %+v", m.Alerts)
	}
	n := 0
	db.RangeState(ctx, outboxPrefix, func(string, []byte) error { n++; return nil })
	if n != 0 {
		t.Errorf("%d outbox records left in the store", n)
	}

	// The engine does not fire the alerts again after this restart: they
	// resolve after the grace period, and the receiver hears of it.
	db2 := db
	d = New(cfg, Options{State: db2, Now: c.Now, RestartGrace: 5 * time.Minute})
	if err := d.Load(ctx); err != nil {
		t.Fatal(err)
	}
	c.Set(t0.Add(2 * time.Minute))
	d.Step(ctx, c.Now())
	if rcv.count() != 4 {
		t.Fatalf("notified again right after a restart: %d", rcv.count())
	}
	c.Set(t0.Add(7 * time.Minute))
	d.Step(ctx, c.Now())
	c.Set(t0.Add(9 * time.Minute))
	d.Step(ctx, c.Now())
	if rcv.count() != 6 {
		t.Fatalf("%d requests, want resolves for both groups", rcv.count())
	}
	rcv.body(t, 5, &m)
	if m.Status != "resolved" || m.Alerts[0].Annotations["description"] != "no longer firing after nines restarted" {
		t.Errorf("restart resolve %+v", m)
	}
	n = 0
	db.RangeState(ctx, alertPrefix, func(string, []byte) error { n++; return nil })
	if n != 0 || len(d.Outbox().Groups) != 0 {
		t.Errorf("%d alert records, groups %+v", n, d.Outbox().Groups)
	}
}

// TestSilence: a silenced alert is not sent and is counted; once the
// silence is expired it goes out at the next flush. Silences persist.
func TestSilence(t *testing.T) {
	dir := t.TempDir()
	db := openStore(t, dir)
	defer db.Close()
	rcv := newReceiver(t)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig, rcv.URL), c, db)
	ctx := context.Background()
	m, _ := ParseMatcher("slo=checkout-availability")
	s, err := d.AddSilence(ctx, Silence{Matchers: Matchers{m}, EndsAt: t0.Add(2 * time.Hour), CreatedBy: "ana", Comment: "deploy"})
	if err != nil || s.Status != "active" || s.ID == "" || !s.StartsAt.Equal(t0) {
		t.Fatalf("%+v %v", s, err)
	}
	d.Enqueue(checkout, fire(t0))
	d.Enqueue(cart, fire(t0))
	d.Step(ctx, t0)
	var msg WebhookMessage
	rcv.body(t, 0, &msg)
	if len(msg.Alerts) != 1 || msg.Alerts[0].Labels["slo"] != "cart-latency" {
		t.Fatalf("sent %+v", msg.Alerts)
	}
	d.Step(ctx, t0.Add(time.Minute))
	if metric(d, "nines_notifications_silenced_total") != "1" || metric(d, "nines_silences_active") != "1" {
		t.Errorf("silenced %s, active %s", metric(d, "nines_notifications_silenced_total"), metric(d, "nines_silences_active"))
	}

	d2 := newDispatcher(t, config(t, hookConfig, rcv.URL), c, db)
	d2.Load(ctx)
	if l := d2.Silences(); len(l) != 1 || l[0].Comment != "deploy" || l[0].Matchers[0].String() != `slo="checkout-availability"` {
		t.Fatalf("persisted silences %+v", l)
	}
	c.Set(t0.Add(90 * time.Second))
	if _, err := d.ExpireSilence(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExpireSilence(ctx, "nope"); !errors.Is(err, ErrSilenceNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	d.Step(ctx, t0.Add(2*time.Minute))
	rcv.body(t, rcv.count()-1, &msg)
	if rcv.count() != 2 || len(msg.Alerts) != 1 || msg.Alerts[0].Labels["slo"] != "checkout-availability" {
		t.Errorf("after the silence: %d alerts in request %d: %+v; outbox %+v", len(msg.Alerts), rcv.count(), msg, d.Outbox())
	}
	if l := d.Silences(); l[0].Status != "expired" {
		t.Errorf("status %s", l[0].Status)
	}
	// Pruned a day after it ended.
	d.Step(ctx, t0.Add(26*time.Hour))
	if l := d.Silences(); len(l) != 0 {
		t.Errorf("not pruned: %+v", l)
	}
}

func TestSilenceValidation(t *testing.T) {
	d := New(nil, Options{Now: func() time.Time { return t0 }})
	all, _ := ParseMatcher(`slo=~".*"`)
	allAlerts, _ := ParseMatcher(`alert!="none"`)
	ok, _ := ParseMatcher("slo=x")
	for _, c := range []struct {
		name string
		s    Silence
		want string
	}{
		{"no matchers", Silence{EndsAt: t0.Add(time.Hour), CreatedBy: "a"}, "no matchers"},
		{"mutes everything", Silence{Matchers: Matchers{all}, EndsAt: t0.Add(time.Hour), CreatedBy: "a"}, "mutes everything"},
		{"mutes everything with two matchers", Silence{Matchers: Matchers{all, allAlerts}, EndsAt: t0.Add(time.Hour), CreatedBy: "a"}, "mutes everything"},
		{"no end", Silence{Matchers: Matchers{ok}, CreatedBy: "a"}, "no end"},
		{"in the past", Silence{Matchers: Matchers{ok}, StartsAt: t0.Add(-2 * time.Hour), EndsAt: t0.Add(-time.Hour), CreatedBy: "a"}, "in the past"},
		{"too long", Silence{Matchers: Matchers{ok}, EndsAt: t0.Add(100 * 24 * time.Hour), CreatedBy: "a"}, "at most 90 days"},
		{"anonymous", Silence{Matchers: Matchers{ok}, EndsAt: t0.Add(time.Hour)}, "createdBy is empty"},
		{"starting after 2200", Silence{Matchers: Matchers{ok}, StartsAt: time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
			EndsAt: time.Date(9999, 1, 2, 0, 0, 0, 0, time.UTC), CreatedBy: "a"}, "startsAt 9999-01-01T00:00:00Z: store: invalid argument: outside the range of times nines stores"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.AddSilence(context.Background(), c.s)
			if !errors.Is(err, ErrInvalidSilence) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

// TestRepeatAndFlap: a still-firing group is notified again after
// repeat_interval; a resolve followed by a fire within group_interval is
// one continuing incident.
func TestRepeatAndFlap(t *testing.T) {
	rcv := newReceiver(t)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig, rcv.URL), c, nil)
	ctx := context.Background()
	d.Enqueue(checkout, fire(t0))
	for now := t0; !now.After(t0.Add(61 * time.Minute)); now = now.Add(time.Minute) {
		d.Step(ctx, now)
	}
	if rcv.count() != 2 {
		t.Fatalf("%d notifications in 61 minutes with repeat_interval 1h, want 2", rcv.count())
	}
	d.Enqueue(checkout, resolve(t0.Add(61*time.Minute+10*time.Second), t0))
	d.Enqueue(checkout, fire(t0.Add(61*time.Minute+20*time.Second)))
	d.Step(ctx, t0.Add(62*time.Minute))
	if rcv.count() != 2 {
		t.Errorf("a flap inside group_interval notified: %d", rcv.count())
	}
}

// TestReload: SetConfig routes the alerts held again; a group kept by
// the new tree is not notified twice, a new receiver is told.
func TestReload(t *testing.T) {
	rcv := newReceiver(t)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig, rcv.URL), c, nil)
	ctx := context.Background()
	d.Enqueue(checkout, fire(t0))
	d.Step(ctx, t0)
	d.SetConfig(config(t, hookConfig, rcv.URL))
	d.Step(ctx, t0.Add(2*time.Minute))
	if rcv.count() != 1 {
		t.Fatalf("same tree after reload notified again: %d", rcv.count())
	}
	d.SetConfig(config(t, `
receivers: [{name: hook, webhook: {url: "%URL%/hook"}}]
route:
  receiver: hook
  group_wait: 0s
  routes: [{matchers: [team=payments], receiver: hook, group_by: [team]}]
`, rcv.URL))
	d.Step(ctx, t0.Add(3*time.Minute))
	var m WebhookMessage
	rcv.body(t, 1, &m)
	if rcv.count() != 2 || m.GroupLabels["team"] != "payments" {
		t.Errorf("new route: %d requests, %+v", rcv.count(), m.GroupLabels)
	}
}

func TestQueueFull(t *testing.T) {
	d := New(nil, Options{QueueSize: 2})
	for range 3 {
		d.Enqueue(checkout, fire(t0))
	}
	if got := metric(d, "nines_notifications_dropped_total"); got != "1" {
		t.Errorf("dropped %s", got)
	}
}

func TestResolveOfUnknownAlertIsSent(t *testing.T) {
	rcv := newReceiver(t)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig, rcv.URL), c, nil)
	d.Enqueue(checkout, alert.Transition{Alert: "page-fast", Severity: alert.Page, Kind: alert.Resolve, At: t0, Since: t0.Add(-time.Hour)})
	d.Step(context.Background(), t0)
	var m WebhookMessage
	rcv.body(t, 0, &m)
	if m.Status != "resolved" {
		t.Errorf("%+v", m)
	}
}

// TestNewerNotificationSupersedes: a resolve made while the firing
// notification is still being retried replaces it, so the receiver never
// hears "firing" after "resolved".
func TestNewerNotificationSupersedes(t *testing.T) {
	rcv := newReceiver(t, 503, 200)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig, rcv.URL), c, nil)
	ctx := context.Background()
	d.Enqueue(checkout, fire(t0))
	d.Step(ctx, t0)
	d.Enqueue(checkout, resolve(t0.Add(10*time.Second), t0))
	c.Set(t0.Add(time.Minute))
	d.Step(ctx, c.Now())
	if rcv.count() != 2 {
		t.Fatalf("%d requests", rcv.count())
	}
	var m WebhookMessage
	rcv.body(t, 1, &m)
	if m.Status != "resolved" {
		t.Errorf("second request %s", m.Status)
	}
	c.Set(t0.Add(time.Hour))
	d.Step(ctx, c.Now())
	if v := d.Outbox(); rcv.count() != 2 || len(v.Entries) != 0 {
		t.Errorf("the stale firing was sent later: %d requests, outbox %+v", rcv.count(), v)
	}
}

// TestNewerReplacesFailedInFlight: a resolve made while the firing
// notification is on the wire replaces it once that attempt fails.
func TestNewerReplacesFailedInFlight(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m WebhookMessage
		json.NewDecoder(r.Body).Decode(&m)
		mu.Lock()
		first := len(got) == 0
		got = append(got, m.Status)
		mu.Unlock()
		if first {
			<-release
			w.WriteHeader(503)
		}
	}))
	defer srv.Close()
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig, srv.URL), c, nil)
	ctx := context.Background()
	d.Enqueue(checkout, fire(t0))
	d.step(ctx, t0) // the firing notification hangs on the wire
	d.Enqueue(checkout, resolve(t0.Add(10*time.Second), t0))
	d.step(ctx, t0.Add(time.Minute)) // the resolve waits for its stream
	close(release)
	d.deliveries.Wait()
	v := d.Outbox()
	if len(v.Entries) != 1 || v.Entries[0].Status != "resolved" || v.Entries[0].Attempts != 1 {
		t.Fatalf("outbox %+v", v)
	}
	c.Set(t0.Add(2 * time.Minute))
	d.Step(ctx, c.Now())
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, ",") != "firing,resolved" || len(d.Outbox().Entries) != 0 {
		t.Errorf("requests %v, outbox %+v", got, d.Outbox())
	}
}

// TestHangingReceiverDoesNotStarveOthers: with every slot it may take
// stuck, a hanging receiver leaves the other half to the rest.
func TestHangingReceiverDoesNotStarveOthers(t *testing.T) {
	hang := newReceiver(t, 0)
	ok := newReceiver(t)
	c := &clock{t: t0}
	cfg := config(t, strings.ReplaceAll(`
timeout: 1s
receivers:
  - {name: hang, webhook: {url: "%HANG%"}}
  - {name: ok, webhook: {url: "%URL%"}}
route:
  receiver: ok
  group_wait: 0s
  routes:
    - {receiver: hang, continue: true}
    - {receiver: ok}
`, "%HANG%", hang.URL), ok.URL)
	d := New(cfg, Options{Now: c.Now, MaxInflight: 4})
	ctx := context.Background()
	for i := range 6 {
		s := *checkout
		s.Name = fmt.Sprintf("slo-%d", i)
		d.Enqueue(&s, fire(t0))
	}
	d.step(ctx, t0)
	waitUntil := time.Now().Add(500 * time.Millisecond)
	for ok.count() < 2 && time.Now().Before(waitUntil) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := hang.count(); n != 2 {
		t.Errorf("the hanging receiver holds %d requests, want 2 (half of 4 slots)", n)
	}
	if ok.count() < 2 {
		t.Errorf("the healthy receiver got %d requests while the other hangs", ok.count())
	}
	d.deliveries.Wait()
}

// TestDeliveryErrorHidesSecretURL: a network error names the URL it
// failed on; the outbox (GET /api/v1/notifications) and the log must not
// show a Slack webhook's path or a token in a query.
func TestDeliveryErrorHidesSecretURL(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	base := closed.URL
	closed.Close() // connection refused from now on
	c := &clock{t: t0}
	cfg := config(t, `
timeout: 1s
receivers:
  - {name: slack, slack: {webhook_url: "%URL%/services/T0/B0/SLACKSECRET"}}
  - {name: hook, webhook: {url: "%URL%/hook?token=QUERYSECRET"}}
route:
  receiver: slack
  group_wait: 0s
  routes:
    - {receiver: slack, continue: true}
    - {receiver: hook}
`, base)
	d := newDispatcher(t, cfg, c, nil)
	d.Enqueue(checkout, fire(t0))
	d.Step(context.Background(), t0)
	v := d.Outbox()
	if len(v.Entries) != 2 {
		t.Fatalf("outbox %+v", v)
	}
	b, _ := json.Marshal(v)
	for _, secret := range []string{"SLACKSECRET", "QUERYSECRET"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("the outbox shows %s: %s", secret, b)
		}
	}
	for _, e := range v.Entries {
		if e.LastError == "" || e.Attempts != 1 {
			t.Errorf("entry %+v: want one failed attempt with its error", e)
		}
		want := map[string]string{"slack": base + "/…", "hook": base + "/hook"}[e.Receiver]
		if e.Target != want {
			t.Errorf("%s: target %q, want %q", e.Receiver, e.Target, want)
		}
	}
}

// slowDeletes is a State whose deletes say they started, then wait for
// release.
type slowDeletes struct {
	State
	started, release chan struct{}
	once             sync.Once
}

func (s *slowDeletes) DeleteStatePrefix(ctx context.Context, prefix string) (int64, error) {
	s.once.Do(func() { close(s.started) })
	<-s.release
	return s.State.DeleteStatePrefix(ctx, prefix)
}

// TestLoadDoesNotHoldTheLockOverTheStore: removing the stale entries a
// crash left does not keep the API (which runs while Run loads) waiting
// for the store.
func TestLoadDoesNotHoldTheLockOverTheStore(t *testing.T) {
	ctx := context.Background()
	db := openStore(t, t.TempDir())
	defer db.Close()
	for _, id := range []string{"1", "2"} {
		b, _ := encodeEntry(&Entry{ID: id, Receiver: "hook", Kind: KindWebhook, Stream: "hook|g", Request: Request{URL: "http://127.0.0.1:1"}, Created: t0})
		if err := db.PutState(ctx, outboxPrefix+id, b); err != nil {
			t.Fatal(err)
		}
	}
	st := &slowDeletes{State: db, started: make(chan struct{}), release: make(chan struct{})}
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig, "http://127.0.0.1:1"), c, st)
	loaded := make(chan error)
	go func() { loaded <- d.Load(ctx) }()
	<-st.started
	listed := make(chan struct{})
	go func() { d.Silences(); close(listed) }()
	select {
	case <-listed:
	case <-time.After(2 * time.Second):
		t.Error("Silences waited for Load's store deletes")
	}
	close(st.release)
	if err := <-loaded; err != nil {
		t.Fatal(err)
	}
	<-listed
	if v := d.Outbox(); len(v.Entries) != 1 || v.Entries[0].ID != "2" {
		t.Errorf("after load: %+v", v)
	}
}

// TestNewerNotificationKeepsTheBackoff: a receiver that answered 429 with
// Retry-After 120 is not asked again when the group's next notification
// (its resolve) replaces the waiting one: the newer one waits too.
func TestNewerNotificationKeepsTheBackoff(t *testing.T) {
	rcv := newReceiver(t, 429, 200)
	rcv.mu.Lock()
	rcv.retry = "120"
	rcv.mu.Unlock()
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig, rcv.URL), c, nil)
	ctx := context.Background()
	d.Enqueue(checkout, fire(t0))
	d.Step(ctx, t0)
	if rcv.count() != 1 {
		t.Fatalf("%d requests, want the first attempt", rcv.count())
	}
	// The alert resolves; group_interval (1m) passes, Retry-After not.
	later := t0.Add(time.Minute)
	c.Set(later)
	d.Enqueue(checkout, resolve(later, t0))
	d.Step(ctx, later)
	v := d.Outbox()
	if rcv.count() != 1 || v.Pending != 1 || !v.Entries[0].NextAttempt.Equal(t0.Add(120*time.Second)) {
		t.Fatalf("after the resolve: %d requests, outbox %+v; want the resolve waiting for the receiver's minute", rcv.count(), v)
	}
	c.Set(t0.Add(121 * time.Second))
	d.Step(ctx, c.Now())
	var msg WebhookMessage
	rcv.body(t, rcv.count()-1, &msg)
	if rcv.count() != 2 || msg.Status != "resolved" {
		t.Errorf("after the wait: %d requests, last %s", rcv.count(), msg.Status)
	}
}

// TestStoredSilenceMutingEverythingIsIgnored: a stored silence without
// matchers (a damaged row) is not loaded, so it cannot mute every alert.
func TestStoredSilenceMutingEverythingIsIgnored(t *testing.T) {
	db := openStore(t, t.TempDir())
	defer db.Close()
	ctx := context.Background()
	if err := db.PutState(ctx, silencePrefix+"bad", []byte(`{"id":"bad","matchers":[],"startsAt":"2026-11-25T09:00:00Z","endsAt":"2026-11-25T12:00:00Z","createdBy":"x"}`)); err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig, rcv.URL), c, db)
	d.Load(ctx)
	if l := d.Silences(); len(l) != 0 {
		t.Fatalf("loaded %+v", l)
	}
	d.Enqueue(checkout, fire(t0))
	d.Step(ctx, t0)
	if rcv.count() != 1 {
		t.Errorf("the page was muted: %d requests", rcv.count())
	}
}

// TestClockStepBackKeepsOrder: a nines restarted with its clock set back
// (an hour ahead before, corrected since) still makes outbox IDs after the
// stored ones, so a group's newer notification replaces the older one
// waiting and the receiver never hears "firing" after "resolved".
func TestClockStepBackKeepsOrder(t *testing.T) {
	db := openStore(t, t.TempDir())
	defer db.Close()
	rcv := newReceiver(t, 503)
	ctx := context.Background()
	ahead := t0.Add(time.Hour)
	d := newDispatcher(t, config(t, hookConfig, rcv.URL), &clock{t: ahead}, db)
	d.Enqueue(checkout, fire(ahead))
	d.Step(ctx, ahead) // 503: the firing notification waits to retry

	c := &clock{t: t0}
	d2 := newDispatcher(t, config(t, hookConfig, rcv.URL), c, db)
	if err := d2.Load(ctx); err != nil {
		t.Fatal(err)
	}
	d2.Enqueue(checkout, resolve(t0, ahead))
	for at := t0; at.Before(t0.Add(10 * time.Minute)); at = at.Add(time.Minute) {
		d2.Step(ctx, at)
	}
	v := d2.Outbox()
	if v.Pending != 1 || v.Entries[0].Status != "resolved" {
		t.Errorf("outbox %+v; want only the resolve waiting", v)
	}
}

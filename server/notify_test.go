package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/notify"
)

// notifyFixture is a server whose engine tells a dispatcher of its
// alerts, and a webhook receiver the dispatcher delivers to.
type notifyFixture struct {
	*fixture
	d      *notify.Dispatcher
	mu     sync.Mutex
	bodies []notify.WebhookMessage
}

func newNotifyFixture(t *testing.T, token string) *notifyFixture {
	t.Helper()
	ctx := context.Background()
	nf := &notifyFixture{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m notify.WebhookMessage
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("webhook body %s: %v", b, err)
		}
		nf.mu.Lock()
		nf.bodies = append(nf.bodies, m)
		nf.mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	cfg, err := notify.ParseConfig("notify.yaml", []byte(`
external_url: http://nines.test
receivers: [{name: hook, webhook: {url: "`+hook.URL+`"}}]
route: {receiver: hook, group_wait: 0s}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	db, c := newStore(t)
	nf.d = notify.New(cfg, notify.Options{State: db, Now: c.Now})
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: c.Now, OnTransition: nf.d.Enqueue})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := eng.Load(ctx, map[string][]byte{"checkout.yaml": []byte(testSpec)}); err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{SLOs: eng, Writes: eng, Annotations: db, Size: db, Incidents: incidentsOn(t, eng, db), Token: token, Notify: nf.d})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	nf.fixture = &fixture{t: t, srv: srv, clock: c, eng: eng, db: db}
	return nf
}

func (nf *notifyFixture) received() []notify.WebhookMessage {
	nf.mu.Lock()
	defer nf.mu.Unlock()
	return append([]notify.WebhookMessage(nil), nf.bodies...)
}

// TestAlertReachesWebhookUnlessSilenced: a burn that pages reaches the
// webhook through the engine and the dispatcher; a silence made over the
// API keeps the next one away, and shows in the API and /metrics.
func TestAlertReachesWebhookUnlessSilenced(t *testing.T) {
	f := newNotifyFixture(t, "tok")
	auth := map[string]string{"Authorization": "Bearer tok"}
	ctx := context.Background()
	var sil notify.SilenceView
	f.do("POST", "/api/v1/silences", `{"matchers": ["slo=checkout-transactions"], "duration": "2h", "createdBy": "ana", "comment": "no traffic yet"}`, auth, 200, &sil)
	if sil.ID == "" || sil.Status != "active" || !sil.EndsAt.Equal(f.clock.Now().Add(2*time.Hour)) {
		t.Fatalf("silence %+v", sil)
	}
	f.do("POST", "/api/v1/silences", `{"matchers": ["slo=x"], "duration": "1h", "createdBy": "ana"}`, nil, 401, nil)

	// checkout-transactions saw one minute of traffic at 09:49 and nothing
	// since: by 10:01 its no-data ticket is due.
	start := f.clock.Now()
	f.clock.Set(time.Date(2026, 11, 25, 9, 50, 10, 0, time.UTC))
	f.do("POST", "/api/v1/events?slo=checkout-transactions", minuteOfEvents(time.Date(2026, 11, 25, 9, 49, 0, 0, time.UTC), 10, 0, 0), auth, 200, nil)
	f.clock.Set(start)
	bad := time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)
	f.do("POST", "/api/v1/events?slo=checkout-availability", minuteOfEvents(bad, 100, 50, 0), auth, 200, nil)
	now := bad.Add(2*time.Minute + 30*time.Second)
	f.clock.Set(now)
	f.eng.Tick(now)
	f.d.Step(ctx, now)
	got := f.received()
	if len(got) != 1 || got[0].Alerts[0].Labels["slo"] != "checkout-availability" || got[0].Alerts[0].Labels["severity"] != "page" ||
		got[0].Alerts[0].GeneratorURL != "http://nines.test/api/v1/slos/checkout-availability" {
		t.Fatalf("webhook got %+v; want only the checkout-availability page (checkout-transactions' no-data ticket is silenced)", got)
	}
	var list struct{ Silences []notify.SilenceView }
	f.do("GET", "/api/v1/silences", "", nil, 200, &list)
	if len(list.Silences) != 1 || list.Silences[0].Comment != "no traffic yet" {
		t.Fatalf("silences %+v", list)
	}
	var out notify.OutboxView
	f.do("GET", "/api/v1/notifications", "", nil, 200, &out)
	if out.Pending != 0 || len(out.Groups) != 2 {
		t.Fatalf("notifications %+v", out)
	}
	m := f.do("GET", "/metrics", "", nil, 200, nil)
	for _, want := range []string{`nines_notifications_sent_total{receiver="hook",kind="firing"} 1`, "nines_notifications_silenced_total 1", "nines_silences_active 1"} {
		if !strings.Contains(m, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	f.do("DELETE", "/api/v1/silences/"+sil.ID, "", nil, 401, nil)
	f.do("DELETE", "/api/v1/silences/"+sil.ID, "", auth, 200, &sil)
	if sil.Status != "expired" {
		t.Errorf("after DELETE: %+v", sil)
	}
	f.do("DELETE", "/api/v1/silences/nope", "", auth, 404, nil)
	f.clock.Set(now.Add(5 * time.Minute))
	f.d.Step(ctx, now.Add(5*time.Minute))
	if got := f.received(); len(got) != 2 || got[1].Alerts[0].Labels["alert"] != "no-data" {
		t.Errorf("after the silence expired: %+v", got)
	}
}

func TestSilenceBadRequests(t *testing.T) {
	f := newNotifyFixture(t, "")
	for _, c := range []struct{ body, want string }{
		{`{"matchers": ["slo"], "duration": "1h", "createdBy": "a"}`, "want name=value"},
		{`{"matchers": ["slo=a"], "createdBy": "a"}`, "no end"},
		{`{"matchers": ["slo=a"], "duration": "soon", "createdBy": "a"}`, `duration \"soon\"`},
		{`{"matchers": ["slo=a"], "duration": "1h", "endsAt": "2027-01-01T00:00:00Z", "createdBy": "a"}`, "not both"},
		{`{"matchers": [], "duration": "1h", "createdBy": "a"}`, "no matchers"},
		{`{"matchers": [{"name": "slo", "op": "=~", "value": "("}], "duration": "1h", "createdBy": "a"}`, "missing closing )"},
		{`{"matchers": ["slo=a"], "duration": "1h"}`, "createdBy is empty"},
		{`{"matchers": ["slo=a"], "duration": "1h", "createdBy": "a", "colour": "red"}`, "unknown field"},
		{`not json`, "silence:"},
	} {
		if body := f.do("POST", "/api/v1/silences", c.body, nil, 400, nil); !strings.Contains(body, c.want) {
			t.Errorf("%s: %s, want %q", c.body, body, c.want)
		}
	}
}

func TestNotifyEndpointsWithoutNotifier(t *testing.T) {
	f := newFixture(t, "")
	f.do("GET", "/api/v1/silences", "", nil, 404, nil)
	f.do("GET", "/api/v1/notifications", "", nil, 404, nil)
	if m := f.do("GET", "/metrics", "", nil, 200, nil); strings.Contains(m, "nines_notifications") {
		t.Error("notification metrics without a notifier")
	}
}

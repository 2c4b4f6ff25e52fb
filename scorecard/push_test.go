package scorecard

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/notify/smtptest"
	"github.com/nines-sre/nines/store"
	"github.com/nines-sre/nines/store/sqlite"
)

// hookSink records the Alertmanager webhooks it receives.
type hookSink struct {
	*httptest.Server
	mu   sync.Mutex
	msgs []notify.WebhookMessage
}

func newHookSink(t *testing.T) *hookSink {
	h := &hookSink{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m notify.WebhookMessage
		if err := json.Unmarshal(b, &m); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		h.mu.Lock()
		h.msgs = append(h.msgs, m)
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookSink) received() []notify.WebhookMessage {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]notify.WebhookMessage(nil), h.msgs...)
}

func TestPushGoesOnlyWhereTheRuleSaysToTheRightOwner(t *testing.T) {
	ctx := context.Background()
	relay := smtptest.Start(t, smtptest.Options{})
	hook := newHookSink(t)
	cfg, err := notify.ParseConfig("notify.yaml", []byte(`
receivers:
  - {name: log, log: {}}
  - name: payments-mail
    email: {smarthost: "`+relay.Addr+`", from: nines@example.com, to: payments@example.com}
  - name: storage-hook
    webhook: {url: "`+hook.URL+`/scorecards"}
route:
  receiver: log
  routes:
    - matchers: [kind=scorecard]
      routes:
        - {matchers: [owner=payments], receiver: payments-mail}
        - {matchers: [owner=storage], receiver: storage-hook}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := notify.New(cfg, notify.Options{})
	cal := DefaultCalendar()
	week, _ := cal.Parse("2026-W48")
	services := []Service{
		// Missed the goal and worse: red, to payments only.
		{Name: "checkout", Owners: []string{"payments"}, Goal: 0.999, SLOs: []string{"x"}},
		// Met the goal, no worse: nothing to send.
		{Name: "cart", Owners: []string{"payments"}, Goal: 0.99, SLOs: []string{"x"}},
		// Met the goal but worse than the 21 days before: to storage.
		{Name: "db", Owners: []string{"storage"}, Goal: 0.999, SLOs: []string{"x"}},
		// Red, but its owner has no route but the log.
		{Name: "fraud", Owners: []string{"risk"}, Goal: 0.999, SLOs: []string{"x"}},
	}
	src := fixedSource{
		"checkout": {c(999, 1000), c(999, 1000), c(999, 1000), c(990, 1000)},
		"cart":     {c(995, 1000), c(995, 1000), c(995, 1000), c(995, 1000)},
		"db":       {c(10000, 10000), c(10000, 10000), c(10000, 10000), c(9995, 10000)},
		"fraud":    {c(900, 1000), c(900, 1000), c(900, 1000), c(900, 1000)},
	}
	sc := Scorer{Calendar: cal, SLOs: src}
	cards, err := sc.Cards(ctx, services, week)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Plan(ctx, cards, week, cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, p := range plan {
		lines = append(lines, p.Service+" "+p.Owner+" "+strings.Join(p.Receivers, ",")+" "+p.Skip)
	}
	want := []string{"checkout payments payments-mail ", "cart   nothing changed: green, no worse than the 21 days before", "db storage storage-hook ", "fraud risk log "}
	if strings.Join(lines, "|") != strings.Join(want, "|") {
		t.Fatalf("plan:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if len(relay.Messages())+len(hook.received()) != 0 {
		t.Fatal("planning sent something")
	}
	if err := Push(ctx, plan, d, db); err != nil {
		t.Fatal(err)
	}
	mails, hooks := relay.Messages(), hook.received()
	if len(mails) != 1 || mails[0].To[0] != "payments@example.com" || mails[0].Subject != "Scorecard 2026-W48: checkout is red" ||
		!strings.Contains(mails[0].Text, "99.000 % of 1000 calls succeeded, against a goal of 99.900 %") ||
		!strings.Contains(mails[0].Text, "Sent because: missed the goal; worse than the 21 days before") {
		t.Errorf("mails %+v", mails)
	}
	if len(hooks) != 1 || hooks[0].CommonLabels["service"] != "db" || hooks[0].CommonLabels["owner"] != "storage" ||
		hooks[0].CommonLabels["kind"] != "scorecard" || hooks[0].CommonLabels["colour"] != "green" {
		t.Errorf("hooks %+v", hooks)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// After a restart, the same week is not sent again; the next one is.
	db, err = sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	again, err := Plan(ctx, cards, week, cfg, db)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range again {
		if p.Skip == "" {
			t.Errorf("%s to %s planned again after it was sent", p.Service, p.Owner)
		}
	}
	if err := Push(ctx, again, d, db); err != nil || len(relay.Messages()) != 1 || len(hook.received()) != 1 {
		t.Errorf("a second push sent more: %v", err)
	}
	next := cal.Next(week)
	src["checkout"] = append(src["checkout"], c(980, 1000))
	nextCards, err := sc.Cards(ctx, services[:1], next)
	if err != nil {
		t.Fatal(err)
	}
	plan, err = Plan(ctx, nextCards, next, cfg, db)
	if err != nil || len(plan) != 1 || plan[0].Skip != "" {
		t.Fatalf("next week: %+v %v", plan, err)
	}
	if err := Push(ctx, plan, d, db); err != nil || len(relay.Messages()) != 2 {
		t.Errorf("next week's push: %v, %d mails", err, len(relay.Messages()))
	}
}

func TestAFailedDeliveryIsNotRemembered(t *testing.T) {
	ctx := context.Background()
	cfg, err := notify.ParseConfig("notify.yaml", []byte(`
timeout: 1s
receivers: [{name: mail, email: {smarthost: "127.0.0.1:1", from: a@example.com, to: b@example.com}}]
route: {receiver: mail}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	week, _ := DefaultCalendar().Parse("2026-W48")
	cards, _ := (&Scorer{Calendar: DefaultCalendar(), SLOs: fixedSource{"a": {c(1, 2)}}}).Cards(ctx,
		[]Service{{Name: "a", Owners: []string{"o"}, Goal: 0.9, SLOs: []string{"x"}}}, week)
	mem := mapMemory{}
	plan, err := Plan(ctx, cards, week, cfg, mem)
	if err != nil {
		t.Fatal(err)
	}
	err = Push(ctx, plan, notify.New(cfg, notify.Options{Now: func() time.Time { return week.End }}), mem)
	if err == nil || plan[0].Sent || plan[0].Error == "" || len(mem) != 0 {
		t.Errorf("error %v, plan %+v, memory %v", err, plan[0], mem)
	}
}

type mapMemory map[string][]byte

func (m mapMemory) GetState(_ context.Context, key string) ([]byte, error) {
	if v, ok := m[key]; ok {
		return v, nil
	}
	return nil, storeNotFound
}

func (m mapMemory) PutState(_ context.Context, key string, value []byte) error {
	m[key] = value
	return nil
}

var storeNotFound = store.ErrNotFound

// countingDeliverer records what it is asked to deliver.
type countingDeliverer []*notify.Notification

func (c *countingDeliverer) Deliver(_ context.Context, n *notify.Notification) error {
	*c = append(*c, n)
	return nil
}

func TestPusherSendsEachWeekOnce(t *testing.T) {
	cal := DefaultCalendar()
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) // Tuesday of 2026-W49
	cfg, err := notify.ParseConfig("notify.yaml", []byte("receivers: [{name: log, log: {}}]\nroute: {receiver: log}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	var d countingDeliverer
	mem := mapMemory{}
	p := &Pusher{
		Board: &Board{Scorer: Scorer{Calendar: cal, SLOs: fixedSource{"a": {c(9, 10)}}}, Now: func() time.Time { return now },
			Services: func() []Service {
				return []Service{{Name: "a", Owners: []string{"o"}, Goal: 0.99, SLOs: []string{"x"}}}
			}},
		Router: func() Router { return cfg }, Deliverer: &d, Memory: mem, Logger: slog.New(slog.DiscardHandler)}
	for range 3 {
		if _, err := p.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(d) != 1 || d[0].Alerts[0].Labels["week"] != "2026-W48" {
		t.Fatalf("%d deliveries", len(d))
	}
	now = now.AddDate(0, 0, 7)
	if _, err := p.Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(d) != 2 || d[1].Alerts[0].Labels["week"] != "2026-W49" {
		t.Errorf("%d deliveries after a week", len(d))
	}
}

package notify

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/nines-sre/nines/slo"
)

const webhookConfig = `
external_url: http://nines.example.com:9797
receivers:
  - name: hook
    webhook: {url: "%URL%/hook", headers: {Authorization: Bearer s3cret}}
route:
  receiver: hook
  group_by: [service]
  group_wait: 10s
  group_interval: 1m
`

// TestWebhookV4 checks the webhook payload field by field against
// Alertmanager's documented version 4 shape, through fire and resolve.
func TestWebhookV4(t *testing.T) {
	rcv := newReceiver(t)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, webhookConfig, rcv.URL), c, nil)
	ctx := context.Background()

	d.Enqueue(checkout, fire(t0))
	d.Step(ctx, t0)
	if rcv.count() != 0 {
		t.Fatal("sent before group_wait")
	}
	d.Enqueue(cart, fire(t0.Add(5*time.Second)))
	d.Step(ctx, t0.Add(5*time.Second))
	d.Step(ctx, t0.Add(10*time.Second))
	if rcv.count() != 1 {
		t.Fatalf("%d requests after group_wait, want 1 for both alerts", rcv.count())
	}
	var m WebhookMessage
	rcv.body(t, 0, &m)
	if m.Version != "4" || m.Status != "firing" || m.Receiver != "hook" || m.TruncatedAlerts != 0 ||
		m.ExternalURL != "http://nines.example.com:9797" || m.GroupLabels["service"] != "checkout" || len(m.GroupLabels) != 1 ||
		!strings.Contains(m.GroupKey, `service="checkout"`) {
		t.Errorf("message: %+v", m)
	}
	if rcv.paths[0] != "/hook" || rcv.headers[0].Get("Authorization") != "Bearer s3cret" || rcv.headers[0].Get("Content-Type") != "application/json" {
		t.Errorf("request: %s %v", rcv.paths[0], rcv.headers[0])
	}
	if m.CommonLabels["service"] != "checkout" || m.CommonLabels["team"] != "payments" || m.CommonLabels["slo"] != "" {
		t.Errorf("commonLabels %v", m.CommonLabels)
	}
	if len(m.Alerts) != 2 {
		t.Fatalf("%d alerts", len(m.Alerts))
	}
	a := m.Alerts[1] // sorted by fingerprint; find checkout's
	if a.Labels["slo"] != "checkout-availability" {
		a = m.Alerts[0]
	}
	want := map[string]string{"slo": "checkout-availability", "service": "checkout", "alert": "page-fast", "severity": "page",
		"owner": "team-shop", "team": "payments", "tier": "1", "k8s_io_zone": "eu"}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, a.Labels[k], v)
		}
	}
	if len(a.Labels) != len(want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	if a.Status != "firing" || !a.StartsAt.Equal(t0) || !a.EndsAt.IsZero() || a.Fingerprint != Fingerprint(a.Labels) ||
		a.GeneratorURL != "http://nines.example.com:9797/api/v1/slos/checkout-availability" {
		t.Errorf("alert %+v", a)
	}
	for k, v := range map[string]string{"summary": "checkout-availability: page-fast firing", "description": fire(t0).Reason,
		"burn_rate_1h": "16.7", "burn_rate_5m": "200", "burn_rate_threshold": "14.4", "budget_remaining": "80.0%",
		"time_to_exhaustion": "1d12h", "slo_description": "Checkout answers"} {
		if a.Annotations[k] != v {
			t.Errorf("annotation %s=%q, want %q", k, a.Annotations[k], v)
		}
	}
	var raw map[string]any
	rcv.body(t, 0, &raw)
	if ends := raw["alerts"].([]any)[0].(map[string]any)["endsAt"]; ends != "0001-01-01T00:00:00Z" {
		t.Errorf("firing endsAt %v, want Alertmanager's zero time", ends)
	}

	// No change, no message before repeat_interval.
	d.Step(ctx, t0.Add(70*time.Second))
	if rcv.count() != 1 {
		t.Fatalf("%d requests without a change", rcv.count())
	}
	d.Enqueue(checkout, resolve(t0.Add(2*time.Minute), t0))
	d.Step(ctx, t0.Add(2*time.Minute))
	d.Step(ctx, t0.Add(2*time.Minute+10*time.Second))
	if rcv.count() != 2 {
		t.Fatalf("%d requests after the resolve, want 2", rcv.count())
	}
	rcv.body(t, 1, &m)
	if m.Status != "firing" || len(m.Alerts) != 2 {
		t.Fatalf("after one resolve: %s with %d alerts", m.Status, len(m.Alerts))
	}
	for _, a := range m.Alerts {
		if a.Labels["slo"] == "checkout-availability" && (a.Status != "resolved" || !a.EndsAt.Equal(t0.Add(2*time.Minute))) {
			t.Errorf("resolved alert %+v", a)
		}
	}
	d.Enqueue(cart, resolve(t0.Add(3*time.Minute), t0.Add(5*time.Second)))
	d.Step(ctx, t0.Add(4*time.Minute))
	rcv.body(t, 2, &m)
	if m.Status != "resolved" || len(m.Alerts) != 1 || m.Alerts[0].Labels["slo"] != "cart-latency" {
		t.Errorf("last message %s %+v", m.Status, m.Alerts)
	}
	if v := d.Outbox(); len(v.Groups) != 0 || v.Pending != 0 {
		t.Errorf("group or outbox left: %+v", v)
	}
	if got := metric(d, `nines_notifications_sent_total{receiver="hook",kind="resolved"}`); got != "1" {
		t.Errorf("sent resolved %q", got)
	}
}

const pagerDutyConfig = `
external_url: http://nines:9797
receivers:
  - name: pd
    pagerduty: {url: "%URL%/v2/enqueue", routing_key: 0123456789abcdef0123456789abcdef}
route:
  receiver: pd
  group_wait: 0s
`

// TestPagerDutyEvents checks the Events API v2 trigger and resolve: the
// same dedup_key, the documented severities, a summary within 1,024
// characters.
func TestPagerDutyEvents(t *testing.T) {
	rcv := newReceiver(t, 202)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, pagerDutyConfig, rcv.URL), c, nil)
	ctx := context.Background()
	tr := fire(t0)
	tr.Reason = strings.Repeat("é", 2000)
	d.Enqueue(checkout, tr)
	d.Step(ctx, t0)
	var ev PagerDutyEvent
	rcv.body(t, 0, &ev)
	if ev.RoutingKey != "0123456789abcdef0123456789abcdef" || ev.EventAction != "trigger" || len(ev.DedupKey) == 0 || ev.Payload == nil {
		t.Fatalf("trigger %+v", ev)
	}
	p := ev.Payload
	if p.Severity != "critical" || p.Source != "checkout" || p.Component != "checkout-availability" || p.Group != "checkout" ||
		p.Class != "page-fast" || !p.Timestamp.Equal(t0) || p.CustomDetails["budget_remaining"] != "80.0%" {
		t.Errorf("payload %+v", p)
	}
	if n := utf8.RuneCountInString(p.Summary); n > 1024 || !utf8.ValidString(p.Summary) || !strings.HasSuffix(p.Summary, "…") {
		t.Errorf("summary of %d characters, valid %v", n, utf8.ValidString(p.Summary))
	}
	if len(ev.Links) != 1 || ev.Links[0].Href != "http://nines:9797/api/v1/slos/checkout-availability" || ev.Client != "nines" {
		t.Errorf("links %+v client %q", ev.Links, ev.Client)
	}
	if rcv.paths[0] != "/v2/enqueue" {
		t.Errorf("path %s", rcv.paths[0])
	}
	ticket := fire(t0)
	ticket.Alert, ticket.Severity = "ticket-slow", "ticket"
	d.Enqueue(checkout, ticket)
	d.Enqueue(checkout, resolve(t0.Add(time.Minute), t0))
	d.Step(ctx, t0.Add(6*time.Minute))
	if rcv.count() != 3 {
		t.Fatalf("%d events, want trigger, trigger, resolve", rcv.count())
	}
	var ev2, ev3 PagerDutyEvent
	rcv.body(t, 1, &ev2)
	rcv.body(t, 2, &ev3)
	if ev2.EventAction == "resolve" {
		ev2, ev3 = ev3, ev2
	}
	if ev3.EventAction != "resolve" || ev3.DedupKey != ev.DedupKey || ev3.Payload != nil || ev3.RoutingKey != ev.RoutingKey {
		t.Errorf("resolve %+v, trigger dedup %s", ev3, ev.DedupKey)
	}
	if ev2.Payload == nil || ev2.Payload.Severity != "warning" || ev2.DedupKey == ev.DedupKey {
		t.Errorf("ticket %+v", ev2)
	}
}

// TestSlackMessage checks an incoming-webhook message: fallback text,
// header and section blocks within Block Kit's limits, the channel.
func TestSlackMessage(t *testing.T) {
	rcv := newReceiver(t)
	c := &clock{t: t0}
	cfg := config(t, `
receivers:
  - name: slack
    slack: {webhook_url: "%URL%/services/T/B/X", channel: "#sre"}
route: {receiver: slack, group_wait: 0s, group_by: [service]}
`, rcv.URL)
	d := newDispatcher(t, cfg, c, nil)
	tr := fire(t0)
	tr.Reason = "a <b> & c"
	d.Enqueue(checkout, tr)
	d.Step(context.Background(), t0)
	var m SlackMessage
	rcv.body(t, 0, &m)
	if m.Channel != "#sre" || m.Text != "[FIRING:1] service=checkout" || len(m.Blocks) != 2 ||
		m.Blocks[0].Type != "header" || m.Blocks[0].Text.Type != "plain_text" || m.Blocks[1].Text.Type != "mrkdwn" {
		t.Fatalf("message %+v", m)
	}
	if s := m.Blocks[1].Text.Text; !strings.Contains(s, "a &lt;b&gt; &amp; c") || !strings.Contains(s, "budget remaining: 80.0%") {
		t.Errorf("section %q", s)
	}
	d.Enqueue(checkout, resolve(t0.Add(time.Minute), t0))
	d.Step(context.Background(), t0.Add(6*time.Minute))
	rcv.body(t, 1, &m)
	if m.Text != "[RESOLVED] service=checkout" {
		t.Errorf("resolve text %q", m.Text)
	}

	many := &Notification{Receiver: "slack"}
	for range 80 {
		many.Alerts = append(many.Alerts, FromTransition(checkout, fire(t0), ""))
	}
	sm := slackMessage(&Receiver{}, many)
	if len(sm.Blocks) != slackBlocksMax || !strings.Contains(sm.Blocks[len(sm.Blocks)-1].Text.Text, "and 32 more") {
		t.Errorf("%d blocks, last %q", len(sm.Blocks), sm.Blocks[len(sm.Blocks)-1].Text.Text)
	}
}

// TestAlertmanagerPush checks API v2 postable alerts: firing ones carry
// an endsAt ahead and are pushed again every minute, resolved ones their
// real end.
func TestAlertmanagerPush(t *testing.T) {
	rcv := newReceiver(t)
	c := &clock{t: t0}
	cfg := config(t, `
external_url: http://nines:9797
receivers:
  - name: am
    alertmanager: {url: "%URL%/"}
route: {receiver: am, group_wait: 0s, group_interval: 5m, repeat_interval: 4h}
`, rcv.URL)
	d := newDispatcher(t, cfg, c, nil)
	ctx := context.Background()
	d.Enqueue(checkout, fire(t0))
	d.Step(ctx, t0)
	var alerts []PostableAlert
	rcv.body(t, 0, &alerts)
	if rcv.paths[0] != "/api/v2/alerts" || len(alerts) != 1 {
		t.Fatalf("%s %+v", rcv.paths[0], alerts)
	}
	a := alerts[0]
	if a.Labels["slo"] != "checkout-availability" || !a.StartsAt.Equal(t0) || !a.EndsAt.Equal(t0.Add(4*time.Minute)) ||
		a.GeneratorURL != "http://nines:9797/api/v1/slos/checkout-availability" || a.Annotations["summary"] == "" {
		t.Errorf("alert %+v", a)
	}
	d.Step(ctx, t0.Add(30*time.Second))
	d.Step(ctx, t0.Add(time.Minute))
	if rcv.count() != 2 {
		t.Fatalf("%d pushes after a minute, want 2 (Alertmanager needs resends)", rcv.count())
	}
	d.Enqueue(checkout, resolve(t0.Add(90*time.Second), t0))
	d.Step(ctx, t0.Add(2*time.Minute))
	rcv.body(t, 2, &alerts)
	if !alerts[0].EndsAt.Equal(t0.Add(90 * time.Second)) {
		t.Errorf("resolved endsAt %v", alerts[0].EndsAt)
	}
}

func TestFingerprintMatchesAlertmanager(t *testing.T) {
	// Alertmanager's model.LabelSet{"alertname": "x"}.Fingerprint().
	if got := Fingerprint(map[string]string{}); got != "cbf29ce484222325" {
		t.Errorf("empty label set: %s (FNV-1a offset basis)", got)
	}
	a := Fingerprint(map[string]string{"a": "b", "c": "d"})
	b := Fingerprint(map[string]string{"c": "d", "a": "b"})
	c := Fingerprint(map[string]string{"a": "bc", "": "d"})
	if a != b || a == c {
		t.Errorf("order-independent and separator-safe: %s %s %s", a, b, c)
	}
}

// TestWebhookShapeMatchesAlertmanager compares the JSON keys nines'
// webhook notifier writes with those of a payload a real Alertmanager
// 0.25 delivered (captured by e2e/alertmanager_test.go): a receiver
// written for Alertmanager reads nines' webhooks unchanged.
func TestWebhookShapeMatchesAlertmanager(t *testing.T) {
	realPayload, err := os.ReadFile("testdata/alertmanager-webhook-v4.json")
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]any
	if err := json.Unmarshal(realPayload, &want); err != nil {
		t.Fatal(err)
	}
	n := &Notification{Receiver: "nines-test", GroupKey: "k", GroupLabels: map[string]string{"slo": "checkout-availability"},
		Alerts: []Alert{FromTransition(checkout, fire(t0), "http://nines:9797")}}
	reqs, err := Render(&Receiver{Name: "nines-test", Kind: KindWebhook, URL: "http://x"}, n, "http://nines:9797", t0)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(reqs[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	if g, w := shape(got), shape(want); g != w {
		t.Errorf("shape\n got %s\nwant %s", g, w)
	}
	if ga, wa := got["alerts"].([]any)[0].(map[string]any), want["alerts"].([]any)[0].(map[string]any); ga["endsAt"] != wa["endsAt"] {
		t.Errorf("firing endsAt %v, Alertmanager writes %v", ga["endsAt"], wa["endsAt"])
	}
}

// shape lists the keys of a JSON document with their types, not the
// keys of label and annotation maps, whose contents vary.
func shape(v any) string {
	switch x := v.(type) {
	case map[string]any:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			switch k {
			case "labels", "annotations", "groupLabels", "commonLabels", "commonAnnotations":
				parts = append(parts, k+":map")
			default:
				parts = append(parts, k+":"+shape(x[k]))
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	case []any:
		if len(x) == 0 {
			return "[]"
		}
		return "[" + shape(x[0]) + "]"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "bool"
	}
	return "null"
}

// TestLabelsOfCollidingKeysAreStable: SLO label keys that sanitize to the
// same name give the same labels (and fingerprint) on every transition,
// the key already valid winning; otherwise fire and resolve could be
// two alerts, and the firing one never resolve.
func TestLabelsOfCollidingKeysAreStable(t *testing.T) {
	s := &slo.SLO{Name: "x", Labels: map[string]string{"a.b": "dot", "a_b": "exact", "a-b": "dash", "c.d": "1", "c-d": "2"}}
	first := FromTransition(s, fire(t0), "")
	if first.Labels["a_b"] != "exact" {
		t.Errorf("a_b=%q, want the label given under that very name", first.Labels["a_b"])
	}
	for range 100 {
		if a := FromTransition(s, fire(t0), ""); a.Fingerprint != first.Fingerprint {
			t.Fatalf("labels %v, then %v", first.Labels, a.Labels)
		}
	}
}

// TestSlackTextIsEscaped: a label value that is Slack markup (a channel
// ping, a link) reaches Slack as text in every field Slack reads as
// markup.
func TestSlackTextIsEscaped(t *testing.T) {
	n := &Notification{GroupLabels: map[string]string{"slo": "<!channel> & <https://evil.example|click>"},
		Alerts: []Alert{{Labels: map[string]string{"slo": "x"}, Annotations: map[string]string{"summary": "<!here>"}}}}
	m := slackMessage(&Receiver{}, n)
	if strings.Contains(m.Text, "<!channel>") || !strings.Contains(m.Text, "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;") {
		t.Errorf("text %q", m.Text)
	}
	for _, b := range m.Blocks {
		if b.Text != nil && b.Text.Type == "mrkdwn" && strings.Contains(b.Text.Text, "<!here>") {
			t.Errorf("block %q", b.Text.Text)
		}
	}
}

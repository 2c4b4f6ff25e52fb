package notify

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
)

const inhibitConfig = hookConfig + `inhibit_rules:
  - source_matchers: [severity="page"]
    target_matchers: [severity="ticket"]
    equal: [slo]
`

// TestPageMutesTicketsOfItsSLO: while checkout pages, its ticket is held
// back, the cart ticket is not; once the page resolves the ticket, still
// firing, is told at the next flush.
func TestPageMutesTicketsOfItsSLO(t *testing.T) {
	rcv := newReceiver(t)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, inhibitConfig, rcv.URL), c, nil)
	ctx := context.Background()
	ticket := func(at time.Time) alert.Transition {
		tr := fire(at)
		tr.Alert, tr.Severity, tr.Factor = "ticket-fast", alert.Ticket, 3
		return tr
	}
	d.Enqueue(checkout, fire(t0))
	d.Enqueue(checkout, ticket(t0))
	d.Enqueue(cart, ticket(t0))
	d.Step(ctx, t0)
	// Groups are per SLO: one request each, in any order.
	told := func(from int) []string {
		var got []string
		for i := from; i < rcv.count(); i++ {
			var msg WebhookMessage
			rcv.body(t, i, &msg)
			for _, a := range msg.Alerts {
				got = append(got, a.Labels["slo"]+"/"+a.Labels["alert"]+"/"+a.Status)
			}
		}
		slices.Sort(got)
		return got
	}
	if got := told(0); strings.Join(got, ",") != "cart-latency/ticket-fast/firing,checkout-availability/page-fast/firing" {
		t.Fatalf("first notifications carry %v; want the page and the other SLO's ticket", got)
	}
	if v := metric(d, "nines_notifications_inhibited_total"); v != "1" {
		t.Errorf("inhibited_total %s", v)
	}
	before := rcv.count()
	d.Enqueue(checkout, resolve(t0.Add(10*time.Minute), t0))
	d.Step(ctx, t0.Add(10*time.Minute))
	if got := told(before); strings.Join(got, ",") != "checkout-availability/page-fast/resolved,checkout-availability/ticket-fast/firing" {
		t.Errorf("after the page resolved: %v", got)
	}
}

func TestInhibitRuleConfigErrors(t *testing.T) {
	_, err := ParseConfig("notify.yaml", []byte(`receivers: [{name: log, log: {}}]
route: {receiver: log}
inhibit_rules:
  - source_matchers: [severity="page"]
  - target_matchers: [severity=~"("]
    source_matchers: [severity="page"]
    equal: ["not a label"]
  - nope
`), nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"notify.yaml:4:5: inhibit_rules[0]: needs source_matchers and target_matchers",
		"inhibit_rules[1].target_matchers[0]",
		`inhibit_rules[1].equal[0]: "not a label" is not a label name`,
		"inhibit_rules[2]",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// TestAnAlertDoesNotInhibitItself: with a rule whose source also matches
// its targets, a lone alert is still told; a second one of the same SLO
// mutes it.
func TestAnAlertDoesNotInhibitItself(t *testing.T) {
	rcv := newReceiver(t)
	c := &clock{t: t0}
	d := newDispatcher(t, config(t, hookConfig+`inhibit_rules:
  - {source_matchers: [alert=~".+"], target_matchers: [severity="ticket"], equal: [slo]}
`, rcv.URL), c, nil)
	ctx := context.Background()
	ticket := fire(t0)
	ticket.Alert, ticket.Severity = "ticket-fast", alert.Ticket
	d.Enqueue(cart, ticket)
	d.Step(ctx, t0)
	if rcv.count() != 1 {
		t.Fatalf("a lone ticket muted itself: %d requests", rcv.count())
	}
	d.Enqueue(checkout, fire(t0))
	d.Enqueue(checkout, ticket)
	d.Step(ctx, t0.Add(time.Second))
	var msg WebhookMessage
	rcv.body(t, rcv.count()-1, &msg)
	if len(msg.Alerts) != 1 || msg.Alerts[0].Labels["alert"] != "page-fast" {
		t.Errorf("checkout's ticket should be muted by its page: %+v", msg.Alerts)
	}
}

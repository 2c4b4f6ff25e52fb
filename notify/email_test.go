package notify

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nines-sre/nines/notify/smtptest"
)

const emailConfig = `
timeout: 2s
max_age: 1h
receivers:
  - name: mail
    email:
      smarthost: %URL%
      from: nines <nines@example.com>
      to: [oncall@example.com, "Shop Team <shop@example.com>"]
      hello: nines.test
route: {receiver: mail, group_wait: 0s, group_interval: 1m, repeat_interval: 1h}
`

func TestEmailReceiver(t *testing.T) {
	ctx := context.Background()
	t.Run("A page is mailed through the outbox to every address, with its summary and labels", func(t *testing.T) {
		relay := smtptest.Start(t, smtptest.Options{})
		c := &clock{t: t0}
		d := newDispatcher(t, config(t, emailConfig, relay.Addr), c, nil)
		d.Enqueue(checkout, fire(t0))
		d.Step(ctx, t0)
		msgs := relay.Messages()
		if len(msgs) != 1 {
			t.Fatalf("%d messages, outbox %+v", len(msgs), d.Outbox())
		}
		m := msgs[0]
		if m.From != "nines@example.com" || strings.Join(m.To, ",") != "oncall@example.com,shop@example.com" {
			t.Errorf("envelope %s → %v", m.From, m.To)
		}
		if m.Subject != "[FIRING:1] slo=checkout-availability" || !strings.Contains(m.Text, "checkout-availability: page-fast firing (firing)") ||
			!strings.Contains(m.Text, "  service = checkout\n") || !strings.Contains(m.Text, "burning 16.7×") {
			t.Errorf("subject %q, text:\n%s", m.Subject, m.Text)
		}
		if v := d.Outbox(); v.Pending != 0 || v.Dead != 0 {
			t.Errorf("outbox after delivery: %+v", v)
		}
	})
	t.Run("A recipient the relay refuses makes a dead letter at once", func(t *testing.T) {
		relay := smtptest.Start(t, smtptest.Options{})
		relay.RejectRcpt["oncall@example.com"] = true
		c := &clock{t: t0}
		d := newDispatcher(t, config(t, emailConfig, relay.Addr), c, nil)
		d.Enqueue(checkout, fire(t0))
		d.Step(ctx, t0)
		v := d.Outbox()
		if v.Dead != 1 || !strings.Contains(v.Entries[0].LastError, "SMTP 550") {
			t.Errorf("outbox %+v", v)
		}
	})
	t.Run("A relay that does not answer is retried", func(t *testing.T) {
		c := &clock{t: t0}
		d := newDispatcher(t, config(t, emailConfig, "127.0.0.1:1"), c, nil)
		d.Enqueue(checkout, fire(t0))
		d.Step(ctx, t0)
		if v := d.Outbox(); v.Pending != 1 || v.Dead != 0 || v.Entries[0].Attempts != 1 {
			t.Errorf("outbox %+v", v)
		}
	})
	t.Run("STARTTLS is used when offered, and the password goes over it", func(t *testing.T) {
		relay := smtptest.Start(t, smtptest.Options{StartTLS: true, User: "nines", Password: "s3cret"})
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "ca.pem"), relay.CAPEM, 0o600)
		os.WriteFile(filepath.Join(dir, "pw"), []byte("s3cret\n"), 0o600)
		text := strings.ReplaceAll(emailConfig, "hello: nines.test", "hello: nines.test\n      auth_username: nines\n      auth_password_file: pw\n      ca_file: ca.pem\n      require_tls: true")
		cfg, err := ParseConfig(filepath.Join(dir, "notify.yaml"), []byte(strings.ReplaceAll(text, "%URL%", relay.Addr)), func(name string) ([]byte, error) {
			return os.ReadFile(filepath.Join(dir, name))
		})
		if err != nil {
			t.Fatal(err)
		}
		d := newDispatcher(t, cfg, &clock{t: t0}, nil)
		n := &Notification{Receiver: "mail", Alerts: []Alert{{Labels: map[string]string{"kind": "report"},
			Annotations: map[string]string{"summary": "weekly", "subject": "Scorecard: ünïcode\r\nBcc: x@example.com"}}}}
		if err := d.Deliver(ctx, n); err != nil {
			t.Fatal(err)
		}
		msgs := relay.Messages()
		if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "nines" {
			t.Fatalf("messages %+v", msgs)
		}
		if msgs[0].Subject != "Scorecard: ünïcode Bcc: x@example.com" || msgs[0].Header.Get("Bcc") != "" {
			t.Errorf("subject %q, Bcc %q", msgs[0].Subject, msgs[0].Header.Get("Bcc"))
		}
	})
	t.Run("require_tls refuses a relay without STARTTLS", func(t *testing.T) {
		relay := smtptest.Start(t, smtptest.Options{})
		cfg := config(t, strings.ReplaceAll(emailConfig, "hello: nines.test", "require_tls: true"), relay.Addr)
		d := newDispatcher(t, cfg, &clock{t: t0}, nil)
		err := d.Deliver(ctx, &Notification{Receiver: "mail", Alerts: []Alert{{Annotations: map[string]string{"summary": "x"}}}})
		if err == nil || !strings.Contains(err.Error(), "no STARTTLS") || len(relay.Messages()) != 0 {
			t.Errorf("error %v, %d messages", err, len(relay.Messages()))
		}
	})
}

func TestEmailConfigErrors(t *testing.T) {
	for _, c := range []struct{ name, text, want string }{
		{"no relay", "receivers: [{name: m, email: {from: a@b.c, to: d@e.f}}]\nroute: {receiver: m}\n", "notify.yaml:1:30: receivers[0].email.smarthost: missing"},
		{"relay without port", "receivers: [{name: m, email: {smarthost: mail, from: a@b.c, to: d@e.f}}]\nroute: {receiver: m}\n", `notify.yaml:1:42: receivers[0].email.smarthost: "mail": want host:port`},
		{"port out of range", "receivers: [{name: m, email: {smarthost: 'mail:99999', from: a@b.c, to: d@e.f}}]\nroute: {receiver: m}\n", "port out of range"},
		{"bad sender", "receivers: [{name: m, email: {smarthost: 'mail:25', from: nobody, to: d@e.f}}]\nroute: {receiver: m}\n", `notify.yaml:1:59: receivers[0].email.from: "nobody"`},
		{"no recipients", "receivers: [{name: m, email: {smarthost: 'mail:25', from: a@b.c, to: []}}]\nroute: {receiver: m}\n", "receivers[0].email.to: empty"},
		{"bad recipient in a list", "receivers: [{name: m, email: {smarthost: 'mail:25', from: a@b.c, to: [d@e.f, 'x y']}}]\nroute: {receiver: m}\n", `receivers[0].email.to[1]: "x y"`},
		{"user without password", "receivers: [{name: m, email: {smarthost: 'mail:25', from: a@b.c, to: d@e.f, auth_username: u}}]\nroute: {receiver: m}\n", "auth_username needs auth_password"},
		{"password without user", "receivers: [{name: m, email: {smarthost: 'mail:25', from: a@b.c, to: d@e.f, auth_password: p}}]\nroute: {receiver: m}\n", "a password needs its user name"},
		{"unknown field", "receivers: [{name: m, email: {smarthost: 'mail:25', from: a@b.c, to: d@e.f, cc: x@y.z}}]\nroute: {receiver: m}\n", "cc"},
		{"CA file that is not PEM", "receivers: [{name: m, email: {smarthost: 'mail:25', from: a@b.c, to: d@e.f, ca_file: notify.yaml}}]\nroute: {receiver: m}\n", "holds no PEM certificate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "notify.yaml"), []byte(c.text), 0o600)
			_, err := LoadConfig(filepath.Join(dir, "notify.yaml"))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}

func TestReceiversForFollowsTheTree(t *testing.T) {
	cfg := config(t, `
receivers: [{name: log, log: {}}, {name: shop, webhook: {url: "http://a/"}}, {name: all, webhook: {url: "http://b/"}}]
route:
  receiver: log
  routes:
    - {matchers: [kind=scorecard], receiver: all, continue: true}
    - {matchers: [owner=shop], receiver: shop}
`, "")
	for _, c := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"kind": "scorecard", "owner": "shop"}, "all,shop"},
		{map[string]string{"kind": "scorecard", "owner": "risk"}, "all"},
		{map[string]string{"owner": "risk"}, "log"},
	} {
		if got := strings.Join(cfg.ReceiversFor(c.labels), ","); got != c.want {
			t.Errorf("%v: %s, want %s", c.labels, got, c.want)
		}
	}
}

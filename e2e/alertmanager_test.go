package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/slo"
)

// needAlertmanager returns the Alertmanager binary,
// /usr/bin/prometheus-alertmanager or $E2E_ALERTMANAGER (see needBinary).
func needAlertmanager(t testing.TB) string {
	t.Helper()
	return needBinary(t, "/usr/bin/prometheus-alertmanager", "E2E_ALERTMANAGER", "prometheus-alertmanager")
}

// startAlertmanager runs Alertmanager with config (an alertmanager.yml
// text), without clustering, on a free port, and waits until it is ready.
func startAlertmanager(t testing.TB, config string) string {
	t.Helper()
	bin := needAlertmanager(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	url := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	p := startProc(t, "alertmanager", exec.Command(bin,
		"--config.file="+cfg,
		"--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+strings.TrimPrefix(url, "http://"),
		"--cluster.listen-address=",
		"--log.level=debug",
	))
	waitFor(t, 30*time.Second, "Alertmanager /-/ready", func() (bool, string) {
		resp, err := client.Get(url + "/-/ready")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	}, p)
	return url
}

// webhookSink records the bodies Alertmanager posts.
type webhookSink struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies = append(s.bodies, b)
	s.mu.Unlock()
}

func (s *webhookSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.bodies)
}

// find returns the first body whose status is status, decoded both ways.
func (s *webhookSink) find(status string) (notify.WebhookMessage, []byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.bodies {
		var m notify.WebhookMessage
		if json.Unmarshal(b, &m) == nil && m.Status == status {
			return m, b, true
		}
	}
	return notify.WebhookMessage{}, nil, false
}

// TestAlertmanagerReceivesNinesAlerts: nines' dispatcher pushes a firing
// and then a resolved alert to a real Alertmanager, which delivers both to
// a webhook receiver in the test. The payload Alertmanager writes must
// decode field for field into notify.WebhookMessage (so nines' own
// webhook notifier has the real shape), carry nines' labels and
// annotations, and Alertmanager's fingerprint must equal nines'.
func TestAlertmanagerReceivesNinesAlerts(t *testing.T) {
	sink := &webhookSink{}
	hook := httptest.NewServer(sink)
	defer hook.Close()
	amURL := startAlertmanager(t, `
route:
  receiver: nines-test
  group_by: [slo]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: nines-test
    webhook_configs:
      - url: `+hook.URL+`/hook
        send_resolved: true
`)
	cfg, err := notify.ParseConfig("notify.yaml", []byte(`
external_url: http://nines.example:9797
receivers:
  - name: am
    alertmanager: {url: "`+amURL+`"}
route: {receiver: am, group_wait: 0s, group_interval: 1s}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := notify.New(cfg, notify.Options{Tick: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	s := &slo.SLO{Name: "checkout-availability", Service: "checkout", Owner: "shop", Labels: map[string]string{"team": "payments"}}
	start := time.Now().UTC().Truncate(time.Second)
	d.Enqueue(s, alert.Transition{Alert: "page-fast", Severity: alert.Page, Kind: alert.Fire, At: start, Since: start,
		Factor: 14.4, Long: time.Hour, Short: 5 * time.Minute, BurnLong: 16.7, BurnShort: 200, BudgetRemaining: 0.8,
		TimeToExhaustion: 36 * time.Hour, Reason: "burning 16.7× the budget over 1h (14.4× pages), 200× over 5m"})

	var firing notify.WebhookMessage
	var raw []byte
	waitFor(t, 30*time.Second, "Alertmanager to deliver the firing alert", func() (bool, string) {
		var ok bool
		firing, raw, ok = sink.find("firing")
		return ok, fmt.Sprintf("%d webhook calls; outbox %+v", sink.count(), d.Outbox())
	})
	// The real payload has no field notify.WebhookMessage lacks.
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var strict notify.WebhookMessage
	if err := dec.Decode(&strict); err != nil {
		t.Errorf("Alertmanager's webhook payload does not fit notify.WebhookMessage: %v\n%s", err, raw)
	}
	if firing.Version != "4" || firing.Receiver != "nines-test" || firing.GroupLabels["slo"] != "checkout-availability" || len(firing.Alerts) != 1 {
		t.Fatalf("firing payload %s", raw)
	}
	a := firing.Alerts[0]
	for k, v := range map[string]string{"slo": "checkout-availability", "service": "checkout", "alert": "page-fast", "severity": "page", "owner": "shop", "team": "payments"} {
		if a.Labels[k] != v {
			t.Errorf("label %s=%q, want %q", k, a.Labels[k], v)
		}
	}
	if a.Fingerprint != notify.Fingerprint(a.Labels) {
		t.Errorf("Alertmanager's fingerprint %s, nines' %s", a.Fingerprint, notify.Fingerprint(a.Labels))
	}
	if !a.StartsAt.Equal(start) || a.GeneratorURL != "http://nines.example:9797/api/v1/slos/checkout-availability" ||
		a.Annotations["budget_remaining"] != "80.0%" || !strings.Contains(a.Annotations["description"], "16.7×") {
		t.Errorf("alert %+v", a)
	}
	if path := os.Getenv("E2E_SAVE_AM_PAYLOAD"); path != "" {
		var pretty bytes.Buffer
		json.Indent(&pretty, raw, "", "  ")
		if err := os.WriteFile(path, append(pretty.Bytes(), '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	d.Enqueue(s, alert.Transition{Alert: "page-fast", Severity: alert.Page, Kind: alert.Resolve, At: time.Now().UTC(), Since: start,
		Reason: "burn back under 14.4× over 1h"})
	waitFor(t, 30*time.Second, "Alertmanager to deliver the resolve", func() (bool, string) {
		_, _, ok := sink.find("resolved")
		return ok, fmt.Sprintf("%d webhook calls; outbox %+v", sink.count(), d.Outbox())
	})
	resolved, raw, _ := sink.find("resolved")
	if r := resolved.Alerts[0]; r.Status != "resolved" || r.Fingerprint != a.Fingerprint || r.EndsAt.IsZero() || r.EndsAt.Before(start) {
		t.Errorf("resolved payload %s", raw)
	}
}

// flakyReceiver answers 503 until healed, then 200, and records the
// bodies it accepted.
type flakyReceiver struct {
	mu       sync.Mutex
	healed   bool
	failed   int
	accepted []notify.WebhookMessage
}

func (f *flakyReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.healed {
		f.failed++
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	var m notify.WebhookMessage
	json.Unmarshal(b, &m)
	f.accepted = append(f.accepted, m)
}

// TestNotifyOutboxSurvivesKill: nines serve pages (a no-data alert) to a
// receiver that answers 503 and to one that never answers; ingestion and
// the API keep working, the failures show in /api/v1/notifications and
// /metrics. nines is killed (SIGKILL), the receiver recovers, and the
// notification still arrives after the restart, from the outbox.
func TestNotifyOutboxSurvivesKill(t *testing.T) {
	flaky := &flakyReceiver{}
	fs := httptest.NewServer(flaky)
	defer fs.Close()
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hang.Close()
	defer close(stop) // before Close, which waits for the handlers
	// quiet never hears anything: its life starts explicitly a minute ago,
	// so the silence since counts.
	since := time.Now().Add(-time.Minute).Truncate(5 * time.Second).UTC().Format(time.RFC3339)
	dir := writeSpecs(t, map[string]string{
		"quiet.yaml": `
name: quiet
service: quiet-svc
sli: {good: {ok: true}}
objective: 99
quantum: 5s
window: {rolling: 1h}
since: ` + since + `
alerting: {noData: {after: 10s, severity: page}}
`,
		"busy.yaml": `
name: busy
service: busy-svc
sli: {good: {ok: true}}
objective: 99
quantum: 5s
window: {rolling: 1h}
alerting: {noData: off}
`})
	notifyFile := filepath.Join(t.TempDir(), "notify.yaml")
	os.WriteFile(notifyFile, []byte(`
timeout: 1s
receivers:
  - {name: flaky, webhook: {url: "`+fs.URL+`/hook"}}
  - {name: hang, webhook: {url: "`+hang.URL+`/hook"}}
route:
  receiver: flaky
  group_wait: 0s
  routes:
    - {matchers: [severity=page], receiver: hang, continue: true}
    - {receiver: flaky}
`), 0o644)
	data := t.TempDir()
	extra := []string{"--notify", notifyFile, "--ingest.max-lag", "1s"}
	n := startNines(t, data, dir, extra...)

	var outbox notify.OutboxView
	waitFor(t, 60*time.Second, "the page to fail at both receivers", func() (bool, string) {
		getJSON(t, n.url+"/api/v1/notifications", &outbox)
		var flakyErr, hangErr bool
		for _, e := range outbox.Entries {
			flakyErr = flakyErr || e.Receiver == "flaky" && strings.Contains(e.LastError, "HTTP 503: down for maintenance")
			hangErr = hangErr || e.Receiver == "hang" && strings.Contains(e.LastError, "no answer within 1s")
		}
		return flakyErr && hangErr, fmt.Sprintf("%+v", outbox)
	}, n.proc)
	if v := n.metric(t, `nines_notifications_failed_total{receiver="flaky",reason="http_5xx"}`); v == "" || v == "0" {
		t.Errorf("/metrics: flaky failures %q", v)
	}
	if v := n.metric(t, `nines_notifications_failed_total{receiver="hang",reason="timeout"}`); v == "" || v == "0" {
		t.Errorf("/metrics: hang timeouts %q", v)
	}
	// The rest of nines does not wait for the notifiers.
	start := time.Now()
	resp, err := client.Post(n.url+"/api/v1/events?slo=busy", "application/x-ndjson",
		strings.NewReader(fmt.Sprintf(`{"time": %q, "ok": true}`+"\n", time.Now().UTC().Format(time.RFC3339))))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("events while notifiers fail: %v %v", err, resp)
	}
	resp.Body.Close()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("an events request took %s while notifiers hang", took)
	}

	n.kill()
	flaky.mu.Lock()
	flaky.healed = true
	flaky.mu.Unlock()
	n = startNines(t, data, dir, extra...)
	waitFor(t, 60*time.Second, "the page to arrive after the restart", func() (bool, string) {
		flaky.mu.Lock()
		defer flaky.mu.Unlock()
		for _, m := range flaky.accepted {
			for _, a := range m.Alerts {
				if a.Labels["slo"] == "quiet" && a.Labels["alert"] == "no-data" && a.Status == "firing" {
					return true, ""
				}
			}
		}
		return false, fmt.Sprintf("%d failed, %d accepted", flaky.failed, len(flaky.accepted))
	}, n.proc)
	waitFor(t, 10*time.Second, "the delivered entry to leave the outbox", func() (bool, string) {
		getJSON(t, n.url+"/api/v1/notifications", &outbox)
		for _, e := range outbox.Entries {
			if e.Receiver == "flaky" {
				return false, fmt.Sprintf("%+v", e)
			}
		}
		return true, ""
	}, n.proc)
}

package server

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/slo"
)

// webhookV4 is an Alertmanager webhook notification (payload version 4)
// as Alertmanager 0.27 sends it, with a page-severity alert for checkout.
const webhookV4 = `{
  "receiver": "nines",
  "status": %q,
  "alerts": [
    {
      "status": %q,
      "labels": {"alertname": "CheckoutErrorBudgetBurn", "service": "checkout", "slo": "checkout-transactions", "severity": "page", "instance": "pay-1"},
      "annotations": {"summary": "checkout is burning its error budget 14x too fast"},
      "startsAt": "2026-11-25T09:55:10.123Z",
      "endsAt": %q,
      "generatorURL": "http://prometheus:9090/graph?g0.expr=slo%%3Aburn_rate",
      "fingerprint": "c0ffee1234567890"
    }
  ],
  "groupLabels": {"alertname": "CheckoutErrorBudgetBurn"},
  "commonLabels": {"alertname": "CheckoutErrorBudgetBurn", "service": "checkout", "slo": "checkout-transactions", "severity": "page", "instance": "pay-1"},
  "commonAnnotations": {"summary": "checkout is burning its error budget 14x too fast"},
  "externalURL": "http://alertmanager:9093",
  "version": "4",
  "groupKey": "{}:{alertname=\"CheckoutErrorBudgetBurn\"}",
  "truncatedAlerts": 0
}`

func webhook(status, endsAt string) string {
	return fmt.Sprintf(webhookV4, status, status, endsAt)
}

// backfillFailures stores 10 minutes of 1,000 events from 09:50, with 100
// failed in each of 09:55, 09:56 and 09:57, for checkout-transactions.
func (f *fixture) backfillFailures() {
	f.t.Helper()
	series := &slo.Series{Quantum: time.Minute}
	start := time.Date(2026, 11, 25, 9, 50, 0, 0, time.UTC)
	for i := range 10 {
		var failed uint64
		if i >= 5 && i < 8 {
			failed = 100
		}
		series.Rollups = append(series.Rollups, slo.Rollup{Start: start.Add(time.Duration(i) * time.Minute).UnixNano(),
			Attempted: 1000, Good: 1000 - failed, Errors: failed, Measured: true})
	}
	if _, err := f.eng.Backfill(context.Background(), "checkout-transactions", series, "test"); err != nil {
		f.t.Fatal(err)
	}
}

type incidentDoc struct {
	ID         int64  `json:"id"`
	Version    int64  `json:"version"`
	Status     string `json:"status"`
	DetectedBy string `json:"detected_by"`
	Detected   time.Time
	Mitigated  time.Time
	Title      string
	Timeline   []struct{ Kind, Text string }
	Burn       []incident.Burn `json:"budget_burned"`
}

// TestAlertmanagerOpensAndMitigates posts a firing and then a resolved
// notification: the first opens an incident detected by monitoring at the
// alert's start, a repeat attaches, the resolution mitigates it, and the
// budget it burned comes from the rollups.
func TestAlertmanagerOpensAndMitigates(t *testing.T) {
	f := newFixture(t, "")
	f.backfillFailures()
	payload := webhook("firing", "0001-01-01T00:00:00Z")
	var opened struct {
		Incident int64  `json:"incident"`
		Status   string `json:"incident_status"`
	}
	f.do("POST", "/api/v1/alertmanager", payload, nil, http.StatusOK, &opened)
	var again struct{ Incident int64 }
	f.do("POST", "/api/v1/alertmanager", payload, nil, http.StatusOK, &again)
	if opened.Incident == 0 || again.Incident != opened.Incident || opened.Status != "open" {
		t.Fatalf("opened %+v, repeat attached to %d", opened, again.Incident)
	}
	f.do("POST", "/api/v1/alertmanager", webhook("resolved", "2026-11-25T09:58:00Z"), nil, http.StatusOK, nil)
	var inc incidentDoc
	f.do("GET", fmt.Sprintf("/api/v1/incidents/%d", opened.Incident), "", nil, http.StatusOK, &inc)
	if inc.DetectedBy != "monitoring" || !inc.Detected.Equal(time.Date(2026, 11, 25, 9, 55, 10, 123e6, time.UTC)) ||
		inc.Status != "mitigated" || !inc.Mitigated.Equal(time.Date(2026, 11, 25, 9, 58, 0, 0, time.UTC)) {
		t.Fatalf("incident %+v", inc)
	}
	if inc.Title != "checkout is burning its error budget 14x too fast" || len(inc.Timeline) != 3 {
		t.Errorf("title %q, timeline %+v", inc.Title, inc.Timeline)
	}
	// Without an impact start the burn runs from detection (09:55:10,
	// aligned to 09:55) to mitigation: 3 minutes of 100 failures.
	if len(inc.Burn) != 1 || inc.Burn[0].SLO != "checkout-transactions" || inc.Burn[0].Spent != 300 || inc.Burn[0].Unit != "events" {
		t.Fatalf("budget burned %+v", inc.Burn)
	}
	// The day's budget as known now is 0.1 % of the 10,000 events so far.
	if math.Abs(inc.Burn[0].Share-30) > 1e-9 || inc.Burn[0].Total != 10 {
		t.Errorf("share %v of %v, want 30 (300 of a 10-event budget)", inc.Burn[0].Share, inc.Burn[0].Total)
	}
	// A resolved group with nothing open is acknowledged and ignored.
	var ignored struct{ Incident *int64 }
	f.do("POST", "/api/v1/alertmanager", strings.Replace(webhook("resolved", "2026-11-25T09:58:00Z"), `alertname=\"CheckoutErrorBudgetBurn\"`, `x`, 1), nil, http.StatusOK, &ignored)
	var list struct{ Incidents []incidentDoc }
	f.do("GET", "/api/v1/incidents", "", nil, http.StatusOK, &list)
	if ignored.Incident != nil || len(list.Incidents) != 1 {
		t.Errorf("a resolved group without an incident answered incident %v; %d incidents stored, want 1", ignored.Incident, len(list.Incidents))
	}
}

func TestAlertmanagerBadPayloads(t *testing.T) {
	f := newFixture(t, "")
	for _, c := range []struct{ name, body, says string }{
		{"not JSON", "{", "alertmanager webhook"},
		{"version 3", strings.Replace(webhook("firing", "0001-01-01T00:00:00Z"), `"version": "4"`, `"version": "3"`, 1), `version "3"`},
		{"no service", strings.ReplaceAll(webhook("firing", "0001-01-01T00:00:00Z"), `"service": "checkout", `, ""), "no alert has a service label"},
		{"unknown service", strings.ReplaceAll(webhook("firing", "0001-01-01T00:00:00Z"), `"service": "checkout"`, `"service": "payments"`), `unknown service "payments"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			var e struct{ Error struct{ Message string } }
			f.do("POST", "/api/v1/alertmanager", c.body, nil, http.StatusBadRequest, &e)
			if !strings.Contains(e.Error.Message, c.says) {
				t.Fatalf("answer %q does not say %q", e.Error.Message, c.says)
			}
		})
	}
}

func TestIncidentAPI(t *testing.T) {
	f := newFixture(t, "")
	f.backfillFailures()
	var inc incidentDoc
	f.do("POST", "/api/v1/incidents", `{"title": "5xx on pay", "services": ["checkout"], "severity": 2, "detected_by": "customer",
		"impact_start": "2026-11-25T09:55:00Z", "detected": "2026-11-25T09:56:00Z"}`, nil, http.StatusCreated, &inc)
	if inc.ID != 1 || inc.Version != 1 {
		t.Fatalf("opened %+v", inc)
	}
	path := fmt.Sprintf("/api/v1/incidents/%d", inc.ID)
	f.do("PATCH", path, `{"engaged": "2026-11-25T09:57:00Z", "mitigated": "2026-11-25T09:58:00Z"}`, map[string]string{"If-Match": `"1"`}, http.StatusOK, &inc)
	if inc.Status != "mitigated" || len(inc.Burn) != 2 {
		t.Fatalf("after patch %+v", inc)
	}
	// A second client still at version 1 is refused, and told the version.
	body := f.do("PATCH", path, `{"title": "lost?"}`, map[string]string{"If-Match": "1"}, http.StatusConflict, nil)
	if !strings.Contains(body, "it is at version 2") {
		t.Errorf("conflict answer %s", body)
	}
	f.do("PATCH", path, `{"mitigated": "2026-11-25T09:50:00Z"}`, nil, http.StatusBadRequest, nil)
	f.do("PATCH", path, `{"titel": "typo"}`, nil, http.StatusBadRequest, nil)
	if body := f.do("PATCH", path, `{"add_slos": ["checkout-availabilty"]}`, nil, http.StatusBadRequest, nil); !strings.Contains(body, "unknown SLO") {
		t.Errorf("a misspelt SLO: %s", body)
	}
	f.do("POST", path+"/timeline", `{"at": "2026-11-25T09:57:30Z", "kind": "sacrifice", "text": "shed 20% of traffic"}`, nil, http.StatusCreated, nil)
	f.do("POST", path+"/timeline", `{"kind": "guess", "text": "x"}`, nil, http.StatusBadRequest, nil)
	f.do("POST", path+"/repairs", `{"title": "alert on pay 5xx", "phase": "detection"}`, nil, http.StatusCreated, nil)
	f.do("POST", path+"/repairs", `{"title": "Alert on pay 5xx", "phase": "detection"}`, nil, http.StatusConflict, nil)
	f.do("PATCH", path+"/repairs/1", `{"status": "done"}`, nil, http.StatusOK, nil)
	f.do("GET", "/api/v1/incidents/99", "", nil, http.StatusNotFound, nil)
	f.do("GET", "/api/v1/incidents/x", "", nil, http.StatusNotFound, nil)

	var pm struct {
		Stored   bool
		Markdown string
	}
	f.do("GET", path+"/postmortem", "", nil, http.StatusOK, &pm)
	for _, want := range []string{"## User impact", "| checkout-transactions |", "300 events", "shed 20% of traffic", "alert on pay 5xx"} {
		if !strings.Contains(pm.Markdown, want) {
			t.Errorf("postmortem lacks %q:\n%s", want, pm.Markdown)
		}
	}
	f.do("PUT", path+"/postmortem", `{"markdown": "# edited\n", "done": true}`, nil, http.StatusOK, nil)
	f.do("GET", path+"/postmortem", "", nil, http.StatusOK, &pm)
	if !pm.Stored || pm.Markdown != "# edited\n" {
		t.Errorf("stored postmortem %+v", pm)
	}
	f.do("PATCH", path, `{"title": "closed?"}`, nil, http.StatusConflict, nil)

	var rep incident.Report
	f.do("GET", "/api/v1/incidents/metrics?by=month", "", nil, http.StatusOK, &rep)
	if len(rep.Groups) != 1 || rep.Groups[0].TTM.N != 1 || rep.Groups[0].TTM.Median != incident.Dur(3*time.Minute) {
		t.Errorf("metrics %+v", rep.Groups)
	}
	f.do("GET", "/api/v1/incidents/metrics?by=fortnight", "", nil, http.StatusBadRequest, nil)
	var debt incident.DebtReport
	f.do("GET", "/api/v1/incidents/debt", "", nil, http.StatusOK, &debt)
	if debt.Open != 0 {
		t.Errorf("debt %+v", debt)
	}
	var until incident.DebtReport
	f.do("GET", "/api/v1/incidents/debt?by=week&from=2026-11-01T00:00:00Z&to=2026-11-15T00:00:00Z", "", nil, http.StatusOK, &until)
	if n := len(until.Series); n == 0 || !until.Series[n-1].At.Equal(time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("debt series to 2026-11-15 ends %+v", until.Series)
	}
	f.do("GET", "/api/v1/incidents/debt?from=2026-11-15T00:00:00Z&to=2026-11-01T00:00:00Z", "", nil, http.StatusBadRequest, nil)
	var list struct{ Incidents []incidentDoc }
	f.do("GET", "/api/v1/incidents?status=postmortem-done&service=checkout", "", nil, http.StatusOK, &list)
	if len(list.Incidents) != 1 {
		t.Errorf("list %+v", list)
	}
}

// FuzzIncidentDecoders feeds the webhook and incident decoders anything:
// they refuse or accept, never panic.
func FuzzIncidentDecoders(f *testing.F) {
	f.Add([]byte(webhook("firing", "0001-01-01T00:00:00Z")))
	f.Add([]byte(webhook("resolved", "2026-11-25T09:58:00Z")))
	f.Add([]byte(`{"title": "x", "services": ["checkout"], "severity": 2, "impact_start": "2026-11-25T09:55:00Z"}`))
	f.Add([]byte(`{"version": 3, "mitigated": "2026-11-25T09:58:00Z", "responders": [{"name": "a", "engaged": true}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if wh, err := incident.ParseWebhook(body); err == nil {
			_, _ = wh.Signal(&incident.Config{})
		}
		var in incident.OpenInput
		_ = decodeJSON(body, "incident", &in)
		var p incident.Patch
		_ = decodeJSON(body, "patch", &p)
	})
}

// TestAlertmanagerCapturedPayload posts the notification a real
// Alertmanager sent in the notify tests (notify/testdata), then the same
// group resolved.
func TestAlertmanagerCapturedPayload(t *testing.T) {
	data, err := os.ReadFile("../notify/testdata/alertmanager-webhook-v4.json")
	if err != nil {
		t.Skipf("no captured payload yet: %v", err)
	}
	f := newFixture(t, "")
	var opened struct {
		Incident int64  `json:"incident"`
		Status   string `json:"incident_status"`
	}
	f.do("POST", "/api/v1/alertmanager", string(data), nil, http.StatusOK, &opened)
	var wh map[string]any
	if err := json.Unmarshal(data, &wh); err != nil {
		t.Fatal(err)
	}
	wh["status"] = "resolved"
	alerts := wh["alerts"].([]any)
	var ends time.Time
	for _, a := range alerts {
		a := a.(map[string]any)
		start, err := time.Parse(time.RFC3339, a["startsAt"].(string))
		if err != nil {
			t.Fatal(err)
		}
		ends = start.Add(10 * time.Minute)
		a["status"], a["endsAt"] = "resolved", ends.Format(time.RFC3339)
	}
	resolved, _ := json.Marshal(wh)
	f.do("POST", "/api/v1/alertmanager", string(resolved), nil, http.StatusOK, nil)
	var inc incidentDoc
	f.do("GET", fmt.Sprintf("/api/v1/incidents/%d", opened.Incident), "", nil, http.StatusOK, &inc)
	if inc.DetectedBy != "monitoring" || inc.Status != "mitigated" || !inc.Mitigated.Equal(ends) || inc.Title == "" {
		t.Fatalf("incident from the captured payload: %+v", inc)
	}
}

package server

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/notify"
)

type impactDoc struct {
	incidentDoc
	ImpactStart time.Time `json:"impact_start"`
	Timeline    []struct {
		At         time.Time
		Kind, Text string
	}
	Metrics struct{ TTD *float64 }
}

// TestPageCarriesImpactStartIntoItsIncident: an engine transition that
// knows when the impact began goes through the notify incidents receiver
// (the Alertmanager webhook nines posts to itself) into an incident whose
// impact start is that minute, with a timeline entry saying why; TTD runs
// from there to the page, and the budget burned covers the damaging
// minutes before the page, which detection alone would miss.
func TestPageCarriesImpactStartIntoItsIncident(t *testing.T) {
	f := newFixture(t, "")
	f.backfillFailures() // 100 of 1,000 failed in 09:55, 09:56 and 09:57
	ctx := context.Background()
	cfg := notify.DefaultConfig()
	cfg.ResolveIncidents(f.srv.URL+"/api/v1/alertmanager", nil)
	d := notify.New(cfg, notify.Options{State: f.db, Now: f.clock.Now})
	o, err := f.eng.SLO("checkout-transactions")
	if err != nil {
		t.Fatal(err)
	}
	impact, paged := time.Date(2026, 11, 25, 9, 55, 0, 0, time.UTC), time.Date(2026, 11, 25, 9, 58, 0, 0, time.UTC)
	d.Enqueue(o, alert.Transition{Alert: "page-fast", Severity: alert.Page, Kind: alert.Fire, At: paged, Since: paged,
		Factor: 14.4, Long: time.Hour, Short: 5 * time.Minute, BurnLong: 100, BurnShort: 100, BudgetRemaining: math.NaN(),
		TimeToExhaustion: alert.NoExhaustion, Reason: "burning 100× the budget over 1h", ImpactStart: impact})
	d.Step(ctx, f.clock.Now())
	var list struct{ Incidents []incidentDoc }
	f.do("GET", "/api/v1/incidents", "", nil, http.StatusOK, &list)
	if len(list.Incidents) != 1 {
		t.Fatalf("%d incidents after the page, want 1: %v", len(list.Incidents), d.Outbox())
	}
	var inc impactDoc
	f.do("GET", fmt.Sprintf("/api/v1/incidents/%d", list.Incidents[0].ID), "", nil, http.StatusOK, &inc)
	if !inc.ImpactStart.Equal(impact) || !inc.Detected.Equal(paged) || inc.DetectedBy != "monitoring" {
		t.Fatalf("impact start %v, detected %v by %s; want %v, %v by monitoring", inc.ImpactStart, inc.Detected, inc.DetectedBy, impact, paged)
	}
	if inc.Metrics.TTD == nil || *inc.Metrics.TTD != 180 {
		t.Errorf("TTD %v s, want 180 (09:55 to the page at 09:58)", inc.Metrics.TTD)
	}
	want := "impact started: from 2026-11-25 09:55 UTC on, the quanta of checkout-transactions burned the error budget faster than its calendar day UTC window allows, leading to page-fast at 2026-11-25 09:58 UTC"
	found := false
	for _, e := range inc.Timeline {
		if e.Text == want && e.At.Equal(impact) && e.Kind == string(incident.Assessment) {
			found = true
		}
	}
	if !found {
		t.Errorf("timeline %+v lacks the entry at 09:55 saying %q", inc.Timeline, want)
	}
	// From the impact start, not the page: all 300 failures (from 09:58
	// the burn would be none).
	if len(inc.Burn) != 1 || !inc.Burn[0].From.Equal(impact) || inc.Burn[0].Spent != 300 {
		t.Errorf("budget burned %+v, want 300 events from 09:55", inc.Burn)
	}
	// The review page's figures bucket it by its impact start.
	var rep incident.Report
	f.do("GET", "/api/v1/incidents/metrics?by=week", "", nil, http.StatusOK, &rep)
	if len(rep.Groups) != 1 || rep.Groups[0].Bucket == "no impact start" || rep.Groups[0].TTD.N != 1 {
		t.Errorf("metrics groups %+v, want one dated bucket with one TTD", rep.Groups)
	}
}

// TestAlertmanagerImpactStartAnnotation: what the incident makes of the
// annotation in a webhook from any Alertmanager.
func TestAlertmanagerImpactStartAnnotation(t *testing.T) {
	firing := webhook("firing", "0001-01-01T00:00:00Z") // starts 09:55:10.123
	annotated := func(impact string) string {
		return strings.Replace(firing, `"annotations": {`, `"annotations": {"impact_start": "`+impact+`", "impact_reason": "errors rose", `, 1)
	}
	for _, c := range []struct {
		name   string
		posts  []string
		impact time.Time
		says   string
	}{
		{"An annotated alert opens its incident with that impact start.",
			[]string{annotated("2026-11-25T09:50:00Z")}, time.Date(2026, 11, 25, 9, 50, 0, 0, time.UTC), "impact started: errors rose"},
		{"An annotated repeat gives an incident opened without one its impact start.",
			[]string{firing, annotated("2026-11-25T09:50:00Z")}, time.Date(2026, 11, 25, 9, 50, 0, 0, time.UTC), "impact started: errors rose"},
		{"An impact start after detection is noted and left unset.",
			[]string{annotated("2026-11-25T10:30:00Z")}, time.Time{}, "after the incident was detected"},
		{"An impact start that is no time is noted once and left unset.",
			[]string{annotated("half past nine"), annotated("half past nine")}, time.Time{}, `annotation "half past nine" is not an RFC 3339 time`},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, "")
			var opened struct{ Incident int64 }
			for _, p := range c.posts {
				f.do("POST", "/api/v1/alertmanager", p, nil, http.StatusOK, &opened)
			}
			var inc impactDoc
			f.do("GET", fmt.Sprintf("/api/v1/incidents/%d", opened.Incident), "", nil, http.StatusOK, &inc)
			if !inc.ImpactStart.Equal(c.impact) {
				t.Errorf("impact start %v, want %v", inc.ImpactStart, c.impact)
			}
			said := 0
			for _, e := range inc.Timeline {
				if strings.Contains(e.Text, c.says) {
					said++
				}
			}
			if said != 1 {
				t.Errorf("timeline %+v says %q %d times, want once", inc.Timeline, c.says, said)
			}
		})
	}
}

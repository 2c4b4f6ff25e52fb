package oncall

import (
	"testing"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/notify"
)

// TestPagesFromDeliveries: one page per firing, at its first delivery;
// tickets and resolves are not pages; a resolve sets when it ended.
func TestPagesFromDeliveries(t *testing.T) {
	t0 := utc("2026-11-02T10:00:00Z")
	page := notify.DeliveredAlert{Fingerprint: "f1", Status: "firing", Severity: "page", Service: "checkout", SLO: "s", Alert: "page-fast", StartsAt: t0}
	ticket := page
	ticket.Fingerprint, ticket.Severity = "f2", "ticket"
	resolved := page
	resolved.Status, resolved.EndsAt = "resolved", t0.Add(time.Hour)
	again := page
	again.StartsAt = t0.Add(2 * time.Hour) // fired again: another page
	ds := []notify.Delivery{
		{ID: "3", Receiver: "slack", GroupKey: "g", Delivered: t0.Add(time.Minute), Alerts: []notify.DeliveredAlert{page}},
		{ID: "1", Receiver: "pagerduty", GroupKey: "g", Delivered: t0.Add(10 * time.Second), Alerts: []notify.DeliveredAlert{page, ticket}},
		{ID: "4", Receiver: "pagerduty", GroupKey: "g", Delivered: t0.Add(4 * time.Hour), Alerts: []notify.DeliveredAlert{page}}, // a repeat
		{ID: "5", Receiver: "pagerduty", GroupKey: "g", Delivered: t0.Add(time.Hour), Alerts: []notify.DeliveredAlert{resolved}},
		{ID: "6", Receiver: "pagerduty", GroupKey: "g", Delivered: t0.Add(2 * time.Hour), Alerts: []notify.DeliveredAlert{again}},
	}
	got := PagesFromDeliveries(ds)
	if len(got) != 2 {
		t.Fatalf("pages %+v, want 2", got)
	}
	if p := got[0]; !p.At.Equal(t0.Add(10*time.Second)) || p.Service != "checkout" || p.GroupKey != "g" || !p.Resolved.Equal(t0.Add(time.Hour)) {
		t.Errorf("first page %+v", p)
	}
	if p := got[1]; !p.At.Equal(t0.Add(2*time.Hour)) || !p.Resolved.IsZero() {
		t.Errorf("second page %+v", p)
	}
	if n := len(PagesFromDeliveries(ds, "page", "ticket")); n != 3 {
		t.Errorf("with tickets as pages: %d, want 3", n)
	}
}

// TestFromIncident: the earliest known time starts the incident, and an
// action is what the timeline or the repair items show.
func TestFromIncident(t *testing.T) {
	t0 := utc("2026-11-02T10:00:00Z")
	inc := incident.Incident{ID: 7, Services: []string{"checkout"}, GroupKey: "g", Status: incident.Resolved, ImpactStart: t0.Add(-time.Hour),
		Detected: t0, Created: t0.Add(time.Minute), Updated: t0.Add(3 * time.Hour),
		Timeline: []incident.Entry{{Kind: incident.Decode}, {Kind: incident.Assessment}}}
	got := FromIncident(&inc)
	if !got.Start.Equal(t0.Add(-time.Hour)) || !got.Resolved.Equal(t0.Add(3*time.Hour)) || got.Acted {
		t.Errorf("without action %+v", got)
	}
	inc.Timeline = append(inc.Timeline, incident.Entry{Kind: incident.KeepWorking})
	if !FromIncident(&inc).Acted {
		t.Error("a keep-working entry is an action")
	}
	inc.Timeline = nil
	inc.Repairs = []incident.RepairItem{{Title: "add a cache"}}
	if !FromIncident(&inc).Acted {
		t.Error("a repair item is an action")
	}
}

package oncall

import (
	"slices"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/notify"
)

// PagesFromDeliveries turns notify's delivery history into pages: each
// firing alert of one of severities (default: page) becomes one page at
// its first delivery; repeats of the same firing (same fingerprint and
// start) and its deliveries to other receivers are the same page. A
// delivered resolve of that firing sets its Resolved time. The result is
// in order of time.
func PagesFromDeliveries(ds []notify.Delivery, severities ...string) []Page {
	if len(severities) == 0 {
		severities = []string{"page"}
	}
	type firing struct {
		fp    string
		start int64
	}
	idx := map[firing]int{}
	var out []Page
	var resolved []notify.DeliveredAlert
	sorted := slices.Clone(ds)
	slices.SortStableFunc(sorted, func(a, b notify.Delivery) int { return a.Delivered.Compare(b.Delivered) })
	for _, d := range sorted {
		for _, a := range d.Alerts {
			if !slices.Contains(severities, a.Severity) {
				continue
			}
			if a.Status != "firing" {
				resolved = append(resolved, a)
				continue
			}
			key := firing{a.Fingerprint, a.StartsAt.UnixNano()}
			if _, seen := idx[key]; seen {
				continue
			}
			idx[key] = len(out)
			out = append(out, Page{At: d.Delivered, Service: a.Service, SLO: a.SLO, Alert: a.Alert, Fingerprint: a.Fingerprint,
				GroupKey: d.GroupKey, StartsAt: a.StartsAt})
		}
	}
	for _, a := range resolved {
		if i, ok := idx[firing{a.Fingerprint, a.StartsAt.UnixNano()}]; ok && out[i].Resolved.IsZero() {
			out[i].Resolved = a.EndsAt
		}
	}
	return out
}

// actions are the timeline kinds that record something done about an
// incident, as against noticing or talking about it.
var actions = []incident.Kind{incident.KeepWorking, incident.Irreversible, incident.Sacrifice}

// FromIncident is what the load figures need of a recorded incident.
// Its timeline and repair items tell whether anything was done: an
// incident listed without them (ListIncidents leaves them out) shows no
// action, so read incidents whole for the noise figures.
func FromIncident(inc *incident.Incident) Incident {
	out := Incident{ID: inc.ID, Title: inc.Title, Services: inc.Services, GroupKey: inc.GroupKey, Detected: inc.Detected,
		Engaged: inc.Engaged, Mitigated: inc.Mitigated, Resolved: inc.Resolved}
	out.Start = inc.Created
	for _, t := range []time.Time{inc.ImpactStart, inc.Detected} {
		if !t.IsZero() && (out.Start.IsZero() || t.Before(out.Start)) {
			out.Start = t
		}
	}
	if out.Resolved.IsZero() && (inc.Status == incident.Resolved || inc.Status == incident.PostmortemDone) {
		// Resolved without a time: the last update is when it was.
		out.Resolved = inc.Updated
	}
	out.Acted = len(inc.Repairs) > 0
	for _, e := range inc.Timeline {
		if slices.Contains(actions, e.Kind) {
			out.Acted = true
		}
	}
	return out
}

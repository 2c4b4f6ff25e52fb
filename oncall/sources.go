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
	ps := newPageSet(severities)
	for i := range ds {
		ps.add(&ds[i])
	}
	return ps.pages()
}

// pageSet gathers pages from deliveries in any order, so that a history
// read a day at a time need not be kept whole.
type pageSet struct {
	severities []string
	idx        map[firing]int
	out        []Page
	resolved   map[firing]time.Time
}

type firing struct {
	fp    string
	start int64
}

func newPageSet(severities []string) *pageSet {
	if len(severities) == 0 {
		severities = []string{"page"}
	}
	return &pageSet{severities: severities, idx: map[firing]int{}, resolved: map[firing]time.Time{}}
}

func (ps *pageSet) add(d *notify.Delivery) {
	for _, a := range d.Alerts {
		if !slices.Contains(ps.severities, a.Severity) {
			continue
		}
		key := firing{a.Fingerprint, a.StartsAt.UnixNano()}
		if a.Status != "firing" {
			if t, ok := ps.resolved[key]; !ok || a.EndsAt.Before(t) {
				ps.resolved[key] = a.EndsAt
			}
			continue
		}
		if i, seen := ps.idx[key]; seen {
			if p := &ps.out[i]; d.Delivered.Before(p.At) {
				p.At, p.GroupKey = d.Delivered, d.GroupKey
			}
			continue
		}
		ps.idx[key] = len(ps.out)
		ps.out = append(ps.out, Page{At: d.Delivered, Service: a.Service, SLO: a.SLO, Alert: a.Alert, Fingerprint: a.Fingerprint,
			GroupKey: d.GroupKey, StartsAt: a.StartsAt})
	}
}

func (ps *pageSet) pages() []Page {
	for key, t := range ps.resolved {
		if i, ok := ps.idx[key]; ok {
			ps.out[i].Resolved = t
		}
	}
	slices.SortStableFunc(ps.out, func(a, b Page) int { return a.At.Compare(b.At) })
	return ps.out
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

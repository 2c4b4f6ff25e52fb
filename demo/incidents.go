package demo

import (
	"context"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/slo"
)

// IncidentsConfig is the incident configuration of nines serve --demo
// without --incidents: the demo services' owners and goals, so that the
// reliability review has goals to miss.
const IncidentsConfig = `
severities:
  - {level: 1, name: SEV1, description: "many users cannot use a core service"}
  - {level: 2, name: SEV2, description: "a core function is broken or badly degraded"}
  - {level: 3, name: SEV3, description: "a part of a service is degraded"}
  - {level: 4, name: SEV4, description: "little user impact"}
goals: {ttd: 10m, tte: 15m, ttf: 45m, ttm: 1h}
services:
  checkout: {owner: team-payments, goals: {ttd: 5m, tte: 10m, ttf: 30m, ttm: 45m}}
  search: {owner: team-discovery}
  login: {owner: team-identity}
`

// Outage is one made-up outage of a demo SLO: the minutes its traffic
// fails at FailureRate.
type Outage struct {
	SLO, Service string
	Start, End   time.Time
	FailureRate  float64
}

// Outages lists the outages of the demo SLO s that start in [from, to).
func Outages(s *slo.SLO, from, to time.Time, seed uint64) []Outage {
	if _, ok := services[s.Name]; !ok {
		return nil
	}
	var out []Outage
	for day := from.UTC().Truncate(24 * time.Hour); day.Before(to); day = day.Add(24 * time.Hour) {
		begin, length, rate, ok := outageOf(s.Name, day, seed)
		if ok && !begin.Before(from) && begin.Before(to) {
			out = append(out, Outage{SLO: s.Name, Service: s.Service, Start: begin, End: begin.Add(length), FailureRate: rate})
		}
	}
	return out
}

// BackfillDays is how much traffic history nines serve --demo makes up
// at start: 30 days, whatever the SLO windows.
const BackfillDays = 30

// demoIncidentDays is how far back the demo's incidents go: three months
// of them give the reliability review a trend, though the traffic is
// backfilled for the SLO window only.
const demoIncidentDays = 90

// SeedIncidents records the outages of the demo SLOs over the 90 days
// before now as incidents, as a team would have: most detected by
// monitoring, some by customers; responders paged in turn; a timeline;
// repair items, some done, some late; postmortems for the older ones. It
// does nothing when the store already holds incidents, so a restart does
// not add them twice, and returns how many it recorded.
//
// Each incident is written at the time it happened (opts.Now is replaced
// by a clock that follows the story), so repair debt has a history.
func SeedIncidents(ctx context.Context, opts incident.Options, slos []*slo.SLO, now time.Time, seed uint64) (int, error) {
	clock := now
	opts.Now = func() time.Time { return clock }
	svc, err := incident.New(opts)
	if err != nil {
		return 0, err
	}
	if existing, err := svc.List(ctx, incident.Filter{}); err != nil || len(existing) > 0 {
		return 0, err
	}
	var outages []Outage
	for _, s := range slos {
		outages = append(outages, Outages(s, now.Add(-demoIncidentDays*24*time.Hour), now.Add(-2*time.Hour), seed)...)
	}
	slicesSortByStart(outages)
	n := 0
	for i, o := range outages {
		st := story(o, seed, i)
		if err := st.record(ctx, svc, &clock, now); err != nil {
			return n, fmt.Errorf("demo incident %d (%s at %s): %w", i+1, o.SLO, o.Start.Format(time.RFC3339), err)
		}
		n++
	}
	return n, nil
}

// plot is the made-up story of one incident.
type plot struct {
	o                                      Outage
	customer                               bool
	severity                               int
	detected, engaged, mitigated, resolved time.Time
	responders                             []string
	repairs                                []incident.RepairInput
	repairsDone                            int
}

var responderNames = []string{"ana", "bo", "chen", "dara", "eli", "femi", "gus", "hana"}

func story(o Outage, seed uint64, i int) plot {
	h := fnv.New64a()
	h.Write([]byte(o.SLO))
	r := rand.New(rand.NewPCG(seed^h.Sum64(), uint64(o.Start.Unix())))
	p := plot{o: o, customer: r.IntN(5) == 0, severity: 4}
	switch {
	case o.FailureRate > 0.2:
		p.severity = 2
	case o.FailureRate > 0.1:
		p.severity = 3
	}
	minutes := func(lo, hi int) time.Duration { return time.Duration(lo+r.IntN(hi-lo+1)) * time.Minute }
	if p.customer {
		p.detected = o.Start.Add(minutes(12, 45)) // customer-detected outages take ~10× longer to see
	} else {
		p.detected = o.Start.Add(minutes(1, 6))
	}
	hops := 1 + r.IntN(3)
	for k := range hops {
		p.responders = append(p.responders, responderNames[(i+k*3+r.IntN(2))%len(responderNames)])
	}
	p.engaged = p.detected.Add(minutes(2, 8) * time.Duration(hops))
	p.mitigated = p.engaged.Add(minutes(6, 50))
	p.resolved = p.mitigated.Add(minutes(30, 180))
	phases := []incident.Phase{incident.Detection, incident.Engagement, incident.Diagnosis, incident.Mitigation}
	titles := map[incident.Phase][]string{
		incident.Detection:  {"alert on %s 5xx per minute", "page on %s error ratio, not host CPU"},
		incident.Engagement: {"add %s to the primary rotation", "runbook link in the %s page"},
		incident.Diagnosis:  {"dashboard of %s dependencies", "trace sampling on %s errors"},
		incident.Mitigation: {"one-click rollback for %s", "shed load in %s before the pool saturates"},
	}
	used := map[string]bool{}
	for k := range r.IntN(3) {
		ph := phases[r.IntN(len(phases))]
		title := fmt.Sprintf(titles[ph][r.IntN(2)], o.Service)
		if used[title] {
			continue // an incident has each repair item once
		}
		used[title] = true
		term := incident.ShortTerm
		if k == 1 {
			term = incident.LongTerm
		}
		p.repairs = append(p.repairs, incident.RepairInput{Title: title, Phase: ph, Term: term, Owner: p.responders[len(p.responders)-1]})
	}
	p.repairsDone = r.IntN(len(p.repairs) + 1)
	return p
}

// record writes the story as it unfolds, moving the clock along.
func (p *plot) record(ctx context.Context, svc *incident.Service, clock *time.Time, now time.Time) error {
	o := p.o
	by := incident.ByMonitoring
	if p.customer {
		by = incident.ByCustomer
	}
	*clock = p.detected
	var responders []incident.Responder
	for k, name := range p.responders {
		responders = append(responders, incident.Responder{Name: name, Order: k + 1, Paged: p.detected.Add(time.Duration(k) * 4 * time.Minute)})
	}
	title := fmt.Sprintf("%s failing %.0f %% of requests", o.Service, 100*o.FailureRate)
	// Traffic is backfilled for the last BackfillDays only: older incidents
	// name no SLO rather than show a budget burned over missing data.
	var slos []string
	if now.Sub(o.Start) < BackfillDays*24*time.Hour {
		slos = []string{o.SLO}
	}
	inc, err := svc.Open(ctx, incident.OpenInput{
		Title: title, Services: []string{o.Service}, Severity: p.severity, DetectedBy: by,
		SLOs: slos, ImpactStart: o.Start, Detected: p.detected, Responders: responders,
		Summary: fmt.Sprintf("Requests to %s failed at %.0f %% from %s.", o.Service, 100*o.FailureRate, o.Start.Format("15:04 MST")),
	})
	if err != nil {
		return err
	}
	step := func(at time.Time, fn func(version int64) (*incident.Incident, error)) error {
		if at.After(now) {
			return nil // not happened yet
		}
		*clock = at
		next, err := fn(inc.Version)
		if err == nil {
			inc = next
		}
		return err
	}
	entry := func(at time.Time, kind incident.Kind, text, author string) error {
		return step(at, func(v int64) (*incident.Incident, error) {
			return svc.AddEntry(ctx, inc.ID, v, incident.Entry{At: at, Kind: kind, Text: text, Author: author})
		})
	}
	first, last := p.responders[0], p.responders[len(p.responders)-1]
	if err := entry(p.detected.Add(time.Minute), incident.Decode, "errors concentrated on one upstream pool; the rest of the fleet is healthy", first); err != nil {
		return err
	}
	if len(p.responders) > 1 {
		if err := entry(p.detected.Add(3*time.Minute), incident.Bottleneck, "hand-off to the owning team's on-call; writing down what was tried", first); err != nil {
			return err
		}
	}
	engaged := p.engaged
	if err := step(engaged, func(v int64) (*incident.Incident, error) {
		return svc.Update(ctx, inc.ID, incident.Patch{Version: v, Engaged: &engaged,
			Responders: []incident.Responder{{Name: last, Engaged: true, Role: incident.Commander}}})
	}); err != nil {
		return err
	}
	if err := entry(engaged.Add(2*time.Minute), incident.Sacrifice, "shed 20 % of the traffic to keep the rest answering", last); err != nil {
		return err
	}
	if err := entry(engaged.Add(4*time.Minute), incident.Assessment, "status page updated: degraded, mitigation under way", last); err != nil {
		return err
	}
	mitigated := p.mitigated
	if err := step(mitigated, func(v int64) (*incident.Incident, error) {
		return svc.Update(ctx, inc.ID, incident.Patch{Version: v, Mitigated: &mitigated})
	}); err != nil {
		return err
	}
	for k, ri := range p.repairs {
		at := mitigated.Add(time.Duration(10+k) * time.Minute)
		if err := step(at, func(v int64) (*incident.Incident, error) { return svc.AddRepair(ctx, inc.ID, v, ri) }); err != nil {
			return err
		}
	}
	resolved := p.resolved
	if err := step(resolved, func(v int64) (*incident.Incident, error) {
		return svc.Update(ctx, inc.ID, incident.Patch{Version: v, Resolved: &resolved})
	}); err != nil {
		return err
	}
	for k := range p.repairsDone {
		done := incident.RepairDone
		// The item is looked up only when the step is due: an incident
		// cut short by now may not have its repair items yet.
		if err := step(resolved.Add(time.Duration(2+k)*24*time.Hour), func(v int64) (*incident.Incident, error) {
			if k >= len(inc.Repairs) {
				return inc, nil
			}
			return svc.UpdateRepair(ctx, inc.ID, inc.Repairs[k].ID, v, incident.RepairPatch{Status: &done})
		}); err != nil {
			return err
		}
	}
	// Postmortems for incidents over a week old, written from the record.
	pmAt := resolved.Add(3 * 24 * time.Hour)
	if now.Sub(resolved) > 7*24*time.Hour {
		*clock = pmAt
		text, _, err := svc.Postmortem(ctx, inc.ID)
		if err != nil {
			return err
		}
		if _, err := svc.SetPostmortem(ctx, inc.ID, inc.Version, text, true); err != nil {
			return err
		}
	}
	return nil
}

func slicesSortByStart(os []Outage) {
	for i := 1; i < len(os); i++ {
		for j := i; j > 0 && os[j].Start.Before(os[j-1].Start); j-- {
			os[j], os[j-1] = os[j-1], os[j]
		}
	}
}

package oncall

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"time"
)

// Page is one page: the first delivery of a firing page-severity alert
// (repeats and other receivers of the same firing are the same page).
type Page struct {
	// At is when it was sent: what decides who it woke.
	At          time.Time
	Service     string
	SLO, Alert  string
	Fingerprint string
	// GroupKey is the notification group it went out in; an incident
	// opened from that group carries the same key.
	GroupKey string
	// StartsAt is when the alert fired, Resolved when it stopped (zero
	// while firing or unknown).
	StartsAt, Resolved time.Time
}

// Incident is what the load figures need of an incident.
type Incident struct {
	ID       int64
	Title    string
	Services []string
	GroupKey string
	// Start is the earliest of impact start, detection and creation: a
	// page from shortly before it (Options.LinkGrace) belongs to it.
	Start    time.Time
	Detected time.Time
	Engaged  time.Time
	// Mitigated and Resolved are zero until they happen.
	Mitigated, Resolved time.Time
	// Acted: the timeline records an action (keeping things working, an
	// irreversible action, a sacrifice) or the incident has repair items.
	Acted bool
}

// paged is when the incident reached the on-call: detection, or Start.
func (inc *Incident) paged() time.Time {
	if !inc.Detected.IsZero() {
		return inc.Detected
	}
	return inc.Start
}

// ErrInvalid wraps a report asked for that can never be computed: a
// month out of range or not started, options out of range.
var ErrInvalid = errors.New("invalid on-call report")

// Defaults of Options; see docs/oncall.md for their sources.
const (
	DefaultIncidentsPer12h = 2
	DefaultMinPeople       = 6
	DefaultMinPerSite      = 6
	DefaultLinkGrace       = 30 * time.Minute
	DefaultMonths          = 6
)

// DefaultNight is 22:00–07:00 local time.
var DefaultNight = Hours{From: 22 * 60, To: 7 * 60}

// Options set the report's rules; zero values take the defaults.
type Options struct {
	// Now is the time of the report: a month in progress is counted up
	// to it, and a month after it refused. Required.
	Now time.Time
	// Night is when a page counts as a night page, in each rotation's
	// zone, unless the rotation says otherwise.
	Night *Hours
	// IncidentsPer12h is the incident limit of a 12 h shift, scaled in
	// proportion for other shift lengths, unless the rotation sets
	// max_incidents_per_shift.
	IncidentsPer12h float64
	// MinPeople is the minimum people of a single-site rotation,
	// MinPerSite that of each site of a multi-site one, unless the
	// rotation sets min_people.
	MinPeople, MinPerSite int
	// LinkGrace is how long before an incident's start a page of its
	// service still counts as leading to it.
	LinkGrace time.Duration
	// Months is how many months the month-over-month view shows, the
	// report's month last (at least 2, at most 36).
	Months int
}

func (o *Options) defaults() error {
	if o.Now.IsZero() {
		return errors.New("oncall: no report time")
	}
	if o.Night == nil {
		n := DefaultNight
		o.Night = &n
	}
	o.IncidentsPer12h = cmp.Or(o.IncidentsPer12h, DefaultIncidentsPer12h)
	o.MinPeople = cmp.Or(o.MinPeople, DefaultMinPeople)
	o.MinPerSite = cmp.Or(o.MinPerSite, DefaultMinPerSite)
	o.LinkGrace = cmp.Or(o.LinkGrace, DefaultLinkGrace)
	o.Months = cmp.Or(o.Months, DefaultMonths)
	switch {
	case !(o.IncidentsPer12h > 0 && o.IncidentsPer12h <= 1000):
		return fmt.Errorf("oncall: incident limit %g per 12 h shift: want above 0, at most 1000", o.IncidentsPer12h)
	case o.MinPeople < 1 || o.MinPerSite < 1 || o.MinPeople > maxMembers || o.MinPerSite > maxMembers:
		return fmt.Errorf("oncall: minimum people %d (per site %d): want 1 to %d", o.MinPeople, o.MinPerSite, maxMembers)
	case o.LinkGrace < 0 || o.LinkGrace > 7*24*time.Hour:
		return fmt.Errorf("oncall: link grace %s: want 0 to 7 days", o.LinkGrace)
	case o.Months < 2 || o.Months > 36:
		return fmt.Errorf("oncall: %d months: want 2 to 36", o.Months)
	}
	return nil
}

// Month names a calendar month; each rotation reads it in its own zone.
type Month struct {
	Year  int
	Month time.Month
}

// ParseMonth reads 2026-11.
func ParseMonth(s string) (Month, error) {
	t, err := time.Parse("2006-01", s)
	if err != nil || t.Year() < 1970 || t.Year() > 2199 {
		return Month{}, fmt.Errorf("month %q: want a month such as 2026-11, from 1970 to 2199", s)
	}
	return Month{t.Year(), t.Month()}, nil
}

// MonthOf is the month t falls in, in loc.
func MonthOf(t time.Time, loc *time.Location) Month {
	y, m, _ := t.In(loc).Date()
	return Month{y, m}
}

func (m Month) String() string { return fmt.Sprintf("%04d-%02d", m.Year, int(m.Month)) }

// Add moves n months.
func (m Month) Add(n int) Month {
	t := time.Date(m.Year, m.Month+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	return Month{t.Year(), t.Month()}
}

func (m Month) bounds(loc *time.Location) (from, to time.Time) {
	from = instant(time.Date(m.Year, m.Month, 1, 0, 0, 0, 0, time.UTC), loc)
	to = instant(time.Date(m.Year, m.Month+1, 1, 0, 0, 0, 0, time.UTC), loc)
	return from, to
}

// Figures are the load of a rotation or a person over one month.
type Figures struct {
	Month string `json:"month"`
	// Shifts is the time on call divided by the length of its shifts
	// (real hours: a 13 h shift across a fall-back change is one shift).
	Shifts        float64 `json:"shifts"`
	Pages         int     `json:"pages"`
	PagesPerShift float64 `json:"pages_per_shift"`
	// OffHours are pages outside working hours, Night those at night,
	// both in the rotation's zone; a night page is usually off-hours too.
	OffHours          int     `json:"pages_off_hours"`
	Night             int     `json:"pages_at_night"`
	Incidents         int     `json:"incidents"`
	IncidentsPerShift float64 `json:"incidents_per_shift"`
	// EngagedSeconds sums engaged-to-mitigated of the incidents with both
	// times; EngagedUnknown counts the incidents lacking one.
	EngagedSeconds float64 `json:"engaged_seconds"`
	EngagedUnknown int     `json:"engaged_unknown"`
	// NoIncident are pages linked to no incident, NoAction pages whose
	// incidents were all resolved with no action recorded; Noise is both,
	// NoiseShare Noise / Pages.
	NoIncident int     `json:"pages_no_incident"`
	NoAction   int     `json:"pages_no_action"`
	Noise      int     `json:"noise"`
	NoiseShare float64 `json:"noise_share"`
}

// MonthFigures adds what is counted per shift of a rotation.
type MonthFigures struct {
	Figures
	// MaxInShift is the most incidents of one shift that started in the
	// month; OverLimit the shifts that started in the month with more
	// incidents than the limit.
	MaxInShift int `json:"max_incidents_in_a_shift"`
	OverLimit  int `json:"shifts_over_limit"`
	// Uncovered are pages sent before the rotation's first shift: nobody
	// was on call.
	Uncovered int `json:"pages_uncovered"`
}

// Person is one person's load in the report's month, with the month
// before.
type Person struct {
	Name     string  `json:"name"`
	Site     string  `json:"site,omitempty"`
	Member   bool    `json:"member"`
	Month    Figures `json:"month"`
	Previous Figures `json:"previous"`
}

// OverShift is a shift with more incidents than the limit.
type OverShift struct {
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	Person    string    `json:"person"`
	Incidents int       `json:"incidents"`
}

// Staffing is the people of a rotation against its minimum.
type Staffing struct {
	People  int    `json:"people"`
	Minimum int    `json:"minimum"`
	PerSite bool   `json:"per_site"`
	Sites   []Site `json:"sites,omitempty"`
	OK      bool   `json:"ok"`
	// Problem says what is short and how to fix it.
	Problem string `json:"problem,omitempty"`
}

// Site is the people of one site.
type Site struct {
	Name   string `json:"name"`
	People int    `json:"people"`
}

// RotationLoad is one rotation's report.
type RotationLoad struct {
	Name     string   `json:"name"`
	Zone     string   `json:"time_zone"`
	Shift    string   `json:"shift"`
	Handoff  string   `json:"handoff"`
	Working  string   `json:"working_hours"`
	Night    string   `json:"night"`
	Services []string `json:"services"`
	// Limit is the incident limit of one shift.
	Limit    float64      `json:"incident_limit"`
	Staffing Staffing     `json:"staffing"`
	Month    MonthFigures `json:"month"`
	Previous MonthFigures `json:"previous"`
	// History is the month-over-month view, oldest first, the report's
	// month last.
	History    []MonthFigures `json:"history"`
	People     []Person       `json:"people"`
	OverShifts []OverShift    `json:"shifts_over_limit"`
}

// Unassigned counts the pages of the report's month (read in UTC) that no
// rotation takes, by service ("" for pages with no service label).
type Unassigned struct {
	Service string `json:"service"`
	Pages   int    `json:"pages"`
}

// Report is the on-call load of every rotation for one month.
type Report struct {
	Month           string         `json:"month"`
	Generated       time.Time      `json:"generated"`
	IncidentsPer12h float64        `json:"incidents_per_12h_shift"`
	Rotations       []RotationLoad `json:"rotations"`
	Unassigned      []Unassigned   `json:"unassigned"`
	// UnreadableHistory counts delivery records that could not be read:
	// the pages they were are missing from the figures.
	UnreadableHistory int `json:"unreadable_history,omitempty"`
}

// Compute reports the load of month for rotations. services maps each
// service to the rotation that is on call for it (the catalog's on-call
// field); a page or an incident counts for the rotation of its service.
// pages and incidents may come in any order and span any time: only those
// of the months shown count.
func Compute(rotations []Rotation, services map[string]string, pages []Page, incidents []Incident, month Month, opts Options) (*Report, error) {
	if err := opts.defaults(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if month.Year < 1970 || month.Year > 2199 || month.Month < 1 || month.Month > 12 {
		return nil, fmt.Errorf("oncall: month %s: want one from 1970-01 to 2199-12: %w", month, ErrInvalid)
	}
	if from, _ := month.bounds(time.UTC); from.After(opts.Now.Add(14 * time.Hour)) {
		// 14 h: the zone furthest ahead of UTC starts its month that much
		// earlier.
		return nil, fmt.Errorf("oncall: month %s has not started: the report time is %s: %w", month, opts.Now.UTC().Format(time.RFC3339), ErrInvalid)
	}
	rep := &Report{Month: month.String(), Generated: opts.Now.UTC(), IncidentsPer12h: opts.IncidentsPer12h,
		Rotations: []RotationLoad{}, Unassigned: []Unassigned{}}
	byName := map[string]int{}
	for i := range rotations {
		r := &rotations[i]
		if err := r.check(); err != nil {
			return nil, err
		}
		if _, dup := byName[r.Name]; dup {
			return nil, fmt.Errorf("oncall: rotation %q given twice (%s:%d and %s:%d)", r.Name, rotations[byName[r.Name]].File,
				rotations[byName[r.Name]].Line, r.File, r.Line)
		}
		byName[r.Name] = i
	}
	for _, svc := range slices.Sorted(maps.Keys(services)) {
		if _, ok := byName[services[svc]]; !ok {
			return nil, fmt.Errorf("oncall: service %q is on call by rotation %q, which no catalog declares: declare it under rotations: or fix the service's on-call", svc, services[svc])
		}
	}
	rotPages := make([][]*Page, len(rotations))
	unassigned := map[string]int{}
	mFrom, mTo := month.bounds(time.UTC)
	for j := range pages {
		p := &pages[j]
		if i, ok := byName[services[p.Service]]; ok && p.Service != "" {
			rotPages[i] = append(rotPages[i], p)
		} else if !p.At.Before(mFrom) && p.At.Before(mTo) {
			unassigned[p.Service]++
		}
	}
	for _, svc := range slices.Sorted(maps.Keys(unassigned)) {
		rep.Unassigned = append(rep.Unassigned, Unassigned{Service: svc, Pages: unassigned[svc]})
	}
	rotIncidents := make([][]*Incident, len(rotations))
	for j := range incidents {
		seen := map[int]bool{}
		for _, svc := range incidents[j].Services {
			if i, ok := byName[services[svc]]; ok && !seen[i] {
				seen[i] = true
				rotIncidents[i] = append(rotIncidents[i], &incidents[j])
			}
		}
	}
	svcOf := map[string][]string{}
	for _, svc := range slices.Sorted(maps.Keys(services)) {
		svcOf[services[svc]] = append(svcOf[services[svc]], svc)
	}
	for i := range rotations {
		r := &rotations[i]
		rl := computeRotation(r, rotPages[i], rotIncidents[i], month, &opts)
		rl.Services = append([]string{}, svcOf[r.Name]...)
		rep.Rotations = append(rep.Rotations, rl)
	}
	return rep, nil
}

// check refuses a Rotation built by hand that the parser would refuse.
func (r *Rotation) check() error {
	switch {
	case r.Name == "":
		return errors.New("oncall: a rotation has no name")
	case len(r.Members) == 0:
		return fmt.Errorf("oncall: rotation %q has no members", r.Name)
	case r.Shift < MinShift || r.Shift > MaxShift || r.Shift%time.Minute != 0:
		return fmt.Errorf("oncall: rotation %q: shift %s: want whole minutes from 1h to 4w", r.Name, r.Shift)
	case r.Zone == nil:
		return fmt.Errorf("oncall: rotation %q has no time zone", r.Name)
	case r.Handoff < 0 || r.Handoff >= 24*60:
		return fmt.Errorf("oncall: rotation %q: hand-off %d minutes after midnight: want 0 to 1439", r.Name, r.Handoff)
	case civil(r.Start).Before(minDate) || !civil(r.Start).Before(maxDate):
		return fmt.Errorf("oncall: rotation %q: start %s: want a date from 1970 to 2199", r.Name, r.Start.Format(time.DateOnly))
	}
	return nil
}

// Limit is the incident limit of one of r's shifts.
func (r *Rotation) Limit(per12h float64) float64 {
	if r.MaxIncidents > 0 {
		return r.MaxIncidents
	}
	return per12h * r.Shift.Hours() / 12
}

func (r *Rotation) staffing(o *Options) Staffing {
	st := Staffing{People: len(r.Members), OK: true}
	if len(r.Sites) > 1 {
		st.PerSite, st.Minimum = true, cmp.Or(r.MinPeople, o.MinPerSite)
		for _, s := range r.Sites {
			n := 0
			for _, m := range r.Members {
				if m.Site == s {
					n++
				}
			}
			st.Sites = append(st.Sites, Site{Name: s, People: n})
			if n < st.Minimum {
				st.OK = false
				st.Problem += fmt.Sprintf("site %s has %s, fewer than %d: add %d to it, or set min_people for this rotation; ", s, people(n), st.Minimum, st.Minimum-n)
			}
		}
		if st.Problem != "" {
			st.Problem = st.Problem[:len(st.Problem)-2]
		}
		return st
	}
	st.Minimum = cmp.Or(r.MinPeople, o.MinPeople)
	if st.People < st.Minimum {
		st.OK = false
		st.Problem = fmt.Sprintf("%s, fewer than %d: add %d to the rotation, or set min_people for it", people(st.People), st.Minimum, st.Minimum-st.People)
	}
	return st
}

// linked reports whether page p led to incident inc: the page came
// between LinkGrace before the incident's start and its resolution, and
// the incident was opened from the page's alert group or is one of the
// page's service. (A group key alone is not enough: the same alert group
// fires again months later.)
func linked(p *Page, inc *Incident, grace time.Duration) bool {
	if p.At.Before(inc.Start.Add(-grace)) || !inc.Resolved.IsZero() && p.At.After(inc.Resolved) {
		return false
	}
	return inc.GroupKey != "" && inc.GroupKey == p.GroupKey || slices.Contains(inc.Services, p.Service)
}

// noise classifies p by the definition of linked: led to no incident,
// or only to incidents resolved with no action.
func noise(p *Page, incs []*Incident, grace time.Duration) (noIncident, noAction bool) {
	var c classify
	for _, inc := range incs {
		if linked(p, inc, grace) {
			c.add(inc)
		}
	}
	return c.result()
}

type classify struct{ any, acted, open bool }

func (c *classify) add(inc *Incident) {
	c.any = true
	c.acted = c.acted || inc.Acted
	c.open = c.open || inc.Resolved.IsZero()
}

func (c *classify) result() (noIncident, noAction bool) {
	if !c.any {
		return true, false
	}
	return false, !c.acted && !c.open
}

// linkIndex answers noise as the loop over every incident does, without
// the loop: a year of pages against a year of incidents is tens of
// millions of pairs. Only incidents whose window [Start − grace,
// Resolved] holds the page can be linked: the resolved ones are sorted by
// window start and looked back from the page no further than the longest
// window; unresolved ones are few and checked each time.
type linkIndex struct {
	grace   time.Duration
	sorted  []*Incident // resolved, by window start
	lo      []int64
	maxSpan int64
	open    []*Incident
}

func newLinkIndex(incs []*Incident, grace time.Duration) *linkIndex {
	x := &linkIndex{grace: grace}
	for _, inc := range incs {
		if inc.Resolved.IsZero() {
			x.open = append(x.open, inc)
			continue
		}
		x.sorted = append(x.sorted, inc)
	}
	slices.SortFunc(x.sorted, func(a, b *Incident) int { return a.Start.Compare(b.Start) })
	for _, inc := range x.sorted {
		lo := inc.Start.Add(-grace).UnixNano()
		x.lo = append(x.lo, lo)
		x.maxSpan = max(x.maxSpan, inc.Resolved.UnixNano()-lo)
	}
	return x
}

func (x *linkIndex) noise(p *Page) (noIncident, noAction bool) {
	var c classify
	for _, inc := range x.open {
		if linked(p, inc, x.grace) {
			c.add(inc)
		}
	}
	t := p.At.UnixNano()
	for j := sort.Search(len(x.lo), func(i int) bool { return x.lo[i] > t }) - 1; j >= 0 && x.lo[j] >= t-x.maxSpan; j-- {
		if linked(p, x.sorted[j], x.grace) {
			c.add(x.sorted[j])
		}
	}
	return c.result()
}

// tally accumulates one month's figures of a rotation or a person.
type tally struct {
	Figures
	engaged time.Duration
}

func (t *tally) finish() Figures {
	f := t.Figures
	f.EngagedSeconds = t.engaged.Seconds()
	if f.Shifts > 0 {
		f.PagesPerShift = float64(f.Pages) / f.Shifts
		f.IncidentsPerShift = float64(f.Incidents) / f.Shifts
	}
	f.Noise = f.NoIncident + f.NoAction
	if f.Pages > 0 {
		f.NoiseShare = float64(f.Noise) / float64(f.Pages)
	}
	return f
}

// timeline is a rotation's segments over a span, searchable by instant.
type timeline struct {
	r    *Rotation
	segs []Segment
}

func (tl *timeline) at(t time.Time) (*Segment, bool) {
	i := sort.Search(len(tl.segs), func(i int) bool { return tl.segs[i].To.After(t) })
	if i == len(tl.segs) || tl.segs[i].From.After(t) {
		return nil, false
	}
	return &tl.segs[i], true
}

func computeRotation(r *Rotation, pages []*Page, incs []*Incident, month Month, o *Options) RotationLoad {
	slices.SortFunc(pages, func(a, b *Page) int { return a.At.Compare(b.At) })
	links := newLinkIndex(incs, o.LinkGrace)
	night := o.Night
	if r.Night != nil {
		night = r.Night
	}
	limit := r.Limit(o.IncidentsPer12h)
	rl := RotationLoad{Name: r.Name, Zone: r.Zone.String(), Shift: shiftText(r.Shift), Handoff: r.Handoff.String(),
		Working: r.Working.String(), Night: night.String(), Limit: limit, Staffing: r.staffing(o),
		History: []MonthFigures{}, People: []Person{}, OverShifts: []OverShift{}}
	first := month.Add(1 - o.Months)
	spanFrom, _ := first.bounds(r.Zone)
	_, spanTo := month.bounds(r.Zone)
	// Shifts that start in the span may end after it: their incidents
	// count whole.
	k, _ := r.ShiftIndex(spanTo)
	tlEnd := r.Boundary(k + 1)
	tl := timeline{r: r, segs: r.Segments(spanFrom, tlEnd)}
	shiftLen := func(k int64) time.Duration { return r.Boundary(k + 1).Sub(r.Boundary(k)) }

	// Incidents by the shift and person that took them.
	perShift := map[int64]int{}
	for _, inc := range incs {
		if seg, ok := tl.at(inc.paged()); ok {
			perShift[seg.Shift]++
		}
	}
	people := map[string]map[Month]*tally{}
	person := func(name string, m Month) *tally {
		if people[name] == nil {
			people[name] = map[Month]*tally{}
		}
		if people[name][m] == nil {
			people[name][m] = &tally{Figures: Figures{Month: m.String()}}
		}
		return people[name][m]
	}
	for m := first; m != month.Add(1); m = m.Add(1) {
		from, to := m.bounds(r.Zone)
		if to.After(o.Now) {
			to = o.Now
		}
		mf := MonthFigures{}
		rt := &tally{Figures: Figures{Month: m.String()}}
		for _, s := range tl.segs {
			lo, hi := maxTime(s.From, from), minTime(s.To, to)
			if lo.Before(hi) {
				f := float64(hi.Sub(lo)) / float64(shiftLen(s.Shift))
				rt.Shifts += f
				person(s.Person, m).Shifts += f
			}
		}
		lo := sort.Search(len(pages), func(i int) bool { return !pages[i].At.Before(from) })
		for _, p := range pages[lo:] {
			if !p.At.Before(to) {
				break
			}
			seg, ok := tl.at(p.At)
			if !ok {
				mf.Uncovered++
				continue
			}
			local := p.At.In(r.Zone)
			off, atNight := !r.Working.Contains(local), night.Contains(clockOf(local))
			noInc, noAct := links.noise(p)
			for _, t := range []*tally{rt, person(seg.Person, m)} {
				t.Pages++
				t.OffHours += b2i(off)
				t.Night += b2i(atNight)
				t.NoIncident += b2i(noInc)
				t.NoAction += b2i(noAct)
			}
		}
		for _, inc := range incs {
			at := inc.paged()
			if at.Before(from) || !at.Before(to) {
				continue
			}
			seg, ok := tl.at(at)
			if !ok {
				continue
			}
			for _, t := range []*tally{rt, person(seg.Person, m)} {
				t.Incidents++
				if inc.Engaged.IsZero() || inc.Mitigated.IsZero() {
					t.EngagedUnknown++
				} else {
					t.engaged += inc.Mitigated.Sub(inc.Engaged)
				}
			}
		}
		// Shifts are judged against the limit in the month they start.
		for kk := range shiftsStarting(r, from, to) {
			n := perShift[kk]
			mf.MaxInShift = max(mf.MaxInShift, n)
			if float64(n) > limit {
				mf.OverLimit++
				if m == month {
					rl.OverShifts = append(rl.OverShifts, OverShift{Start: r.Boundary(kk), End: r.Boundary(kk + 1),
						Person: whoStarted(&tl, r, kk), Incidents: n})
				}
			}
		}
		mf.Figures = rt.finish()
		rl.History = append(rl.History, mf)
	}
	rl.Month = rl.History[len(rl.History)-1]
	rl.Previous = rl.History[len(rl.History)-2]

	// People: the members in their order, then anyone who stood in.
	names := []string{}
	for _, m := range r.Members {
		names = append(names, m.Name)
	}
	var others []string
	for name := range people {
		if !slices.Contains(names, name) {
			others = append(others, name)
		}
	}
	slices.Sort(others)
	for _, name := range append(names, others...) {
		p := Person{Name: name, Member: !slices.Contains(others, name)}
		for _, m := range r.Members {
			if m.Name == name {
				p.Site = m.Site
			}
		}
		p.Month = person(name, month).finish()
		p.Previous = person(name, month.Add(-1)).finish()
		if !p.Member && p.Month.Shifts == 0 && p.Month.Pages == 0 {
			continue // stood in some other month
		}
		rl.People = append(rl.People, p)
	}
	return rl
}

// shiftsStarting yields the shifts of r that start in [from, to).
func shiftsStarting(r *Rotation, from, to time.Time) func(func(int64) bool) {
	return func(yield func(int64) bool) {
		if !from.Before(to) {
			return
		}
		k, _ := r.ShiftIndex(from)
		if r.Boundary(k).Before(from) {
			k++
		}
		for k = max(k, 0); r.Boundary(k).Before(to); k++ {
			if !yield(k) {
				return
			}
		}
	}
}

// whoStarted is who was on call at the start of shift k.
func whoStarted(tl *timeline, r *Rotation, k int64) string {
	if seg, ok := tl.at(r.Boundary(k)); ok {
		return seg.Person
	}
	return r.Scheduled(k).Name
}

func people(n int) string {
	if n == 1 {
		return "1 person"
	}
	return fmt.Sprintf("%d people", n)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// shiftText writes a shift length as the catalog would: 12h, 1d, 1w.
func shiftText(d time.Duration) string {
	switch {
	case d%(7*24*time.Hour) == 0:
		return fmt.Sprintf("%dw", d/(7*24*time.Hour))
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}

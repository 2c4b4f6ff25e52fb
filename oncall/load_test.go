package oncall

import (
	"math"
	"testing"
	"time"
)

// The worked history of load_test and the golden files: rotation
// payments keeps New York time across the fall-back change of 2026-11-01,
// 12 h shifts from 09:00 since 2026-10-01 in the order ana, ben, cem,
// dan, so shift k (k = 0 on 10-01 09:00 EDT) is member k mod 4; shift 61
// (ben) runs 10-31 21:00 EDT to 11-01 09:00 EST, 13 real hours. dan
// stands in for cem on 11-07 10:00–14:00.
const workedCatalog = `
rotations:
  - name: payments
    members: [ana, ben, cem, dan]
    shift: 12h
    handoff: "09:00"
    start: 2026-10-01
    time_zone: America/New_York
    overrides:
      - {member: dan, replaces: cem, from: "2026-11-07 10:00", to: "2026-11-07 14:00"}
  - name: search
    members:
      - {name: eve, site: dublin}
      - {name: fay, site: dublin}
      - {name: gus, site: sydney}
    sites: [dublin, sydney]
    shift: 1w
    handoff: "10:00"
    start: 2026-11-02
    time_zone: Europe/Dublin
`

var workedServices = map[string]string{"checkout": "payments", "cart": "payments", "search": "search"}

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func workedPages() []Page {
	return []Page{
		// P5, in October: Sat 10-31 22:00 EDT, ben; night, off hours, no incident.
		{At: utc("2026-11-01T02:00:00Z"), Service: "checkout", SLO: "checkout-availability", Alert: "page-fast", GroupKey: "g5"},
		// P1: Sun 11-01 01:00 EST (the second 01:00), ben; night, off hours, no incident.
		{At: utc("2026-11-01T06:00:00Z"), Service: "checkout", SLO: "checkout-availability", Alert: "page-fast", GroupKey: "g0"},
		// P2: Mon 11-02 14:00 EST, ana; working hours; opened I1 (group g1).
		{At: utc("2026-11-02T19:00:00Z"), Service: "cart", SLO: "cart-latency", Alert: "page-slow", GroupKey: "g1"},
		// P3: Mon 11-02 23:30 EST, ben; night; I2 starts 10 minutes later
		// and is resolved with no action.
		{At: utc("2026-11-03T04:30:00Z"), Service: "checkout", SLO: "checkout-availability", Alert: "page-fast", GroupKey: "g3"},
		// P4: Sat 11-07 12:00 EST, dan standing in for cem; off hours, no incident.
		{At: utc("2026-11-07T17:00:00Z"), Service: "checkout", SLO: "checkout-availability", Alert: "page-fast", GroupKey: "g4"},
		// A page of a service no rotation takes, and one in December.
		{At: utc("2026-11-10T12:00:00Z"), Service: "billing", SLO: "billing-availability", Alert: "page-fast", GroupKey: "g6"},
		{At: utc("2026-12-01T12:00:00Z"), Service: "checkout", SLO: "checkout-availability", Alert: "page-fast", GroupKey: "g7"},
		// search: Tue 11-03 03:00 GMT, eve (week from 11-02 10:00).
		{At: utc("2026-11-03T03:00:00Z"), Service: "search", SLO: "search-latency", Alert: "page-fast", GroupKey: "g8"},
	}
}

func workedIncidents() []Incident {
	return []Incident{
		// I1: ana's, engaged 1 h, acted on.
		{ID: 1, Services: []string{"cart"}, GroupKey: "g1", Start: utc("2026-11-02T19:05:00Z"), Detected: utc("2026-11-02T19:05:00Z"),
			Engaged: utc("2026-11-02T19:10:00Z"), Mitigated: utc("2026-11-02T20:10:00Z"), Resolved: utc("2026-11-02T21:00:00Z"), Acted: true},
		// I2, I3, I4: ben's night shift 65 (11-02 21:00 to 11-03 09:00 EST)
		// takes three, one over the limit of 2.
		{ID: 2, Services: []string{"checkout"}, Start: utc("2026-11-03T04:40:00Z"), Detected: utc("2026-11-03T04:40:00Z"),
			Resolved: utc("2026-11-03T05:00:00Z")},
		{ID: 3, Services: []string{"checkout"}, Start: utc("2026-11-03T06:00:00Z"), Detected: utc("2026-11-03T06:00:00Z"),
			Engaged: utc("2026-11-03T06:05:00Z"), Mitigated: utc("2026-11-03T06:35:00Z"), Resolved: utc("2026-11-03T07:00:00Z"), Acted: true},
		{ID: 4, Services: []string{"checkout", "search"}, Start: utc("2026-11-03T10:00:00Z"), Detected: utc("2026-11-03T10:00:00Z"),
			Engaged: utc("2026-11-03T10:00:00Z"), Mitigated: utc("2026-11-03T10:20:00Z"), Resolved: utc("2026-11-03T11:00:00Z"), Acted: true},
	}
}

var workedNow = utc("2026-12-07T12:00:00Z")

func workedReport(t testing.TB) *Report {
	t.Helper()
	rs := parseRotations(t, workedCatalog)
	rep, err := Compute(rs, workedServices, workedPages(), workedIncidents(), Month{2026, time.November}, Options{Now: workedNow})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

// TestWorkedLoad checks the figures of the worked history against the
// answers computed by hand in the comments.
func TestWorkedLoad(t *testing.T) {
	rep := workedReport(t)
	p := rep.Rotations[0]
	if p.Name != "payments" || p.Limit != 2 {
		t.Fatalf("rotation %s, limit %g", p.Name, p.Limit)
	}
	// November in New York: shift 61 from 11-01 00:00 EDT is 10 of its
	// 13 hours; shifts 62–120 whole (59); shift 121 from 11-30 21:00 EST
	// is 3 of 12 hours.
	novShifts := 59 + 10.0/13 + 0.25
	m := p.Month
	t.Run("The month's figures are the hand-computed ones.", func(t *testing.T) {
		if !near(m.Shifts, novShifts) {
			t.Errorf("shifts %v, want %v", m.Shifts, novShifts)
		}
		want := MonthFigures{Figures: Figures{Month: "2026-11", Shifts: m.Shifts, Pages: 4, PagesPerShift: 4 / m.Shifts, OffHours: 3, Night: 2,
			Incidents: 4, IncidentsPerShift: 4 / m.Shifts, EngagedSeconds: (60 + 30 + 20) * 60, EngagedUnknown: 1,
			NoIncident: 2, NoAction: 1, Noise: 3, NoiseShare: 0.75}, MaxInShift: 3, OverLimit: 1}
		if m != want {
			t.Errorf("November\n got %+v\nwant %+v", m, want)
		}
	})
	t.Run("The month before is October in New York.", func(t *testing.T) {
		// From 10-01 09:00: shifts 0–60 whole (61) and 3 of shift 61's 13 hours.
		pr := p.Previous
		if pr.Month != "2026-10" || !near(pr.Shifts, 61+3.0/13) || pr.Pages != 1 || pr.Night != 1 || pr.OffHours != 1 || pr.NoIncident != 1 || pr.Incidents != 0 {
			t.Errorf("October %+v", pr)
		}
		if len(p.History) != DefaultMonths || p.History[0].Month != "2026-06" || p.History[0].Shifts != 0 {
			t.Errorf("history %+v", p.History)
		}
	})
	t.Run("The shift over the limit is ben's night shift.", func(t *testing.T) {
		want := OverShift{Start: utc("2026-11-03T02:00:00Z"), End: utc("2026-11-03T14:00:00Z"), Person: "ben", Incidents: 3}
		if len(p.OverShifts) != 1 || !p.OverShifts[0].Start.Equal(want.Start) || !p.OverShifts[0].End.Equal(want.End) ||
			p.OverShifts[0].Person != want.Person || p.OverShifts[0].Incidents != want.Incidents {
			t.Errorf("over the limit %+v, want %+v", p.OverShifts, want)
		}
	})
	t.Run("Each person carries the pages and incidents of their own time.", func(t *testing.T) {
		// Shifts 62–120 start at residue 2: cem, dan and ana 15 each, ben
		// 14; ben also has 10/13 and 1/4; dan took 4 h of cem's 12.
		want := map[string]Figures{
			"ana": {Shifts: 15, Pages: 1, Incidents: 1, EngagedSeconds: 3600},
			"ben": {Shifts: 14 + 10.0/13 + 0.25, Pages: 2, OffHours: 2, Night: 2, NoIncident: 1, NoAction: 1, Noise: 2, NoiseShare: 1,
				Incidents: 3, EngagedSeconds: 50 * 60, EngagedUnknown: 1},
			"cem": {Shifts: 15 - 4.0/12},
			"dan": {Shifts: 15 + 4.0/12, Pages: 1, OffHours: 1, NoIncident: 1, Noise: 1, NoiseShare: 1},
		}
		if len(p.People) != 4 {
			t.Fatalf("people %+v", p.People)
		}
		for _, got := range p.People {
			w := want[got.Name]
			g := got.Month
			if !near(g.Shifts, w.Shifts) {
				t.Errorf("%s: %v shifts, want %v", got.Name, g.Shifts, w.Shifts)
			}
			g.Shifts, g.PagesPerShift, g.IncidentsPerShift, g.Month = w.Shifts, 0, 0, ""
			if g != w {
				t.Errorf("%s\n got %+v\nwant %+v", got.Name, g, w)
			}
		}
		if ben := p.People[1]; ben.Previous.Pages != 1 || ben.Previous.Month != "2026-10" {
			t.Errorf("ben's October %+v", ben.Previous)
		}
	})
	t.Run("A rotation short of people says how many to add.", func(t *testing.T) {
		if p.Staffing.OK || p.Staffing.Minimum != 6 || p.Staffing.People != 4 ||
			p.Staffing.Problem != "4 people, fewer than 6: add 2 to the rotation, or set min_people for it" {
			t.Errorf("staffing %+v", p.Staffing)
		}
	})
	t.Run("A multi-site rotation needs its minimum at each site.", func(t *testing.T) {
		s := rep.Rotations[1]
		if s.Staffing.OK || !s.Staffing.PerSite || len(s.Staffing.Sites) != 2 || s.Staffing.Sites[0] != (Site{"dublin", 2}) {
			t.Errorf("staffing %+v", s.Staffing)
		}
		// A one-week shift may take 2 × 14 incidents; search shares I4.
		if s.Limit != 28 || s.Month.Pages != 1 || s.Month.Incidents != 1 || s.Month.Night != 1 || s.People[0].Month.Pages != 1 {
			t.Errorf("search %+v", s)
		}
		// From 11-02 10:00 GMT to 12-01 00:00 GMT: 28 days 14 hours of
		// one-week shifts.
		if !near(s.Month.Shifts, (28*24+14)/168.0) {
			t.Errorf("search shifts %v", s.Month.Shifts)
		}
	})
	t.Run("Pages no rotation takes are counted by service.", func(t *testing.T) {
		if len(rep.Unassigned) != 1 || rep.Unassigned[0] != (Unassigned{"billing", 1}) {
			t.Errorf("unassigned %+v", rep.Unassigned)
		}
	})
}

// TestComputeRefuses: a report that would mislead is refused.
func TestComputeRefuses(t *testing.T) {
	rs := parseRotations(t, workedCatalog)
	for _, c := range []struct {
		name     string
		services map[string]string
		month    Month
		opts     Options
	}{
		{"A service on call by an undeclared rotation is refused.", map[string]string{"x": "nobody"}, Month{2026, 11}, Options{Now: workedNow}},
		{"A month that has not started is refused.", nil, Month{2027, 1}, Options{Now: workedNow}},
		{"A report without a time is refused.", nil, Month{2026, 11}, Options{}},
		{"A negative incident limit is refused.", nil, Month{2026, 11}, Options{Now: workedNow, IncidentsPer12h: -1}},
		{"A one-month view is refused.", nil, Month{2026, 11}, Options{Now: workedNow, Months: 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := Compute(rs, c.services, nil, nil, c.month, c.opts); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestLinked: a page leads to an incident of its group or service only
// within the incident's window.
func TestLinked(t *testing.T) {
	inc := &Incident{Services: []string{"checkout"}, GroupKey: "g", Start: utc("2026-11-02T10:00:00Z"), Resolved: utc("2026-11-02T12:00:00Z")}
	for _, c := range []struct {
		name    string
		at      string
		service string
		group   string
		want    bool
	}{
		{"A page of the service during the incident leads to it.", "2026-11-02T11:00:00Z", "checkout", "x", true},
		{"A page of the group from another service leads to it.", "2026-11-02T11:00:00Z", "cart", "g", true},
		{"A page 30 minutes before the start leads to it.", "2026-11-02T09:30:00Z", "checkout", "x", true},
		{"A page 31 minutes before the start does not.", "2026-11-02T09:29:00Z", "checkout", "x", false},
		{"A page at the resolution still does.", "2026-11-02T12:00:00Z", "checkout", "x", true},
		{"A page of the same group a month later does not.", "2026-12-02T11:00:00Z", "checkout", "g", false},
		{"A page of another service and group does not.", "2026-11-02T11:00:00Z", "cart", "x", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := &Page{At: utc(c.at), Service: c.service, GroupKey: c.group}
			if got := linked(p, inc, DefaultLinkGrace); got != c.want {
				t.Errorf("linked %v, want %v", got, c.want)
			}
		})
	}
	open := *inc
	open.Resolved = time.Time{}
	if !linked(&Page{At: utc("2026-12-02T11:00:00Z"), Service: "checkout"}, &open, DefaultLinkGrace) {
		t.Error("a page of the service while the incident is unresolved leads to it")
	}
}

// TestBerlinFallBack: October 2026 in Berlin is 745 real hours (the clock
// goes back at 03:00 on the 25th). Shifts of 12 h from 10-01 09:00 CEST:
// 0–60 whole, shift 47 (ben, 10-24 21:00 CEST to 10-25 09:00 CET) 13
// hours long, and 3 of shift 61's 12 hours: 61.25 shifts, ana 31 (the
// even ones), ben 30.25. Both 02:30s of the 25th fall in ben's shift.
func TestBerlinFallBack(t *testing.T) {
	rs := parseRotations(t, `
rotations:
  - {name: payments, members: [ana, ben], shift: 12h, handoff: "09:00", start: 2026-10-01, time_zone: Europe/Berlin}
`)
	pages := []Page{
		{At: utc("2026-10-25T00:30:00Z"), Service: "checkout"}, // 02:30 CEST, ben
		{At: utc("2026-10-25T01:30:00Z"), Service: "checkout"}, // 02:30 CET, ben
		{At: utc("2026-10-25T08:30:00Z"), Service: "checkout"}, // 09:30 CET, ana; a Sunday
		{At: utc("2026-10-31T23:30:00Z"), Service: "checkout"}, // 11-01 00:30 CET: November
	}
	rep, err := Compute(rs, map[string]string{"checkout": "payments"}, pages, nil, Month{2026, time.October}, Options{Now: workedNow})
	if err != nil {
		t.Fatal(err)
	}
	r := rep.Rotations[0]
	if m := r.Month; !near(m.Shifts, 61.25) || m.Pages != 3 || m.Night != 2 || m.OffHours != 3 || m.NoIncident != 3 {
		t.Errorf("October %+v", m)
	}
	ana, ben := r.People[0].Month, r.People[1].Month
	if !near(ana.Shifts, 31) || ana.Pages != 1 || ana.Night != 0 || !near(ben.Shifts, 30.25) || ben.Pages != 2 || ben.Night != 2 {
		t.Errorf("ana %+v\nben %+v", ana, ben)
	}
	if r.Previous.Month != "2026-09" || r.Previous.Shifts != 0 || r.Previous.Pages != 0 {
		t.Errorf("September, before the first shift: %+v", r.Previous)
	}
}

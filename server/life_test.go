package server

import (
	"strings"
	"testing"
	"time"
)

// freshSpec is a 30-day SLO with the defaults that make young SLOs hard:
// the quanta method and noData: bad.
const freshSpec = `name: fresh
service: fresh
sli:
  good:
    status: "<500"
objective: 99.9
window:
  rolling: 30d
`

// TestAFreshSLOThroughTheAPI: an SLO created now and fed only good
// events shows 100 %, its whole budget and nothing firing, though 30 days
// of its window passed before it existed; an outage in its first hour
// then pages at its first bad minute, as the workbook's 1-hour tier says
// (2 % of the budget is 0.864 minutes), with the outage's first minute as
// the impact start, and opens no ticket yet.
func TestAFreshSLOThroughTheAPI(t *testing.T) {
	f := newFixtureReload(t, "", true)
	f.spec = freshSpec
	f.do("POST", "/api/v1/-/reload", "", nil, 200, nil)
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	post := func(m time.Time, failed int) {
		f.clock.Set(m.Add(30 * time.Second))
		f.do("POST", "/api/v1/events?slo=fresh", minuteOfEvents(m, 20, failed, 0), nil, 200, nil)
		f.eng.Tick(f.clock.Now())
	}
	for i := range 20 {
		post(start.Add(time.Duration(i)*time.Minute), 0)
	}
	f.clock.Set(start.Add(21 * time.Minute))
	f.eng.Tick(f.clock.Now())
	var st struct {
		Since   time.Time
		Windows []struct {
			Availability float64
			Quanta       struct{ Good, Bad, BeforeStart int } `json:"quanta"`
			Budget       struct{ Total, Spent, Remaining float64 }
		}
		BurnRates []struct {
			Span string
			Rate *float64
		} `json:"burn_rates"`
	}
	f.do("GET", "/api/v1/slos/fresh/status", "", nil, 200, &st)
	w := st.Windows[0]
	if !st.Since.Equal(start) || w.Availability != 100 || w.Quanta.Good != 20 || w.Quanta.Bad != 0 || w.Budget.Spent != 0 || w.Budget.Total != 43.2 {
		t.Fatalf("a fresh SLO fed good events: since %v, %+v", st.Since, w)
	}
	for _, b := range st.BurnRates {
		if b.Rate == nil || *b.Rate != 0 {
			t.Errorf("burn rate over %s: %v, want 0", b.Span, b.Rate)
		}
	}
	var alerts struct{ Firing []struct{ SLO, Alert string } }
	f.do("GET", "/api/v1/alerts", "", nil, 200, &alerts)
	for _, a := range alerts.Firing {
		if a.SLO == "fresh" {
			t.Fatalf("firing on a fresh SLO fed good events: %+v", alerts.Firing)
		}
	}

	// 10:20 fails every request.
	outage := start.Add(20 * time.Minute)
	post(outage, 20)
	f.clock.Set(outage.Add(2*time.Minute + 5*time.Second))
	f.eng.Tick(f.clock.Now())
	var one struct {
		Firing []struct {
			Alert       string
			ImpactStart time.Time `json:"impact_start"`
		}
	}
	f.do("GET", "/api/v1/slos/fresh/alerts", "", nil, 200, &one)
	if len(one.Firing) != 1 || one.Firing[0].Alert != "page-fast" || !one.Firing[0].ImpactStart.Equal(outage) {
		t.Fatalf("after one bad minute: %+v, want the 1-hour page alone, its impact from %v", one.Firing, outage)
	}
	body := f.do("GET", "/api/v1/slos/fresh/quanta?from=2026-11-25T10:19:00Z&to=2026-11-25T10:23:00Z", "", nil, 200, nil)
	if !strings.Contains(body, `"verdict": "bad"`) || !strings.Contains(body, `"verdict": "pending"`) {
		t.Errorf("quanta around the outage: %s", body)
	}
}

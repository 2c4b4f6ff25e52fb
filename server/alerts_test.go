package server

import (
	"strings"
	"testing"
	"time"
)

func TestAnOutagePagesAndTheAPIShowsWhy(t *testing.T) {
	f := newFixture(t, "")
	bad := time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)
	f.do("POST", "/api/v1/events?slo=checkout-availability", minuteOfEvents(bad, 100, 50, 0), nil, 200, nil)
	f.clock.Set(bad.Add(2*time.Minute + 30*time.Second)) // the minute has settled
	var all struct {
		Firing []struct {
			SLO, Alert, Severity, Reason string
			Factor                       float64
			BurnShort                    float64 `json:"burn_rate_short"`
		}
	}
	f.do("GET", "/api/v1/alerts", "", nil, 200, &all)
	// checkout-availability pages on its burn; checkout-transactions,
	// which never received an event, has not begun its life: no silence
	// of it can be held against it yet.
	if len(all.Firing) != 1 {
		t.Fatalf("firing %+v, want a page for checkout-availability alone", all.Firing)
	}
	a := all.Firing[0]
	if a.SLO != "checkout-availability" || a.Severity != "page" || a.BurnShort <= a.Factor || !strings.Contains(a.Reason, "burning") {
		t.Fatalf("alert %+v", a)
	}
	var one struct {
		Checks  []struct{ Alert, Status string }
		Firing  []struct{ Alert string }
		History []struct {
			Alert, Kind string
		}
	}
	f.do("GET", "/api/v1/slos/checkout-availability/alerts", "", nil, 200, &one)
	if len(one.Checks) == 0 || len(one.Firing) != 1 || len(one.History) != 1 || one.History[0].Kind != "fire" {
		t.Fatalf("SLO alerts %+v", one)
	}
	if m := f.do("GET", "/metrics", "", nil, 200, nil); !strings.Contains(m, `nines_slo_alert_firing{slo="checkout-availability",service="checkout",alert="`+a.Alert+`",severity="page"} 1`) {
		t.Fatalf("/metrics lacks the firing alert:\n%s", m)
	}
	// The server evaluates every few seconds; here every minute for an
	// hour and a half. Once the bad minute leaves the short window the page
	// resolves (after the hold); checkout-availability, silent since, is
	// on its no-data ticket, and checkout-transactions still waits for
	// its first data.
	for t := bad.Add(3 * time.Minute); !t.After(bad.Add(90 * time.Minute)); t = t.Add(time.Minute) {
		f.clock.Set(t)
		f.eng.Tick(t)
	}
	f.do("GET", "/api/v1/alerts", "", nil, 200, &all)
	if len(all.Firing) != 1 || all.Firing[0].SLO != "checkout-availability" || all.Firing[0].Alert != "no-data" {
		t.Fatalf("an hour and a half later only checkout-availability's no-data ticket should fire: %+v", all.Firing)
	}
	f.do("GET", "/api/v1/slos/checkout-availability/alerts", "", nil, 200, &one)
	if len(one.History) != 3 || one.History[1].Alert != "page-fast" || one.History[1].Kind != "resolve" || one.History[2].Alert != "no-data" {
		t.Fatalf("history %+v, want the page fired and resolved, then the no-data ticket", one.History)
	}
}

func TestGateFollowsTheBudget(t *testing.T) {
	f := newFixture(t, "")
	var g struct {
		Allow  bool
		Reason string
	}
	f.do("GET", "/api/v1/slos/checkout-availability/gate", "", nil, 200, &g)
	if !g.Allow || !strings.HasPrefix(g.Reason, "allow: 100.0 % of the rolling 1h budget left") {
		t.Fatalf("an untouched budget must allow: %+v", g)
	}
	// One bad minute spends more than the 0.6-quantum budget of the hour.
	bad := time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)
	f.do("POST", "/api/v1/events?slo=checkout-availability", minuteOfEvents(bad, 100, 50, 0), nil, 200, nil)
	f.clock.Set(bad.Add(2*time.Minute + 30*time.Second))
	f.do("GET", "/api/v1/slos/checkout-availability/gate", "", nil, 200, &g)
	if g.Allow || !strings.HasPrefix(g.Reason, "deny: -66.7 % of the rolling 1h budget left") {
		t.Fatalf("a spent budget must deny: %+v", g)
	}
	f.do("GET", "/api/v1/slos/nope/gate", "", nil, 404, nil)
}

// TestAFiringAlertCarriesItsBurnNowAndAtFiring: minutes after a bad
// minute left the short window, a page waiting out its resolve hold shows
// the 200× of the moment it fired and the 0× of now, in both lists.
func TestAFiringAlertCarriesItsBurnNowAndAtFiring(t *testing.T) {
	f := newFixture(t, "")
	bad := time.Date(2026, 11, 25, 9, 59, 0, 0, time.UTC)
	f.do("POST", "/api/v1/events?slo=checkout-availability", minuteOfEvents(bad, 100, 50, 0), nil, 200, nil)
	type firing struct {
		SLO, Alert string
		Since      time.Time
		Factor     float64
		BurnShort  float64 `json:"burn_rate_short"`
		Now        *struct {
			At         time.Time  `json:"evaluated_at"`
			Status     string     `json:"status"`
			BurnLong   *float64   `json:"burn_rate_long"`
			BurnShort  *float64   `json:"burn_rate_short"`
			ClearSince *time.Time `json:"clear_since"`
			ResolvesAt *time.Time `json:"resolves_at"`
		}
	}
	page := func(path string) firing {
		t.Helper()
		var answer struct{ Firing []firing }
		f.do("GET", path, "", nil, 200, &answer)
		for _, a := range answer.Firing {
			if a.SLO == "checkout-availability" && a.Alert == "page-fast" {
				return a
			}
		}
		t.Fatalf("%s: page-fast is not firing: %+v", path, answer.Firing)
		return firing{}
	}
	for _, at := range []time.Time{bad.Add(2*time.Minute + 30*time.Second), bad.Add(7*time.Minute + 30*time.Second)} {
		f.clock.Set(at)
		f.eng.Tick(at)
	}
	for _, path := range []string{"/api/v1/alerts", "/api/v1/slos/checkout-availability/alerts"} {
		a := page(path)
		n := a.Now
		switch {
		case a.BurnShort <= a.Factor:
			t.Errorf("%s: burn over 5m at firing %v, want the outage's", path, a.BurnShort)
		case n == nil:
			t.Fatalf("%s: no figures of now", path)
		case n.BurnShort == nil || *n.BurnShort != 0 || n.BurnLong == nil || *n.BurnLong <= 0:
			t.Errorf("%s: now %v over the long window, %v over 5m; want the outage still in the long window and 0× over 5m", path, n.BurnLong, n.BurnShort)
		case n.Status != "resolving" || n.ClearSince == nil || n.ResolvesAt == nil || n.ResolvesAt.Sub(*n.ClearSince) != 5*time.Minute:
			t.Errorf("%s: now %+v, want resolving five minutes after the condition cleared", path, n)
		case !n.At.Equal(bad.Add(6 * time.Minute)):
			t.Errorf("%s: evaluated at %s, want the end of the last settled minute", path, n.At)
		}
	}
	// The history keeps each transition's own figures, without a now.
	var one struct{ History []firing }
	f.do("GET", "/api/v1/slos/checkout-availability/alerts", "", nil, 200, &one)
	if len(one.History) == 0 || one.History[0].Now != nil {
		t.Errorf("history %+v", one.History)
	}
}

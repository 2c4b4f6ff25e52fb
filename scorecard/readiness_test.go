package scorecard

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/slo"
)

type sloMap map[string]*slo.SLO

func (m sloMap) SLO(name string) (*slo.SLO, error) {
	if s, ok := m[name]; ok {
		return s, nil
	}
	return nil, errors.New("no such SLO")
}

type incidentList []incident.Incident

func (l incidentList) List(_ context.Context, f incident.Filter) ([]incident.Incident, error) {
	var out []incident.Incident
	for _, inc := range l {
		if inc.Service() == f.Service {
			out = append(out, inc)
		}
	}
	return out, nil
}

type undeclared map[string][]string

func (u undeclared) Undeclared(_ context.Context, service string) ([]string, error) {
	return u[service], nil
}

func TestReadiness(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	window := slo.WindowSpec{Rolling: 30 * 24 * time.Hour}
	slos := sloMap{
		"checkout-availability": {Name: "checkout-availability", Window: window},
		"search-latency":        {Name: "search-latency", Window: window},
		"cart-availability":     {Name: "cart-availability", Window: window},
	}
	wiki := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/playbooks/search":
			w.WriteHeader(http.StatusOK)
		case "/playbooks/slow":
			time.Sleep(300 * time.Millisecond)
		default:
			http.NotFound(w, r)
		}
	}))
	defer wiki.Close()
	services := []Service{
		// Gold: everything in place; its playbooks are Markdown files.
		{Name: "checkout", Owners: []string{"payments"}, OnCall: "payments-primary", Goal: 0.999, SLOs: []string{"checkout-availability"}},
		// Silver page by URL, but an overdue repair and an undeclared call.
		{Name: "search", Owners: []string{"discovery"}, OnCall: "discovery", Goal: 0.99, SLOs: []string{"search-latency"},
			Playbook: wiki.URL + "/playbooks/search"},
		// Bronze fails: no on-call and no SLO.
		{Name: "legacy", Owners: []string{"platform"}, Goal: 0.99},
		// A playbook URL that does not answer in time, a late postmortem.
		{Name: "cart", Owners: []string{"payments"}, OnCall: "payments-primary", Goal: 0.99, SLOs: []string{"cart-availability"},
			Playbook: wiki.URL + "/playbooks/slow"},
	}
	incidents := incidentList{
		{ID: 1, Services: []string{"checkout"}, Severity: 1, Status: incident.PostmortemDone, Resolved: now.AddDate(0, 0, -30), Postmortem: "x"},
		{ID: 2, Services: []string{"checkout"}, Severity: 2, Status: incident.Resolved, Resolved: now.AddDate(0, 0, -2)}, // not yet due
		{ID: 3, Services: []string{"search"}, Severity: 3, Status: incident.Resolved, Resolved: now.AddDate(0, 0, -30)},  // SEV3: none needed
		{ID: 4, Services: []string{"search"}, Severity: 2, Status: incident.PostmortemDone, Resolved: now.AddDate(0, 0, -20), Postmortem: "x",
			Repairs: []incident.RepairItem{{Title: "add a cache", Created: now.AddDate(0, 0, -20), Due: now.AddDate(0, 0, -13)}}},
		{ID: 5, Services: []string{"cart"}, Severity: 1, Status: incident.Resolved, Resolved: now.AddDate(0, 0, -6)},
	}
	playbooks := fstest.MapFS{"payments.md": {Data: []byte("# Payments\n\n## checkout-availability: page-fast\n\nsteps\n\n```\n## checkout-availability: page-slow\n```\n\n### Slow burn {#checkout-availability-page-slow}\n")}}
	a := &Assessor{Config: DefaultReadiness(), Services: func() []Service { return services }, SLOs: slos,
		Incidents: incidents, Deps: undeclared{"search": {"ads"}}, Playbooks: playbooks,
		Prober: &HTTPProber{Timeout: 100 * time.Millisecond}, Now: func() time.Time { return now }}
	rs, err := a.Assess(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]Readiness{}
	for _, r := range rs {
		by[r.Service] = r
	}
	failed := func(r Readiness) string {
		var out []string
		for _, c := range r.Checks {
			if !c.Passed {
				out = append(out, c.Check)
				if c.Fix == "" {
					t.Errorf("%s: check %s failed without saying how to fix it", r.Service, c.Check)
				}
			}
		}
		return strings.Join(out, ",")
	}
	for _, c := range []struct {
		name, service, level, next, failed string
	}{
		{"A service with every check passing is gold", "checkout", "gold", "", ""},
		{"A service whose playbook URL answers but whose repairs are late and calls undeclared is silver", "search", "silver", "gold", "repairs,dependencies"},
		{"A service with no on-call and no SLO reaches no level", "legacy", "", "bronze", "oncall,slo,playbooks"},
		{"A playbook URL that does not answer and a missing postmortem fail their checks, not the call", "cart", "bronze", "silver", "playbooks,postmortems"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := by[c.service]
			if r.Level != c.level || r.Next != c.next || failed(r) != c.failed {
				t.Errorf("level %q next %q failed %q; want %q %q %q\n%+v", r.Level, r.Next, failed(r), c.level, c.next, c.failed, r.Checks)
			}
		})
	}
	t.Run("The failing playbook check names the alert and why its URL failed", func(t *testing.T) {
		for _, ch := range by["cart"].Checks {
			if ch.Check == CheckPlaybooks && !(strings.Contains(ch.Detail, "cart-availability: page-fast") && strings.Contains(ch.Detail, "no answer within 100ms")) {
				t.Errorf("detail %q", ch.Detail)
			}
			if ch.Check == CheckPostmortems && !strings.Contains(ch.Detail, "#5 (SEV1") {
				t.Errorf("detail %q", ch.Detail)
			}
		}
	})
	t.Run("A missing anchor in the playbooks directory is named in the fix", func(t *testing.T) {
		a.Playbooks = fstest.MapFS{"payments.md": {Data: []byte("## checkout-availability: page-fast\n")}}
		rs, err := a.Assess(context.Background(), "checkout")
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range rs[0].Checks {
			if ch.Check == CheckPlaybooks && (ch.Passed || !strings.Contains(ch.Fix, "#checkout-availability-page-slow")) {
				t.Errorf("%+v", ch)
			}
		}
	})
	t.Run("An SLO that is not loaded fails that service's playbook check only", func(t *testing.T) {
		saved := services
		services = append([]Service{{Name: "ghost", Owners: []string{"x"}, OnCall: "x", Goal: 0.9, SLOs: []string{"gone"}}}, saved...)
		defer func() { services = saved }()
		rs, err := a.Assess(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != len(services) || failed(rs[0]) != "slo,playbooks" || !strings.Contains(rs[0].Checks[3].Detail, "SLO gone of service ghost") {
			t.Errorf("%s: %+v", failed(rs[0]), rs[0])
		}
	})
	t.Run("An unknown service is refused", func(t *testing.T) {
		if _, err := a.Assess(context.Background(), "nope"); !errors.Is(err, ErrUnknown) {
			t.Errorf("error %v", err)
		}
	})
}

func TestReadinessConfig(t *testing.T) {
	c, err := ParseReadiness("readiness.yaml", []byte("postmortem_days: 3\nplaybook_timeout: 2s\nplaybooks: pb\nlevels:\n  - {name: basic, checks: [owner, slo]}\n  - {name: full, checks: [playbooks]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.PostmortemDays != 3 || c.PlaybookTimeout != 2*time.Second || c.PlaybooksDir != "pb" || len(c.Levels) != 2 || c.Levels[1].Name != "full" {
		t.Errorf("%+v", c)
	}
	for _, tc := range []struct{ name, text, want string }{
		{"An unknown check is named with its place", "levels:\n  - {name: a, checks: [owner, pager]}\n", `readiness.yaml:2:31: levels[0].checks: unknown check "pager"`},
		{"A check in two levels is refused", "levels:\n  - {name: a, checks: [owner]}\n  - {name: b, checks: [owner]}\n", "readiness.yaml:3:24: levels[1].checks: owner is already a check of level a"},
		{"A level defined twice is refused", "levels:\n  - {name: a, checks: [owner]}\n  - {name: a, checks: [slo]}\n", "readiness.yaml:3:12: levels[1].name: level \"a\" is defined twice (first at line 2)"},
		{"Postmortem days out of range are refused", "postmortem_days: 0\n", "readiness.yaml:1:18: postmortem_days"},
		{"A timeout that is not a duration is refused", "playbook_timeout: soon\n", "readiness.yaml:1:19: playbook_timeout"},
		{"An unknown field is refused", "level: []\n", "readiness.yaml:1:1: unknown field \"level\""},
		{"A level without checks is refused", "levels:\n  - {name: a}\n", "readiness.yaml:2:5: levels[0].checks"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseReadiness("readiness.yaml", []byte(tc.text))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

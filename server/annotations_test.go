package server

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestAnnotationsBesideTheBudget(t *testing.T) {
	f := newFixture(t, "secret")
	auth := map[string]string{"Authorization": "Bearer secret"}
	var created struct{ ID int64 }
	f.do("POST", "/api/v1/annotations", `{"slo": "checkout-availability", "title": "checkout v1.2.3",
		"url": "https://ci.example/run/7", "labels": {"version": "1.2.3"}, "at": "2026-11-25T09:40:00Z"}`, auth, 200, &created)
	f.do("POST", "/api/v1/annotations", `{"service": "checkout", "kind": "config", "title": "pool 20→40"}`, auth, 200, nil)
	f.do("POST", "/api/v1/annotations", `{"kind": "note", "title": "failover drill", "at": "2026-11-25T09:50:00Z"}`, auth, 200, nil)

	type view struct {
		ID                        int64
		At                        time.Time
		SLO, Service, Kind, Title string
		URL                       string
		Labels                    map[string]string
	}
	var budget struct {
		Annotations []view
	}
	f.do("GET", "/api/v1/slos/checkout-availability/budget?range=1h", "", nil, 200, &budget)
	if len(budget.Annotations) != 3 {
		t.Fatalf("budget annotations = %+v, want the deploy, the config push and the drill", budget.Annotations)
	}
	dep := budget.Annotations[0]
	if dep.ID != created.ID || dep.Kind != "deploy" || dep.Service != "checkout" || dep.Labels["version"] != "1.2.3" ||
		!dep.At.Equal(time.Date(2026, 11, 25, 9, 40, 0, 0, time.UTC)) {
		t.Errorf("deploy annotation = %+v", dep)
	}
	if c := budget.Annotations[2]; c.Kind != "config" || !c.At.Equal(f.clock.Now()) {
		t.Errorf("config annotation = %+v, want it stamped now", c)
	}

	var list struct{ Annotations []view }
	f.do("GET", "/api/v1/annotations?range=1h&service=checkout&limit=1", "", nil, 200, &list)
	if len(list.Annotations) != 1 || list.Annotations[0].Kind != "config" {
		t.Errorf("newest checkout annotation = %+v", list.Annotations)
	}
	f.do("DELETE", "/api/v1/annotations/"+itoa(created.ID), "", auth, 200, nil)
	f.do("DELETE", "/api/v1/annotations/"+itoa(created.ID), "", auth, 404, nil)
	f.do("GET", "/api/v1/slos/checkout-availability/annotations?range=1h", "", nil, 200, &list)
	if len(list.Annotations) != 2 {
		t.Errorf("after delete: %+v", list.Annotations)
	}
}

func TestAnnotationBadInput(t *testing.T) {
	f := newFixture(t, "")
	for _, tc := range []struct {
		body, want string
		status     int
	}{
		{`{"slo": "checkout-availability"}`, "title is required", 400},
		{`{"slo": "nope", "title": "x"}`, `unknown SLO`, 400},
		{`{"service": "chekout", "title": "x"}`, `unknown service`, 400},
		{`{"slo": "checkout-availability", "service": "search", "title": "x"}`, `belongs to service`, 400},
		{`{"title": "x", "url": "javascript:alert(1)"}`, "absolute http or https URL", 400},
		{`{"title": "x", "colour": "red"}`, `unknown field`, 400},
		{`{"title": "` + strings.Repeat("x", 201) + `"}`, "at most 200", 400},
	} {
		body := f.do("POST", "/api/v1/annotations", tc.body, nil, tc.status, nil)
		if !strings.Contains(body, tc.want) {
			t.Errorf("POST %s: %s, want it to say %q", tc.body, body, tc.want)
		}
	}
	f.do("POST", "/api/v1/annotations", `{"title": "x"}`, map[string]string{"Authorization": "Bearer wrong"}, 200, nil) // no token configured
	f.do("DELETE", "/api/v1/annotations/abc", "", nil, 400, nil)
	f.do("GET", "/api/v1/annotations?limit=0", "", nil, 400, nil)
	f.do("GET", "/api/v1/slos/nope/annotations", "", nil, 404, nil)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

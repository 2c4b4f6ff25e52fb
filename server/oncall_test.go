package server

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/nines-sre/nines/alert"
	"github.com/nines-sre/nines/engine"
	"github.com/nines-sre/nines/incident"
	"github.com/nines-sre/nines/notify"
	"github.com/nines-sre/nines/oncall"
	"github.com/nines-sre/nines/slo"
)

// TestOnCallAPI computes the load of a month from what nines keeps: a
// page delivered through notify (its delivery history in the store) and
// an incident in the incident store, for a rotation of the catalog.
func TestOnCallAPI(t *testing.T) {
	ctx := context.Background()
	db, c := newStore(t) // 2026-11-25 10:00:30 UTC
	eng, err := engine.New(ctx, engine.Config{Store: db, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}

	// A page of checkout, delivered to a webhook at 10:00:30.
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer hook.Close()
	ncfg, err := notify.ParseConfig("notify.yaml", []byte("receivers: [{name: hook, webhook: {url: \""+hook.URL+"\"}}]\nroute: {receiver: hook, group_wait: 0s}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := notify.New(ncfg, notify.Options{State: db, Now: c.Now, Rand: rand.New(rand.NewPCG(1, 2))})
	now := c.Now()
	d.Enqueue(&slo.SLO{Name: "checkout-availability", Service: "checkout"},
		alert.Transition{Alert: "page-fast", Severity: alert.Page, Kind: alert.Fire, At: now, Since: now, Reason: "burning"})
	d.Step(ctx, now)

	// The incident it led to, acted on.
	inc := &incident.Incident{Title: "checkout 5xx", Services: []string{"checkout"}, Severity: 2, Status: incident.Resolved,
		DetectedBy: incident.ByMonitoring, Detected: now.Add(5 * time.Minute), Engaged: now.Add(10 * time.Minute),
		Mitigated: now.Add(40 * time.Minute), Resolved: now.Add(time.Hour), Created: now, Updated: now,
		Timeline: []incident.Entry{{At: now.Add(20 * time.Minute), Kind: incident.KeepWorking, Text: "rolled back"}}}
	if err := db.CreateIncident(ctx, inc); err != nil {
		t.Fatal(err)
	}

	c.Set(now.Add(2 * time.Hour)) // the report comes after both

	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(`rotations:
  - {name: payments, members: [ana, ben], shift: 12h, handoff: "09:00", start: 2026-11-01, time_zone: UTC}
`), &doc); err != nil {
		t.Fatal(err)
	}
	rots, err := oncall.ParseRotations("services.yaml", &doc)
	if err != nil {
		t.Fatal(err)
	}
	src := &oncall.Source{History: db, Incidents: db,
		Catalog: func() ([]oncall.Rotation, map[string]string) { return rots, map[string]string{"checkout": "payments"} }}
	s, err := New(Config{SLOs: eng, Writes: eng, Annotations: db, Size: db, OnCall: src})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	f := &fixture{t: t, srv: srv, clock: c, eng: eng, db: db}

	t.Run("The month's report counts the page and the incident for who was on call.", func(t *testing.T) {
		var rep oncall.Report
		f.do("GET", "/api/v1/oncall?month=2026-11", "", nil, http.StatusOK, &rep)
		if len(rep.Rotations) != 1 {
			t.Fatalf("report %+v", rep)
		}
		m := rep.Rotations[0].Month
		if m.Pages != 1 || m.Incidents != 1 || m.Noise != 0 || m.EngagedSeconds != 30*60 {
			t.Errorf("month %+v", m)
		}
		// 11-25 09:00 starts shift 48, ana's.
		if ana := rep.Rotations[0].People[0]; ana.Name != "ana" || ana.Month.Pages != 1 || ana.Month.Incidents != 1 {
			t.Errorf("ana %+v", ana)
		}
	})
	t.Run("Without a month the current one is reported.", func(t *testing.T) {
		var rep oncall.Report
		f.do("GET", "/api/v1/oncall", "", nil, http.StatusOK, &rep)
		if rep.Month != "2026-11" {
			t.Errorf("month %s", rep.Month)
		}
	})
	t.Run("A month not started or not a month is a bad request.", func(t *testing.T) {
		if body := f.do("GET", "/api/v1/oncall?month=2027-02", "", nil, http.StatusBadRequest, nil); !strings.Contains(body, "has not started") {
			t.Errorf("body %s", body)
		}
		f.do("GET", "/api/v1/oncall?month=november", "", nil, http.StatusBadRequest, nil)
	})
	t.Run("Without a catalog the endpoint is off.", func(t *testing.T) {
		off := newFixture(t, "")
		if body := off.do("GET", "/api/v1/oncall", "", nil, http.StatusNotFound, nil); !strings.Contains(body, "needs a catalog with rotations") {
			t.Errorf("body %s", body)
		}
	})
}

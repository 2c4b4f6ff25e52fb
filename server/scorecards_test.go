package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/nines-sre/nines/scorecard"
)

// TestScorecardsAPI: GET /api/v1/scorecards and /api/v1/readiness answer
// from the catalog's services; a bad week is 400, an unknown service 404,
// and both are 404 without a catalog.
func TestScorecardsAPI(t *testing.T) {
	f := newFixture(t, "")
	services := func() []scorecard.Service {
		return []scorecard.Service{{Name: "checkout", Owners: []string{"payments"}, Goal: 0.999, SLOs: []string{"checkout-availability"}}}
	}
	board := &scorecard.Board{Scorer: scorecard.Scorer{Calendar: scorecard.DefaultCalendar(), SLOs: &scorecard.FromRollups{Rollups: f.db, SLOs: f.eng}},
		Services: services, Now: f.clock.Now}
	ready := &scorecard.Assessor{Config: scorecard.DefaultReadiness(), Services: services, SLOs: f.eng, Now: f.clock.Now}
	s, err := New(Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db, Scorecards: board, Readiness: ready})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s)
	defer hs.Close()
	bare, err := New(Config{SLOs: f.eng, Writes: f.eng, Annotations: f.db})
	if err != nil {
		t.Fatal(err)
	}
	off := httptest.NewServer(bare)
	defer off.Close()
	get := func(base, path string) (int, map[string]any) {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var doc map[string]any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v in %s", path, err, b)
		}
		return resp.StatusCode, doc
	}
	for _, c := range []struct {
		name, base, path string
		status           int
		key              string
	}{
		{"The scorecards of the last complete week are listed", hs.URL, "/api/v1/scorecards", 200, "scorecards"},
		{"A week is chosen by its ISO name", hs.URL, "/api/v1/scorecards?week=2026-W40&service=checkout", 200, "scorecards"},
		{"A week that is not an ISO week is a bad request", hs.URL, "/api/v1/scorecards?week=40", 400, "error"},
		{"A week not begun is a bad request", hs.URL, "/api/v1/scorecards?week=2027-W10", 400, "error"},
		{"An unknown service is not found", hs.URL, "/api/v1/scorecards?service=nope", 404, "error"},
		{"Readiness is listed per service", hs.URL, "/api/v1/readiness", 200, "services"},
		{"Readiness of an unknown service is not found", hs.URL, "/api/v1/readiness?service=nope", 404, "error"},
		{"Without a catalog scorecards are not found", off.URL, "/api/v1/scorecards", 404, "error"},
		{"Without a catalog readiness is not found", off.URL, "/api/v1/readiness", 404, "error"},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, doc := get(c.base, c.path)
			if status != c.status || doc[c.key] == nil {
				t.Errorf("%d %v", status, doc)
			}
		})
	}
	_, doc := get(hs.URL, "/api/v1/scorecards")
	if doc["week"] != "2026-W47" {
		t.Errorf("default week %v, want the last complete one before 25 November 2026", doc["week"])
	}
}

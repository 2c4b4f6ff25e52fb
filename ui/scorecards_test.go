package ui

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nines-sre/nines/scorecard"
	"github.com/nines-sre/nines/ui/snapshot"
)

// weeklyCounts gives each service the same weekly counts, newest last.
type weeklyCounts map[string][]scorecard.Counts

func (w weeklyCounts) Counts(_ context.Context, s *scorecard.Service, weeks []scorecard.Week) ([]scorecard.Counts, error) {
	out := make([]scorecard.Counts, len(weeks))
	got := w[s.Name]
	copy(out[len(out)-len(got):], got)
	return out, nil
}

type weekEdges []scorecard.Edge

func (e weekEdges) Edges(context.Context, scorecard.Week) ([]scorecard.Edge, error) { return e, nil }

func TestScorecardsPage(t *testing.T) {
	f := newFixture(t, 1)
	shelf, err := snapshot.New(f.db, 10)
	if err != nil {
		t.Fatal(err)
	}
	services := []scorecard.Service{
		{Name: "checkout", Owners: []string{"payments"}, Goal: 0.999, SLOs: []string{"x"}, Dependencies: []string{"db"}},
		{Name: "db", Owners: []string{"storage"}, Goal: 0.999, SLOs: []string{"x"}},
	}
	src := weeklyCounts{
		"checkout": {{Good: 999, Total: 1000}, {Good: 999, Total: 1000}, {Good: 999, Total: 1000}, {Good: 990, Total: 1000}},
		"db":       {{Good: 1000, Total: 1000}, {Good: 1000, Total: 1000}, {Good: 1000, Total: 1000}, {Good: 1000, Total: 1000}},
	}
	board := &scorecard.Board{Scorer: scorecard.Scorer{Calendar: scorecard.DefaultCalendar(), SLOs: src,
		Edges: weekEdges{{Caller: "web", Callee: "checkout", Calls: 500, Errors: 5}}}, Services: func() []scorecard.Service { return services }, Now: f.eng.Now}
	u, err := New(Config{SLOs: f.eng, Rollups: f.db, Snapshots: shelf, Scorecards: board})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Wait)
	srv := httptest.NewServer(u)
	defer srv.Close()
	on := &fixture{t: t, srv: srv}
	t.Run("The page lists every service with its colour in words, its rates and a sparkline", func(t *testing.T) {
		page := on.get("/scorecards", 200)
		for _, want := range []string{`href="/scorecards"`, "red ✗ missed, no better", "green ✓ goal met", "99.000 %", "<svg", "missed the goal; worse than the 21 days before",
			`href="/scorecards?service=checkout&amp;week=`, "not sent: nothing changed"} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})
	t.Run("A service's page drills down to its callers and dependencies", func(t *testing.T) {
		page := on.get("/scorecards?service=checkout", 200)
		for _, want := range []string{"<h2>Callers</h2>", "<h2>Dependencies</h2>", ">web</a>", "not declared", "calls seen in traces",
			`href="/scorecards?service=db&amp;week=`, "its own scorecard", "all services"} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})
	t.Run("Chromium shows both pages without errors", func(t *testing.T) {
		if testing.Short() {
			t.Skip("starts Chromium")
		}
		b := newBrowser(t)
		dir := artifactsDir(t)
		for _, p := range []struct{ name, path, sel, text string }{
			{"scorecards", "/scorecards", "table.scorecards svg", "red ✗ missed, no better"},
			{"scorecard-checkout", "/scorecards?service=checkout", "section.drill table", "not declared"},
		} {
			b.do(p.name, chromedp.Navigate(srv.URL+p.path))
			if !visible(b, p.sel) {
				t.Errorf("%s: %s not visible", p.name, p.sel)
			}
			if txt := eval[string](b, `document.querySelector("main").innerText`); !strings.Contains(txt, p.text) {
				t.Errorf("%s: page lacks %q", p.name, p.text)
			}
			b.noErrors(p.name)
			b.screenshot(dir, p.name)
		}
	})
	t.Run("A bad week and an unknown service say what to do", func(t *testing.T) {
		if page := on.get("/scorecards?week=48", 400); !strings.Contains(page, "ISO week") {
			t.Error("the bad week's page does not say how to write one")
		}
		on.get("/scorecards?service=nope", 404)
	})
	t.Run("Without a catalog the page is not found and not linked", func(t *testing.T) {
		u, err := New(Config{SLOs: f.eng, Rollups: f.db, Snapshots: shelf})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(u.Wait)
		off := httptest.NewServer(u)
		defer off.Close()
		ff := &fixture{t: t, srv: off}
		ff.get("/scorecards", 404)
		if strings.Contains(ff.get("/", 200), `href="/scorecards"`) {
			t.Error("the overview links to scorecards that are off")
		}
	})
}

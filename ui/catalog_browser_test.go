package ui

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/nines-sre/nines/catalog"
)

// TestBrowserCatalog loads the service pages and the dependency graph in
// headless Chromium: the graph is drawn with the stylesheet's colours
// (so the page's policy lets them in), cycles dashed, and no page logs
// an error.
func TestBrowserCatalog(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	f := newFixture(t, 0)
	c, err := catalog.Load("services.yaml", []byte(testCatalog))
	if err != nil {
		t.Fatal(err)
	}
	base := newCatalogServer(t, f, c, observedEdges{{From: "gateway", To: "login", Calls: 100, Errors: 9}})
	dir := artifactsDir(t)

	b.do("services", chromedp.Navigate(base+"/services"))
	if n := eval[int](b, `document.querySelectorAll("table.services tbody tr").length`); n != 5 {
		t.Errorf("the list shows %d services, want 5", n)
	}
	if n := eval[int](b, `document.querySelectorAll("li.finding").length`); n == 0 {
		t.Error("the list shows no findings; the test catalog has a cycle")
	}
	b.noErrors("services")
	b.screenshot(dir, "services")

	b.do("graph", chromedp.Navigate(base+"/graph"))
	if !visible(b, "svg.depgraph") {
		t.Fatal("no graph drawn")
	}
	if n := eval[int](b, `document.querySelectorAll("svg.depgraph g.node").length`); n != 5 {
		t.Errorf("the graph has %d boxes, want 5", n)
	}
	if dash := eval[string](b, `getComputedStyle(document.querySelector("svg.depgraph path.cycle")).strokeDasharray`); dash == "none" || dash == "" {
		t.Errorf("a cycle edge is drawn with dash %q, want dashed", dash)
	}
	bad := eval[string](b, `getComputedStyle(document.querySelector("svg.depgraph path.e-bad")).stroke`)
	none := eval[string](b, `getComputedStyle(document.querySelector("svg.depgraph path.e-none:not(.cycle)")).stroke`)
	if bad == none || bad == "none" {
		t.Errorf("an edge with 9 %% errors is drawn %q like an unobserved one (%q)", bad, none)
	}
	b.noErrors("graph")
	b.screenshot(dir, "graph")

	b.do("service", chromedp.Navigate(base+"/services/login"))
	if !visible(b, "svg.depgraph g.node.focus") {
		t.Error("the service page's neighbourhood does not mark the service")
	}
	b.do("service link", chromedp.Click(`svg.depgraph a[href="/services/accounts"]`), chromedp.WaitVisible(`h1`))
	if h := eval[string](b, `document.querySelector("h1").textContent`); h != "accounts" {
		t.Errorf("following the graph's box for accounts leads to %q", h)
	}
	b.noErrors("service")
	b.screenshot(dir, "service")
}

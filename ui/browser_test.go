package ui

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

const chromiumPath = "/usr/bin/chromium"

// artifactsDir is where the browser test leaves its screenshots:
// $NINES_TEST_ARTIFACTS, else e2e/artifacts/ui (gitignored).
func artifactsDir(t *testing.T) string {
	dir := os.Getenv("NINES_TEST_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "e2e", "artifacts")
	}
	dir = filepath.Join(dir, "ui")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts a headless Chromium for the test and collects every
// console error, uncaught exception and error log entry (a resource that
// failed to load, a CSP violation) of its tab.
type browser struct {
	t      *testing.T
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing; .ci/run installs the chromium package", chromiumPath)
		}
		t.Skipf("%s is missing: install the chromium package to run the browser test", chromiumPath)
	}
	// The machine has loopback only: no component updates, no sync, no
	// QUIC, and a profile of its own each run.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	for _, f := range []string{"headless", "no-sandbox", "disable-gpu", "disable-quic", "no-first-run",
		"disable-background-networking", "disable-component-update", "disable-sync", "disable-dev-shm-usage"} {
		opts = append(opts, chromedp.Flag(f, true))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browser{t: t, ctx: ctx}
	if err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, string(a.Value))
				}
				msg = "console.error: " + strings.Join(parts, " ")
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				msg += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				msg = "log: " + ev.Entry.Text + " " + ev.Entry.URL
			}
		}
		if msg != "" {
			b.mu.Lock()
			b.errors = append(b.errors, msg)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, struct{}{}); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return b
}

// do runs actions with a time limit.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression on the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// noErrors fails the test for any console error collected since the last
// call.
func (b *browser) noErrors(page string) {
	b.t.Helper()
	b.mu.Lock()
	errs := b.errors
	b.errors = nil
	b.mu.Unlock()
	for _, e := range errs {
		b.t.Errorf("%s: %s", page, e)
	}
}

func (b *browser) screenshot(dir, name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// visible reports whether the element matched by the CSS selector is
// rendered with a size.
func visible(b *browser, sel string) bool {
	return eval[bool](b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (!e) return false; const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== "hidden"; })()`, sel))
}

// TestBrowser loads every page in headless Chromium against demo data,
// checks what a person would look for, changes the range through the UI
// and saves a screenshot of each page.
func TestBrowser(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	f := newFixture(t, 8)
	dir := artifactsDir(t)

	// Overview: a card per SLO with its figures and sparkline.
	b.do("overview", chromedp.Navigate(f.srv.URL+"/"))
	if n := eval[int](b, `document.querySelectorAll("article.card").length`); n != 4 {
		t.Errorf("overview shows %d SLO cards, want 4", n)
	}
	for _, sel := range []string{`article[data-slo="checkout-availability"] svg.spark`, `article[data-slo="checkout-availability"] .budget-bar`, "form.filters"} {
		if !visible(b, sel) {
			t.Errorf("overview: %s not visible", sel)
		}
	}
	if txt := eval[string](b, `document.querySelector('article[data-slo="checkout-availability"]').innerText`); !strings.Contains(txt, "99.900 %") || !strings.Contains(txt, "budget left") {
		t.Errorf("checkout card reads %q", txt)
	}
	b.noErrors("overview")
	b.screenshot(dir, "overview")

	// The theme toggle switches to dark and the palette follows.
	b.do("theme", chromedp.Click("#theme"))
	if th := eval[string](b, `document.documentElement.getAttribute("data-theme") + " " + getComputedStyle(document.body).backgroundColor`); !strings.HasPrefix(th, "dark ") || strings.Contains(th, "255, 255, 255") {
		t.Errorf("after the toggle: %q", th)
	}
	b.screenshot(dir, "overview-dark")
	b.do("theme back", chromedp.Click("#theme"))

	// SLO page: every chart drawn, with its text alternative.
	b.do("slo page", chromedp.Navigate(f.srv.URL+"/slos/checkout-availability"))
	for _, sel := range []string{"svg.chart.line", "svg.chart.bars", ".strip-wrap svg.chart.strip", "svg.chart.histogram", "table.tiers", "form.freeze"} {
		if !visible(b, sel) {
			t.Errorf("slo page: %s not visible", sel)
		}
	}
	if n := eval[int](b, `[...document.querySelectorAll("svg.chart")].filter(s => s.querySelector("title").textContent && s.querySelector("desc").textContent.match(/\d/)).length`); n < 6 {
		t.Errorf("%d charts have a title and a description with numbers, want every one (6)", n)
	}
	// The request rate and the error ratio sit side by side.
	if !visible(b, `svg[aria-labelledby="rate-t rate-d"]`) || !visible(b, `svg[aria-labelledby="errors-t errors-d"]`) {
		t.Error("slo page: the request rate and error ratio charts are not visible")
	}
	if w := eval[[]float64](b, `["rate-t", "errors-t"].map(id => document.getElementById(id).closest("svg").getBoundingClientRect().top)`); len(w) != 2 || w[0] != w[1] {
		t.Errorf("the traffic charts are not side by side: tops %v", w)
	}
	latency := eval[string](b, `document.getElementById("h-latency").parentElement.innerText`)
	for _, want := range []string{"at or under 250ms", "q(0.99)", "q(0.999)"} {
		if !strings.Contains(latency, want) {
			t.Errorf("latency panel lacks %q: %.300s", want, latency)
		}
	}
	b.noErrors("slo page")
	b.screenshot(dir, "slo-checkout")
	b.do("theme", chromedp.Click("#theme"))
	b.screenshot(dir, "slo-checkout-dark")
	b.do("theme back", chromedp.Click("#theme"))

	// A range change through the UI: the 1d preset changes the URL, the
	// label and the charts.
	stripBefore := eval[string](b, `document.querySelector(".strip-wrap").dataset.bucket`)
	b.do("range 1d", chromedp.Click(`nav.ranges a[href$="range=1d"]`), chromedp.WaitVisible("svg.chart.strip"))
	loc := eval[string](b, `location.href`)
	if !strings.HasSuffix(loc, "range=1d") {
		t.Errorf("after choosing 1d the URL is %s", loc)
	}
	if label := eval[string](b, `document.getElementById("range-label").textContent`); label != "last 1d" {
		t.Errorf("range label %q", label)
	}
	if after := eval[string](b, `document.querySelector(".strip-wrap").dataset.bucket`); after == stripBefore || after != "120" {
		t.Errorf("strip bucket %s s before, %s s after choosing 1d; want 2-minute cells", stripBefore, after)
	}
	if unit := eval[string](b, `document.getElementById("h-daily").textContent`); unit != "Availability per hour" {
		t.Errorf("daily chart after 1d: %q", unit)
	}
	b.noErrors("slo page, 1d")

	// Hover shows exact times; a drag across the strip zooms to its span.
	rect := eval[[]float64](b, `(() => { const s = document.querySelector(".strip-wrap svg"); s.scrollIntoView({block: "center"}); const r = s.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	if len(rect) != 4 || rect[2] < 100 {
		t.Fatalf("strip rectangle %v", rect)
	}
	y := rect[1] + rect[3]/3
	x0, x1 := rect[0]+rect[2]*0.25, rect[0]+rect[2]*0.5
	b.do("hover", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x0, y))
	if out := eval[string](b, `document.getElementById("strip-readout").textContent`); !strings.Contains(out, "UTC") || !strings.Contains(out, "good") {
		t.Errorf("hover read-out %q", out)
	}
	b.do("drag",
		chromedp.MouseEvent(input.DispatchMouseEventTypeMousePressed, x0, y, chromedp.ButtonType(input.MouseButtonLeft), chromedp.ClickCount(1)),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x1, y, chromedp.ButtonType(input.MouseButtonLeft)),
		chromedp.MouseEvent(input.DispatchMouseEventTypeMouseReleased, x1, y, chromedp.ButtonType(input.MouseButtonLeft), chromedp.ClickCount(1)),
	)
	var zoomed *url.URL
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		u, err := url.Parse(eval[string](b, `location.href`))
		if err == nil && u.Query().Get("from") != "" && eval[string](b, `document.readyState`) == "complete" {
			zoomed = u
			break
		}
	}
	if zoomed == nil {
		t.Fatal("dragging across the strip did not change the URL")
	}
	from, err1 := time.Parse(time.RFC3339, zoomed.Query().Get("from"))
	to, err2 := time.Parse(time.RFC3339, zoomed.Query().Get("to"))
	if err1 != nil || err2 != nil || to.Sub(from) < 5*time.Hour || to.Sub(from) > 7*time.Hour {
		t.Errorf("zoomed to %s: want about a quarter of the day's 24 hours", zoomed.RawQuery)
	}
	if label := eval[string](b, `document.getElementById("range-label").textContent`); !strings.Contains(label, from.Format("2006-01-02 15:04")) {
		t.Errorf("zoomed page shows %q", label)
	}
	b.noErrors("slo page, zoomed")
	b.screenshot(dir, "slo-checkout-zoomed")

	// Freeze: the snapshot page carries the banner and the same charts.
	b.do("freeze", chromedp.Click("form.freeze button"), chromedp.WaitVisible("p.banner"))
	if loc := eval[string](b, `location.pathname`); !strings.HasPrefix(loc, "/snapshots/") {
		t.Errorf("after freeze the page is %s", loc)
	}
	b.noErrors("snapshot")
	b.screenshot(dir, "snapshot")

	for _, p := range []struct{ name, path string }{
		{"slo-search-7d", "/slos/search-latency?range=7d"},
		{"slo-login", "/slos/login-availability"},
		{"slo-evil", "/slos/evil.slo_1"},
	} {
		b.do(p.name, chromedp.Navigate(f.srv.URL+p.path))
		if !visible(b, "svg.chart.strip") {
			t.Errorf("%s: no strip", p.name)
		}
		if n := eval[int](b, `document.querySelectorAll("script:not([src])").length`); n != 0 {
			t.Errorf("%s: %d inline scripts (an injection got through?)", p.name, n)
		}
		b.noErrors(p.name)
		b.screenshot(dir, p.name)
	}
	// A Berlin monthly SLO reads out its strip in Berlin time.
	b.do("slo-login hover", chromedp.Navigate(f.srv.URL+"/slos/login-availability"))
	rect = eval[[]float64](b, `(() => { const s = document.querySelector(".strip-wrap svg"); s.scrollIntoView({block: "center"}); const r = s.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	if len(rect) == 4 {
		b.do("hover", chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, rect[0]+rect[2]/2, rect[1]+rect[3]/3))
		if out := eval[string](b, `document.getElementById("strip-readout").textContent`); !strings.Contains(out, "CET") || strings.Contains(out, "UTC") {
			t.Errorf("Berlin hover read-out %q, want CET times", out)
		}
	}
	// Incidents and the review.
	withIncidents(t, f)
	f.ui.cfg.OnCall = newFakeOnCall(t)
	f.ui.cfg.Chaos = newStubChaos(t, f.eng.Now())
	for _, p := range []struct{ name, path, sel, text string }{
		{"incidents", "/incidents", "table.incidents", "Checkout errors after deploy"},
		{"incident-1", "/incidents/1", "svg.chart.phases", "✗ over the 10m goal"},
		{"incident-2", "/incidents/2", "article.markdown table", "What happened"},
		{"review", "/review", "svg.chart.line", "Median times per month"},
		{"oncall", "/oncall?month=2026-11", "table.oncall", "Shifts over the limit of 2 incidents"},
		{"experiments", "/experiments", "table.experiments", "checkout-slow-payments"},
		{"experiment", "/experiments/checkout-slow-payments", "table.runs", "55 / 5000"},
	} {
		b.do(p.name, chromedp.Navigate(f.srv.URL+p.path))
		if !visible(b, p.sel) {
			t.Errorf("%s: %s not visible", p.name, p.sel)
		}
		if txt := eval[string](b, `document.querySelector("main").innerText`); !strings.Contains(txt, p.text) {
			t.Errorf("%s: page lacks %q", p.name, p.text)
		}
		if n := eval[int](b, `document.querySelectorAll("script:not([src])").length`); n != 0 {
			t.Errorf("%s: %d inline scripts (an injection got through?)", p.name, n)
		}
		b.noErrors(p.name)
		b.screenshot(dir, p.name)
	}

	// Error pages say what to do; their 4xx status is logged by the
	// browser as a failed load, which is expected here.
	b.do("404", chromedp.Navigate(f.srv.URL+"/slos/no-such-slo"))
	if txt := eval[string](b, `document.querySelector("main").innerText`); !strings.Contains(txt, "There is no SLO called") {
		t.Errorf("404 page reads %q", txt)
	}
	b.screenshot(dir, "error-404")
	b.do("400", chromedp.Navigate(f.srv.URL+"/slos/checkout-availability?range=forever"))
	if txt := eval[string](b, `document.querySelector("main").innerText`); !strings.Contains(txt, "?range=7d") {
		t.Errorf("400 page reads %q", txt)
	}
	b.screenshot(dir, "error-400")
}
